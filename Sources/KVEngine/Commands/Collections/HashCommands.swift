import KVStore
import NIOCore
import RESP

/// HSET, HSETNX, HMSET, HGET, HMGET, HGETALL, HKEYS, HVALS, HDEL, HEXISTS, HLEN, HSTRLEN, HINCRBY, HINCRBYFLOAT,
/// HRANDFIELD, HSCAN: the hash family, on a collection record plus one element record per field
/// (`ElementLayout.hashField`). HLEN is O(1); HGETALL streams a range scan into the reply. Every field written or
/// deleted is a change-log event (`hset key field value`, `hdel key field`), HINCRBY's with the resulting value.
struct HashCommands: CommandFamily {
    let scanCursors: ScanCursors

    static let field = ElementLayout.hashField

    var commands: [CommandSpec] {
        let scan = ElementScan(cursors: scanCursors)
        return [
            CommandSpec(.hset) { try Self.set($0, name: "hset") },
            CommandSpec(.hmset) { try Self.set($0, name: "hmset") },
            CommandSpec(.hsetnx, handler: Self.setIfMissing),
            CommandSpec(.hget, handler: Self.get),
            CommandSpec(.hmget, handler: Self.getMany),
            CommandSpec(.hgetall) { try Self.all($0, fields: true, values: true) },
            CommandSpec(.hkeys) { try Self.all($0, fields: true, values: false) },
            CommandSpec(.hvals) { try Self.all($0, fields: false, values: true) },
            CommandSpec(.hdel, handler: Self.delete),
            CommandSpec(.hexists) { try CollectionReads.contains($0, .hash, kind: Self.field) },
            CommandSpec(.hlen) { try CollectionReads.count($0, .hash) },
            CommandSpec(.hstrlen, handler: Self.valueLength),
            CommandSpec(.hincrby, handler: Self.incrementBy),
            CommandSpec(.hincrbyfloat, handler: Self.incrementByFloat),
            CommandSpec(.hrandfield, handler: Self.randomField),
            CommandSpec(.hscan) { try scan.run($0, type: .hash, kind: Self.field, withValues: true) },
        ]
    }

    // MARK: Writing

    /// `HSET key field value [field value ...]` (the number of fields added) and `HMSET` (OK).
    static func set(_ ctx: CommandContext, name: String) throws {
        guard ctx.argumentCount % 2 == 0 else { throw CommandError.wrongArity(name) }
        let keyspace = ctx.keyspace
        let key = ctx.argument(1)
        var hash = try keyspace.collectionForWrite(key, .hash) ?? keyspace.createCollection(key, .hash)
        var added = 0
        for index in stride(from: 2, to: ctx.argumentCount, by: 2) {
            if try write(ctx.argument(index), ctx.argument(index + 1), into: &hash, keyspace) { added += 1 }
        }
        CollectionEncoding.noteSize(&hash)
        try keyspace.save(&hash)
        ctx.notify(.hash, "hset", key: key)
        if name == "hmset" { ctx.reply.ok() } else { ctx.reply.integer(added) }
    }

    /// `HSETNX key field value`: 1 when the field was set, 0 when it existed.
    static func setIfMissing(_ ctx: CommandContext) throws {
        let keyspace = ctx.keyspace
        let key = ctx.argument(1)
        var hash = try keyspace.collectionForWrite(key, .hash) ?? keyspace.createCollection(key, .hash)
        let field = ctx.argument(2)
        if try hash.existed && keyspace.hasElement(of: hash, kind: Self.field, field) {
            return ctx.reply.integer(0)
        }
        try write(field, ctx.argument(3), into: &hash, keyspace)
        CollectionEncoding.noteSize(&hash)
        try keyspace.save(&hash)
        ctx.notify(.hash, "hset", key: key)
        ctx.reply.integer(1)
    }

