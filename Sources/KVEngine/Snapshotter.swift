import KVSnapshot
import KVStore
import Logging
import NIOConcurrencyHelpers
import NIOPosix

/// Writes snapshots (SNAPSHOT, SAVE, BGSAVE and the save points) one at a time on a background thread, keeps the
/// newest `keep`, and remembers when the last one completed (LASTSAVE), how it went and how many key changes it
/// contained (INFO persistence).
///
/// The caller takes the `KeyspaceSnapshot` while holding the store's lock, so the snapshot holds exactly the
/// commands completed before it; the lock is released at once and the keyspace is streamed to disk from LevelDB's
/// snapshot while other clients go on reading and writing.
public final class Snapshotter: Sendable {
    /// Where the snapshots go: `DATA/snapshots`.
    public let store: SnapshotStore
    private let keep: Int
    private let logger: Logger

    private struct State {
        var running = false
        var shuttingDown = false
        /// Unix seconds of the last snapshot that completed (or of start-up when there is none).
        var lastSave: Int64
        var lastSucceeded = true
        /// Unix seconds when the last snapshot started (Redis's `lastbgsave_try`); 0 before the first.
        var lastAttempt: Int64 = 0
        /// Snapshots started, successful or not (INFO `rdb_saves`).
        var started = 0
        /// Unix seconds when the running snapshot started.
        var runningSince: Int64 = 0
        /// Seconds the last finished snapshot took; -1 before the first.
        var lastDuration: Int64 = -1
        /// `StoreEventObserver.keyChanges` when the running snapshot's view was taken, and when the view of the last
        /// successful one was: the changes since are those no snapshot holds yet.
        var keyChangesInRunning = 0
        var keyChangesAtLastSave = 0
    }

    private let state: NIOLockedValueBox<State>
    /// True while no snapshot is being written; `stop()` waits on it.
    private let idle = ConditionLock<Bool>(value: true)

    /// Removes what a killed process left of a snapshot, so create it only once the store is open: LevelDB's LOCK
    /// then shows that no other server uses the data directory.
    /// - Parameters:
    ///   - dataDirectory: the server's data directory; snapshots go to its `snapshots` subdirectory.
    ///   - keep: how many snapshots to keep (at least 1).
    public init(dataDirectory: String, keep: Int, logger: Logger) {
        store = SnapshotStore(dataDirectory: dataDirectory)
        self.keep = max(keep, 1)
        self.logger = logger
        // A `.tmp-*` directory is a snapshot that a killed process was writing: it could be as large as a whole
        // snapshot, so it goes now rather than whenever the next snapshot is taken.
        store.removeTemporaryDirectories()
        let newest = (try? store.list())?.last
        state = NIOLockedValueBox(State(lastSave: (newest?.createdAt ?? WallClock.milliseconds()) / 1000))
    }

    /// What a completed snapshot reports.
    public struct Outcome: Sendable {
        /// The snapshot's directory.
        public let path: String
        public let metadata: SnapshotMetadata
    }

    /// Unix seconds of the last completed snapshot (LASTSAVE).
    public var lastSave: Int64 { state.withLockedValue { $0.lastSave } }

    /// Everything INFO persistence and the save points read, taken at one moment.
    public struct Status: Sendable {
        /// Whether a snapshot is being written.
        public let isRunning: Bool
        /// Unix seconds of the last completed snapshot (LASTSAVE).
        public let lastSave: Int64
        /// Whether the last snapshot succeeded.
        public let lastSucceeded: Bool
        /// Unix seconds when the last snapshot started; 0 before the first.
        public let lastAttempt: Int64
        /// Snapshots started since the server started (INFO `rdb_saves`).
        public let started: Int
        /// Seconds the last finished snapshot took (`rdb_last_bgsave_time_sec`); -1 before the first.
        public let lastDuration: Int64
        /// Seconds the running snapshot has taken so far (`rdb_current_bgsave_time_sec`); -1 when none runs.
        public let currentDuration: Int64
        /// The store observer's key change count contained in the last successful snapshot.
        public let keyChangesAtLastSave: Int
    }

    /// The current status.
    public var status: Status {
        let now = WallClock.milliseconds() / 1000
        return state.withLockedValue { state in
            Status(
                isRunning: state.running, lastSave: state.lastSave, lastSucceeded: state.lastSucceeded,
                lastAttempt: state.lastAttempt, started: state.started, lastDuration: state.lastDuration,
                currentDuration: state.running ? now - state.runningSince : -1,
                keyChangesAtLastSave: state.keyChangesAtLastSave)
        }
    }

    /// Starts writing `keyspace` on a background thread and calls `completion` there when it is done.
    /// - Parameter keyChanges: the store observer's `keyChanges` when the view was taken; once the snapshot
    ///   succeeds, INFO's `rdb_changes_since_last_save` counts from there.
    /// - Throws: `CommandError` when a snapshot is already being written or the server is shutting down.
    public func start(
        _ keyspace: KeyspaceSnapshot, keyChanges: Int,
        completion: @escaping @Sendable (Result<Outcome, SnapshotError>) -> Void = { _ in }
    ) throws(CommandError) {
        let now = WallClock.milliseconds() / 1000
        let refusal: CommandError? = state.withLockedValue { state in
            if state.shuttingDown { return CommandError("ERR the server is shutting down") }
            if state.running { return CommandError("ERR Background save already in progress") }
            state.running = true
            state.started += 1
            state.lastAttempt = now
            state.runningSince = now
            state.keyChangesInRunning = keyChanges
            return nil
        }
        if let refusal { throw refusal }
        idle.lock()
        idle.unlock(withValue: false)
        let job = Job(keyspace)
        NIOThreadPool.singleton.submit { _ in
            let result = self.write(job)
            self.finish(result)
            completion(result)
        }
    }

