import KVStore
import NIOCore
import RESP

/// KV.GET, KV.SET, KV.DEL, KV.HISTORY, KV.REVISION, KV.WATCH and KV.UNWATCH: kvnode's revisioned view of the keyspace
/// (docs/watch.md). Every write of any command takes a store revision; these commands show them, compare and set by
/// them, read the past from the change log, and follow changes without losing any.
struct RevisionCommands: CommandFamily {
    let hub: WatchHub

    var commands: [CommandSpec] {
        let hub = self.hub
        return [
            CommandSpec(.kvGet, handler: Self.get),
            CommandSpec(.kvSet, handler: Self.set),
            CommandSpec(.kvDel, handler: Self.delete),
            CommandSpec(.kvHistory, handler: Self.history),
            CommandSpec(.kvRevision, handler: Self.revision),
            CommandSpec(.kvWatch, kvnodeFlags: [.keyspace, .allowedWhileSubscribed], keyPatternFinder: Self.watchedKeys) {
                try Self.watch($0, hub)
            },
            CommandSpec(.kvUnwatch, kvnodeFlags: .allowedWhileSubscribed, handler: Self.unwatch),
        ]
    }

    /// The default and largest LIMIT of KV.HISTORY.
    static let defaultHistoryLimit = 100

    // MARK: Reading

    /// `KV.GET key [AT revision]`: the value and its revisions, as a map (RESP3) or field/value pairs (RESP2); null
    /// when the key does not exist (or did not at `revision`).
    static func get(_ ctx: CommandContext) throws {
        let keyspace = ctx.keyspace
        let key = ctx.argument(1)
        var at: UInt64?
        if ctx.argumentCount == 4 && ctx.argument(2, is: "at") {
            at = try revisionArgument(ctx, 3)
        } else if ctx.argumentCount != 2 {
            throw CommandError.syntax
        }
        let found: (value: ByteBuffer, expireAt: Int64, revision: KeyRevision)?
        if let at {
            try requireChangeLog(keyspace, "KV.GET AT")
            guard at <= keyspace.revision else { throw CommandError("ERR revision \(at) is in the future") }
            found = try compactedAsError(keyspace) { try keyspace.value(of: key, at: at) }
        } else {
            found = try keyspace.versionedValue(of: key)
        }
        guard let found else { return ctx.reply.null() }
        ctx.reply.mapHeader(5)
        ctx.reply.bulk("value")
        ctx.reply.bulk(found.value)
        ctx.reply.bulk("revision")
        ctx.reply.integer(Int(truncatingIfNeeded: found.revision.modified))
        ctx.reply.bulk("created")
        ctx.reply.integer(Int(truncatingIfNeeded: found.revision.created))
        ctx.reply.bulk("version")
        ctx.reply.integer(Int(truncatingIfNeeded: found.revision.version))
        ctx.reply.bulk("expires_at_ms")
        ctx.reply.integer(found.expireAt > 0 ? Int(found.expireAt) : -1)
    }

    /// `KV.HISTORY key [FROM revision] [LIMIT n] [DESC]`: the key's retained events, each `[revision, op, value]`
    /// (value null for a deletion), or `[revision, op, element, value]` for an element operation (`hset`, `sadd`...),
    /// oldest first or, with DESC, newest first from FROM.
    static func history(_ ctx: CommandContext) throws {
        var from: UInt64?
        var limit = defaultHistoryLimit
        var descending = false
        var index = 2
        while index < ctx.argumentCount {
            let hasValue = index + 1 < ctx.argumentCount
            if ctx.argument(index, is: "from") && hasValue {
                from = try revisionArgument(ctx, index + 1)
                index += 1
            } else if ctx.argument(index, is: "limit") && hasValue {
                limit = try ctx.integerArgument(index + 1)
                guard limit > 0 else { throw CommandError("ERR LIMIT must be positive") }
                limit = min(limit, 10_000)
                index += 1
            } else if ctx.argument(index, is: "desc") {
                descending = true
            } else {
                throw CommandError.syntax
            }
            index += 1
        }
        let keyspace = ctx.keyspace
        try requireChangeLog(keyspace, "KV.HISTORY")
        let events = try compactedAsError(keyspace) {
            try keyspace.history(of: ctx.argument(1), from: from, limit: limit, descending: descending)
        }
        ctx.reply.arrayHeader(events.count)
        for event in events {
            ctx.reply.arrayHeader(2 + event.operation.argumentCount)
            ctx.reply.integer(Int(truncatingIfNeeded: event.revision))
            ctx.reply.bulk(event.operation.name.description)
            event.writeArguments(into: &ctx.reply)
        }
    }

