import KVStore
import Logging
import NIOCore
import RESP
import Synchronization

/// The per-connection hot path: decodes every request of a read, runs each in order, appends the replies to one
/// buffer and flushes once when the read is complete.
///
/// ```
///   channelRead ──► decode ─► dispatch ─► command ─► reply buffer      (repeat for each complete request)
///               └─► commit the batch's writes, release the store lock
///   channelReadComplete ──► [fsync when durability is high] ──► write + flush the reply buffer
/// ```
/// A command whose reply is computed off the event loop (SNAPSHOT, SAVE) sets `client.deferredReply`: the batch ends
/// there (releasing the lock), and the requests after it run once that reply has been written. A command held back
/// by CLIENT PAUSE ends the batch the same way and runs first when the pause ends.
final class ConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let server: ServerState
    private var decoder: RequestDecoder
    private var inbound = ByteBuffer()
    private var client: Client!
    private var batchWroteData = false
    /// With `high` durability: replies are held until the event loop's shared fsync (see DurableReplies).
    private var awaitingSync = false
    private var durableReplies: NIOLoopBound<DurableReplies>?
    private var closing = false
    /// A request held back by CLIENT PAUSE; it runs before anything read after it.
    private var postponedRequest: Request?
    /// True while a command's reply is being computed off the event loop; requests wait in `inbound` meanwhile.
    private var awaitingDeferredReply = false
    /// True while requests of a read are being run: a Pub/Sub message for this very client (it published to a
    /// channel it subscribes to) then goes into the reply buffer, after the replies before it.
    private var inBatch = false
    /// This handler's context, for work that starts outside a pipeline event (Pub/Sub deliveries, replies released by
    /// the shared fsync). Set in `handlerAdded`, cleared in `handlerRemoved`: the context holds this handler strongly,
    /// so keeping it longer would make a cycle that leaks the handler, its client, the channel and every buffer of
    /// every connection ever closed.
    private var context: ChannelHandlerContext?
    /// Whether a flush of delivered Pub/Sub messages is already queued on the event loop.
    private var deliveryFlushScheduled = false
    /// Since when (Unix ms) the unsent output has been above the soft Pub/Sub limit.
    private var softLimitExceededSince: Int64?

    init(server: ServerState) {
        self.server = server
        self.decoder = RequestDecoder(limits: server.configuration.decoderLimits)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let handle = ClientHandle(id: server.nextClientID(), channel: context.channel)
        client = Client(
            server: server, eventLoop: context.eventLoop, handle: handle,
            statistics: server.metrics.shard(for: context.eventLoop), allocator: context.channel.allocator)
        client.subscriber = Subscriber(clientID: client.id, eventLoop: context.eventLoop, handler: self)
        self.context = context
        if server.store.durability == .high { durableReplies = server.durableReplies(for: context.eventLoop) }
    }

    /// The channel has closed and NIO is dismantling its pipeline: let go of the context (see `context`).
    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        if server.clients.register(client.handle) > server.settings.maxClients.load(ordering: .relaxed) {
            server.metrics.connectionRejected()
            client.reply.error("ERR max number of clients reached")
            client.closeAfterReply = true
            flushReplies(context: context)
        } else {
            server.metrics.connectionAccepted()
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        PubSubCommands.unsubscribeAll(client)
        client.subscriber.detach()
        client.disconnected()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        var incoming = unwrapInboundIn(data)
        client.statistics.add(incoming.readableBytes, to: .netInputBytes)
        client.statistics.add(1, to: .readsProcessed)
        if inbound.readableBytes == 0 {
            inbound = incoming
        } else {
            inbound.writeBuffer(&incoming)
        }
        guard !awaitingDeferredReply else {
            if inbound.readableBytes > server.settings.clientQueryBufferLimit.load(ordering: .relaxed) {
                server.logger.warning("closing client that reached max query buffer length", metadata: ["client": "\(client.address)"])
                closing = true
                context.close(promise: nil)
            }
            return
        }
        processRequests()
        awaitDeferredReply(context: context)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushReplies(context: context)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ClientPause.Wake {
            guard postponedRequest != nil, !awaitingDeferredReply, !closing else { return }
            processRequests()
            flushReplies(context: context)
            awaitDeferredReply(context: context)
        } else if event is ChannelShouldQuiesceEvent {
            // Graceful shutdown: everything already read has been answered; send it and close.
            client.closeAfterReply = true
            flushReplies(context: context)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        server.logger.debug("connection error", metadata: ["client": "\(client.address)", "error": "\(error)"])
        context.close(promise: nil)
    }

    // MARK: Batch

    private func processRequests() {
        inBatch = true
        defer {
            endBatch()
            inBatch = false
        }
        client.commandClock = MonotonicClock.nanoseconds()
        decoder.limits.maxBulkLength = server.settings.protoMaxBulkLength.load(ordering: .relaxed)
        do {
            while !client.closeAfterReply, client.deferredReply == nil, let request = try nextRequest() {
                // Moved, not copied: the decoder takes the span array back after the command, and a second reference
                // to it would make that reuse allocate.
                client.request = consume request
                let mark = client.reply.buffer.writerIndex
                if case .postponed(let milliseconds) = client.dispatch() {
                    postpone(for: milliseconds)
                    break
                }
                if client.replyMode != .on { client.applyReplyMode(since: mark) }
                decoder.recycle(&client.request)
                try client.commandFinished()
            }
            if decoder.pendingRequestBytes > server.settings.clientQueryBufferLimit.load(ordering: .relaxed) {
                server.logger.warning("closing client that reached max query buffer length", metadata: ["client": "\(client.address)"])
                client.closeAfterReply = true
            }
        } catch let error as ProtocolError {
            client.replyError(CommandError(error.replyText))
            client.closeAfterReply = true
        } catch {
            client.replyError(error)
        }
        client.publishState(queryBufferBytes: inbound.readableBytes)
        // Keep the inbound buffer small: drop consumed bytes once they dominate it.
        if inbound.readerIndex > 64 * 1024 && inbound.readerIndex > inbound.readableBytes {
            inbound.discardReadBytes()
        }
    }

    private func nextRequest() throws(ProtocolError) -> Request? {
        if let postponed = postponedRequest {
            postponedRequest = nil
            client.handle.isPostponed.store(false, ordering: .relaxed)
            return postponed
        }
        return try decoder.next(from: &inbound)
    }

    /// Keeps the current request until CLIENT PAUSE ends: a timer (or CLIENT UNPAUSE) sends `ClientPause.Wake`.
    private func postpone(for milliseconds: Int64) {
        postponedRequest = client.request
        client.handle.isPostponed.store(true, ordering: .relaxed)
        let channel = client.handle.channel
        channel.eventLoop.scheduleTask(in: .milliseconds(milliseconds + 1)) {
            channel.pipeline.fireUserInboundEventTriggered(ClientPause.Wake())
        }
    }

    /// Waits (without blocking the event loop) for the reply of the command that set `client.deferredReply`, writes
    /// it, then runs the requests that arrived meanwhile.
    private func awaitDeferredReply(context: ChannelHandlerContext) {
        guard let future = client.deferredReply else { return }
        client.deferredReply = nil
        awaitingDeferredReply = true
        future.hop(to: context.eventLoop).assumeIsolated().whenComplete { result in
            self.awaitingDeferredReply = false
            guard !self.closing else { return }
            switch result {
            case .success(let write): write(&self.client.reply)
            case .failure(let error as CommandError): self.client.reply.error(error.text)
            case .failure(let error): self.client.reply.error("ERR \(error)")
            }
            self.processRequests()
            self.flushReplies(context: context)
            self.awaitDeferredReply(context: context)
        }
    }

    private func endBatch() {
        do {
            if try client.endBatch() { batchWroteData = true }
        } catch {
            server.logger.error("commit failed", metadata: ["error": "\(error)"])
            client.reply.error("ERR \(error)")
        }
    }

    private func flushReplies(context: ChannelHandlerContext) {
        if let durableReplies, batchWroteData || awaitingSync {
            // Acknowledge nothing before it is on disk: the replies (and any queued behind them) wait for the
            // event loop's next fsync, shared by every connection that wrote in this turn.
            batchWroteData = false
            if !awaitingSync {
                awaitingSync = true
                durableReplies.value.sendAfterSync(self)
            }
            return
        }
        sendReplies(context: context)
    }

    /// Called by DurableReplies once this connection's writes are on disk.
    func sendDurableReplies() {
        awaitingSync = false
        guard let context else { return }  // closed meanwhile
        sendReplies(context: context)
    }

    private func sendReplies(context: ChannelHandlerContext) {
        batchWroteData = false
        if client.reply.buffer.readableBytes > 0 {
            client.statistics.add(client.reply.buffer.readableBytes, to: .netOutputBytes)
            client.statistics.add(1, to: .writesProcessed)
            context.write(wrapOutboundOut(client.reply.buffer), promise: nil)
            context.flush()
            reuseReplyBuffer(allocator: context.channel.allocator)
        }
        if client.closeAfterReply && !closing {
            closing = true
            context.close(promise: nil)
        }
    }

    /// Empties the reply buffer for the next batch. Once the socket has taken the bytes (the usual case after a
    /// flush) NIO holds no reference and the storage is reused; otherwise `clear()` starts fresh storage, without
    /// copying. A buffer grown by one huge reply is not kept.
    private func reuseReplyBuffer(allocator: ByteBufferAllocator) {
        if client.reply.buffer.capacity > 1 << 20 {
            client.reply.buffer = allocator.buffer(capacity: 4096)
        } else {
            client.reply.buffer.clear()
        }
    }

    // MARK: Pub/Sub delivery

    /// Writes a Pub/Sub message to this connection, enforcing the Pub/Sub output buffer limit.
    func deliver(_ pushFrame: PushFrame) {
        guard !closing else { return }
        let frame = client.reply.version == .resp3 ? pushFrame.resp3 : pushFrame.resp2
        if inBatch || awaitingSync {
            // Behind replies not sent yet (this batch's, or ones waiting for their fsync): keep the order.
            client.reply.buffer.writeImmutableBuffer(frame)
            return
        }
        guard let context else { return }  // closed: the subscriber is detached, this was already on its way
        // While the channel is writable its unsent output is under NIO's high watermark (64 KB), far below any limit;
        // only a backed-up subscriber pays for asking how much is buffered.
        let unsent = context.channel.isWritable
            ? 0 : ((try? context.channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0) + frame.readableBytes
        if exceedsOutputLimit(unsent) {
            server.logger.warning(
                "closing client that exceeded the Pub/Sub output buffer limit",
                metadata: ["client": "\(client.address)", "unsent": "\(unsent)"])
            closing = true
            context.close(promise: nil)
            return
        }
        if client.reply.buffer.readableBytes > 0 {
            // Replies already produced (e.g. before a deferred reply) go out before the message, as in Redis.
            context.write(wrapOutboundOut(client.reply.buffer), promise: nil)
            reuseReplyBuffer(allocator: context.channel.allocator)
        }
        context.write(wrapOutboundOut(frame), promise: nil)
        // One flush per turn of the event loop: messages queued behind this one go out in the same write.
        if !deliveryFlushScheduled {
            deliveryFlushScheduled = true
            context.eventLoop.assumeIsolated().execute {
                self.deliveryFlushScheduled = false
                self.context?.flush()
            }
        }
    }

    private func exceedsOutputLimit(_ unsent: Int) -> Bool {
        let limit = server.configuration.pubsubOutputLimit
        if limit.hardBytes > 0 && unsent > limit.hardBytes { return true }
        guard limit.softBytes > 0 && unsent > limit.softBytes else {
            softLimitExceededSince = nil
            return false
        }
        let now = WallClock.milliseconds()
        guard let since = softLimitExceededSince else {
            softLimitExceededSince = now
            return false
        }
        return now - since >= Int64(limit.softSeconds) * 1000
    }
}

@available(*, unavailable)
extension ConnectionHandler: Sendable {}
