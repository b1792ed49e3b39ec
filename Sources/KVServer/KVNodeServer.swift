#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KVEngine
import KVStore
import Logging
import NIOCore
import NIOExtras
import NIOPosix
import NIOSSL
import ServiceLifecycle

/// The server as a `Service`: listens on every `bind` address's TCP port, the TLS port and the Unix socket that are
/// configured, serves until graceful shutdown, then stops accepting, lets every connection answer what it already
/// read, and returns once all connections are closed, so the store can be closed after it.
public final class KVNodeServer: Service, Sendable {
    private let engine: Engine
    private let group: MultiThreadedEventLoopGroup
    private let bound: EventLoopPromise<SocketAddress>
    /// With `high` durability, each event loop's group commit.
    private let durableReplies: DurableReplyGroups?
    /// The TLS port's certificates, when there is a TLS port.
    private let tls: TLSContextSource?

    /// - Parameter group: the event loops connections are spread over.
    /// - Throws: when the TLS port's certificate, key or CA cannot be used (the description says why).
    public init(engine: Engine, group: MultiThreadedEventLoopGroup) throws {
        self.engine = engine
        self.group = group
        durableReplies = engine.store.durability == .high
            ? DurableReplyGroups(store: engine.store, logger: engine.logger) : nil
        if engine.configuration.tls.port != 0 {
            let source = try TLSContextSource(settings: engine.tlsSettings, logger: engine.logger)
            engine.registerTLS(source)
            tls = source
        } else {
            tls = nil
        }
        // Last: a promise must not be dropped uncompleted, as it would be if the TLS set-up threw.
        self.bound = group.next().makePromise(of: SocketAddress.self)
    }

    /// Completes with the first listening address (TCP, else TLS, else the Unix socket) once the server is bound.
    public var localAddress: EventLoopFuture<SocketAddress> { bound.futureResult }

    public func run() async throws {
        let quiesce = ServerQuiescingHelper(group: group)
        let configuration = engine.configuration
        var channels: [any Channel] = []
        do {
            // Every `bind` address, as Redis listens on each; port 0 means no plain TCP.
            if configuration.port != 0 {
                let plain = bootstrap(quiesce: quiesce, transport: .tcp)
                for host in configuration.bindAddresses {
                    channels.append(try await plain.bind(host: host, port: configuration.port).get())
                }
            }
            if let tls {
                let secure = bootstrap(quiesce: quiesce, transport: .tls(tls))
                for host in configuration.bindAddresses {
                    channels.append(try await secure.bind(host: host, port: configuration.tls.port).get())
                }
            }
            if let path = configuration.unixSocket {
                channels.append(try await UnixSocket.bind(
                    bootstrap(quiesce: quiesce, transport: .unix), path: path,
                    permissions: configuration.unixSocketPermissions))
            }
        } catch {
            for channel in channels { try? await channel.close() }
            bound.fail(error)
            throw error
        }
        guard let first = channels.first else {
            bound.fail(ChannelError.inappropriateOperationForState)
            throw ChannelError.inappropriateOperationForState
        }
        bound.succeed(first.localAddress!)
        let sampling = group.next().scheduleRepeatedTask(initialDelay: .zero, delay: Engine.sampleInterval) { [engine] _ in
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
        defer { if let path = configuration.unixSocket { UnixSocket.remove(path) } }
        try await withGracefulShutdownHandler {
            try await allClosed.futureResult.get()
        } onGracefulShutdown: { [engine] in
            engine.logger.info("shutting down: no new connections, finishing the open ones")
            quiesce.initiateShutdown(promise: allClosed)
        }
    }

    /// How a listener's connections arrive.
    private enum Transport {
        case tcp
        /// TCP with a TLS handler in front of the connection handler.
        case tls(TLSContextSource)
        case unix
    }

    private func bootstrap(quiesce: ServerQuiescingHelper, transport: Transport) -> ServerBootstrap {
        let (engine, durableReplies) = (self.engine, self.durableReplies)
        var bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 511)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(quiesce.makeServerChannelHandler(channel: channel))
                }
            }
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator())
        if case .unix = transport {
        } else {
            // A TCP-level option: `.socketOption(.tcp_nodelay)` would set SOL_SOCKET option 1, SO_DEBUG, which only
            // root may set, and every connection of a non-root server would be closed at once. (A Unix socket has
            // no such option: setting it would fail every connection.)
            bootstrap = bootstrap.childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
        }
        return bootstrap.childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                if case .tls(let source) = transport {
                    // One handler per connection, with the context current at accept time.
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: source.context))
                }
                // No back-pressure on reads, as in Redis: a client may pipeline everything before reading any reply
                // (redis-py's pipeline does), and stopping reads then would deadlock it.
                try channel.pipeline.syncOperations.addHandler(
                    ConnectionHandler(engine: engine, durableReplies: durableReplies))
            }
        }
    }
}

/// The Unix socket listener's file: created at start-up (replacing a stale socket, never another kind of file),
/// given `unixsocketperm`, and removed at shutdown, as Redis does.
enum UnixSocket {
    static func bind(_ bootstrap: ServerBootstrap, path: String, permissions: UInt16?) async throws -> any Channel {
        let channel = try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
        if let permissions, chmod(path, mode_t(permissions)) != 0 {
            let reason = String(cString: strerror(errno))
            try? await channel.close()
            throw UnixSocketError(description: "cannot set the permissions of \(path): \(reason)")
        }
        return channel
    }

    /// Removes the socket file at `path` if it still is a socket.
    static func remove(_ path: String) {
        var info = stat()
        if lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFSOCK { unlink(path) }
    }
}

struct UnixSocketError: Error, CustomStringConvertible {
    let description: String
}
