import Foundation
import KVEngine
import KVServer
import KVStore
import Logging
import NIOCore
import NIOEmbedded

/// An engine over a store in a temporary directory, with a clock the test moves, and connections to it through
/// `EmbeddedChannel`s: the whole request path (connection state machine, executor, commands, keyspace, commit, reply)
/// runs in-process, without sockets or sleeps.
final class TestServer {
    let directory: String
    let clock = StoreClock.manual(at: 1_700_000_000_000)
    let store: Store
    let engine: Engine
    /// The event loop every connection of the test shares; its time moves with `advance`.
    let loop = EmbeddedEventLoop()

    init(
        families: [any CommandFamily] = [], durability: Durability = .low, logsChanges: Bool = true,
        watchOutputLimit: Int = ServerConfiguration().watchOutputLimit,
        protectedConfigs: ProtectedAction = .no
    ) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("kvnode-test-\(UUID())").path
        var configuration = ServerConfiguration()
        configuration.dataDirectory = directory
        configuration.durability = durability
        configuration.changeLog = logsChanges
        configuration.watchOutputLimit = watchOutputLimit
        configuration.protectedConfigs = protectedConfigs
        store = try Store(directory: directory, durability: durability, clock: clock, logsChanges: logsChanges)
        var logger = Logger(label: "kvnode-test")
        logger.logLevel = .critical
        engine = Engine(configuration: configuration, store: store, logger: logger, families: families)
    }

    deinit {
        try? store.close()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// A new connection, from `peer` (the loopback interface unless given).
    func connect(from peer: String = "127.0.0.1") throws -> TestConnection {
        try TestConnection(engine: engine, loop: loop, peer: peer)
    }

    /// Moves the store's clock and the event loop's time forward together.
    func advance(milliseconds: Int64) {
        clock.advance(byMilliseconds: milliseconds)
        loop.advanceTime(by: .milliseconds(milliseconds))
    }
}

/// One client connection: sends requests, returns the replies as their exact RESP text.
final class TestConnection {
    let channel: EmbeddedChannel

    /// - Parameter peer: the client's address, as the server sees it.
    init(engine: Engine, loop: EmbeddedEventLoop, peer: String = "127.0.0.1") throws {
        channel = EmbeddedChannel(handler: engine.makeConnectionHandler(), loop: loop)
        try channel.connect(to: SocketAddress(ipAddress: peer, port: 6379)).wait()
    }

    /// Whether the server has closed the connection.
    var isClosed: Bool { !channel.isActive }

    /// Sends `commands` in one read (a pipeline) and returns every reply that came back.
    @discardableResult
    func send(_ commands: [String]...) throws -> [String] {
        var buffer = ByteBuffer()
        for command in commands { buffer.writeString(RESP.command(command)) }
        try channel.writeInbound(buffer)
        return try replies()
    }

    /// Sends raw bytes as one read.
    func sendRaw(_ bytes: String) throws -> [String] {
        try channel.writeInbound(ByteBuffer(string: bytes))
        return try replies()
    }

    /// Hands `commands` to the connection as one read of the event loop's current turn, without ending the turn (the
    /// loop's queued tasks, such as the turn's commit, do not run).
    func read(_ commands: [String]...) throws {
        var buffer = ByteBuffer()
        for command in commands { buffer.writeString(RESP.command(command)) }
        try channel.writeInbound(buffer)
    }

    /// What the connection has sent so far, without running the event loop.
    func sentSoFar() throws -> [String] {
        var bytes = ByteBuffer()
        while var chunk = try channel.readOutbound(as: ByteBuffer.self) { bytes.writeBuffer(&chunk) }
        return RESP.split(String(decoding: bytes.readableBytesView, as: UTF8.self))
    }

    /// Everything written to the connection since the last call, split into replies.
    func replies() throws -> [String] {
        channel.embeddedEventLoop.run()
        var bytes = ByteBuffer()
        while var chunk = try channel.readOutbound(as: ByteBuffer.self) { bytes.writeBuffer(&chunk) }
        return RESP.split(String(decoding: bytes.readableBytesView, as: UTF8.self))
    }

    func close() throws {
        _ = try channel.finish(acceptAlreadyClosed: true)
    }
}

enum RESP {
    static func command(_ arguments: [String]) -> String {
        "*\(arguments.count)\r\n" + arguments.map { "$\($0.utf8.count)\r\n\($0)\r\n" }.joined()
    }

    /// Splits RESP2/RESP3 text into its top-level replies.
    static func split(_ text: String) -> [String] {
        var replies: [String] = []
        var rest = Substring(text)
        while !rest.isEmpty, let end = replyEnd(rest) {
            replies.append(String(rest[..<end]))
            rest = rest[end...]
        }
        return replies
    }

    private static func replyEnd(_ text: Substring) -> Substring.Index? {
        guard let lineEnd = text.range(of: "\r\n") else { return nil }
        let kind = text.first!
        let header = text[text.index(after: text.startIndex)..<lineEnd.lowerBound]
        var position = lineEnd.upperBound
        switch kind {
        case "$", "=", "!":
            guard let length = Int(header), length >= 0 else { return position }
            return text.utf8.index(position, offsetBy: length + 2)
        case "*", "~", ">", "%":
            guard var count = Int(header), count >= 0 else { return position }
            if kind == "%" { count *= 2 }
            for _ in 0..<count {
                guard let end = replyEnd(text[position...]) else { return nil }
                position = end
            }
            return position
        default:
            return position
        }
    }
}
