import KVEngine
import KVStore
import Testing

/// Numbered databases through the request path, in-process: one read's pipeline crossing databases (its writes are
/// pending in one batch), GET with and without a lease, SWAPDB under a running pipeline, and MULTI with SELECT.
@Suite struct DatabaseRequestTests {
    @Test func aPipelineCrossingDatabasesSeesEachDatabasesOwnPendingWrites() throws {
        let server = try TestServer()
        let client = try server.connect()
        let replies = try client.send(
            ["SET", "k", "zero"], ["SELECT", "1"], ["GET", "k"], ["SET", "k", "one"], ["DBSIZE"],
            ["SELECT", "0"], ["GET", "k"], ["DBSIZE"], ["MOVE", "k", "1"], ["SELECT", "1"], ["GET", "k"])
        #expect(replies == [
            "+OK\r\n", "+OK\r\n", "$-1\r\n", "+OK\r\n", ":1\r\n",
            "+OK\r\n", "$4\r\nzero\r\n", ":1\r\n", ":0\r\n", "+OK\r\n", "$3\r\none\r\n",
        ])
        // Each GET alone in its read runs without a lease (database 0's lock-free read) or with one (database 1).
        #expect(try client.send(["GET", "k"]) == ["$3\r\none\r\n"])
        #expect(try client.send(["SELECT", "0"]) == ["+OK\r\n"])
        #expect(try client.send(["GET", "k"]) == ["$4\r\nzero\r\n"])
    }

    @Test func swapdbIsSeenByEveryConnectionAndByLockFreeReads() throws {
        let server = try TestServer()
        let zero = try server.connect()
        let one = try server.connect()
        #expect(try one.send(["SELECT", "1"], ["SET", "k", "one"]) == ["+OK\r\n", "+OK\r\n"])
        #expect(try zero.send(["SET", "k", "zero"]) == ["+OK\r\n"])
        #expect(try zero.send(["SWAPDB", "0", "1"]) == ["+OK\r\n"])
        #expect(try zero.send(["GET", "k"]) == ["$3\r\none\r\n"])
        #expect(try one.send(["GET", "k"]) == ["$4\r\nzero\r\n"])
        #expect(try zero.send(["SWAPDB", "1", "0"], ["GET", "k"]) == ["+OK\r\n", "$4\r\nzero\r\n"])
    }

    @Test func selectInsideMultiAppliesToTheQueuedCommandsAfterIt() throws {
        let server = try TestServer()
        let client = try server.connect()
        let replies = try client.send(
            ["MULTI"], ["SET", "k", "zero"], ["SELECT", "2"], ["SET", "k", "two"], ["GET", "k"], ["EXEC"], ["GET", "k"])
        #expect(replies == [
            "+OK\r\n", "+QUEUED\r\n", "+QUEUED\r\n", "+QUEUED\r\n", "+QUEUED\r\n",
            "*4\r\n+OK\r\n+OK\r\n+OK\r\n$3\r\ntwo\r\n", "$3\r\ntwo\r\n",
        ])
        #expect(try client.send(["SELECT", "0"], ["GET", "k"]) == ["+OK\r\n", "$4\r\nzero\r\n"])
        #expect(try client.send(["SELECT", "16"]) == ["-ERR DB index is out of range\r\n"])
    }
}
