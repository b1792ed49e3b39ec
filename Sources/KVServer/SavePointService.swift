import KVStore
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// Takes a snapshot by itself when a `save` point is reached, as Redis's serverCron does: ten times a second (Redis's
/// default `hz`) it checks whether at least `changes` keys changed and more than `seconds` passed since the last
/// successful snapshot. After a failed snapshot it waits `retryDelay` before trying again (Redis's
/// `CONFIG_BGSAVE_RETRY_DELAY`), and it never starts one while another is being written.
public struct SavePointService: Service {
    let state: ServerState
    /// Seconds between attempts after a failed snapshot.
    static let retryDelay: Int64 = 5
    /// How often the save points are checked.
    static let checkInterval = Duration.milliseconds(100)

    public init(state: ServerState) {
        self.state = state
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            // Woken by graceful shutdown too, so SIGTERM does not wait out the interval.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: Self.checkInterval) }
            if Task.isShuttingDownGracefully || Task.isCancelled { break }
            saveIfDue()
        }
    }

    /// Starts a snapshot if a save point is reached.
    func saveIfDue() {
        let savePoints = state.settings.save.withLockedValue { $0 }
        guard !savePoints.isEmpty else { return }
        do {
            // Under the store's lock, as BGSAVE starts its snapshots: none can start or be counted in between.
            try state.store.withKeyspace { keyspace in
                let status = state.snapshots.status
                let now = WallClock.milliseconds() / 1000
                guard !status.isRunning, status.lastSucceeded || now - status.lastAttempt > Self.retryDelay,
                    let point = savePoints.point(
                        reachedWith: state.keyChangesSinceLastSave(status), elapsed: now - status.lastSave)
                else { return }
                state.logger.notice("\(point.changes) changes in \(point.seconds) seconds. Saving...")
                try state.startSnapshot(of: keyspace)
            }
        } catch {
            // The snapshotter recorded the failure, so the retry delay applies.
            state.logger.error("cannot start a snapshot for the save points", metadata: ["error": "\(error)"])
        }
    }
}
