import Benchmark
import KVEngine
import KVServer
import KVStore
import Logging
import NIOCore
import NIOEmbedded

/// A server state over a store in a temporary directory, and one connection to it through an `EmbeddedChannel`:
/// the whole request path (decode, lookup, command, keyspace, commit, reply) runs, without a socket or event loop.
final class ServerFixture {
    private(set) var channel: EmbeddedChannel!
    private var store: Store!
    private var path = ""

    func open() throws {
        path = makeTemporaryDirectory("server")
        var configuration = ServerConfiguration()
        configuration.dataDirectory = path
        store = try Store.open(configuration: configuration)
        var logger = Logger(label: "kvnode-bench")
        logger.logLevel = .warning
        let engine = Engine(configuration: configuration, store: store, logger: logger)
        try store.withKeyspace { keyspace in
            try keyspace.set(ByteBuffer(string: benchmarkKey), value: ByteBuffer(string: benchmarkValue))
        }
        channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(engine.makeConnectionHandler())
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 6379)).wait()
    }

    func close() throws {
        _ = try channel.finish()
        channel = nil
        try store.close()
        store = nil
        removeTemporaryDirectory(path)
    }

    /// Registers a benchmark whose every iteration is one read holding `read`, answered in full; results are per read.
    func benchmark(_ name: String, read: ByteBuffer) {
        Benchmark(
            name, configuration: perRead,
            closure: { _ in
                try! self.channel.writeInbound(read)
                while let reply = try! self.channel.readOutbound(as: ByteBuffer.self) { blackHole(reply) }
            },
            setup: { try self.open() }, teardown: { try self.close() })
    }
}

/// Answers each read with the bytes it received: the embedded channel's own cost per read, to subtract from the
/// server figures.
final class EchoHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.write(data, promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }
}

/// Whole requests through the connection handler, one read of 1 (`-P 1`) or 16 (`-P 16`) requests per iteration.
func registerServerBenchmarks() {
    let echo = pipeline(multibulk(["GET", benchmarkKey]), count: 1)
    let channel = EmbeddedChannel(handler: EchoHandler())
    Benchmark("EmbeddedChannel echo (baseline, per read)", configuration: perRead) { _ in
        try! channel.writeInbound(echo)
        while let reply = try! channel.readOutbound(as: ByteBuffer.self) { blackHole(reply) }
    }

    let requests = [
        ("PING", multibulk(["PING"])),
        ("GET", multibulk(["GET", benchmarkKey])),
        ("GET missing key", multibulk(["GET", "key:missing"])),
        ("SET", multibulk(["SET", benchmarkKey, benchmarkValue])),
    ]
    for (name, request) in requests {
        for count in [1, 16] {
            ServerFixture().benchmark("server \(name) (P\(count), per read of \(count))", read: pipeline(request, count: count))
        }
    }
}
