#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import KVStore
import NIOCore
import RESP

/// SORT and SORT_RO, as Redis 7.0's `sortCommandGeneric`: the elements of a list, set or sorted set, sorted as numbers
/// (or bytes with ALPHA), by themselves or by the values of other keys (`BY pattern`, `BY pattern->field`), or left
/// in the key's own order (`BY` a pattern without `*`); a LIMIT window; and for each element either itself or the
/// values `GET pattern` finds. SORT's STORE replaces the destination with a list of the result (an empty result
/// deletes it): a write like any other, logged in the change log, notified as `sortstore`, and serving clients blocked
/// on the destination.
///
/// A list or sorted set left in its order reads only the LIMIT window (a list by position, a sorted set from the
/// nearer end of its score index); sorting reads the whole key.
struct SortCommands: CommandFamily {
    var commands: [CommandSpec] {
        [
            CommandSpec(.sort, keyFinder: Self.sortKeys) { try Self.sort($0, readOnly: false) },
            CommandSpec(.sortRo, keyFinder: Self.readOnlySortKeys) { try Self.sort($0, readOnly: true) },
        ]
    }

    // MARK: Keys

    /// SORT's keys, as Redis's `sortGetKeys`: the sorted key, and the last STORE's destination. Options are skipped
    /// with their arguments (LIMIT two, GET and BY one); the patterns' keys are unknown until the command runs.
    static func sortKeys(_ arguments: CommandArguments) -> [KeyReference] {
        var keys = [KeyReference(position: 1, flags: [.readOnly, .access])]
        var destination: Int?
        var index = 2
        while index < arguments.count {
            if arguments.argument(index, is: "limit") {
                index += 2
            } else if arguments.argument(index, is: "get") || arguments.argument(index, is: "by") {
                index += 1
            } else if arguments.argument(index, is: "store"), index + 1 < arguments.count {
                destination = index + 1
            }
            index += 1
        }
        if let destination { keys.append(KeyReference(position: destination, flags: [.overwrite, .update])) }
        return keys
    }

    /// SORT_RO's key: the sorted one.
    static func readOnlySortKeys(_ arguments: CommandArguments) -> [KeyReference] {
        [KeyReference(position: 1, flags: [.readOnly, .access])]
    }

    // MARK: Options

    struct Options {
        var descending = false
        var alpha = false
        var limitStart = 0
        var limitCount = -1
        /// The last `BY` pattern.
        var by: ByteBuffer?
        /// Some `BY` pattern had no `*`: the elements keep the key's order (it stays so whatever later `BY` says).
        var dontSort = false
        var gets: [ByteBuffer] = []
        var store: ByteBuffer?
    }

    /// Reads the options in order, with Redis's errors (`ERR syntax error` for an unknown word, or STORE in SORT_RO).
    static func options(_ ctx: CommandContext, readOnly: Bool) throws -> Options {
        var options = Options()
        var index = 2
        while index < ctx.argumentCount {
            let remaining = ctx.argumentCount - index - 1
            if ctx.argument(index, is: "asc") {
                options.descending = false
            } else if ctx.argument(index, is: "desc") {
                options.descending = true
            } else if ctx.argument(index, is: "alpha") {
                options.alpha = true
            } else if ctx.argument(index, is: "limit"), remaining >= 2 {
                options.limitStart = try ctx.integerArgument(index + 1)
                options.limitCount = try ctx.integerArgument(index + 2)
                index += 2
            } else if !readOnly, ctx.argument(index, is: "store"), remaining >= 1 {
                options.store = ctx.argument(index + 1)
                index += 1
            } else if ctx.argument(index, is: "by"), remaining >= 1 {
                let pattern = ctx.argument(index + 1)
                options.by = pattern
                if pattern.readableBytesView.firstIndex(of: UInt8(ascii: "*")) == nil {
                    options.dontSort = true
                } else {
                    try requireUnrestrictedKeyAccess(ctx, option: "BY")
                }
                index += 1
            } else if ctx.argument(index, is: "get"), remaining >= 1 {
                try requireUnrestrictedKeyAccess(ctx, option: "GET")
                options.gets.append(ctx.argument(index + 1))
                index += 1
            } else {
                throw CommandError.syntax
            }
            index += 1
        }
        return options
    }

