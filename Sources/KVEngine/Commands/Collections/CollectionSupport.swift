import KVStore
import NIOCore
import RESP

/// The encoding Redis 7.0 would report (OBJECT ENCODING) for a collection of a given history, from its defaults
/// (`hash-max-listpack-entries 512`, `hash-max-listpack-value 64`, `set-max-intset-entries 512`,
/// `zset-max-listpack-entries 128`, `zset-max-listpack-value 64`: the compiled-in
/// values, which redis.conf files may lower). Redis converts a
/// value to its large encoding once it outgrows the compact one and never back; `CollectionMetadata.isPromoted`
/// keeps that, and the commands update it as they write (`noteHashWrite`, `noteSetAdd`, `noteSize`).
enum CollectionEncoding {
    static let hashMaxListpackEntries = 512
    static let hashMaxListpackValue = 64
    static let setMaxIntsetEntries = 512
    static let zsetMaxListpackEntries = 128
    static let zsetMaxListpackValue = 64

    /// OBJECT ENCODING's answer for a collection.
    static func name(of type: ValueType, _ metadata: CollectionMetadata?) -> String {
        let promoted = metadata?.isPromoted ?? false
        switch type {
        case .hash: return promoted ? "hashtable" : "listpack"
        case .set: return promoted ? "hashtable" : "intset"
        case .list: return "quicklist"
        case .sortedSet: return promoted ? "skiplist" : "listpack"
        case .string: return "raw"
        }
    }

    /// A hash field written with these lengths: a field or value longer than the listpack's limit converts it.
    static func noteHashWrite(_ hash: inout StoredCollection, fieldLength: Int, valueLength: Int) {
        if fieldLength > hashMaxListpackValue || valueLength > hashMaxListpackValue { hash.metadata.isPromoted = true }
    }

    /// A set member added: anything but an integer Redis's intset holds converts it.
    static func noteSetAdd(_ set: inout StoredCollection, member: ByteBuffer) {
        guard !set.metadata.isPromoted else { return }
        if member.withUnsafeReadableBytes({ RESPInteger.parse($0) }) == nil { set.metadata.isPromoted = true }
    }

    /// A sorted set member about to be added: one more than the listpack holds, or a member longer than its limit,
    /// converts the set first (Redis's `zsetAdd`).
    static func noteSortedSetAdd(_ zset: inout StoredCollection, memberLength: Int) {
        if zset.count + 1 > zsetMaxListpackEntries || memberLength > zsetMaxListpackValue {
            zset.metadata.isPromoted = true
        }
    }

    /// After a command's additions: a collection larger than its compact encoding's limit converts.
    static func noteSize(_ collection: inout StoredCollection) {
        let limit = switch collection.type {
        case .hash: hashMaxListpackEntries
        case .sortedSet: zsetMaxListpackEntries
        default: setMaxIntsetEntries
        }
        if collection.count > limit { collection.metadata.isPromoted = true }
    }
}

/// HSCAN and SSCAN over a collection's ordered elements, with SCAN's cursors (`ScanCursors`, docs/scan-cursors.md)
/// standing for a position among the elements.
///
/// A collection Redis would hold compactly (listpack, intset) is returned whole with cursor 0, whatever the cursor
/// and COUNT, exactly as Redis answers for it; a larger one COUNT elements at a time, each call resuming strictly
/// after the last element it visited.
struct ElementScan {
    let cursors: ScanCursors

