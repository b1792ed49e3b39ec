import KVEngine
import KVStore
import Logging
import NIOCore
import RESP

/// Everything a connection sends: its replies, held back for the fsync when durability is `high`, and the pushes
/// (Pub/Sub messages) other connections deliver to it, kept in order behind replies not sent yet and cut off by the
/// Pub/Sub output limits. It is the connection's `PushSink`, so the Pub/Sub hub never holds the handler.
///
/// Publishes how much waits for the socket (CLIENT LIST `omem`) whenever the channel is backed up.
final class ConnectionOutput: PushSink, TurnCommitListener {
    private let session: Session
    private var context: ChannelHandlerContext?
    private let logger: Logger
    private let limits: @Sendable () -> OutputBufferLimit
    /// The event loop's fsync group when durability is `high`.
    private let durableReplies: DurableReplies?

    /// Whether the reply buffer is being filled (a batch runs) or held (waiting for the turn's commit, or for the
    /// event loop's fsync): pushes then go behind the replies in it rather than straight to the socket.
    private var isFilling = false
    private var isHeldForCommit = false
    private var isHeldForSync = false
    private var flushScheduled = false
    /// Since when (Unix ms) the unsent output has been above the soft Pub/Sub limit.
    private var softLimitExceededSince: Int64?

    init(
        session: Session, context: ChannelHandlerContext, logger: Logger,
        limits: @escaping @Sendable () -> OutputBufferLimit, durableReplies: DurableReplies?
    ) {
        self.session = session
        self.context = context
        self.logger = logger
        self.limits = limits
        self.durableReplies = durableReplies
    }

    // MARK: Replies

    func batchStarted() {
        isFilling = true
    }

    /// The batch's replies are complete. They wait for the turn's commit if the batch ran under the turn's lease;
    /// then, with durability `high` and data written, for the event loop's next fsync, shared by every connection
    /// that wrote in this turn.
    func batchEnded(_ outcome: BatchOutcome) {
        isFilling = false
        if outcome.awaitsCommit {
            isHeldForCommit = true
            return
        }
        holdForSyncIfNeeded(wroteData: outcome.wroteData)
    }

    /// The turn's commit is done: the held replies go, after the fsync when due. The turn commits between batches
    /// (its task, or `Executor.commitTurn` before a close), never while one fills the buffer.
    func turnCommitted(wroteData: Bool) {
        assert(!isFilling, "the turn committed in the middle of a batch")
        isHeldForCommit = false
        holdForSyncIfNeeded(wroteData: wroteData)
        flush()
    }

    private func holdForSyncIfNeeded(wroteData: Bool) {
        if let durableReplies, wroteData, !isHeldForSync {
            isHeldForSync = true
            durableReplies.sendAfterSync(self)
        }
    }

    /// Sends what the reply buffer holds, unless it waits for an fsync.
    func flush() {
        guard !isHeldForSync, !isHeldForCommit, let context, session.reply.buffer.readableBytes > 0 else { return }
        session.countSent(session.reply.buffer.readableBytes)
        context.write(NIOAny(session.reply.buffer), promise: nil)
        context.flush()
        reuseReplyBuffer()
        publishUnsentBytes()
    }

    /// Called by `DurableReplies` once the writes are on disk, or with false when the fsync failed: the writes may
    /// be lost, so the replies are never sent and the connection is closed instead (Redis exits in that case).
    func syncCompleted(_ succeeded: Bool) {
        isHeldForSync = false
        guard succeeded else {
            logger.error("closing client whose writes could not be made durable", metadata: ["client": "\(session)"])
            context?.close(promise: nil)
            return
        }
        flush()
    }

    /// Empties the reply buffer for the next batch. Once the socket has taken the bytes (the usual case after a
    /// flush) NIO holds no reference and the storage is reused; otherwise `clear()` starts fresh storage, without
    /// copying. A buffer grown by one huge reply is not kept.
    private func reuseReplyBuffer() {
        if session.reply.buffer.capacity > 1 << 20 {
            session.reply.buffer = context?.channel.allocator.buffer(capacity: 4096) ?? ByteBuffer()
        } else {
            session.reply.buffer.clear()
        }
    }

