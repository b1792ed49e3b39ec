import KVEngine
import KVStore
import NIOCore
import RESP
import Testing

/// A command that waits for a key, as BLPOP will: the executor parks its request, a commit that changes the key wakes
/// the connection, and the command runs again under a lease of its own.
///
/// `TEST.BLOCKGET key timeout-ms`: the key's value at once if it exists; otherwise waits for it, replying null after
/// the timeout (0 waits forever) — and never waits inside MULTI.
private struct BlockingTestCommands: CommandFamily {
    static let blockGet = CommandMetadata(
        "test.blockget", arity: 3, flags: [.readonly], keys: (1, 1, 1), categories: [.read, .slow],
        keySpecs: [
            KeySpec(flags: [.readOnly, .access], beginSearch: .index(1), findKeys: .range(lastKey: 0, keyStep: 1, limit: 0)),
        ],
        doc: CommandDoc(summary: "Get the value of a key, waiting for it", since: "0.1.0", group: "test"))

    var commands: [CommandSpec] {
        [
            CommandSpec(Self.blockGet) { ctx in
                let timeout = try ctx.integerArgument(2)
                let found = try ctx.keyspace.read(ctx.argument(1)) { value, _ in ctx.reply.bulk(value) }
                guard found == nil else { return }
                if ctx.waitTimedOut || ctx.isInTransaction {
                    ctx.reply.null()
                } else {
                    ctx.wait(forKeys: [ctx.argument(1)], timeoutMilliseconds: timeout == 0 ? nil : Int64(timeout))
                }
            },
        ]
    }
}

@Suite struct ParkingTests {
    @Test func aWaitingCommandIsWokenByACommitToItsKey() throws {
        let server = try TestServer(families: [BlockingTestCommands()])
        let waiter = try server.connect()
        let writer = try server.connect()
        // The request after the waiting one waits behind it.
        #expect(try waiter.send(["TEST.BLOCKGET", "job", "0"], ["PING"]) == [])
        #expect(try writer.send(["CLIENT", "LIST"]).first?.contains("flags=b") == true)
        #expect(try writer.send(["SET", "other", "1"]) == ["+OK\r\n"])
        #expect(try waiter.replies() == [])
        #expect(try writer.send(["SET", "job", "42"]) == ["+OK\r\n"])
        #expect(try waiter.replies() == ["$2\r\n42\r\n", "+PONG\r\n"])
    }

    @Test func aWaitingCommandTimesOutByTheClock() throws {
        let server = try TestServer(families: [BlockingTestCommands()])
        let waiter = try server.connect()
        #expect(try waiter.send(["TEST.BLOCKGET", "job", "500"]) == [])
        server.advance(milliseconds: 499)
        #expect(try waiter.replies() == [])
        server.advance(milliseconds: 2)
        #expect(try waiter.replies() == ["$-1\r\n"])
        #expect(try waiter.send(["PING"]) == ["+PONG\r\n"])
    }

    @Test func aWakeUpThatFindsNothingWaitsAgainUntilTheSameDeadline() throws {
        let server = try TestServer(families: [BlockingTestCommands()])
        let waiter = try server.connect()
        let writer = try server.connect()
        #expect(try waiter.send(["TEST.BLOCKGET", "job", "1000"]) == [])
        server.advance(milliseconds: 600)
        // Changed, but gone again before the waiter runs: it waits on, for the rest of its time only.
        #expect(try writer.send(["MULTI"], ["SET", "job", "1"], ["DEL", "job"], ["EXEC"]).last == "*2\r\n+OK\r\n:1\r\n")
        #expect(try waiter.replies() == [])
        server.advance(milliseconds: 401)
        #expect(try waiter.replies() == ["$-1\r\n"])
    }

    @Test func aWaitingCommandNeverWaitsInsideMulti() throws {
        let server = try TestServer(families: [BlockingTestCommands()])
        let client = try server.connect()
        #expect(try client.send(["MULTI"], ["TEST.BLOCKGET", "job", "0"], ["EXEC"]) == ["+OK\r\n", "+QUEUED\r\n", "*1\r\n$-1\r\n"])
    }

    @Test func aClosedConnectionStopsWaiting() throws {
        let server = try TestServer(families: [BlockingTestCommands()])
        let waiter = try server.connect()
        let writer = try server.connect()
        #expect(try waiter.send(["TEST.BLOCKGET", "job", "0"]) == [])
        try waiter.close()
        #expect(try writer.send(["SET", "job", "1"], ["INFO", "clients"]).last?.contains("blocked_clients:0") == true)
    }
}
