import KVStore
import NIOCore
import RESP

/// BITFIELD and BITFIELD_RO: signed integers of 1 to 64 bits and unsigned ones of 1 to 63 at any bit offset of a
/// string value, read, set and incremented in one atomic command. Matched against Redis 7.0's src/bitops.c
/// (`bitfieldGeneric`, `bitfieldGetKeys`) and checked against redis-server 7.0.15 (Tests/python/test_bits.py).
///
/// Every operation is parsed before any runs, so a malformed one fails the command without a change. A command with a
/// SET or INCRBY first grows the value with zero bytes to reach the highest bit it writes (creating the key if need
/// be), then runs the operations in order on that one copy, and stores it once through the keyspace's `set`. As in
/// Redis, `setbit` is notified only when some field changed; a value grown by writes that all failed (OVERFLOW FAIL)
/// is stored grown, without a notification.
struct BitFieldCommands: CommandFamily {
    /// `proto-max-bulk-len` bounds the bit offsets.
    let settings: RuntimeSettings

    var commands: [CommandSpec] {
        let settings = self.settings
        return [
            CommandSpec(.bitfield, keyFinder: Self.bitfieldKeys) {
                try Self.bitfield($0, readOnlyCommand: false, limit: settings.maxStringLength)
            },
            // GETs only, of one key: it may run from committed data without the lock, as GET does.
            CommandSpec(.bitfieldRo, kvnodeFlags: .readsCommitted) {
                try Self.bitfield($0, readOnlyCommand: true, limit: settings.maxStringLength)
            },
        ]
    }

    /// One `GET type offset`, `SET type offset value` or `INCRBY type offset increment` of a BITFIELD.
    struct Operation {
        enum Kind {
            case get, set, incrementBy
        }

        let kind: Kind
        let signed: Bool
        /// The field's width in bits: 1...64 signed, 1...63 unsigned.
        let width: Int
        /// The field's first bit.
        let offset: Int
        /// SET's value or INCRBY's increment.
        let operand: Int64
        /// The OVERFLOW in force (WRAP until one says otherwise).
        let overflow: BitArithmetic.Overflow
    }

    static let invalidType = CommandError(
        "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.")

    /// Parses the operations in order and hands each to `body`, throwing Redis's error for the first malformed one
    /// (an unknown word or missing arguments, then the type, the offset and the value, in that order). Allocates
    /// nothing, so the command parses twice rather than keep a list: once to check, once to run.
    static func forEachOperation(
        _ ctx: CommandContext, limit: Int, _ body: (Operation) throws -> Void
    ) throws {
        var overflow = BitArithmetic.Overflow.wrap
        var index = 2
        while index < ctx.argumentCount {
            let remaining = ctx.argumentCount - index - 1
            let kind: Operation.Kind
            if ctx.argument(index, is: "get") && remaining >= 2 {
                kind = .get
            } else if ctx.argument(index, is: "set") && remaining >= 3 {
                kind = .set
            } else if ctx.argument(index, is: "incrby") && remaining >= 3 {
                kind = .incrementBy
            } else if ctx.argument(index, is: "overflow") && remaining >= 1 {
                if ctx.argument(index + 1, is: "wrap") { overflow = .wrap }
                else if ctx.argument(index + 1, is: "sat") { overflow = .saturate }
                else if ctx.argument(index + 1, is: "fail") { overflow = .fail }
                else { throw CommandError("ERR Invalid OVERFLOW type specified") }
                index += 2
                continue
            } else {
                throw CommandError.syntax
            }
            let (signed, width) = try fieldType(ctx, index + 1)
            let offset = try BitCommands.bitOffset(ctx, index + 2, limit: limit, fieldWidth: width)
            let operand = kind == .get ? 0 : Int64(try ctx.integerArgument(index + 3))
            try body(
                Operation(kind: kind, signed: signed, width: width, offset: offset, operand: operand, overflow: overflow))
            index += kind == .get ? 3 : 4
        }
    }

    /// Redis's `getBitfieldTypeFromArgument`: `i` or `u` (lower case) and a width, 1...64 signed, 1...63 unsigned
    /// (a reply cannot carry an unsigned 64-bit integer).
    static func fieldType(_ ctx: CommandContext, _ index: Int) throws(CommandError) -> (signed: Bool, width: Int) {
        let type: (Bool, Int)? = ctx.request.withArgument(index) { text in
            guard let sign = text.first, sign == UInt8(ascii: "i") || sign == UInt8(ascii: "u") else { return nil }
            let signed = sign == UInt8(ascii: "i")
            guard let width = RESPInteger.parse(UnsafeRawBufferPointer(rebasing: text[1...])),
                width >= 1, width <= (signed ? 64 : 63)
            else { return nil }
            return (signed, width)
        }
        guard let type else { throw invalidType }
        return type
    }

