import KVEngine
import KVStore
import LevelDB
import NIOCore
import NIOEmbedded
import Testing

/// The event loop's group commit (`TurnLease`): the connections read in one turn share one lease and one LevelDB
/// write, their replies wait for it, and what they see of each other is what Redis's single thread would show.
@Suite struct TurnCommitTests {
    private func commits(_ server: TestServer) throws -> Int {
        try server.store.withKeyspace { $0.commits }
    }

    @Test func connectionsReadInOneTurnShareOneCommitAndWaitForIt() throws {
        let server = try TestServer()
        let first = try server.connect()
        let second = try server.connect()
        try first.send(["SET", "warm", "1"])  // the first commit also writes the store's initial state
        let one = try commits(server)
        try first.read(["SET", "a", "1"])
        try second.read(["SET", "b", "2"], ["GET", "a"])
        // Nothing is acknowledged before the commit at the end of the turn.
        #expect(try first.sentSoFar() == [])
        #expect(try second.sentSoFar() == [])
        #expect(try first.replies() == ["+OK\r\n"])
        #expect(try second.replies() == ["+OK\r\n", "$1\r\n1\r\n"])
        let after = try commits(server)
        #expect(after == one + 1, "\(one) → \(after)")
    }

    @Test func aConnectionsSecondReadInTheTurnSeesItsFirstWrite() throws {
        let server = try TestServer()
        let client = try server.connect()
        try client.read(["SET", "k", "v"])
        // A lock-free read here would miss the write the turn has not committed yet.
        try client.read(["GET", "k"])
        #expect(try client.replies() == ["+OK\r\n", "$1\r\nv\r\n"])
    }

    @Test func aFailedTurnCommitTakesBackTheRepliesOfEveryConnectionThatDependedOnIt() throws {
        let server = try TestServer()
        let writer = try server.connect()
        let reader = try server.connect()
        let bystander = try server.connect()
        server.store.database.failNextWrites(1)
        try writer.read(["SET", "a", "1"])
        try reader.read(["GET", "a"], ["PING"])
        try bystander.read(["PING"])
        let written = try writer.replies()
        #expect(written.count == 1 && written[0].hasPrefix("-MISCONF "), "\(written)")
        let read = try reader.replies()
        // The GET saw a write that never happened: it gets the error too; PING keeps its reply.
        #expect(read.count == 2 && read[0].hasPrefix("-MISCONF ") && read[1] == "+PONG\r\n", "\(read)")
        #expect(try bystander.replies() == ["+PONG\r\n"])
        #expect(server.store.recover())
        #expect(try reader.send(["EXISTS", "a"]) == [":0\r\n"])
    }

    @Test func execSeesAWatchedKeyChangedEarlierInTheSameTurn() throws {
        let server = try TestServer()
        let watcher = try server.connect()
        let writer = try server.connect()
        #expect(try watcher.send(["WATCH", "k"], ["MULTI"], ["INCR", "k"]) == ["+OK\r\n", "+OK\r\n", "+QUEUED\r\n"])
        // One turn: the write is not committed yet when EXEC runs.
        try writer.read(["SET", "k", "10"])
        try watcher.read(["EXEC"])
        #expect(try writer.replies() == ["+OK\r\n"])
        #expect(try watcher.replies() == ["*-1\r\n"])
        #expect(try watcher.send(["GET", "k"]) == ["$2\r\n10\r\n"])
    }

    @Test func gracefulShutdownSendsTheRepliesHeldForTheTurnBeforeClosing() throws {
        let server = try TestServer()
        let client = try server.connect()
        try client.read(["SET", "k", "v"])
        client.channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        #expect(try client.sentSoFar() == ["+OK\r\n"])
    }

    @Test func aConnectionThatClosesSendsItsRepliesFirst() throws {
        let server = try TestServer()
        let client = try server.connect()
        try client.read(["SET", "k", "v"], ["QUIT"])
        #expect(try client.sentSoFar() == ["+OK\r\n", "+OK\r\n"])
        #expect(client.isClosed)
    }
}
