import KVStore
import Logging
import NIOCore
import RESP

/// KEYS, PDEL and SCAN: walks of the ordered keyspace. A glob's literal prefix bounds each walk to a LevelDB range,
/// so `KEYS user:1234:* LIMIT 10` costs a seek and ten steps whatever the size of the keyspace.
struct OrderedKeyspaceCommands: CommandFamily {
    let scanCursors: ScanCursors
    /// Keys KEYS returns without a LIMIT; 0 for all (`--keys-default-limit`).
    let keysDefaultLimit: Int

    var commands: [CommandSpec] {
        let (cursors, defaultLimit) = (scanCursors, keysDefaultLimit)
        return [
            // KEYS's metadata is kvnode's (its options), PDEL's is kvnode's own: both in CommandMetadata+kvnode.swift.
            // Plain KEYS needs no key permission, as in Redis (it returns names only); WITHVALUES reads every key
            // the pattern could match, and PDEL deletes them: access control requires the pattern to be covered.
            CommandSpec(.keys, keyPatternFinder: Self.keysReadValues) { try Self.keys($0, defaultLimit: defaultLimit) },
            CommandSpec(.pdel, keyPatternFinder: { arguments in
                arguments.count == 2 ? [KeyPatternReference(position: 1, kind: .glob, flags: [.remove, .delete])] : []
            }, handler: Self.pdel),
            CommandSpec(.scan) { try Self.scan($0, cursors: cursors) },
        ]
    }

    /// `KEYS pattern [PIVOT key] [LIMIT count] [DESC] [WITHVALUES]`, options in any order, the last of a kind
    /// winning. Keys come in byte order (reversed with DESC), strictly after the pivot (before it with DESC). With
    /// WITHVALUES a key of another type than string has a null value, as MGET answers for it: every key is listed, and
    /// a client reads collections with their own commands.
    static func keys(_ ctx: CommandContext, defaultLimit: Int) throws {
        let options = try KeysOptions(CommandArguments(ctx.request))
        let (order, withValues) = (options.order, options.withValues)
        // LIMIT 0 asks for nothing; a default of 0 means no limit.
        let maximum = options.limit ?? (defaultLimit > 0 ? defaultLimit : .max)
        guard maximum > 0 else { return ctx.reply.arrayHeader(0) }

        var range = KeyRange.all
        if let pivot = options.pivot {
            if order == .ascending { range.restrict(after: pivot) } else { range.restrict(before: pivot) }
        }
        let pattern = GlobPattern(ctx.argument(1).readableBytesView)
        var items = ReplyWriter(buffer: ByteBuffer(), version: ctx.reply.version)
        var found = 0
        try ctx.keyspace.forEachKey(matching: pattern, within: range, order: order) { key, value, _, type in
            items.bulk(key)
            if withValues {
                if type == .string { items.bulk(value) } else { items.null() }
            }
            found += 1
            return found < maximum
        }
        ctx.reply.arrayHeader(withValues ? 2 * found : found)
        ctx.reply.buffer.writeBuffer(&items.buffer)
    }

    /// KEYS's options: `[PIVOT key] [LIMIT count] [DESC] [WITHVALUES]`, in any order, the last of a kind winning.
    struct KeysOptions {
        var pivot: [UInt8]?
        var limit: Int?
        var order = IterationOrder.ascending
        var withValues = false

        init(_ arguments: CommandArguments) throws(CommandError) {
            var index = 2
            while index < arguments.count {
                let hasValue = index + 1 < arguments.count
                if arguments.argument(index, is: "pivot") && hasValue {
                    pivot = arguments.withArgument(index + 1) { Array($0) }
                    index += 1
                } else if arguments.argument(index, is: "limit") && hasValue {
                    guard let count = arguments.withArgument(index + 1, { RESPInteger.parse($0) }), count >= 0 else {
                        throw CommandError.syntax
                    }
                    limit = count
                    index += 1
                } else if arguments.argument(index, is: "desc") {
                    order = .descending
                } else if arguments.argument(index, is: "withvalues") {
                    withValues = true
                } else {
                    throw CommandError.syntax
                }
                index += 1
            }
        }
    }

