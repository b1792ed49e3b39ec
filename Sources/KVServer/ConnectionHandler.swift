import KVEngine
import Logging
import NIOCore

/// One connection in the NIO pipeline: forwards its events to the connection state machine and performs the actions
/// that come back. Bytes go to the engine's `Executor`, which decodes every request of a read, runs them and leaves
/// the replies in one buffer; `ConnectionOutput` sends that buffer once per read (after the fsync when durability is
/// `high`) and delivers Pub/Sub pushes.
///
/// ```
///   channelRead ──► state: run ──► executor.run ──► state: what next ──► (send now) / await reply / park / close
///   channelReadComplete ──► output.flush
/// ```
final class ConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let engine: Engine
    private let executor: Executor
    private let durableReplies: DurableReplyGroups?
    private var state = ConnectionStateMachine()
    private var inbound = ByteBuffer()
    private var session: Session?
    private var output: ConnectionOutput?
    /// After graceful shutdown: the input still arriving is drained until the client closes (see `GracefulEnd`).
    private var gracefulEnd: GracefulEnd?

    init(engine: Engine, durableReplies: DurableReplyGroups?) {
        self.engine = engine
        self.executor = Executor(engine: engine)
        self.durableReplies = durableReplies
    }

    /// Wakes a parked request (CLIENT UNPAUSE, or the end of its pause).
    struct Wake {}

    // MARK: Events

    func handlerAdded(context: ChannelHandlerContext) {
        let connection = ChannelConnection(channel: context.channel)
        let limits = engine.pubsubOutputLimit
        let session = Session(
            engine: engine, eventLoop: context.eventLoop, connection: connection, allocator: context.channel.allocator)
        let output = ConnectionOutput(
            session: session, context: context, logger: engine.logger, limits: limits,
            durableReplies: durableReplies?.group(for: context.eventLoop).value)
        session.attach(sink: output)
        self.session = session
        self.output = output
    }

    func channelActive(context: ChannelHandlerContext) {
        if let session, !executor.connectionOpened(session) {
            _ = state.bytesArrived()
            perform(state.batchFinished(.close), context: context)
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        release()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        release()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        gracefulEnd?.inputArrived()
        guard let session else { return }
        var incoming = unwrapInboundIn(data)
        session.countReceived(incoming.readableBytes)
        if inbound.readableBytes == 0 {
            inbound = incoming
        } else {
            inbound.writeBuffer(&incoming)
        }
        switch state.bytesArrived() {
        case .run:
            runBatch(context: context, sendNow: false)
        case .accumulate:
            if inbound.readableBytes > engine.queryBufferLimit {
                engine.logger.warning(
                    "closing client that reached max query buffer length", metadata: ["client": "\(session)"])
                state.closed()
                context.close(promise: nil)
            }
        case .ignore:
            inbound.clear()
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        output?.flush()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        output?.publishUnsentBytes()
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is Wake {
            if state.woken() { runBatch(context: context, sendNow: true) }
        } else if event is ChannelShouldQuiesceEvent {
            if state.quiesce() == .sendAndEndGracefully { perform(.sendAndEndGracefully, context: context) }
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        engine.logger.debug("connection error", metadata: ["client": "\(session?.description ?? "?")", "error": "\(error)"])
        context.close(promise: nil)
    }

    // MARK: Actions

    /// Runs what the input holds and acts on the outcome. `sendNow` for batches that do not come from a read (a
    /// wake-up, an awaited reply), which no `channelReadComplete` follows.
    private func runBatch(context: ChannelHandlerContext, sendNow: Bool) {
        guard let session, let output else { return }
        output.batchStarted()
        let outcome = executor.run(session, input: &inbound)
        output.batchEnded(outcome)
        // Keep the inbound buffer small: drop consumed bytes once they dominate it.
        if inbound.readerIndex > 64 * 1024 && inbound.readerIndex > inbound.readableBytes {
            inbound.discardReadBytes()
        }
        let action = state.batchFinished(outcome.next)
        if case .sendAndRead = action, !sendNow { return }  // channelReadComplete sends
        perform(action, context: context)
    }

    private func perform(_ action: ConnectionStateMachine.BatchAction, context: ChannelHandlerContext) {
        switch action {
        case .sendAndClose, .sendAndEndGracefully:
            // Replies held for the turn's commit must be written before the output closes.
            if let session { executor.commitTurn(for: session) }
        case .sendAndRead, .sendAndAwait, .sendAndPark:
            break
        }
        output?.flush()
        switch action {
        case .sendAndRead:
            break
        case .sendAndAwait(let future):
            future.hop(to: context.eventLoop).assumeIsolated().whenComplete { result in
                guard let session = self.session, self.state.replyArrived() else { return }
                self.executor.completeDeferredReply(session, result)
                self.runBatch(context: context, sendNow: true)
            }
        case .sendAndPark(let milliseconds):
            guard let milliseconds else { break }
            let channel = context.channel
            context.eventLoop.scheduleTask(in: .milliseconds(milliseconds + 1)) {
                channel.pipeline.fireUserInboundEventTriggered(Wake())
            }
        case .sendAndClose:
            context.close(promise: nil)
        case .sendAndEndGracefully:
            gracefulEnd = GracefulEnd(context: context)
        }
    }

    /// The connection is gone: the engine forgets it, and nothing of it stays referenced (the session's buffers, the
    /// output's context), so its memory goes with it.
    private func release() {
        gracefulEnd?.cancel()
        gracefulEnd = nil
        state.closed()
        if let session { executor.connectionClosed(session) }
        output?.detach()
        session = nil
        output = nil
        inbound = ByteBuffer()
    }
}

@available(*, unavailable)
extension ConnectionHandler: Sendable {}

/// Ends a connection at graceful shutdown without losing a reply. Closing the channel at once would drop the replies
/// NIO still holds for a client that reads slowly, and closing a socket with unread input makes the kernel reset the
/// connection, discarding replies not yet delivered. So the output is closed once every reply is written (the client
/// reads them all, then EOF), and input is read and dropped until the client closes, or has sent nothing for 200 ms,
/// or for 5 s at most.
private final class GracefulEnd {
    private let channel: any Channel
    private var quietClose: Scheduled<Void>?
    private var limit: Scheduled<Void>?

    init(context: ChannelHandlerContext) {
        channel = context.channel
        let outputClosed = context.eventLoop.makePromise(of: Void.self)
        context.close(mode: .output, promise: outputClosed)  // NIO writes what is pending first
        let channel = self.channel
        outputClosed.futureResult.assumeIsolated().whenComplete { result in
            if case .failure = result { channel.close(promise: nil) } else { self.inputArrived() }
        }
        limit = channel.eventLoop.scheduleTask(in: .seconds(5)) { channel.close(promise: nil) }
    }

    /// (Re)starts the countdown to closing: the channel closes once no input has come for 200 ms.
    func inputArrived() {
        quietClose?.cancel()
        let channel = self.channel
        quietClose = channel.eventLoop.scheduleTask(in: .milliseconds(200)) { channel.close(promise: nil) }
    }

    func cancel() {
        quietClose?.cancel()
        limit?.cancel()
    }
}

/// How other connections close or wake this one: through its channel, on its own event loop.
private struct ChannelConnection: ConnectionControl {
    let channel: any Channel
    let remoteAddress: String
    let localAddress: String

    let isUnixSocket: Bool

    init(channel: any Channel) {
        self.channel = channel
        localAddress = Self.describe(channel.localAddress)
        if case .unixDomainSocket = channel.localAddress {
            // The peer of a Unix socket has no name: Redis shows the socket's path as both ends (`/path:0`).
            isUnixSocket = true
            remoteAddress = localAddress
        } else {
            isUnixSocket = false
            remoteAddress = Self.describe(channel.remoteAddress)
        }
    }

    func close() {
        let channel = self.channel
        channel.eventLoop.execute { channel.close(promise: nil) }
    }

    func wake() {
        let channel = self.channel
        channel.eventLoop.execute { channel.pipeline.fireUserInboundEventTriggered(ConnectionHandler.Wake()) }
    }

    /// Redis's `islocalClient`: a Unix socket, 127.0.0.1 or ::1 (and 127.0.0.1 as an IPv4-mapped address, which is
    /// how it arrives on a dual-stack socket bound to `::`).
    var isLoopback: Bool {
        if isUnixSocket { return true }
        guard let address = channel.remoteAddress else { return false }
        if case .unixDomainSocket = address { return true }
        return ["127.0.0.1", "::1", "::ffff:127.0.0.1"].contains(address.ipAddress ?? "")
    }

    private static func describe(_ address: SocketAddress?) -> String {
        guard let address else { return "?:0" }
        if case .unixDomainSocket = address { return "\(address.pathname ?? ""):0" }
        return "\(address.ipAddress ?? "?"):\(address.port ?? 0)"
    }
}
