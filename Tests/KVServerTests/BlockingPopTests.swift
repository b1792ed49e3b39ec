import KVEngine
import KVStore
import NIOCore
import RESP
import Testing

/// The blocking list and sorted set pops through in-process connections (EmbeddedChannel) with a manual clock: a
/// blocked client is served by another connection's push in the order clients blocked, times out by the store's clock,
/// and never holds the store while it waits; a key serves only the clients waiting for its type.
@Suite struct BlockingPopTests {
    @Test func clientsAreServedInTheOrderTheyBlocked() throws {
        let server = try TestServer()
        let first = try server.connect()
        let second = try server.connect()
        let writer = try server.connect()
        #expect(try first.send(["BLPOP", "q", "0"], ["PING"]) == [])
        #expect(try second.send(["BLPOP", "q", "0"]) == [])
        #expect(try writer.send(["INFO", "clients"]).first?.contains("blocked_clients:2") == true)
        // The pusher's next command runs after both are served: nothing is left for it.
        #expect(try writer.send(["RPUSH", "q", "a", "b"], ["LLEN", "q"]) == [":2\r\n", ":0\r\n"])
        #expect(try first.replies() == ["*2\r\n$1\r\nq\r\n$1\r\na\r\n", "+PONG\r\n"])
        #expect(try second.replies() == ["*2\r\n$1\r\nq\r\n$1\r\nb\r\n"])
    }

    @Test func aBlockedClientTimesOutByTheClockAndHoldsNoLease() throws {
        let server = try TestServer()
        let waiter = try server.connect()
        let other = try server.connect()
        #expect(try waiter.send(["BRPOP", "q", "1.5"]) == [])
        // Another connection's writes run while the client waits: it holds no lease.
        #expect(try other.send(["SET", "k", "v"], ["INFO", "clients"]).last?.contains("blocked_clients:1") == true)
        server.advance(milliseconds: 1499)
        #expect(try waiter.replies() == [])
        server.advance(milliseconds: 2)
        #expect(try waiter.replies() == ["*-1\r\n"])
        #expect(try other.send(["RPUSH", "q", "x"]) == [":1\r\n"])
        #expect(try waiter.send(["LLEN", "q"]) == [":1\r\n"])
    }

    @Test func servedAfterExecAndNeverBlockingInsideIt() throws {
        let server = try TestServer()
        let waiter = try server.connect()
        let writer = try server.connect()
        #expect(try waiter.send(["BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"]) == [])
        #expect(try writer.send(["MULTI"], ["RPUSH", "src", "a"], ["BLPOP", "none", "0"], ["EXEC"]).last
            == "*2\r\n:1\r\n*-1\r\n")
        #expect(try waiter.replies() == ["$1\r\na\r\n"])
        #expect(try writer.send(["LRANGE", "dst", "0", "-1"]) == ["*1\r\n$1\r\na\r\n"])
    }

    @Test func sortedSetPopsAreServedInOrderAndTimeOutByTheClock() throws {
        let server = try TestServer()
        let first = try server.connect()
        let second = try server.connect()
        let writer = try server.connect()
        #expect(try first.send(["BZPOPMAX", "z", "0"]) == [])
        #expect(try second.send(["BZMPOP", "2.5", "2", "y", "z", "MIN", "COUNT", "5"]) == [])
        #expect(try writer.send(["ZADD", "z", "1", "a", "2", "b", "3", "c"], ["ZCARD", "z"]) == [":3\r\n", ":0\r\n"])
        #expect(try first.replies() == ["*3\r\n$1\r\nz\r\n$1\r\nc\r\n$1\r\n3\r\n"])
        #expect(try second.replies() == ["*2\r\n$1\r\nz\r\n*2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n"])
        #expect(try second.send(["BZPOPMIN", "z", "0.25"]) == [])
        server.advance(milliseconds: 249)
        #expect(try second.replies() == [])
        server.advance(milliseconds: 2)
        #expect(try second.replies() == ["*-1\r\n"])
    }

    @Test func aKeyServesOnlyTheClientsWaitingForItsType() throws {
        let server = try TestServer()
        let sortedSetWaiter = try server.connect()
        let listWaiter = try server.connect()
        let writer = try server.connect()
        #expect(try sortedSetWaiter.send(["BZPOPMIN", "k", "0"]) == [])
        #expect(try listWaiter.send(["BLPOP", "k", "0"]) == [])
        #expect(try writer.send(["RPUSH", "k", "item"], ["EXISTS", "k"]) == [":1\r\n", ":0\r\n"])
        #expect(try listWaiter.replies() == ["*2\r\n$1\r\nk\r\n$4\r\nitem\r\n"])
        #expect(try sortedSetWaiter.replies() == [])
        #expect(try writer.send(["ZADD", "k", "5", "m"], ["EXISTS", "k"]) == [":1\r\n", ":0\r\n"])
        #expect(try sortedSetWaiter.replies() == ["*3\r\n$1\r\nk\r\n$1\r\nm\r\n$1\r\n5\r\n"])
    }
}