    /// Publishes the bytes NIO still holds for the socket; only a backed-up channel pays for asking.
    func publishUnsentBytes() {
        guard let channel = context?.channel else { return }
        let unsent = channel.isWritable ? 0 : (try? channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0
        session.setUnsentBytes(unsent)
    }

    // MARK: Pushes

    func deliver(_ pushFrame: PushFrame) {
        guard let context else { return }
        let frame = session.protocolVersion == .resp3 ? pushFrame.resp3 : pushFrame.resp2
        // Delivered by a command of this very connection: after that command's reply, whatever CLIENT REPLY says.
        if session.holdPushDuringCommand(frame) { return }
        if isFilling || isHeldForCommit || isHeldForSync {
            // Behind replies not sent yet (this batch's, or ones waiting for their fsync): keep the order.
            session.reply.buffer.writeImmutableBuffer(frame)
            return
        }
        // While the channel is writable its unsent output is under NIO's high watermark (64 KB), far below any limit;
        // only a backed-up subscriber pays for asking how much is buffered.
        let channel = context.channel
        let unsent = channel.isWritable
            ? 0 : ((try? channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0) + frame.readableBytes
        if exceedsOutputLimit(unsent) {
            logger.warning(
                "closing client that exceeded the Pub/Sub output buffer limit",
                metadata: ["client": "\(session)", "unsent": "\(unsent)"])
            context.close(promise: nil)
            return
        }
        // Replies already produced (e.g. before an awaited reply) go out before the message, as in Redis.
        writePendingReplies(context)
        session.countSent(frame.readableBytes)
        context.write(NIOAny(frame), promise: nil)
        session.setUnsentBytes(unsent)
        scheduleFlush()
    }

    /// Writes the replies produced so far, so that what follows goes out after them.
    private func writePendingReplies(_ context: ChannelHandlerContext) {
        guard session.reply.buffer.readableBytes > 0 else { return }
        session.countSent(session.reply.buffer.readableBytes)
        context.write(NIOAny(session.reply.buffer), promise: nil)
        reuseReplyBuffer()
    }

    func push(_ frame: PushFrame) {
        let bytes = session.protocolVersion == .resp3 ? frame.resp3 : frame.resp2
        if session.holdPushDuringCommand(bytes) { return }
        if isFilling || isHeldForCommit || isHeldForSync {
            session.reply.buffer.writeImmutableBuffer(bytes)
            return
        }
        guard let context else { return }
        writePendingReplies(context)
        session.countSent(bytes.readableBytes)
        context.write(NIOAny(bytes), promise: nil)
        scheduleFlush()
    }

    var protocolVersion: ProtocolVersion { session.protocolVersion }

    var unsentBytes: Int {
        guard let channel = context?.channel else { return 0 }
        let buffered = channel.isWritable ? 0 : (try? channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0
        return buffered + session.reply.buffer.readableBytes
    }

    func closeAfterSending() {
        guard let context else { return }
        let channel = context.channel
        // Written in order: once the empty write completes, everything before it has gone to the socket.
        let sent = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(NIOAny(ByteBuffer()), promise: sent)
        sent.futureResult.whenComplete { _ in channel.close(promise: nil) }
    }

    /// One flush per turn of the event loop: frames queued behind this one go out in the same write.
    private func scheduleFlush() {
        guard !flushScheduled, let context else { return }
        flushScheduled = true
        context.eventLoop.assumeIsolated().execute {
            self.flushScheduled = false
            self.context?.flush()
        }
    }

    private func exceedsOutputLimit(_ unsent: Int) -> Bool {
        let limit = limits()
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

    /// The connection is gone: nothing more is written, and the context is let go.
    func detach() {
        context = nil
    }
}

@available(*, unavailable)
extension ConnectionOutput: Sendable {}
