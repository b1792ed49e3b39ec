import KVEngine
import KVStore
import Logging
import NIOCore
import NIOExtras
import NIOPosix
import ServiceLifecycle

/// The TCP server as a `Service`: binds, serves until graceful shutdown, then stops accepting, lets every connection
/// answer what it already read, and returns once all connections are closed, so the store can be closed after it.
public final class KVNodeServer: Service, Sendable {
    private let engine: Engine
    private let group: MultiThreadedEventLoopGroup
    private let bound: EventLoopPromise<SocketAddress>
    /// With `high` durability, each event loop's group commit.
    private let durableReplies: DurableReplyGroups?

    /// - Parameter group: the event loops connections are spread over.
    public init(engine: Engine, group: MultiThreadedEventLoopGroup) {
        self.engine = engine
        self.group = group
        self.bound = group.next().makePromise(of: SocketAddress.self)
        durableReplies = engine.store.durability == .high
            ? DurableReplyGroups(store: engine.store, logger: engine.logger) : nil
    }

    /// Completes with the (first) listening address once the server is bound (useful with port 0).
    public var localAddress: EventLoopFuture<SocketAddress> { bound.futureResult }

    public func run() async throws {
        let quiesce = ServerQuiescingHelper(group: group)
        let (engine, durableReplies) = (self.engine, self.durableReplies)
        var channels: [any Channel] = []
        do {
            let bootstrap = ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 511)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(quiesce.makeServerChannelHandler(channel: channel))
                    }
                }
                // A TCP-level option: `.socketOption(.tcp_nodelay)` would set SOL_SOCKET option 1, SO_DEBUG, which
                // only root may set, and every connection of a non-root server would be closed at once.
                .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
                .childChannelOption(.maxMessagesPerRead, value: 16)
                .childChannelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator())
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        // No back-pressure on reads, as in Redis: a client may pipeline everything before reading any
                        // reply (redis-py's pipeline does), and stopping reads then would deadlock it.
                        try channel.pipeline.syncOperations.addHandler(
                            ConnectionHandler(engine: engine, durableReplies: durableReplies))
                    }
                }
            // Every `bind` address, as Redis listens on each.
            for host in engine.configuration.bindAddresses {
                channels.append(try await bootstrap.bind(host: host, port: engine.configuration.port).get())
            }
        } catch {
            for channel in channels { try? await channel.close() }
            bound.fail(error)
            throw error
        }
        let channel = channels[0]
        bound.succeed(channel.localAddress!)
        let sampling = group.next().scheduleRepeatedTask(initialDelay: .zero, delay: Engine.sampleInterval) { _ in
            engine.sampleRates()
        }
        defer { sampling.cancel() }
        // Closed connections free their buffers; make sure the pages go back to the OS (see FreedMemory).
        let freedMemoryReturns = FreedMemory.scheduleReturns(on: group.next(), engine: engine)
        defer { freedMemoryReturns.cancel() }
        for channel in channels {
            engine.logger.info("ready to accept connections", metadata: ["address": "\(channel.localAddress!)"])
        }

        let allClosed = group.next().makePromise(of: Void.self)
        try await withGracefulShutdownHandler {
            try await allClosed.futureResult.get()
        } onGracefulShutdown: {
            engine.logger.info("shutting down: no new connections, finishing the open ones")
            quiesce.initiateShutdown(promise: allClosed)
        }
    }
}