    /// `BITFIELD key [GET type offset | [OVERFLOW WRAP|SAT|FAIL] SET type offset value | INCRBY type offset
    /// increment ...]` and BITFIELD_RO (GETs only): an array with one reply per GET, SET or INCRBY — the field's value,
    /// its value before a SET, its value after an INCRBY, or nil for a write OVERFLOW FAIL refused.
    static func bitfield(_ ctx: CommandContext, readOnlyCommand: Bool, limit: Int) throws {
        var operations = 0
        var writes = false
        var highestWrittenBit = 0
        try forEachOperation(ctx, limit: limit) { operation in
            operations += 1
            guard operation.kind != .get else { return }
            writes = true
            highestWrittenBit = max(highestWrittenBit, operation.offset + operation.width - 1)
        }
        guard writes else {
            let found: Void? = try ctx.readKey(1) { bytes, _ in
                try StoredValue.requireString(bytes)
                ctx.reply.arrayHeader(operations)
                try forEachOperation(ctx, limit: limit) { replyField($0, of: bytes, ctx) }
            }
            if found == nil {
                // A missing key reads as zeros.
                ctx.reply.arrayHeader(operations)
                for _ in 0..<operations { ctx.reply.integer(0) }
            }
            return
        }
        guard !readOnlyCommand else { throw CommandError("ERR BITFIELD_RO only supports the GET subcommand") }

        let keyspace = ctx.keyspace
        let key = ctx.argument(1)
        let neededLength = highestWrittenBit >> 3 + 1
        let existing = try keyspace.readForWrite(key) { bytes, expireAt throws in
            try StoredValue.requireString(bytes)
            return (value: BitCommands.paddedCopy(of: bytes, length: neededLength), expireAt: expireAt, grew: bytes.count < neededLength)
        }
        var value = existing?.value ?? BitCommands.zeros(neededLength)
        // A new or grown value counts every write as a change, even one that leaves its field as it was.
        let grew = existing?.grew ?? true
        var changes = 0
        let replyStart = ctx.reply.buffer.writerIndex
        ctx.reply.arrayHeader(operations)
        try value.withUnsafeMutableReadableBytes { bytes in
            try forEachOperation(ctx, limit: limit) { operation in
                if operation.kind == .get { return replyField(operation, of: UnsafeRawBufferPointer(bytes), ctx) }
                guard let (previous, updated) = write(operation, in: bytes) else { return ctx.reply.null() }
                ctx.reply.integer(Int(truncatingIfNeeded: operation.kind == .set ? previous : updated))
                if grew || previous != updated { changes += 1 }
            }
        }
        guard grew || changes > 0 else { return }
        do {
            try keyspace.set(
                key, value: value, expireAt: existing?.expireAt ?? 0, previousExpiry: existing?.expireAt,
                rawEncoding: true)
        } catch {
            // The command fails as a whole: its error replaces the replies already written.
            ctx.reply.buffer.moveWriterIndex(to: replyStart)
            throw error
        }
        if changes > 0 { ctx.notify(.string, "setbit", key: key) }
    }

    /// Replies a GET's field.
    static func replyField(_ operation: Operation, of bytes: UnsafeRawBufferPointer, _ ctx: CommandContext) {
        if operation.signed {
            ctx.reply.integer(Int(BitArithmetic.signedField(bytes, offset: operation.offset, width: operation.width)))
        } else {
            ctx.reply.integer(Int(BitArithmetic.unsignedField(bytes, offset: operation.offset, width: operation.width)))
        }
    }

    /// Runs a SET or INCRBY on its field: the field's bits before and after (as 64-bit patterns), or nil when the
    /// result overflows under OVERFLOW FAIL and nothing is written.
    static func write(_ operation: Operation, in bytes: UnsafeMutableRawBufferPointer) -> (UInt64, UInt64)? {
        let offset = operation.offset
        let width = operation.width
        let increment = operation.kind == .incrementBy
        let previous: UInt64
        let updated: UInt64
        if operation.signed {
            let field = BitArithmetic.signedField(UnsafeRawBufferPointer(bytes), offset: offset, width: width)
            // SET checks its value as an increment of 0 to it.
            guard
                let sum = BitArithmetic.signedSum(
                    increment ? field : operation.operand, increment ? operation.operand : 0, width: width,
                    overflow: operation.overflow)
            else { return nil }
            (previous, updated) = (UInt64(bitPattern: field), UInt64(bitPattern: sum))
        } else {
            let field = BitArithmetic.unsignedField(UnsafeRawBufferPointer(bytes), offset: offset, width: width)
            guard
                let sum = BitArithmetic.unsignedSum(
                    increment ? field : UInt64(bitPattern: operation.operand), increment ? operation.operand : 0,
                    width: width, overflow: operation.overflow)
            else { return nil }
            (previous, updated) = (field, sum)
        }
        BitArithmetic.setField(updated, in: bytes, offset: offset, width: width)
        return (previous, updated)
    }

    /// BITFIELD's key and how it is accessed (Redis's `bitfieldGetKeys`): read only while the operations are GETs
    /// and OVERFLOWs; read and updated from the first SET or INCRBY, or anything it cannot parse.
    static func bitfieldKeys(_ arguments: CommandArguments) -> [KeyReference] {
        guard arguments.count > 1 else { return [] }
        var readOnly = true
        var index = 2
        while index < arguments.count {
            let remaining = arguments.count - index - 1
            if arguments.argument(index, is: "get") && remaining >= 2 {
                index += 3
            } else if arguments.argument(index, is: "overflow") && remaining >= 1 {
                index += 2
            } else {
                readOnly = false
                break
            }
        }
        return [KeyReference(position: 1, flags: readOnly ? [.readOnly, .access] : [.readWrite, .access, .update])]
    }
}
