import KVStore
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Group commit for `--durability high`: every connection of one event loop that wrote during a turn of the loop
/// waits for the same fsync, which runs once the loop has read from every ready connection; then all of their
/// replies go out. Redis's `appendfsync always` likewise fsyncs once per event-loop pass, not once per client.
final class DurableReplies {
    private let store: Store
    private let logger: Logger
    private let eventLoop: any EventLoop
    private var waiting: [ConnectionHandler] = []

    init(store: Store, logger: Logger, eventLoop: any EventLoop) {
        self.store = store
        self.logger = logger
        self.eventLoop = eventLoop
    }

    /// Sends `handler`'s replies after the next fsync of this event loop.
    func sendAfterSync(_ handler: ConnectionHandler) {
        waiting.append(handler)
        guard waiting.count == 1 else { return }
        // Queued behind the reads of this turn, so connections that become ready meanwhile share the fsync.
        eventLoop.assumeIsolated().execute { self.syncAndSend() }
    }

    private func syncAndSend() {
        let handlers = waiting
        waiting = []
        do { try store.sync() } catch { logger.error("fsync failed", metadata: ["error": "\(error)"]) }
        for handler in handlers { handler.sendDurableReplies() }
    }
}

extension ServerState {
    /// The group commit of `eventLoop` (one per loop, created on first use).
    func durableReplies(for eventLoop: any EventLoop) -> NIOLoopBound<DurableReplies> {
        durableReplyGroups.withLockedValue { groups in
            let id = ObjectIdentifier(eventLoop)
            if let group = groups[id] { return group }
            let group = NIOLoopBound(DurableReplies(store: store, logger: logger, eventLoop: eventLoop), eventLoop: eventLoop)
            groups[id] = group
            return group
        }
    }
}
