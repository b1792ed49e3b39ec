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

/// Connection-level state changes that are not a single command's business: CLIENT REPLY, RESET and disconnects.
extension Client {
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

    /// RESET: back to a fresh connection's state (no MULTI or WATCH, RESP2, no name, replies on), keeping the id.
    func resetConnectionState() {
        transaction = nil
        unwatchAll()
        PubSubCommands.unsubscribeAll(self)
        replyMode = .on
        reply.version = .resp2
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

    /// The connection closed: forget its transaction and watches and leave the registry.
    func disconnected() {
        server.clients.unregister(handle)
        transaction = nil
        if !watch.isEmpty {
            unwatchAll()
            _ = try? endBatch()
        }
    }
}