    /// Writes one field (logged as `hset`), counting it when new.
    /// - Returns: whether the field is new.
    @discardableResult
    private static func write(
        _ field: ByteBuffer, _ value: ByteBuffer, into hash: inout StoredCollection, _ keyspace: Keyspace
    ) throws -> Bool {
        let existed = try hash.mayHaveElements
            ? keyspace.hasElement(of: hash, kind: Self.field, field) : false
        keyspace.putElement(&hash, kind: Self.field, field, value: value, event: .hashSet)
        CollectionEncoding.noteHashWrite(&hash, fieldLength: field.readableBytes, valueLength: value.readableBytes)
        if !existed { hash.count += 1 }
        return !existed
    }

    /// `HDEL key field [field ...]`: the number of fields deleted; the key goes with its last field.
    static func delete(_ ctx: CommandContext) throws {
        let keyspace = ctx.keyspace
        try CollectionRemoval.removeEach(ctx, .hash, notify: .hash, event: "hdel") { field, hash in
            guard try keyspace.hasElement(of: hash, kind: Self.field, field) else { return false }
            keyspace.removeElement(&hash, kind: Self.field, field, event: .hashDelete)
            hash.count -= 1
            return true
        }
    }

    /// `HINCRBY key field increment`: the field as a 64-bit integer (a missing one as 0) plus the increment.
    static func incrementBy(_ ctx: CommandContext) throws {
        let increment = try ctx.integerArgument(3)
        try update(ctx, event: "hincrby") { current in
            guard let value = current.map(RESPInteger.parse) ?? 0 else {
                throw CommandError("ERR hash value is not an integer")
            }
            let (result, overflow) = value.addingReportingOverflow(increment)
            guard !overflow else { throw CommandError.overflow }
            var digits = ByteBuffer()
            digits.writeDecimal(result)
            ctx.reply.integer(result)
            return digits
        }
    }

    /// `HINCRBYFLOAT key field increment`: long double arithmetic and formatting, as INCRBYFLOAT.
    static func incrementByFloat(_ ctx: CommandContext) throws {
        guard let increment = ctx.request.withArgument(3, { LongDouble.parse($0) }) else { throw CommandError.notFloat }
        guard increment.isFinite else { throw CommandError("ERR value is NaN or Infinity") }
        try update(ctx, event: "hincrbyfloat") { current in
            guard let value = current.map(LongDouble.parse) ?? 0 else {
                throw CommandError("ERR hash value is not a float")
            }
            let sum = value + increment
            guard sum.isFinite else { throw CommandError("ERR increment would produce NaN or Infinity") }
            let text = LongDouble.format(sum)
            ctx.reply.bulk(text)
            return ByteBuffer(string: text)
        }
    }

    /// Replaces one field with what `compute` makes of its current value (nil when missing), creating the hash and
    /// the field as needed; `compute` writes the reply and throws before anything is written.
    private static func update(
        _ ctx: CommandContext, event: StaticString, _ compute: (UnsafeRawBufferPointer?) throws -> ByteBuffer
    ) throws {
        let keyspace = ctx.keyspace
        let key = ctx.argument(1)
        let field = ctx.argument(2)
        var hash = try keyspace.collectionForWrite(key, .hash) ?? keyspace.createCollection(key, .hash)
        var existed = false
        var value: ByteBuffer?
        if hash.existed {
            value = try field.withUnsafeReadableBytes { fieldBytes in
                try keyspace.element(of: hash, kind: Self.field, fieldBytes) { current in
                    existed = true
                    return try compute(current)
                }
            }
        }
        let result = try value ?? compute(nil)
        keyspace.putElement(&hash, kind: Self.field, field, value: result, event: .hashSet)
        CollectionEncoding.noteHashWrite(&hash, fieldLength: field.readableBytes, valueLength: 0)
        if !existed { hash.count += 1 }
        CollectionEncoding.noteSize(&hash)
        try keyspace.save(&hash)
        ctx.notify(.hash, event, key: key)
    }

    // MARK: Reading

