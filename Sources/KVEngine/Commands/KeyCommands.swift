import KVStore
import Logging
import NIOCore
import RESP

/// DEL, UNLINK, EXISTS, TOUCH, TYPE, RENAME, RENAMENX, COPY, RANDOMKEY: the generic key family.
struct KeyCommands: CommandFamily {
    var commands: [CommandSpec] { Self.all }

    static let all: [CommandSpec] = [
        CommandSpec(.del, handler: del),
        // Deleting is synchronous either way: LevelDB frees the space in the background.
        CommandSpec(.unlink, handler: del),
        CommandSpec(.exists, handler: exists),
        // No access times are kept, so TOUCH only counts the keys that exist.
        CommandSpec(.touch, handler: exists),
        CommandSpec(.type, handler: type),
        CommandSpec(.rename) { try rename($0, onlyIfMissing: false) },
        CommandSpec(.renamenx) { try rename($0, onlyIfMissing: true) },
        CommandSpec(.copy, handler: copy),
        CommandSpec(.randomkey, handler: randomKey),
    ]

    static func del(_ ctx: CommandContext) throws {
        let keyspace = ctx.keyspace
        var deleted = 0
        for index in 1..<ctx.argumentCount {
            let key = ctx.argument(index)
            guard try keyspace.delete(key) else { continue }
            ctx.notify(.generic, "del", key: key)
            deleted += 1
        }
        ctx.reply.integer(deleted)
    }

    /// Counts every argument that names a live key, so a key given twice counts twice, as in Redis.
    static func exists(_ ctx: CommandContext) throws {
        let keyspace = ctx.keyspace
        var found = 0
        for index in 1..<ctx.argumentCount where try keyspace.exists(ctx.argument(index)) {
            found += 1
        }
        ctx.reply.integer(found)
    }

    static func type(_ ctx: CommandContext) throws {
        ctx.reply.simpleString(try ctx.keyspace.type(of: ctx.argument(1))?.name ?? "none")
    }

    /// `RENAME` / `RENAMENX source destination`: moves the value and its expiry; a collection of any size in O(1).
    static func rename(_ ctx: CommandContext, onlyIfMissing: Bool) throws {
        let keyspace = ctx.keyspace
        let source = ctx.argument(1)
        let destination = ctx.argument(2)
        guard try keyspace.expiry(of: source) != nil else { throw CommandError.noSuchKey }
        let reply = { (done: Bool) in
            if onlyIfMissing { ctx.reply.integer(done ? 1 : 0) } else { ctx.reply.ok() }
        }
        if source == destination { return reply(false) }
        if onlyIfMissing, try keyspace.expiry(of: destination) != nil { return reply(false) }
        guard try keyspace.rename(source, to: destination) else { throw CommandError.noSuchKey }
        ctx.notify(.generic, "rename_from", key: source)
        ctx.notify(.generic, "rename_to", key: destination)
        reply(true)
    }

    /// `COPY source destination [DB destination-db] [REPLACE]`: copies the value and its expiry (a collection's
    /// elements one by one), into another database with DB.
    static func copy(_ ctx: CommandContext) throws {
        var replace = false
        let keyspace = ctx.keyspace
        let sourceDatabase = keyspace.selectedDatabase
        var targetDatabase = sourceDatabase
        var index = 3
        while index < ctx.argumentCount {
            if ctx.argument(index, is: "replace") {
                replace = true
            } else if ctx.argument(index, is: "db") && index + 1 < ctx.argumentCount {
                targetDatabase = try ctx.databaseArgument(index + 1)
                index += 1
            } else {
                throw CommandError.syntax
            }
            index += 1
        }
        let source = ctx.argument(1)
        let destination = ctx.argument(2)
        guard source != destination || sourceDatabase != targetDatabase else { throw CommandError.sameObject }
        guard try keyspace.exists(source) else { return ctx.reply.integer(0) }
        let existing = try keyspace.withDatabase(targetDatabase) {
            guard try keyspace.expiry(of: destination) != nil else { return false }
            if replace { try keyspace.delete(destination) }
            return true
        }
        if existing && !replace { return ctx.reply.integer(0) }
        guard try keyspace.copy(source, to: destination, database: targetDatabase) else { return ctx.reply.integer(0) }
        ctx.notify(.generic, "copy_to", key: destination, database: targetDatabase)
        ctx.reply.integer(1)
    }

    static func randomKey(_ ctx: CommandContext) throws {
        if let key = try ctx.keyspace.randomKey() {
            key.withUnsafeBytes { ctx.reply.bulk($0) }
        } else {
            ctx.reply.null()
        }
    }
}