    /// KEYS ... WITHVALUES reads the value of every key its pattern matches (options that do not parse read nothing:
    /// the command refuses them).
    private static let keysReadValues: KeyPatternFinder = { arguments in
        guard arguments.count >= 2, let options = try? KeysOptions(arguments), options.withValues else { return [] }
        return [KeyPatternReference(position: 1, kind: .glob, flags: [.readOnly, .access])]
    }

    /// `PDEL pattern`: deletes every live key matching the glob, replying how many.
    static func pdel(_ ctx: CommandContext) throws {
        let pattern = GlobPattern(ctx.argument(1).readableBytesView)
        let keyspace = ctx.keyspace
        let chunkSize = 1024
        var deleted = 0
        var range = KeyRange.all
        // Chunks commit separately; lock-free readers wait for the lock until the last one is in.
        try keyspace.withMultiBatchWrite {
            while true {
                // Collect a chunk, delete it, and continue after its last key: the walk never sees its own deletes.
                var chunk: [ByteBuffer] = []
                try keyspace.forEachKey(matching: pattern, within: range) { key, _, _, _ in
                    chunk.append(ByteBuffer(bytes: key))
                    return chunk.count < chunkSize
                }
                for key in chunk where try keyspace.delete(key) {
                    ctx.notify(.generic, "del", key: key)
                    deleted += 1
                }
                guard chunk.count == chunkSize, let last = chunk.last else { break }
                range.restrict(after: Array(last.readableBytesView))
                try keyspace.commitIfLarge()
            }
        }
        ctx.reply.integer(deleted)
    }

    /// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`: visits up to COUNT keys after the cursor's position
    /// and replies the next cursor (0 at the end) and the visited keys that match.
    static func scan(_ ctx: CommandContext, cursors: ScanCursors) throws {
        guard let cursor = ctx.request.withArgument(1, parseCursor) else {
            throw CommandError("ERR invalid cursor")
        }
        var pattern: GlobPattern?
        var count = 10
        // TYPE filters the keys visited; a name no type has matches none, and the walk goes on, as in Redis.
        var typeFilter: ValueType??
        var index = 2
        while index < ctx.argumentCount {
            guard index + 1 < ctx.argumentCount else { throw CommandError.syntax }
            if ctx.argument(index, is: "match") {
                pattern = GlobPattern(ctx.argument(index + 1).readableBytesView)
            } else if ctx.argument(index, is: "count") {
                count = try ctx.integerArgument(index + 1)
                guard count >= 1 else { throw CommandError.syntax }
            } else if ctx.argument(index, is: "type") {
                typeFilter = .some(ValueType(name: ctx.argument(index + 1).readableBytesView))
            } else {
                throw CommandError.syntax
            }
            index += 2
        }

        let range = ScanPage.range(resuming: UInt64(cursor), in: cursors, pattern: pattern)
        var page = ScanPage(count: count, version: ctx.reply.version)
        try ctx.keyspace.forEachKey(in: range) { key, _, _, type in
            guard page.visit(key) else { return false }
            if pattern?.matches(key) ?? true, typeFilter.map({ $0 == type }) ?? true {
                page.items.bulk(key)
                page.itemCount += 1
            }
            return true
        }
        page.reply(into: &ctx.reply, cursors: cursors)
    }

    /// Redis's cursor syntax (`strtoul`): optional sign, decimal digits, no spaces; the empty string is 0.
    static func parseCursor(_ bytes: UnsafeRawBufferPointer) -> UInt64? {
        var digits = bytes[...]
        let negative = digits.first == UInt8(ascii: "-")
        if negative || digits.first == UInt8(ascii: "+") {
            digits = digits.dropFirst()
            guard !digits.isEmpty else { return nil }
        }
        var value: UInt64 = 0
        for byte in digits {
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            guard !overflow1 && !overflow2 else { return nil }
            value = sum
        }
        return negative ? 0 &- value : value
    }
}
