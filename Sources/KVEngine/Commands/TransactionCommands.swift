import KVStore
import NIOCore
import RESP

/// MULTI, EXEC, DISCARD, WATCH, UNWATCH.
///
/// Between MULTI and EXEC, commands are checked (name, arity, subcommand) and queued; EXEC runs the queue under one
/// lease from its WATCH check to its last command as one unit (`CommandContext.runAsOneUnit`): no other client sees
/// part of it and its writes reach LevelDB in one batch (FLUSHDB/FLUSHALL inside a transaction is the exception:
/// removing every key commits as it goes).
struct TransactionCommands: CommandFamily {
    let watches: WatchRegistry

    var commands: [CommandSpec] {
        let watches = self.watches
        return [
            CommandSpec(.multi, kvnodeFlags: .transactionControl, handler: Self.multi),
            // EXEC runs under a lease: its WATCH check and every queued command are one atomic step.
            CommandSpec(.exec, kvnodeFlags: [.transactionControl, .keyspace], handler: Self.exec),
            CommandSpec(.discard, kvnodeFlags: .transactionControl, handler: Self.discard),
            // WATCH reads each key's state under a lease.
            CommandSpec(.watch, kvnodeFlags: [.transactionControl, .keyspace]) { try Self.watch($0, watches) },
            CommandSpec(.unwatch) { ctx in
                ctx.session.unwatchAll()
                ctx.reply.ok()
            },
        ]
    }

    static func multi(_ ctx: CommandContext) throws {
        guard ctx.session.transaction == nil else { throw CommandError("ERR MULTI calls can not be nested") }
        ctx.session.transaction = TransactionQueue()
        ctx.reply.ok()
    }

    static func exec(_ ctx: CommandContext) throws {
        guard let queue = ctx.session.transaction else { throw CommandError("ERR EXEC without MULTI") }
        ctx.session.transaction = nil
        let keyspace = ctx.keyspace
        defer { ctx.session.unwatchAll() }
        if queue.failed { throw CommandError("EXECABORT Transaction discarded because of previous errors.") }
        // WATCH hears of a change when it is committed, and the event loop's turn may still hold other connections'
        // writes: commit them first, so a watched key one of them changed makes this EXEC fail.
        if !ctx.session.watch.isEmpty && keyspace.pendingWrites > 0 { _ = try keyspace.commit() }
        if ctx.session.watch.isDirty(now: keyspace.now) {
            ctx.reply.nullArray()
            return
        }
        ctx.reply.arrayHeader(queue.commands.count)
        let session = ctx.session
        let access = ctx.engine.access
        ctx.runAsOneUnit(mayWrite: queue.containsWrites) {
            for (spec, request) in queue.commands {
                // Rules may have changed since the command was queued: Redis checks each one again.
                if !session.accessGate.allowsEverything,
                    let refusal = access.reauthorizeQueued(spec, request, session)
                {
                    session.replyError(refusal)
                    continue
                }
                ctx.execute(spec, request: request)
            }
        }
    }

    static func discard(_ ctx: CommandContext) throws {
        guard ctx.session.transaction != nil else { throw CommandError("ERR DISCARD without MULTI") }
        ctx.session.transaction = nil
        ctx.session.unwatchAll()
        ctx.reply.ok()
    }

    /// `WATCH key [key ...]`: remembers each key's state now; EXEC fails if any changes before it runs.
    static func watch(_ ctx: CommandContext, _ registry: WatchRegistry) throws {
        guard ctx.session.transaction == nil else { throw CommandError("ERR WATCH inside MULTI is not allowed") }
        let keyspace = ctx.keyspace
        for index in 1..<ctx.argumentCount {
            let key = ctx.argument(index)
            guard !ctx.session.watch.contains(key, database: ctx.session.database) else { continue }
            // Reading first also deletes the key if it has already expired, which does not count as a change.
            let expiry = try keyspace.expiry(of: key)
            ctx.session.watch.add(
                key, database: ctx.session.database, existed: expiry != nil, expireAt: expiry ?? 0, registry: registry)
        }
        ctx.reply.ok()
    }
}
