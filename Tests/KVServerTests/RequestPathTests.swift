import KVEngine
import KVStore
import LevelDB
import NIOCore
import Testing

/// The request path in-process: one connection's pipeline, expiry judged by a clock the test moves, transactions
/// across connections, commits that fail, and the connection state machine's waits.
@Suite struct RequestPathTests {
    @Test func aPipelineIsAnsweredInOrderWithOneReplyPerRequest() throws {
        let server = try TestServer()
        let client = try server.connect()
        let replies = try client.send(
            ["SET", "a", "1"], ["GET", "a"], ["INCR", "a"], ["NOSUCH"], ["GET"], ["MGET", "a", "b"], ["DEL", "a"])
        #expect(replies == [
            "+OK\r\n", "$1\r\n1\r\n", ":2\r\n",
            "-ERR unknown command 'NOSUCH', with args beginning with: \r\n",
            "-ERR wrong number of arguments for 'get' command\r\n",
            "*2\r\n$1\r\n2\r\n$-1\r\n", ":1\r\n",
        ])
    }

    @Test func aRequestSplitAcrossReadsIsAnsweredOnceComplete() throws {
        let server = try TestServer()
        let client = try server.connect()
        let request = RESP.command(["SET", "key", "value"])
        let middle = request.index(request.startIndex, offsetBy: 10)
        #expect(try client.sendRaw(String(request[..<middle])) == [])
        #expect(try client.sendRaw(String(request[middle...])) == ["+OK\r\n"])
    }

    @Test func expiryFollowsTheStoreClockToTheMillisecond() throws {
        let server = try TestServer()
        let client = try server.connect()
        try client.send(["SET", "k", "v", "PX", "100"])
        server.advance(milliseconds: 40)
        #expect(try client.send(["PTTL", "k"], ["GET", "k"]) == [":60\r\n", "$1\r\nv\r\n"])
        server.advance(milliseconds: 60)
        // Redis keeps a key until its expiry time has passed (`now > when`): at that very millisecond it still exists.
        #expect(try client.send(["PTTL", "k"]) == [":0\r\n"])
        server.advance(milliseconds: 1)
        #expect(try client.send(["GET", "k"], ["EXISTS", "k"], ["PTTL", "k"]) == ["$-1\r\n", ":0\r\n", ":-2\r\n"])
    }

    @Test func watchedKeyChangedByAnotherConnectionAbortsExec() throws {
        let server = try TestServer()
        let first = try server.connect()
        let second = try server.connect()
        try first.send(["SET", "balance", "10"])
        #expect(try first.send(["WATCH", "balance"], ["MULTI"], ["INCRBY", "balance", "5"]) == ["+OK\r\n", "+OK\r\n", "+QUEUED\r\n"])
        #expect(try second.send(["SET", "balance", "0"]) == ["+OK\r\n"])
        #expect(try first.send(["EXEC"]) == ["*-1\r\n"])
        #expect(try first.send(["GET", "balance"]) == ["$1\r\n0\r\n"])
        // Unchanged, the same transaction runs.
        #expect(try first.send(["WATCH", "balance"], ["MULTI"], ["INCRBY", "balance", "5"], ["EXEC"]).last
            == "*1\r\n:5\r\n")
    }

    @Test func aFailedCommitTakesBackItsRepliesAndKeepsTheCountExact() throws {
        let server = try TestServer()
        let client = try server.connect()
        try client.send(["SET", "before", "1"])
        server.store.database.failNextWrites(1)
        // The read before the first write keeps its reply; every reply after it depended on the failed commit.
        let replies = try client.send(["GET", "before"], ["SET", "a", "1"], ["INCR", "before"], ["GET", "a"])
        #expect(replies.count == 4)
        #expect(replies[0] == "$1\r\n1\r\n")
        for reply in replies[1...] {
            #expect(reply.hasPrefix("-MISCONF Errors writing to the data directory: IO error: injected"), "\(reply)")
        }
        // Writes are refused until the store recovers; reads go on, and nothing of the failed batch is there.
        #expect(try client.send(["SET", "b", "2"]).first?.hasPrefix("-MISCONF ") == true)
        #expect(try client.send(["DBSIZE"], ["GET", "a"], ["GET", "before"]) == [":1\r\n", "$-1\r\n", "$1\r\n1\r\n"])
        #expect(server.store.recover())
        #expect(try client.send(["SET", "b", "2"], ["DBSIZE"]) == ["+OK\r\n", ":2\r\n"])
    }

    @Test func aFailedCommitInsideExecFailsTheWholeTransaction() throws {
        let server = try TestServer()
        let client = try server.connect()
        #expect(try client.send(["MULTI"], ["SET", "a", "1"], ["SET", "b", "2"]) == ["+OK\r\n", "+QUEUED\r\n", "+QUEUED\r\n"])
        server.store.database.failNextWrites(1)
        let exec = try client.send(["EXEC"], ["PING"])
        #expect(exec.count == 2)
        #expect(exec[0].hasPrefix("-MISCONF "))
        #expect(exec[1] == "+PONG\r\n")
        #expect(server.store.recover())
        #expect(try client.send(["EXISTS", "a", "b"]) == [":0\r\n"])
    }

    @Test func pushesReachAClientThatSilencedItsReplies() throws {
        let server = try TestServer()
        let subscriber = try server.connect()
        let publisher = try server.connect()
        #expect(try subscriber.send(["CLIENT", "REPLY", "OFF"], ["SUBSCRIBE", "news"])
            == ["*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n"])
        #expect(try publisher.send(["PUBLISH", "news", "hello"]) == [":1\r\n"])
        #expect(try subscriber.replies() == ["*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n"])
    }

    @Test func aSelfPublishedPushComesBeforeThePublishReplyInResp3() throws {
        let server = try TestServer()
        let client = try server.connect()
        _ = try client.send(["HELLO", "3"])
        _ = try client.send(["SUBSCRIBE", "me"])
        #expect(try client.send(["PUBLISH", "me", "x"]) == [">3\r\n$7\r\nmessage\r\n$2\r\nme\r\n$1\r\nx\r\n", ":1\r\n"])
    }

    @Test func keyspaceEventsGoOutOnlyForCommittedChanges() throws {
        let server = try TestServer()
        let listener = try server.connect()
        let writer = try server.connect()
        try writer.send(["CONFIG", "SET", "notify-keyspace-events", "E$g"])
        _ = try listener.send(["SUBSCRIBE", "__keyevent@0__:set", "__keyevent@0__:del"])
        server.store.database.failNextWrites(1)
        #expect(try writer.send(["SET", "lost", "1"]).first?.hasPrefix("-MISCONF ") == true)
        #expect(try listener.replies() == [])
        #expect(server.store.recover())
        try writer.send(["SET", "kept", "1"], ["DEL", "kept"])
        #expect(try listener.replies() == [
            "*3\r\n$7\r\nmessage\r\n$18\r\n__keyevent@0__:set\r\n$4\r\nkept\r\n",
            "*3\r\n$7\r\nmessage\r\n$18\r\n__keyevent@0__:del\r\n$4\r\nkept\r\n",
        ])
    }

    @Test func clientPauseHoldsWritesUntilThePauseEnds() throws {
        let server = try TestServer()
        let admin = try server.connect()
        let writer = try server.connect()
        #expect(try admin.send(["CLIENT", "PAUSE", "1000", "WRITE"]) == ["+OK\r\n"])
        // Reads run; the write and everything after it wait.
        #expect(try writer.send(["GET", "k"], ["SET", "k", "v"], ["GET", "k"]) == ["$-1\r\n"])
        #expect(try admin.send(["CLIENT", "UNPAUSE"]) == ["+OK\r\n"])
        #expect(try writer.replies() == ["+OK\r\n", "$1\r\nv\r\n"])
    }
}