    /// `HSCAN key cursor [MATCH pattern] [COUNT count]` (with values) or `SSCAN ...`. As in Redis, the options are
    /// read only once the key is found to exist and hold the right type.
    /// - Parameters:
    ///   - writeValue: writes an element's value into the page when it is not replied as stored (a sorted set's
    ///     scores, formatted as Redis's encoding would print them).
    ///   - visitWhole: visits a compact collection's elements and values in the order Redis's compact encoding holds
    ///     them (a sorted set's listpack: by score), when that is not byte order.
    func run(
        _ ctx: CommandContext, type: ValueType, kind: UInt8, withValues: Bool,
        writeValue: ((_ value: UnsafeRawBufferPointer, _ collection: StoredCollection, _ items: inout ReplyWriter) -> Void)? = nil,
        visitWhole: ((
            _ collection: StoredCollection,
            _ body: (_ element: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Bool
        ) throws -> Void)? = nil
    ) throws {
        guard let cursor = ctx.request.withArgument(2, OrderedKeyspaceCommands.parseCursor) else {
            throw CommandError("ERR invalid cursor")
        }
        guard let collection = try ctx.keyspace.collection(ctx.argument(1), type) else {
            ctx.reply.arrayHeader(2)
            ctx.reply.bulk(decimal: 0)
            return ctx.reply.arrayHeader(0)
        }
        var pattern: GlobPattern?
        var count = 10
        var index = 3
        while index < ctx.argumentCount {
            guard index + 1 < ctx.argumentCount else { throw CommandError.syntax }
            if ctx.argument(index, is: "match") {
                pattern = GlobPattern(ctx.argument(index + 1).readableBytesView)
            } else if ctx.argument(index, is: "count") {
                count = try ctx.integerArgument(index + 1)
                guard count >= 1 else { throw CommandError.syntax }
            } else {
                throw CommandError.syntax
            }
            index += 2
        }
        // A collection Redis holds compactly comes whole, whatever the cursor says.
        let whole = !collection.metadata.isPromoted
        let range = ScanPage.range(resuming: whole ? 0 : UInt64(cursor), in: cursors, pattern: pattern)
        var page = ScanPage(count: whole ? .max : count, version: ctx.reply.version)
        let visit = { (element: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) -> Bool in
            guard page.visit(element) else { return false }
            if pattern?.matches(element) ?? true {
                page.items.bulk(element)
                if withValues {
                    if let writeValue { writeValue(value, collection, &page.items) } else { page.items.bulk(value) }
                }
                page.itemCount += withValues ? 2 : 1
            }
            return true
        }
        if whole, let visitWhole {
            try visitWhole(collection, visit)
        } else {
            try ctx.keyspace.forEachElement(of: collection, kind: kind, in: range, visit)
        }
        page.reply(into: &ctx.reply, cursors: cursors)
    }
}

/// Random elements of a collection, for HRANDFIELD, SRANDMEMBER and SPOP.
enum RandomElements {
    /// Up to this many elements, a sample reads them all and picks among them (uniformly); beyond, it descends the
    /// ordered elements (`Keyspace.randomElement`), a few seeks per pick whatever the size.
    static let readWholeBelow = 1024

    /// HRANDFIELD's and SRANDMEMBER's count: a negative one asks for that many with repetitions, one at least the
    /// collection's size for all of it, a smaller one for that many distinct elements.
    static func sample(
        _ count: Int, of collection: StoredCollection, kind: UInt8, in keyspace: Keyspace
    ) throws -> [[UInt8]] {
        if count < 0 { return try withRepetition(-count, of: collection, kind: kind, in: keyspace) }
        if count >= collection.count { return try all(of: collection, kind: kind, in: keyspace) }
        return try distinct(count, of: collection, kind: kind, in: keyspace)
    }

    /// `count` distinct random elements, `count` smaller than the collection; Redis's CASE 3 (most of the elements:
    /// take them all and drop some) and CASE 4 (a few: pick until enough distinct ones).
    static func distinct(
        _ count: Int, of collection: StoredCollection, kind: UInt8, in keyspace: Keyspace
    ) throws -> [[UInt8]] {
        if count * 3 > collection.count || collection.count <= readWholeBelow {
            return Array(try all(of: collection, kind: kind, in: keyspace).shuffled().prefix(count))
        }
        var chosen = Set<[UInt8]>()
        var attempts = 0
        // The descent is not uniform: should it keep landing on the same few, fall back to reading them all.
        while chosen.count < count && attempts < 8 * count + 64 {
            if let element = try keyspace.randomElement(of: collection, kind: kind) { chosen.insert(element) }
            attempts += 1
        }
        if chosen.count < count {
            for element in try all(of: collection, kind: kind, in: keyspace).shuffled() where chosen.count < count {
                chosen.insert(element)
            }
        }
        return Array(chosen)
    }

    /// `count` random elements, repetitions allowed (a negative count).
    static func withRepetition(
        _ count: Int, of collection: StoredCollection, kind: UInt8, in keyspace: Keyspace
    ) throws -> [[UInt8]] {
        if collection.count <= readWholeBelow {
            let elements = try all(of: collection, kind: kind, in: keyspace)
            guard !elements.isEmpty else { return [] }
            return (0..<count).map { _ in elements.randomElement()! }
        }
        var picked: [[UInt8]] = []
        picked.reserveCapacity(count)
        for _ in 0..<count {
            guard let element = try keyspace.randomElement(of: collection, kind: kind) else { break }
            picked.append(element)
        }
        return picked
    }

