import KVStore
import NIOCore
import RESP
import Synchronization

/// CLIENT REPLY's modes.
enum ReplyMode {
    case on
    /// CLIENT REPLY OFF: no reply until CLIENT REPLY ON.
    case off
    /// CLIENT REPLY SKIP was just run: the next command's reply is dropped.
    case skipNext
    /// The command whose reply is dropped is running.
    case skipping
}

/// Connection-level state changes that are not a single command's business: errors, CLIENT REPLY, RESET, parking
/// and disconnects.
extension Session {
    /// Writes the error reply for `error` and counts it.
    func replyError(_ error: any Error) {
        let text = (error as? CommandError)?.text ?? (error is WrongTypeError ? CommandError.wrongType.text : "ERR \(error)")
        engine.metrics.countError(text)
        reply.error(text)
    }

    /// Drops the reply the command just run wrote after `mark`, when CLIENT REPLY says so.
    func applyReplyMode(since mark: Int) {
        switch replyMode {
        case .on:
            return
        case .off:
            reply.buffer.moveWriterIndex(to: mark)
        case .skipNext:
            reply.buffer.moveWriterIndex(to: mark)
            replyMode = .skipping
        case .skipping:
            reply.buffer.moveWriterIndex(to: mark)
            replyMode = .on
        }
    }

    /// Keeps the current request to run again when the connection is woken (CLIENT PAUSE).
    func park() {
        parkedRequest = request
        handle.isPostponed.store(true, ordering: .relaxed)
    }

    /// Stops waiting for keys (RESET, disconnect).
    func stopWaiting() {
        if let wait = keyWait { engine.keyWaiters.remove(handle, keys: wait.keys) }
        keyWait = nil
        waitRequested = false
        if let blockedPop { engine.blockingPops.cancel(blockedPop) }
        blockedPop = nil
    }

    /// Stops watching every key (UNWATCH, and after EXEC or DISCARD).
    func unwatchAll() {
        watch.removeAll(registry: engine.watches)
    }

    /// RESET: back to a fresh connection's state (no MULTI or WATCH, RESP2, no name, replies on, the default user,
    /// authenticated only if it needs no password), keeping the id.
    func resetConnectionState() {
        setUser(engine.access.defaultUser, authenticated: engine.access.newConnectionsAuthenticated)
        stopWaiting()
        removeAllWatchers()
        transaction = nil
        unwatchAll()
        PubSubCommands.unsubscribeAll(self)
        replyMode = .on
        reply.version = .resp2
        database = 0
        name = []
        handle.setFlag(.noTouch, false)
    }

    /// Publishes the state CLIENT LIST shows; called at the end of each read batch.
    func publishState(queryBufferBytes: Int) {
        handle.lastInteraction.store(Int64(commandClock / 1_000_000), ordering: .relaxed)
        handle.queryBufferBytes.store(queryBufferBytes, ordering: .relaxed)
        handle.protocolVersion.store(reply.version.rawValue, ordering: .relaxed)
        handle.subscriptions.store(
            ClientHandle.Subscriptions(
                channels: channelSubscriptions.count, patterns: patternSubscriptions.count,
                shardChannels: shardSubscriptions.count
            ).packed, ordering: .relaxed)
    }

    /// The connection closed: leave the registry, drop subscriptions, the transaction and watches, and let go of
    /// the buffers so nothing of the connection outlives it.
    func disconnected() {
        engine.clients.unregister(handle)
        PubSubCommands.unsubscribeAll(self)
        removeAllWatchers()
        // The sink (the connection's output) refers back to this session: let it go.
        subscriber.detach()
        replyOutput = nil
        uncommittedReplies = UncommittedReplies()  // its offsets point into the reply buffer let go below
        transaction = nil
        unwatchAll()
        stopWaiting()
        parkedRequest = nil
        deferredReply = nil
        request = Request(frame: ByteBuffer(), spans: [])
        reply.buffer = ByteBuffer()
        pushesDuringCommand = ByteBuffer()
    }
}
