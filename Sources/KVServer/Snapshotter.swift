import KVSnapshot
import KVStore
import Logging
import NIOConcurrencyHelpers
import NIOPosix

/// Writes snapshots (SNAPSHOT, SAVE, BGSAVE) one at a time on a background thread, keeps the newest `keep`, and
/// remembers when the last one completed (LASTSAVE).
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

    /// Whether a snapshot is being written.
    public var isRunning: Bool { state.withLockedValue { $0.running } }

    /// Whether the last snapshot succeeded.
    public var lastSucceeded: Bool { state.withLockedValue { $0.lastSucceeded } }

    /// Starts writing `keyspace` on a background thread and calls `completion` there when it is done.
    /// - Throws: `CommandError` when a snapshot is already being written or the server is shutting down.
    public func start(
        _ keyspace: KeyspaceSnapshot,
        completion: @escaping @Sendable (Result<Outcome, SnapshotError>) -> Void = { _ in }
    ) throws(CommandError) {
        let refusal: CommandError? = state.withLockedValue { state in
            if state.shuttingDown { return CommandError("ERR the server is shutting down") }
            if state.running { return CommandError("ERR Background save already in progress") }
            state.running = true
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
        state.withLockedValue { state in
            state.running = false
            if case .success = result {
                // Like Redis, the time the save completed.
                state.lastSave = WallClock.milliseconds() / 1000
                state.lastSucceeded = true
            } else {
                state.lastSucceeded = false
            }
        }
        idle.lock()
        idle.unlock(withValue: true)
    }
}
