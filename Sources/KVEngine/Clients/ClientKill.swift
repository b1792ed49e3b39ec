import NIOCore
import RESP
import Synchronization

/// CLIENT KILL, in both forms: the old `CLIENT KILL ip:port` (replies OK or an error) and the filter form
/// `CLIENT KILL [ID id] [ADDR ip:port] [LADDR ip:port] [TYPE type] [USER name] [SKIPME yes|no] [MAXAGE s]`
/// (replies the number of connections killed). Other connections are closed on their own event loop.
enum ClientKill {
    private struct Filter {
        var id: Int?
        var address: String?
        var localAddress: String?
        var type: ClientType?
        var user: ACLUser?
        var skipMe = true
        var maxAge: Int?

        func matches(_ handle: ClientHandle, caller: ClientHandle, now: Int64) -> Bool {
            if let id, handle.id != id { return false }
            if let address, handle.address != address { return false }
            if let localAddress, handle.localAddress != localAddress { return false }
            if let type, !type.matches(handle) { return false }
            if let user, handle.user !== user { return false }
            if skipMe && handle === caller { return false }
            if let maxAge, (now - handle.connectedAt) / 1000 < maxAge { return false }
            return true
        }
    }

    static func run(_ ctx: CommandContext) throws {
        if ctx.argumentCount == 3 {
            let address = ctx.argumentText(2)
            guard let target = ctx.engine.clients.all.first(where: { $0.address == address }) else {
                throw CommandError("ERR No such client")
            }
            kill(target, by: ctx)
            ctx.reply.ok()
            return
        }
        let filter = try parseFilter(ctx)
        let now = MonotonicClock.milliseconds()
        var killed = 0
        for handle in ctx.engine.clients.all where filter.matches(handle, caller: ctx.session.handle, now: now) {
            kill(handle, by: ctx)
            killed += 1
        }
        ctx.reply.integer(killed)
    }

    private static func parseFilter(_ ctx: CommandContext) throws -> Filter {
        var filter = Filter()
        var index = 2
        while index < ctx.argumentCount {
            guard index + 1 < ctx.argumentCount else { throw CommandError.syntax }
            let value = ctx.argumentText(index + 1)
            if ctx.argument(index, is: "id") {
                guard let id = RESPInteger.parse(bytes: Array(value.utf8)), id > 0 else {
                    throw CommandError("ERR client-id should be greater than 0")
                }
                filter.id = id
            } else if ctx.argument(index, is: "addr") {
                filter.address = value
            } else if ctx.argument(index, is: "laddr") {
                filter.localAddress = value
            } else if ctx.argument(index, is: "type") {
                filter.type = try ClientType(value)
            } else if ctx.argument(index, is: "user") {
                guard let user = ctx.engine.access.user(named: Array(ctx.argument(index + 1).readableBytesView)) else {
                    throw CommandError("ERR No such user '\(value)'")
                }
                filter.user = user
            } else if ctx.argument(index, is: "skipme") {
                switch value.lowercased() {
                case "yes": filter.skipMe = true
                case "no": filter.skipMe = false
                default: throw CommandError.syntax
                }
            } else if ctx.argument(index, is: "maxage") {
                guard let age = RESPInteger.parse(bytes: Array(value.utf8)) else { throw CommandError.syntax }
                filter.maxAge = age
            } else {
                throw CommandError.syntax
            }
            index += 2
        }
        return filter
    }

    /// Closes `target`: the caller itself once its reply is sent, any other connection on its own event loop.
    static func kill(_ target: ClientHandle, by ctx: CommandContext) {
        if target === ctx.session.handle {
            ctx.closeAfterReply()
            target.setFlag(.closeASAP, true)
        } else {
            target.kill()
        }
    }
}
