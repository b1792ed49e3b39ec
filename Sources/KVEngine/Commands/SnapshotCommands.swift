import KVSnapshot
import KVStore
import NIOCore
import RESP

/// SNAPSHOT (and its kvnode alias RAFTSNAPSHOT), SAVE, BGSAVE, LASTSAVE: the persistence family.
///
/// Every form takes a point-in-time view of the keyspace under the store's lock, then streams it to
/// `DATA/snapshots/<id>/` on a background thread while other clients are served. SNAPSHOT and SAVE answer when the
/// snapshot is complete (only this connection waits); BGSAVE answers at once.
struct SnapshotCommands: CommandFamily {
    var commands: [CommandSpec] { Self.all }

    // Every snapshot takes its point-in-time view of the keyspace under a lease. SNAPSHOT and RAFTSNAPSHOT are
    // kvnode's (CommandMetadata+kvnode.swift).
    static let all: [CommandSpec] = [
        CommandSpec(.snapshot, kvnodeFlags: .keyspace, handler: snapshot),
        CommandSpec(.raftsnapshot, kvnodeFlags: .keyspace, handler: snapshot),
        // Redis reports `no_async_loading` for SAVE and BGSAVE; kvnode never loads asynchronously, so it is true.
        CommandSpec(.save, kvnodeFlags: .keyspace, handler: save),
        CommandSpec(.bgsave, kvnodeFlags: .keyspace, handler: bgsave),
        CommandSpec(.lastsave) { ctx in ctx.reply.integer(Int(ctx.engine.snapshots.lastSave)) },
    ]

    /// `SNAPSHOT`: replies with the new snapshot's directory once it is complete.
    static func snapshot(_ ctx: CommandContext) throws {
        try startDeferred(ctx) { outcome in
            let path = Array(outcome.path.utf8)
            return { reply in path.withUnsafeBytes { reply.bulk($0) } }
        }
    }

    /// `SAVE`: replies `+OK` once the snapshot is complete.
    static func save(_ ctx: CommandContext) throws {
        try startDeferred(ctx) { _ in { reply in reply.ok() } }
    }

    /// `BGSAVE [SCHEDULE]`: starts a snapshot and replies at once; SCHEDULE changes nothing, as no other background
    /// job can be in the way.
    static func bgsave(_ ctx: CommandContext) throws {
        guard ctx.argumentCount == 1 || (ctx.argumentCount == 2 && ctx.argument(1, is: "schedule")) else {
            throw CommandError.syntax
        }
        try ctx.engine.startSnapshot(of: ctx.keyspace)
        ctx.reply.simpleString("Background saving started")
    }

    /// Starts a snapshot whose reply is written by `reply` when it completes.
    private static func startDeferred(
        _ ctx: CommandContext, reply: @escaping @Sendable (Snapshotter.Outcome) -> DeferredReply
    ) throws {
        let keyspace = ctx.keyspace
        let promise = ctx.eventLoop.makePromise(of: DeferredReply.self)
        do {
            try ctx.engine.startSnapshot(of: keyspace) { result in
                switch result {
                case .success(let outcome): promise.succeed(reply(outcome))
                case .failure(let error): promise.fail(CommandError("ERR snapshot failed: \(error)"))
                }
            }
        } catch {
            promise.fail(error)  // a promise must be completed, even one nobody waits for
            throw error
        }
        ctx.replyLater(promise.futureResult)
    }
}
