import KVStore
import Logging
import NIOCore
import RESP

/// DEL and EXISTS: the generic key family.
enum KeyCommands {
    static let all: [CommandSpec] = [
        CommandSpec("del", arity: -2, flags: [.write], keys: (1, -1, 1),
                    categories: ["keyspace", "write", "slow"], handler: del),
        CommandSpec("exists", arity: -2, flags: [.readonly, .fast], keys: (1, -1, 1),
                    categories: ["keyspace", "read", "fast"], handler: exists),
    ]

    static func del(_ client: Client) throws {
        let keyspace = client.keyspace
        var deleted = 0
        for index in 1..<client.argumentCount {
            let key = client.argument(index)
            guard try keyspace.delete(key) else { continue }
            client.notify(.generic, "del", key: key)
            deleted += 1
        }
        client.reply.integer(deleted)
    }

    /// Counts every argument that names a live key, so a key given twice counts twice, as in Redis.
    static func exists(_ client: Client) throws {
        let keyspace = client.keyspace
        var found = 0
        for index in 1..<client.argumentCount where try keyspace.exists(client.argument(index)) {
            found += 1
        }
        client.reply.integer(found)
    }
}