    /// Records a snapshot that could not even start (its view of the keyspace could not be taken) as a failed one, so
    /// the save points wait before trying again.
    public func recordFailedStart() {
        let now = WallClock.milliseconds() / 1000
        state.withLockedValue { state in
            state.started += 1
            state.lastAttempt = now
            state.lastSucceeded = false
        }
    }

    /// CONFIG RESETSTAT: `rdb_saves` starts again from 0, as in Redis.
    public func resetStatistics() {
        state.withLockedValue { $0.started = 0 }
    }

    /// Cancels a running snapshot (its temporary directory is removed), waits until it has stopped and refuses new
    /// ones. Call before closing the store: a running snapshot reads from LevelDB.
    public func stop() {
        state.withLockedValue { $0.shuttingDown = true }
        idle.lock(whenValue: true)
        idle.unlock()
    }

    // MARK: The job

    /// Hands the keyspace view to the background thread, which lets it go as soon as the file is written, before
    /// `stop()` can return and the database close.
    private final class Job: @unchecked Sendable {
        private let lock = NIOLock()
        private var keyspace: KeyspaceSnapshot?

        init(_ keyspace: KeyspaceSnapshot) { self.keyspace = keyspace }

        func take() -> KeyspaceSnapshot? {
            lock.withLock {
                defer { keyspace = nil }
                return keyspace
            }
        }
    }

    private func write(_ job: Job) -> Result<Outcome, SnapshotError> {
        guard let keyspace = job.take() else { return .failure(.cancelled) }
        let started = WallClock.microseconds()
        let result = Result { () throws(SnapshotError) -> Outcome in
            let (path, metadata) = try store.write(keyspace) { self.state.withLockedValue { $0.shuttingDown } }
            return Outcome(path: path, metadata: metadata)
        }
        let elapsed = Double(WallClock.microseconds() - started) / 1_000_000
        switch result {
        case .success(let outcome):
            logger.info("snapshot written", metadata: [
                "path": "\(outcome.path)", "keys": "\(outcome.metadata.keyCount)",
                "bytes": "\(outcome.metadata.size)", "seconds": "\(elapsed)",
            ])
            removeOldSnapshots()
        case .failure(let error):
            logger.error("snapshot failed", metadata: ["error": "\(error)", "seconds": "\(elapsed)"])
        }
        return result
    }

    private func removeOldSnapshots() {
        do {
            for path in try store.removeOld(keeping: keep) {
                logger.info("removed old snapshot", metadata: ["path": "\(path)"])
            }
        } catch {
            logger.warning("cannot remove old snapshots", metadata: ["error": "\(error)"])
        }
    }

    private func finish(_ result: Result<Outcome, SnapshotError>) {
        let now = WallClock.milliseconds() / 1000
        state.withLockedValue { state in
            state.running = false
            state.lastDuration = now - state.runningSince
            if case .success = result {
                // Like Redis, the time the save completed.
                state.lastSave = now
                state.lastSucceeded = true
                state.keyChangesAtLastSave = state.keyChangesInRunning
            } else {
                state.lastSucceeded = false
            }
        }
        idle.lock()
        idle.unlock(withValue: true)
    }
}

extension Engine {
    /// Takes a view of `keyspace` and starts writing it (`Snapshotter.start`). The caller holds the store's lock, so
    /// the view, and the key change count it is recorded with, hold exactly the commands completed so far.
    func startSnapshot(
        of keyspace: Keyspace,
        completion: @escaping @Sendable (Result<Snapshotter.Outcome, SnapshotError>) -> Void = { _ in }
    ) throws {
        let view: KeyspaceSnapshot
        do {
            view = try keyspace.snapshot()
        } catch {
            snapshots.recordFailedStart()
            throw error
        }
        try snapshots.start(view, keyChanges: keyspaceEvents.keyChanges, completion: completion)
    }

    /// Key changes no successful snapshot holds (INFO `rdb_changes_since_last_save`, Redis's `server.dirty`). The
    /// caller holds the store's lock.
    func keyChangesSinceLastSave(_ status: Snapshotter.Status) -> Int {
        keyspaceEvents.keyChanges &- status.keyChangesAtLastSave
    }
}

extension Engine {
    /// Seconds between attempts after a failed snapshot (Redis's `CONFIG_BGSAVE_RETRY_DELAY`).
    static let saveRetryDelay: Int64 = 5

    /// Starts a snapshot if a `save` point is reached: at least `changes` keys changed and more than `seconds` passed
    /// since the last successful snapshot, none is being written, and a failed one is not retried within
    /// `saveRetryDelay`.
    public func saveIfDue() {
        let savePoints = settings.save.withLockedValue { $0 }
        guard !savePoints.isEmpty else { return }
        do {
            // Under a lease, as BGSAVE starts its snapshots: none can start or be counted in between.
            try store.withKeyspace { keyspace in
                let status = snapshots.status
                let now = WallClock.milliseconds() / 1000
                guard !status.isRunning, status.lastSucceeded || now - status.lastAttempt > Self.saveRetryDelay,
                    let point = savePoints.point(
                        reachedWith: keyChangesSinceLastSave(status), elapsed: now - status.lastSave)
                else { return }
                logger.notice("\(point.changes) changes in \(point.seconds) seconds. Saving...")
                try startSnapshot(of: keyspace)
            }
        } catch {
            // The snapshotter recorded the failure, so the retry delay applies.
            logger.error("cannot start a snapshot for the save points", metadata: ["error": "\(error)"])
        }
    }
}
