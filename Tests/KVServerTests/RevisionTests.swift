import KVEngine
import KVStore
import LevelDB
import NIOCore
import NIOEmbedded
import Testing

/// Revisions through the request path: the KV.* commands, one revision per command whatever writes it, the change
/// log's past, and KV.WATCH's replay-then-live seam.
@Suite struct RevisionTests {
    /// `kv.event` as a RESP3 push.
    private func event(_ id: Int, _ revision: Int, _ op: String, _ key: String, _ value: String?) -> String {
        let valuePart = value.map { "$\($0.utf8.count)\r\n\($0)\r\n" } ?? "_\r\n"
        return ">6\r\n$8\r\nkv.event\r\n:\(id)\r\n:\(revision)\r\n$\(op.utf8.count)\r\n\(op)\r\n"
            + "$\(key.utf8.count)\r\n\(key)\r\n" + valuePart
    }

    private func control(_ kind: String, _ id: Int, _ number: Int) -> String {
        ">3\r\n$\(kind.utf8.count)\r\n\(kind)\r\n:\(id)\r\n:\(number)\r\n"
    }

    @Test func everyCommandThatWritesTakesOneRevision() throws {
        let server = try TestServer()
        let client = try server.connect()
        #expect(try client.send(["KV.SET", "a", "1"], ["MSET", "b", "1", "c", "1"], ["GET", "a"], ["KV.REVISION"])
            == [":1\r\n", "+OK\r\n", "$1\r\n1\r\n", "*4\r\n$7\r\ncurrent\r\n:2\r\n$6\r\noldest\r\n:1\r\n"])
        try client.send(["MULTI"], ["INCR", "n"], ["DEL", "b"], ["EXEC"], ["PDEL", "*"])
        #expect(try client.send(["KV.REVISION"]).first?.contains(":4\r\n$6") == true)
        // The transaction is one revision with two events; PDEL one revision for every key.
        #expect(try client.send(["KV.HISTORY", "n"]) == ["*2\r\n*3\r\n:3\r\n$3\r\nset\r\n$1\r\n1\r\n*3\r\n:4\r\n$3\r\ndel\r\n$-1\r\n"])
        #expect(try client.send(["KV.HISTORY", "b"]).first?.contains(":3\r\n$3\r\ndel") == true)
    }

    @Test func compareAndSetByRevision() throws {
        let server = try TestServer()
        let client = try server.connect()
        #expect(try client.send(["KV.SET", "k", "1", "IFREV", "0"], ["KV.SET", "k", "2", "IFREV", "0"]) == [":1\r\n", "$-1\r\n"])
        #expect(try client.send(["KV.SET", "k", "2", "IFREV", "7"], ["KV.SET", "k", "2", "IFREV", "1"]) == ["$-1\r\n", ":2\r\n"])
        #expect(try client.send(["KV.DEL", "k", "IFREV", "1"], ["KV.DEL", "k", "IFREV", "2"], ["KV.DEL", "k"])
            == ["$-1\r\n", ":3\r\n", ":0\r\n"])
        // A plain SET in between changes the revision IFREV compares.
        try client.send(["KV.SET", "k", "a"], ["SET", "k", "b"])
        #expect(try client.send(["KV.SET", "k", "c", "IFREV", "4"]) == ["$-1\r\n"])
        #expect(try client.send(["KV.SET", "k", "c", "IFREV", "5"]) == [":6\r\n"])
    }

    @Test func kvGetReportsRevisionsAndReadsThePast() throws {
        let server = try TestServer()
        let client = try server.connect()
        try client.send(["KV.SET", "k", "v1"], ["SET", "other", "x"], ["KV.SET", "k", "v2", "PX", "1000"])
        _ = try client.send(["HELLO", "3"])
        #expect(try client.send(["KV.GET", "k"]) == [
            "%5\r\n$5\r\nvalue\r\n$2\r\nv2\r\n$8\r\nrevision\r\n:3\r\n$7\r\ncreated\r\n:1\r\n$7\r\nversion\r\n:2\r\n"
                + "$13\r\nexpires_at_ms\r\n:\(1_700_000_001_000)\r\n",
        ])
        #expect(try client.send(["KV.GET", "k", "AT", "2"]).first?.contains("$2\r\nv1\r\n$8\r\nrevision\r\n:1\r\n") == true)
        #expect(try client.send(["KV.GET", "other", "AT", "1"]) == ["_\r\n"])
        #expect(try client.send(["KV.GET", "k", "AT", "9"]) == ["-ERR revision 9 is in the future\r\n"])
    }

    @Test func historyKeepsEveryEventOfAKeyWithinOneRevision() throws {
        let server = try TestServer()
        let client = try server.connect()
        // A transaction that writes a key twice, and a SET that finds its key expired: two events of one key each.
        try client.send(["MULTI"], ["SET", "k", "1"], ["SET", "k", "2"], ["EXEC"])
        try client.send(["SET", "t", "a", "PX", "10"])
        server.advance(milliseconds: 11)
        try client.send(["SET", "t", "b"])
        let set = { (revision: Int, value: String) in "*3\r\n:\(revision)\r\n$3\r\nset\r\n$1\r\n\(value)\r\n" }
        #expect(try client.send(["KV.HISTORY", "k"]) == ["*2\r\n" + set(1, "1") + set(1, "2")])
        #expect(try client.send(["KV.HISTORY", "k", "DESC"]) == ["*2\r\n" + set(1, "2") + set(1, "1")])
        #expect(try client.send(["KV.HISTORY", "t"])
            == ["*3\r\n" + set(2, "a") + "*3\r\n:3\r\n$7\r\nexpired\r\n$-1\r\n" + set(3, "b")])
        // A read at the revision, and a later event's previous value, are what the revision left: its last event.
        #expect(try client.send(["KV.GET", "k", "AT", "1"]).first?.hasPrefix("*10\r\n$5\r\nvalue\r\n$1\r\n2\r\n") == true)
        let watcher = try server.connect()
        _ = try watcher.send(["HELLO", "3"])
        #expect(try watcher.send(["KV.WATCH", "KEY", "k", "PREVKV"]) == [control("kv.watch", 1, 3)])
        try client.send(["SET", "k", "3"])
        #expect(try watcher.replies() == [
            ">7\r\n$8\r\nkv.event\r\n:1\r\n:4\r\n$3\r\nset\r\n$1\r\nk\r\n$1\r\n3\r\n$1\r\n2\r\n"
        ])
    }

    @Test func aCompactedRevisionIsAnErrorNamingTheOldestKept() throws {
        let server = try TestServer()
        let client = try server.connect()
        for value in 1...5 { try client.send(["KV.SET", "k", "\(value)"]) }
        var retention = ChangeLogRetention()
        retention.maxRevisions = 2
        #expect(try server.store.trimChangeLog(retention) == 3)
        let compacted = "-COMPACTED the oldest retained revision is 4, the current revision is 5\r\n"
        #expect(try client.send(["KV.GET", "k", "AT", "3"], ["KV.HISTORY", "k", "FROM", "1"]) == [compacted, compacted])
        #expect(try client.send(["KV.WATCH", "KEY", "k", "FROM", "2"]) == [compacted])
        #expect(try client.send(["KV.HISTORY", "k"]).first?.hasPrefix("*2\r\n*3\r\n:4\r\n") == true)
    }

    @Test(arguments: [Durability.medium, .high])
    func aWatcherSeesAChangeOnlyOnceItIsDurable(durability: Durability) throws {
        let server = try TestServer(durability: durability)
        let watcher = try server.connect()
        let writer = try server.connect()
        _ = try watcher.send(["HELLO", "3"])
        #expect(try watcher.send(["KV.WATCH", "KEY", "k"]) == [control("kv.watch", 1, 0)])
        // The expiry sweeper's writes have no reply to fsync before: they too wait for the next fsync.
        _ = try server.store.withKeyspace { try $0.set(ByteBuffer(string: "k"), value: ByteBuffer(string: "1")) }
        #expect(try watcher.replies() == [])
        try server.store.sync()
        #expect(try watcher.replies() == [event(1, 1, "set", "k", "1")])
        if durability == .high {
            // A client's write at `high` is fsynced before its reply, and the event follows that fsync.
            try writer.send(["SET", "k", "2"])
            #expect(try watcher.replies() == [event(1, 2, "set", "k", "2")])
        }
    }

    @Test func withTheChangeLogOffNothingAnswersFromIt() throws {
        let server = try TestServer(logsChanges: false)
        let client = try server.connect()
        #expect(try client.send(["KV.SET", "k", "1"], ["KV.SET", "k", "2"]) == [":1\r\n", ":2\r\n"])
        let off = { (command: String) in "-ERR \(command) needs the change log, which is off (--change-log off)\r\n" }
        #expect(try client.send(["KV.HISTORY", "k"], ["KV.GET", "k", "AT", "1"], ["KV.WATCH", "KEY", "k"])
            == [off("KV.HISTORY"), off("KV.GET AT"), off("KV.WATCH")])
        // Revisions are kept: the current value still reports its own.
        #expect(try client.send(["KV.GET", "k"]).first?.contains("$8\r\nrevision\r\n:2\r\n") == true)
    }

    @Test func aWatchSendsNothingBeyondTheDurableRevision() throws {
        let server = try TestServer(durability: .medium)
        let watcher = try server.connect()
        let other = try server.connect()
        let writer = try server.connect()
        _ = try watcher.send(["HELLO", "3"])
        _ = try other.send(["HELLO", "3"])
        try writer.send(["SET", "k", "1"])
        try server.store.sync()
        try writer.send(["SET", "k", "2"])  // acknowledged, not yet durable
        // A replay stops short of what is not durable: nothing past the acknowledgement until the fsync.
        #expect(try watcher.send(["KV.WATCH", "KEY", "k", "FROM", "1"]) == [control("kv.watch", 1, 2)])
        // A watch from now sends nothing (not even progress) until what it starts after is durable.
        #expect(try other.send(["KV.WATCH", "KEY", "k"]) == [control("kv.watch", 1, 2)])
        server.advance(milliseconds: 5)
        #expect(try watcher.replies() == [] && other.replies() == [])
        try server.store.sync()
        server.advance(milliseconds: 200)
        #expect(try watcher.replies() == [event(1, 1, "set", "k", "1"), event(1, 2, "set", "k", "2")])
        try writer.send(["SET", "k", "3"])
        try server.store.sync()
        #expect(try other.replies() == [event(1, 3, "set", "k", "3")])
    }

    @Test func aWatchReplaysThenFollowsWithoutAGapOrADuplicate() throws {
        let server = try TestServer()
        let watcher = try server.connect()
        let writer = try server.connect()
        _ = try watcher.send(["HELLO", "3"])
        try writer.send(["SET", "job:1", "a"], ["SET", "other", "x"], ["SET", "job:2", "b"])
        // The acknowledgement, then the replay (revisions 1 and 3), run on the loop before anything newer.
        #expect(try watcher.send(["KV.WATCH", "PREFIX", "job:", "FROM", "1"]) == [
            control("kv.watch", 1, 3), event(1, 1, "set", "job:1", "a"), event(1, 3, "set", "job:2", "b"),
        ])
        try writer.send(["SET", "job:1", "c"], ["SET", "other", "y"], ["DEL", "job:2"])
        #expect(try watcher.replies() == [event(1, 4, "set", "job:1", "c"), event(1, 6, "del", "job:2", nil)])
        // The watching connection still runs commands in RESP3.
        #expect(try watcher.send(["GET", "job:1"]) == ["$1\r\nc\r\n"])
    }

    @Test func writesDuringTheReplayArriveAfterItInOrder() throws {
        let server = try TestServer()
        let watcher = try server.connect()
        let writer = try server.connect()
        _ = try watcher.send(["HELLO", "3"])
        try writer.send(["SET", "k", "1"])
        // The watch command runs; before its loop turn sends the replay, another connection writes.
        var request = ByteBuffer()
        request.writeString(RESP.command(["KV.WATCH", "KEY", "k", "FROM", "1"]))
        try watcher.channel.writeInbound(request)
        try writer.send(["SET", "k", "2"])
        #expect(try watcher.replies() == [control("kv.watch", 1, 1), event(1, 1, "set", "k", "1"), event(1, 2, "set", "k", "2")])
    }

    @Test func aWatcherCutOffBeforeItsReplayIsToldToResumeWhereItAsked() throws {
        let server = try TestServer(watchOutputLimit: 1 << 20)
        let watcher = try server.connect()
        let writer = try server.connect()
        _ = try watcher.send(["HELLO", "3"])
        let big = String(repeating: "x", count: 400_000)
        for _ in 1...3 { try writer.send(["SET", "k", big]) }
        // The watch starts at 3; before its replay runs, more than the limit of new events piles up behind it.
        var request = ByteBuffer()
        request.writeString(RESP.command(["KV.WATCH", "KEY", "k", "FROM", "2"]))
        try watcher.channel.writeInbound(request)
        try writer.send(["SET", "k", big], ["SET", "k", big], ["SET", "k", big])
        // It was sent nothing: the revision it can resume after is the one before its FROM, not its start.
        #expect(try watcher.replies() == [control("kv.watch", 1, 3), control("kv.lagged", 1, 1)])
    }

    @Test func initialSendsTheCurrentValuesThenAMarker() throws {
        let server = try TestServer()
        let watcher = try server.connect()
        let writer = try server.connect()
        _ = try watcher.send(["HELLO", "3"])
        try writer.send(["MSET", "cfg:a", "1", "cfg:b", "2", "zzz", "3"])
        #expect(try watcher.send(["KV.WATCH", "PATTERN", "cfg:*", "INITIAL"]) == [
            control("kv.watch", 1, 1), event(1, 1, "set", "cfg:a", "1"), event(1, 1, "set", "cfg:b", "2"),
            control("kv.synced", 1, 1),
        ])
        #expect(try watcher.send(["KV.WATCH", "KEY", "x", "FROM", "1", "INITIAL"])
            == ["-ERR FROM and INITIAL cannot be combined\r\n"])
    }

    @Test func expiryAndFlushAreEventsToo() throws {
        let server = try TestServer()
        let watcher = try server.connect()
        let writer = try server.connect()
        _ = try watcher.send(["HELLO", "3"])
        #expect(try watcher.send(["KV.WATCH", "PREFIX", ""]) == [control("kv.watch", 1, 0)])
        try writer.send(["SET", "t", "1", "PX", "10"])
        server.advance(milliseconds: 11)
        #expect(try server.store.removeExpiredKeys() == 1)
        try writer.send(["FLUSHDB"])
        #expect(try watcher.replies() == [
            event(1, 1, "set", "t", "1"), event(1, 2, "expired", "t", nil), event(1, 3, "flush", "", nil),
        ])
    }

    @Test func aFailedCommitIsNeitherAnEventNorARevision() throws {
        let server = try TestServer()
        let watcher = try server.connect()
        let writer = try server.connect()
        _ = try watcher.send(["HELLO", "3"])
        _ = try watcher.send(["KV.WATCH", "KEY", "k"])
        server.store.database.failNextWrites(1)
        #expect(try writer.send(["SET", "k", "lost"]).first?.hasPrefix("-MISCONF") == true)
        #expect(server.store.recover())
        #expect(try writer.send(["KV.SET", "k", "kept"]) == [":1\r\n"])
        #expect(try watcher.replies() == [event(1, 1, "set", "k", "kept")])
    }

    @Test func aResp2WatcherOnlyWatches() throws {
        let server = try TestServer()
        let watcher = try server.connect()
        #expect(try watcher.send(["KV.WATCH", "KEY", "k"]) == ["*3\r\n$8\r\nkv.watch\r\n:1\r\n:0\r\n"])
        #expect(try watcher.send(["GET", "k"]).first?.hasPrefix("-ERR Can't execute 'get'") == true)
        #expect(try watcher.send(["KV.UNWATCH"], ["GET", "k"]) == ["*3\r\n$10\r\nkv.unwatch\r\n:1\r\n:0\r\n", "$-1\r\n"])
    }
}