    /// The keys BY and GET patterns reach are unknown before the command runs, so Redis 7.0 allows them only to a
    /// user who may read every key.
    private static func requireUnrestrictedKeyAccess(_ ctx: CommandContext, option: String) throws {
        let session = ctx.session
        let arguments = CommandArguments(ctx.request)
        guard !session.user.allowsEverything, let spec = ctx.engine.commands.lookup(arguments) else { return }
        let rules = session.user.rules(cachedIn: &session.rulesCache)
        if !ACLPermissionCheck.allowsReadingEveryKey(rules, spec, arguments) {
            throw CommandError("ERR \(option) option of SORT denied due to insufficient ACL permissions.")
        }
    }

    // MARK: Sorting

    /// One element to sort: itself, and what it sorts by.
    struct Entry {
        var element: [UInt8]
        /// Numeric sorting: the element's (or its BY value's) number; 0 when the BY key is missing.
        var score: Double = 0
        /// ALPHA with BY: the BY value, nil when missing (sorted first).
        var byValue: [UInt8]?
    }

    /// `SORT key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA] [STORE destination]` and
    /// `SORT_RO` (without STORE).
    static func sort(_ ctx: CommandContext, readOnly: Bool) throws {
        var options = try options(ctx, readOnly: readOnly)
        let keyspace = ctx.keyspace
        let key = ctx.argument(1)
        let type = try keyspace.typeForWrite(of: key)
        guard type == nil || type == .list || type == .set || type == .sortedSet else { throw CommandError.wrongType }
        // Opened as Redis's `lookupKeyRead`: a keyspace hit, or a miss for a missing key.
        let source = try keyspace.collection(key, type ?? .list)
        if options.dontSort && type == .set && options.store != nil {
            // A set has no order of its own: what STORE writes must not depend on it, so it is sorted by its bytes.
            options.dontSort = false
            options.alpha = true
            options.by = nil
        }
        let count = source?.count ?? 0
        // LIMIT, clamped as Redis clamps it: an empty window is `end == start - 1`.
        var start = min(max(options.limitStart, 0), count)
        let limitCount = min(max(options.limitCount, -1), count)
        var end = limitCount < 0 ? count - 1 : start + limitCount - 1
        if start >= count {
            start = count - 1
            end = count - 2
        }
        if end >= count { end = count - 1 }

        var entries: [Entry] = []
        if let source {
            if options.dontSort && source.type != .set {
                // The key's own order: only the window is read, and it becomes the whole result.
                entries = try window(of: source, start: start, end: end, descending: options.descending, keyspace)
                end -= start
                start = 0
            } else {
                entries = try allElements(of: source, keyspace)
            }
        }
        if !options.dontSort {
            guard try score(&entries, options, keyspace) else {
                throw CommandError("ERR One or more scores can't be converted into double")
            }
            order(&entries, options)
        }

        let last = min(end, entries.count - 1)
        let selected = start <= last ? entries[start...last] : []
        let outputCount = options.gets.isEmpty ? selected.count : options.gets.count * selected.count
        guard let destination = options.store else {
            ctx.reply.arrayHeader(outputCount)
            for entry in selected {
                guard !options.gets.isEmpty else {
                    entry.element.withUnsafeBytes { ctx.reply.bulk($0) }
                    continue
                }
                for pattern in options.gets {
                    if let value = try lookUp(pattern, for: entry.element, keyspace) {
                        value.withUnsafeBytes { ctx.reply.bulk($0) }
                    } else {
                        ctx.reply.null()
                    }
                }
            }
            return
        }
        try store(selected, gets: options.gets, at: destination, ctx)
        ctx.reply.integer(outputCount)
    }