    /// `KV.REVISION`: the current revision and the oldest the change log still holds.
    static func revision(_ ctx: CommandContext) throws {
        let keyspace = ctx.keyspace
        ctx.reply.mapHeader(2)
        ctx.reply.bulk("current")
        ctx.reply.integer(Int(truncatingIfNeeded: keyspace.revision))
        ctx.reply.bulk("oldest")
        ctx.reply.integer(Int(truncatingIfNeeded: keyspace.oldestAvailableRevision))
    }

    // MARK: Writing

    /// `KV.SET key value [IFREV revision] [EX s | PX ms | KEEPTTL]`: the new revision, or null when IFREV does not
    /// match the key's last revision (`IFREV 0`: only when the key does not exist). Without KEEPTTL any expiry goes, as
    /// with SET.
    static func set(_ ctx: CommandContext) throws {
        var expected: UInt64?
        var expiry = ExpiryOption.none
        var index = 3
        while index < ctx.argumentCount {
            let hasValue = index + 1 < ctx.argumentCount
            if ctx.argument(index, is: "ifrev") && hasValue && expected == nil {
                expected = try revisionArgument(ctx, index + 1, allowingZero: true)
                index += 1
            } else if ctx.argument(index, is: "keepttl") && expiry.allows(.keep) {
                expiry = .keep
            } else if ctx.argument(index, is: "ex") && hasValue && expiry.allows(.seconds) {
                expiry = .pending(.seconds, argument: index + 1)
                index += 1
            } else if ctx.argument(index, is: "px") && hasValue && expiry.allows(.milliseconds) {
                expiry = .pending(.milliseconds, argument: index + 1)
                index += 1
            } else {
                throw CommandError.syntax
            }
            index += 1
        }
        expiry = try expiry.resolved(ctx)
        let keyspace = ctx.keyspace
        let expireAt = try expiry.absoluteTime(now: keyspace.now, command: "kv.set")
        let key = ctx.argument(1)
        let previousExpiry = try keyspace.expiry(of: key)
        if let expected {
            let current = previousExpiry == nil ? nil : try keyspace.revision(of: key)
            guard matches(expected, current) else { return ctx.reply.null() }
        }
        let newExpiry = expiry.keepsTTL ? (previousExpiry ?? 0) : expireAt
        try keyspace.set(key, value: ctx.argument(2), expireAt: newExpiry, previousExpiry: previousExpiry)
        ctx.notify(.string, "set", key: key)
        if expireAt > 0 { ctx.notify(.generic, "expire", key: key) }
        ctx.reply.integer(Int(truncatingIfNeeded: keyspace.revision))
    }

    /// `KV.DEL key [IFREV revision]`: the revision of the deletion, 0 when there was nothing to delete, or null when
    /// IFREV does not match the key's last revision.
    static func delete(_ ctx: CommandContext) throws {
        var expected: UInt64?
        if ctx.argumentCount == 4 && ctx.argument(2, is: "ifrev") {
            expected = try revisionArgument(ctx, 3, allowingZero: true)
        } else if ctx.argumentCount != 2 {
            throw CommandError.syntax
        }
        let keyspace = ctx.keyspace
        let key = ctx.argument(1)
        let current = try keyspace.revision(of: key)
        if let expected, !matches(expected, current) { return ctx.reply.null() }
        guard current != nil, try keyspace.delete(key) else { return ctx.reply.integer(0) }
        ctx.notify(.generic, "del", key: key)
        ctx.reply.integer(Int(truncatingIfNeeded: keyspace.revision))
    }

    // MARK: Watching

    /// The keys a watch follows, for access control: it reads them all (replay, INITIAL, PREVKV).
    private static let watchedKeys: KeyPatternFinder = { arguments in
        guard arguments.count >= 3 else { return [] }
        let kind: KeyPatternReference.Kind
        if arguments.argument(1, is: "key") {
            kind = .key
        } else if arguments.argument(1, is: "prefix") {
            kind = .prefix
        } else if arguments.argument(1, is: "pattern") {
            kind = .glob
        } else {
            return []
        }
        return [KeyPatternReference(position: 2, kind: kind, flags: [.readOnly, .access])]
    }