    static func get(_ ctx: CommandContext) throws {
        let keyspace = ctx.keyspace
        guard let hash = try keyspace.collection(ctx.argument(1), .hash) else { return ctx.reply.null() }
        let found = try keyspace.element(of: hash, kind: Self.field, ctx.argument(2)) { ctx.reply.bulk($0) }
        if found == nil { ctx.reply.null() }
    }

    static func getMany(_ ctx: CommandContext) throws {
        let keyspace = ctx.keyspace
        let hash = try keyspace.collection(ctx.argument(1), .hash)
        ctx.reply.arrayHeader(ctx.argumentCount - 2)
        for index in 2..<ctx.argumentCount {
            let found = try hash.flatMap { hash in
                try keyspace.element(of: hash, kind: Self.field, ctx.argument(index)) { ctx.reply.bulk($0) }
            }
            if found == nil { ctx.reply.null() }
        }
    }

    /// HGETALL (a map in RESP3), HKEYS, HVALS: one range scan, written straight into the reply.
    static func all(_ ctx: CommandContext, fields: Bool, values: Bool) throws {
        let keyspace = ctx.keyspace
        let hash = try keyspace.collection(ctx.argument(1), .hash)
        let count = hash?.count ?? 0
        if fields && values { ctx.reply.mapHeader(count) } else { ctx.reply.arrayHeader(count) }
        guard let hash else { return }
        try keyspace.forEachCounted(of: hash, kind: Self.field) { field, value in
            if fields { ctx.reply.bulk(field) }
            if values { ctx.reply.bulk(value) }
        }
    }

    static func valueLength(_ ctx: CommandContext) throws {
        let keyspace = ctx.keyspace
        guard let hash = try keyspace.collection(ctx.argument(1), .hash) else { return ctx.reply.integer(0) }
        let length = try keyspace.element(of: hash, kind: Self.field, ctx.argument(2)) { $0.count }
        ctx.reply.integer(length ?? 0)
    }

    /// `HRANDFIELD key [count [WITHVALUES]]`: a random field; with a count, that many distinct fields (fewer when the
    /// hash is smaller), or with a negative count that many with repetitions; WITHVALUES pairs them with their values
    /// (RESP3: an array of [field, value] pairs).
    static func randomField(_ ctx: CommandContext) throws {
        let keyspace = ctx.keyspace
        guard ctx.argumentCount >= 3 else {
            guard let hash = try keyspace.collection(ctx.argument(1), .hash),
                let field = try RandomElements.one(of: hash, kind: Self.field, in: keyspace)
            else { return ctx.reply.null() }
            return field.withUnsafeBytes { ctx.reply.bulk($0) }
        }
        let count = try ctx.randomCountArgument(2)
        var withValues = false
        if ctx.argumentCount > 4 || (ctx.argumentCount == 4 && !ctx.argument(3, is: "withvalues")) {
            throw CommandError.syntax
        } else if ctx.argumentCount == 4 {
            withValues = true
            guard count >= -(Int.max / 2) && count <= Int.max / 2 else { throw CommandError("ERR value is out of range") }
        }
        guard let hash = try keyspace.collection(ctx.argument(1), .hash), count != 0 else {
            return ctx.reply.arrayHeader(0)
        }
        let fields = try RandomElements.sample(count, of: hash, kind: Self.field, in: keyspace)
        let pairs = withValues && ctx.reply.version == .resp3
        ctx.reply.arrayHeader(withValues && !pairs ? 2 * fields.count : fields.count)
        for field in fields {
            if pairs { ctx.reply.arrayHeader(2) }
            field.withUnsafeBytes { ctx.reply.bulk($0) }
            guard withValues else { continue }
            let found = try field.withUnsafeBytes { field in
                try keyspace.element(of: hash, kind: Self.field, field) { ctx.reply.bulk($0) }
            }
            if found == nil { ctx.reply.null() }
        }
    }
}
