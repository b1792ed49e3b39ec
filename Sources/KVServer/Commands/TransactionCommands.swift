import KVStore
import NIOCore
import RESP

/// MULTI, EXEC, DISCARD, WATCH, UNWATCH.
///
/// Between MULTI and EXEC, commands are checked (name, arity, subcommand) and queued; EXEC runs the queue while
/// holding the store's lock from its WATCH check to its last command, so no other client sees part of it, and
/// defers commits meanwhile, so its writes reach LevelDB in one batch (FLUSHDB/FLUSHALL inside a transaction is the
/// exception: removing every key commits as it goes).
enum TransactionCommands {
    private static let flags: CommandFlags = [.noscript, .loading, .stale, .fast, .allowBusy]
    private static let categories = ["fast", "transaction"]

    static let all: [CommandSpec] = [
        CommandSpec("multi", arity: 1, flags: flags, categories: categories, handler: multi),
        CommandSpec("exec", arity: 1, flags: [.noscript, .loading, .stale, .skipSlowlog],
                    categories: ["slow", "transaction"], handler: exec),
        CommandSpec("discard", arity: 1, flags: flags, categories: categories, handler: discard),
        CommandSpec("watch", arity: -2, flags: flags, keys: (1, -1, 1), categories: categories, handler: watch),
        CommandSpec("unwatch", arity: 1, flags: flags, categories: categories) { client in
            client.unwatchAll()
            client.reply.ok()
        },
    ]

    /// Commands that run at once inside MULTI instead of being queued, as in Redis.
    static func runsInsideTransaction(_ spec: CommandSpec) -> Bool {
        switch spec.fullName {
        case "exec", "discard", "multi", "watch", "quit", "reset": true
        default: false
        }
    }

    static func multi(_ client: Client) throws {
        guard client.transaction == nil else { throw CommandError("ERR MULTI calls can not be nested") }
        client.transaction = TransactionQueue()
        client.reply.ok()
    }

    static func exec(_ client: Client) throws {
        guard let queue = client.transaction else { throw CommandError("ERR EXEC without MULTI") }
        client.transaction = nil
        // Taking the lock here makes the WATCH check and every queued command one atomic step.
        let keyspace = client.keyspace
        defer { client.unwatchAll() }
        if queue.failed { throw CommandError("EXECABORT Transaction discarded because of previous errors.") }
        if client.watch.isDirty(now: keyspace.now) {
            client.reply.nullArray()
            return
        }
        let execRequest = client.request
        keyspace.defersCommits = true
        defer { keyspace.defersCommits = false }
        client.reply.arrayHeader(queue.commands.count)
        let run = {
            for (spec, request) in queue.commands {
                client.request = request
                client.execute(spec)
            }
        }
        // A write inside may commit early (FLUSHDB): lock-free readers then wait for the lock rather than see a part
        // of the transaction.
        if queue.containsWrites { keyspace.withMultiBatchWrite(run) } else { run() }
        client.request = execRequest
    }

    static func discard(_ client: Client) throws {
        guard client.transaction != nil else { throw CommandError("ERR DISCARD without MULTI") }
        client.transaction = nil
        client.unwatchAll()
        client.reply.ok()
    }

    /// `WATCH key [key ...]`: remembers each key's state now; EXEC fails if any changes before it runs.
    static func watch(_ client: Client) throws {
        guard client.transaction == nil else { throw CommandError("ERR WATCH inside MULTI is not allowed") }
        let keyspace = client.keyspace
        let registry = client.server.storeObserver.watches
        for index in 1..<client.argumentCount {
            let key = client.argument(index)
            guard !client.watch.contains(key) else { continue }
            // Reading first also deletes the key if it has already expired, which does not count as a change.
            let expiry = try keyspace.expiry(of: key)
            client.watch.add(key, existed: expiry != nil, expireAt: expiry ?? 0, registry: registry)
        }
        client.reply.ok()
    }
}