    /// The elements of a list or sorted set at positions `start...end` of its order (from the tail, or the highest
    /// score, when descending).
    private static func window(
        of source: StoredCollection, start: Int, end: Int, descending: Bool, _ keyspace: Keyspace
    ) throws -> [Entry] {
        guard start <= end else { return [] }
        let count = source.count
        var entries: [Entry] = []
        entries.reserveCapacity(end - start + 1)
        if source.type == .list {
            let first = descending ? count - 1 - end : start
            let last = descending ? count - 1 - start : end
            try keyspace.forEachItem(of: source, from: first, through: last, order: descending ? .descending : .ascending) {
                _, item in
                entries.append(Entry(element: Array(item)))
                return true
            }
        } else {
            let positions = descending ? (count - 1 - end)...(count - 1 - start) : start...end
            try SortedSetRanks.forEachMember(at: positions, of: source, reverse: descending, in: keyspace) { member, _ in
                entries.append(Entry(element: Array(member)))
            }
        }
        return entries
    }

    /// Every element, in the key's order: a list's, a sorted set's by score, a set's as Redis would hold it (an
    /// intset's by value; bytes otherwise).
    private static func allElements(of source: StoredCollection, _ keyspace: Keyspace) throws -> [Entry] {
        var entries: [Entry] = []
        entries.reserveCapacity(source.count)
        switch source.type {
        case .list:
            try keyspace.forEachItem(of: source, from: 0, through: source.count - 1) { _, item in
                entries.append(Entry(element: Array(item)))
                return true
            }
        case .sortedSet:
            try keyspace.forEachScored(of: source) { member, _ in
                entries.append(Entry(element: Array(member)))
                return true
            }
        default:
            try keyspace.forEachCounted(of: source, kind: ElementLayout.setMember) { member, _ in
                entries.append(Entry(element: Array(member)))
            }
            if !source.metadata.isPromoted {
                let values = entries.map { $0.element.withUnsafeBytes { RESPInteger.parse($0) } }
                if !values.contains(nil) {
                    entries = zip(entries, values).sorted { $0.1! < $1.1! }.map(\.0)
                }
            }
        }
        return entries
    }

    /// Gives each entry what it sorts by.
    /// - Returns: false when a numeric sort met a value that is not a number (`strtod`'s whole text, not NaN).
    private static func score(_ entries: inout [Entry], _ options: Options, _ keyspace: Keyspace) throws -> Bool {
        var converted = true
        for index in entries.indices {
            let value: [UInt8]
            if let by = options.by {
                guard let found = try lookUp(by, for: entries[index].element, keyspace) else { continue }
                value = found
            } else {
                value = entries[index].element
            }
            if options.alpha {
                if options.by != nil { entries[index].byValue = value }
            } else if let number = sortNumber(value) {
                entries[index].score = number
            } else {
                converted = false
            }
        }
        return converted
    }

    /// Sorts as Redis's `sortCompare`: numbers (equal ones by element bytes), or bytes with ALPHA (by the BY values,
    /// missing ones first); DESC reverses. Entries that still compare equal keep their order.
    private static func order(_ entries: inout [Entry], _ options: Options) {
        let alpha = options.alpha
        let byPattern = options.by != nil
        let compare = { (a: Entry, b: Entry) -> Int in
            if !alpha {
                if a.score != b.score { return a.score < b.score ? -1 : 1 }
                return compareBytes(a.element, b.element)
            }
            guard byPattern else { return compareBytes(a.element, b.element) }
            switch (a.byValue, b.byValue) {
            case (nil, nil): return 0
            case (nil, _): return -1
            case (_, nil): return 1
            case (let x?, let y?): return compareBytes(x, y)
            }
        }
        let descending = options.descending
        entries = entries.enumerated().sorted { a, b in
            let result = compare(a.element, b.element)
            if result != 0 { return descending ? result > 0 : result < 0 }
            return a.offset < b.offset
        }.map(\.element)
    }

