import KVEngine
import KVStore
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Group commit for `--durability high`: every connection of one event loop that wrote during a turn of the loop
/// waits for the same fsync, which runs once the loop has read from every ready connection; then all of their
/// replies go out. Redis's `appendfsync always` likewise fsyncs once per event-loop pass, not once per client. The
/// fsync flushes LevelDB's log files directly, so writers on other event loops do not wait for it.
final class DurableReplies {
    private let store: Store
    private let logger: Logger
    private let eventLoop: any EventLoop
    private var waiting: [ConnectionOutput] = []

    init(store: Store, logger: Logger, eventLoop: any EventLoop) {
        self.store = store
        self.logger = logger
        self.eventLoop = eventLoop
    }

    /// Sends `output`'s replies after the next fsync of this event loop.
    func sendAfterSync(_ output: ConnectionOutput) {
        waiting.append(output)
        guard waiting.count == 1 else { return }
        // Queued behind the reads of this turn, so connections that become ready meanwhile share the fsync.
        eventLoop.assumeIsolated().execute { self.syncAndSend() }
    }

    private func syncAndSend() {
        let outputs = waiting
        waiting = []
        var succeeded = true
        do { try store.sync() } catch {
            logger.error("fsync failed", metadata: ["error": "\(error)"])
            succeeded = false
        }
        for output in outputs { output.syncCompleted(succeeded) }
    }
}

/// The group commit of each event loop, created on first use.
final class DurableReplyGroups: Sendable {
    private let store: Store
    private let logger: Logger
    private let groups = NIOLockedValueBox<[ObjectIdentifier: NIOLoopBound<DurableReplies>]>([:])

    init(store: Store, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    func group(for eventLoop: any EventLoop) -> NIOLoopBound<DurableReplies> {
        groups.withLockedValue { groups in
            let id = ObjectIdentifier(eventLoop)
            if let group = groups[id] { return group }
            let group = NIOLoopBound(DurableReplies(store: store, logger: logger, eventLoop: eventLoop), eventLoop: eventLoop)
            groups[id] = group
            return group
        }
    }
}