    /// One random element, or nil for an empty collection.
    static func one(of collection: StoredCollection, kind: UInt8, in keyspace: Keyspace) throws -> [UInt8]? {
        if collection.count <= readWholeBelow {
            return try all(of: collection, kind: kind, in: keyspace).randomElement()
        }
        return try keyspace.randomElement(of: collection, kind: kind)
    }

    /// Every element, in byte order.
    static func all(of collection: StoredCollection, kind: UInt8, in keyspace: Keyspace) throws -> [[UInt8]] {
        var elements: [[UInt8]] = []
        elements.reserveCapacity(collection.count)
        try keyspace.forEachElement(of: collection, kind: kind) { element, _ in
            elements.append(Array(element))
            return true
        }
        return elements
    }
}

/// The reads hashes and sets share: HLEN/SCARD and HEXISTS/SISMEMBER.
enum CollectionReads {
    /// The number of elements of the collection in argument 1 (0 when missing).
    static func count(_ ctx: CommandContext, _ type: ValueType) throws {
        ctx.reply.integer(try ctx.keyspace.collection(ctx.argument(1), type)?.count ?? 0)
    }

    /// 1 when the collection in argument 1 has the element in argument 2, else 0.
    static func contains(_ ctx: CommandContext, _ type: ValueType, kind: UInt8) throws {
        let keyspace = ctx.keyspace
        let found = try keyspace.collection(ctx.argument(1), type).map {
            try keyspace.hasElement(of: $0, kind: kind, ctx.argument(2))
        }
        ctx.reply.integer(found == true ? 1 : 0)
    }
}

/// The removal hashes, sets and sorted sets share: HDEL, SREM, ZREM.
enum CollectionRemoval {
    /// Removes the elements named by arguments 2... from the collection in argument 1 with `remove` (which returns
    /// whether the element was there), saves it once, notifies `event` when any went (and `del` when none is left),
    /// and replies how many went.
    static func removeEach(
        _ ctx: CommandContext, _ type: ValueType, notify flags: KeyspaceEventFlags, event: StaticString,
        _ remove: (_ element: ByteBuffer, _ collection: inout StoredCollection) throws -> Bool
    ) throws {
        let key = ctx.argument(1)
        guard var collection = try ctx.keyspace.collectionForWrite(key, type) else { return ctx.reply.integer(0) }
        var removed = 0
        for index in 2..<ctx.argumentCount where collection.count > 0 {
            if try remove(ctx.argument(index), &collection) { removed += 1 }
        }
        try ctx.keyspace.save(&collection)
        if removed > 0 { ctx.notify(flags, event, key: key) }
        if collection.count == 0 { ctx.notify(.generic, "del", key: key) }
        ctx.reply.integer(removed)
    }
}

extension Keyspace {
    /// Visits the elements of one kind, at most `collection.count` of them: exactly what a reply whose header
    /// announced the count holds.
    func forEachCounted(
        of collection: StoredCollection, kind: UInt8,
        _ body: (_ element: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) -> Void
    ) throws {
        var visited = 0
        try forEachElement(of: collection, kind: kind) { element, value in
            body(element, value)
            visited += 1
            return visited < collection.count
        }
    }
}

extension CommandContext {
    /// The count argument of HRANDFIELD and SRANDMEMBER: any integer but LONG_MIN, with Redis's messages.
    func randomCountArgument(_ index: Int) throws -> Int {
        let count = try integerArgument(index)
        guard count != .min else {
            throw CommandError(
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
        }
        return count
    }
}

extension CommandContext {
    /// The optional `COUNT count` that ends LMPOP, BLMPOP, ZMPOP and BZMPOP, starting at argument `index`: nil when
    /// absent; Redis's errors for a repeated or unknown option and a count below 1.
    func multiPopCount(from index: Int) throws -> Int? {
        var count: Int?
        var index = index
        while index < argumentCount {
            guard count == nil, argument(index, is: "count"), index + 1 < argumentCount else {
                throw CommandError.syntax
            }
            let countError = CommandError("ERR count should be greater than 0")
            let value = try integerArgument(index + 1, error: countError)
            guard value > 0 else { throw countError }
            count = value
            index += 2
        }
        return count
    }
}

/// A keyspace notification's recorder: `CommandContext.notify`, or the engine's when a blocked client is served by
/// another connection's command (the pops the plain and blocking commands share take one).
typealias EventNotify = (KeyspaceEventFlags, StaticString, ByteBuffer) -> Void

extension CommandContext {
    /// `notify` as a value, for the operations shared with blocked clients.
    var eventNotify: EventNotify { { notify($0, $1, key: $2) } }
}