    /// A value as a SORT number (Redis's `strtod` check): the whole text up to any NUL byte must be read, without a
    /// range error, and not be NaN. An empty text is 0.
    static func sortNumber(_ bytes: [UInt8]) -> Double? {
        let text = bytes.prefix { $0 != 0 }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: text.count + 1) { buffer -> Double? in
            for (offset, byte) in text.enumerated() { buffer[offset] = CChar(bitPattern: byte) }
            buffer[text.count] = 0
            var end: UnsafeMutablePointer<CChar>?
            errno = 0
            let value = strtod(buffer.baseAddress!, &end)
            guard let end, end == buffer.baseAddress! + text.count, errno != ERANGE, !value.isNaN else { return nil }
            return value
        }
    }

    // MARK: Patterns

    /// What a BY or GET pattern finds for `element` (Redis's `lookupKeyByPattern`): `#` is the element itself; the
    /// first `*` is replaced by it to name a string key, or with `->field` after the `*`, a hash and its field.
    /// Nil when the pattern has no `*`, or the key is missing or of another type, or the field is missing.
    static func lookUp(_ pattern: ByteBuffer, for element: [UInt8], _ keyspace: Keyspace) throws -> [UInt8]? {
        let bytes = pattern.readableBytesView
        if bytes.elementsEqual(CollectionOfOne(UInt8(ascii: "#"))) { return element }
        guard let star = bytes.firstIndex(of: UInt8(ascii: "*")) else { return nil }
        var keyEnd = bytes.endIndex
        var field: ByteBufferView.SubSequence?
        var arrow = star + 1
        while arrow + 1 < bytes.endIndex {
            if bytes[arrow] == UInt8(ascii: "-") && bytes[arrow + 1] == UInt8(ascii: ">") {
                if arrow + 2 < bytes.endIndex {
                    keyEnd = arrow
                    field = bytes[(arrow + 2)...]
                }
                break
            }
            arrow += 1
        }
        var key = ByteBuffer()
        key.reserveCapacity(keyEnd - bytes.startIndex - 1 + element.count)
        key.writeBytes(bytes[..<star])
        key.writeBytes(element)
        key.writeBytes(bytes[(star + 1)..<keyEnd])
        do {
            guard let field else { return try keyspace.read(key) { value, _ in Array(value) } }
            guard let hash = try keyspace.collection(key, .hash) else { return nil }
            return try keyspace.element(of: hash, kind: ElementLayout.hashField, ByteBuffer(bytes: field)) { Array($0) }
        } catch is WrongTypeError {
            return nil
        }
    }

    // MARK: STORE

    /// Replaces `destination` with a list of the selected elements (or, with GET, their values; a missing one is an
    /// empty string), as Redis's `setKey`; an empty result deletes it.
    private static func store(
        _ selected: ArraySlice<Entry>, gets: [ByteBuffer], at destination: ByteBuffer, _ ctx: CommandContext
    ) throws {
        let keyspace = ctx.keyspace
        guard !selected.isEmpty else {
            if try keyspace.delete(destination) { ctx.notify(.generic, "del", key: destination) }
            return
        }
        var (list, _) = try keyspace.replaceWithCollection(destination, .list)
        for entry in selected {
            if gets.isEmpty {
                keyspace.pushItem(&list, ByteBuffer(bytes: entry.element), at: .tail)
                continue
            }
            for pattern in gets {
                let value = try lookUp(pattern, for: entry.element, keyspace) ?? []
                keyspace.pushItem(&list, ByteBuffer(bytes: value), at: .tail)
            }
        }
        try keyspace.save(&list)
        ctx.notify(.list, "sortstore", key: destination)
    }
}
