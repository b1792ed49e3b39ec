import NIOConcurrencyHelpers
import Synchronization

/// Whether the store can persist writes, and what went wrong when it cannot.
///
/// A failed LevelDB write or log fsync puts the store in the failing state: writes are refused (the command engine
/// answers them `-MISCONF`, as Redis does when it cannot persist) while reads go on, until the store has been
/// reopened on a disk with room (`Store.recover()`). Reopening is the only way back: some LevelDB errors are sticky
/// until the database is reopened, and a failed log append can leave a torn record after which LevelDB's recovery
/// drops the rest of that log block, so nothing may be acknowledged on top of it.
public final class PersistenceHealth: Sendable {
    /// What INFO persistence reports.
    public struct Report: Sendable {
        /// The error that put the store in the failing state, or nil while writes are accepted.
        public var failure: String?
        /// Unix milliseconds when the current failure began (0 when healthy).
        public var failingSince: Int64
        /// Failures since start-up.
        public var failures: Int
        /// Successful recoveries since start-up.
        public var recoveries: Int
        /// The last recovery attempt's error, if it failed.
        public var lastRecoveryError: String?
    }

    /// Read on every write command: one relaxed load.
    private let failingFlag = Atomic<Bool>(false)
    private let details = NIOLockedValueBox(Report(failure: nil, failingSince: 0, failures: 0, recoveries: 0))

    public init() {}

    /// Whether writes are refused.
    @inline(__always) public var isFailing: Bool { failingFlag.load(ordering: .acquiring) }

    /// The current state, for INFO and error replies.
    public var report: Report { details.withLockedValue { $0 } }

    /// The error text of the current failure, or nil.
    public var failure: String? { details.withLockedValue { $0.failure } }

    /// Records a failed write or fsync; the first failure of a streak is kept as the reason.
    func recordFailure(_ error: any Error, at now: Int64) {
        details.withLockedValue { report in
            guard report.failure == nil else { return }
            report.failure = "\(error)"
            report.failingSince = now
            report.failures += 1
        }
        failingFlag.store(true, ordering: .releasing)
    }

    /// Records a failed attempt to recover.
    func recordRecoveryFailure(_ error: any Error) {
        details.withLockedValue { $0.lastRecoveryError = "\(error)" }
    }

    /// Writes are accepted again.
    func recordRecovery() {
        details.withLockedValue { report in
            report.failure = nil
            report.failingSince = 0
            report.recoveries += 1
            report.lastRecoveryError = nil
        }
        failingFlag.store(false, ordering: .releasing)
    }
}