    /// `KV.WATCH (KEY key | PREFIX prefix | PATTERN glob) [FROM revision] [INITIAL] [PREVKV]`: starts a watch and
    /// replies `kv.watch id revision`; events follow as pushes (RESP3), or as arrays on a RESP2 connection that then
    /// only watches, as SUBSCRIBE does.
    static func watch(_ ctx: CommandContext, _ hub: WatchHub) throws {
        guard ctx.argumentCount >= 3 else { throw CommandError.wrongArity("kv.watch") }
        let filter: WatchFilter
        if ctx.argument(1, is: "key") {
            filter = .key(ByteBuffer(buffer: ctx.argument(2)))
        } else if ctx.argument(1, is: "prefix") {
            filter = .prefix(ByteBuffer(buffer: ctx.argument(2)))
        } else if ctx.argument(1, is: "pattern") {
            filter = .pattern(GlobPattern(ctx.argument(2).readableBytesView))
        } else {
            throw CommandError.syntax
        }
        var from: UInt64?
        var initial = false
        var includePrevious = false
        var index = 3
        while index < ctx.argumentCount {
            if ctx.argument(index, is: "from") && index + 1 < ctx.argumentCount {
                from = try revisionArgument(ctx, index + 1)
                index += 1
            } else if ctx.argument(index, is: "initial") {
                initial = true
            } else if ctx.argument(index, is: "prevkv") {
                includePrevious = true
            } else {
                throw CommandError.syntax
            }
            index += 1
        }
        if from != nil && initial { throw CommandError("ERR FROM and INITIAL cannot be combined") }
        let keyspace = ctx.keyspace
        try requireChangeLog(keyspace, "KV.WATCH")
        if let from {
            guard from <= keyspace.revision &+ 1 else { throw CommandError("ERR revision \(from) is in the future") }
            if from < keyspace.oldestLoggedRevision { throw compactedError(keyspace) }
        }
        // Under this lease no commit can come between the revision the watcher starts at, the snapshot its replay
        // reads, and its registration for live events.
        let start = keyspace.revision
        let view = from != nil || initial ? try keyspace.snapshot() : nil
        let watcher = ctx.session.addWatcher(filter: filter, includePrevious: includePrevious, start: start, hub: hub)
        push(WatchFrames.watching(id: watcher.id, revision: start, ctx.reply.version), ctx)
        var replay: Replay?
        if let view, let from {
            replay = Replay(view: view, through: start, source: .log(next: from, position: nil))
        } else if let view {
            replay = Replay(view: view, through: start, source: .initial(after: nil, inside: nil))
        }
        // Begins once this reply is written, on the connection's loop: the replay's frames follow the acknowledgement.
        ctx.eventLoop.execute { watcher.begin(replay: replay) }
    }

    /// `KV.UNWATCH [id]`: ends one watch, or all of the connection's; `kv.unwatch id remaining` for each.
    static func unwatch(_ ctx: CommandContext) throws {
        guard ctx.argumentCount <= 2 else { throw CommandError.wrongArity("kv.unwatch") }
        let ids: [Int]
        if ctx.argumentCount == 2 {
            ids = [try ctx.integerArgument(1)]
        } else {
            ids = ctx.session.watcherIDs
        }
        if ids.isEmpty {
            push(WatchFrames.unwatched(id: 0, remaining: 0, ctx.reply.version), ctx)
        }
        for id in ids {
            ctx.session.removeWatcher(id)
            let remaining = ctx.session.watcherIDs.count
            push(WatchFrames.unwatched(id: id, remaining: remaining, ctx.reply.version), ctx)
        }
    }

    // MARK: Helpers

    /// IFREV: 0 matches a missing key; any other revision the last revision of an existing key (a key written before
    /// revisions were kept matches none).
    private static func matches(_ expected: UInt64, _ current: KeyRevision?) -> Bool {
        guard let current else { return expected == 0 }
        return expected != 0 && current.modified == expected
    }

    /// A confirmation written as a push, in the connection's protocol, which CLIENT REPLY does not silence.
    private static func push(_ frame: PushFrame, _ ctx: CommandContext) {
        let bytes = ctx.reply.version == .resp3 ? frame.resp3 : frame.resp2
        ctx.push { $0.buffer.writeImmutableBuffer(bytes) }
    }

    /// A revision argument: a positive integer (or zero where it means "absent").
    private static func revisionArgument(_ ctx: CommandContext, _ index: Int, allowingZero: Bool = false) throws -> UInt64 {
        let value = try ctx.integerArgument(index, error: CommandError("ERR revision must be a non-negative integer"))
        guard value > 0 || (allowingZero && value == 0) else {
            throw CommandError(allowingZero ? "ERR revision must be a non-negative integer" : "ERR revision must be positive")
        }
        return UInt64(value)
    }

    /// What reads the change log refuses to answer while it is off: the log then misses every change since, so its
    /// past would be wrong, not just incomplete.
    private static func requireChangeLog(_ keyspace: Keyspace, _ command: String) throws {
        guard keyspace.logsChanges else {
            throw CommandError("ERR \(command) needs the change log, which is off (--change-log off)")
        }
    }

    private static func compactedAsError<R>(_ keyspace: Keyspace, _ body: () throws -> R) throws -> R {
        do {
            return try body()
        } catch let error as CompactedRevisionError {
            throw compactedError(error.oldest, error.current)
        }
    }

    private static func compactedError(_ keyspace: Keyspace) -> CommandError {
        compactedError(keyspace.oldestLoggedRevision, keyspace.revision)
    }

    /// Names the oldest revision still available, so a client knows where it can resume (or that it must re-read).
    private static func compactedError(_ oldest: UInt64, _ current: UInt64) -> CommandError {
        CommandError("COMPACTED the oldest retained revision is \(oldest), the current revision is \(current)")
    }
}
