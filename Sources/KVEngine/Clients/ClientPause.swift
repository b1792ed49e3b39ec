import NIOConcurrencyHelpers
import Synchronization

/// CLIENT PAUSE: until when commands wait, and which. A command that must wait is kept by its connection and tried
/// again when the pause ends (a timer) or CLIENT UNPAUSE wakes it.
///
/// The hot path reads one relaxed atomic (`endTime`, 0 when no pause was ever requested or it was lifted).
final class ClientPause: Sendable {
    /// Redis's pause types, in increasing strength: a later pause can only strengthen the current one.
    enum Mode: Int, Sendable, Comparable {
        case none = 0, write = 1, all = 2
        static func < (lhs: Mode, rhs: Mode) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    /// Monotonic milliseconds when the pause ends; 0 when none.
    private let endTime = Synchronization.Atomic<Int64>(0)
    private let modeValue = Synchronization.Atomic<Int>(0)
    /// Serialises pause/unpause so that end time and mode change together.
    private let lock = NIOLock()

    /// False when no pause was requested (or it was lifted): the one check the hot path makes.
    @inline(__always) var mayBeActive: Bool { endTime.load(ordering: .relaxed) != 0 }

    /// How many milliseconds a command with these properties must still wait, or nil when it may run now.
    /// - Parameter writes: whether the command writes (for EXEC: whether its queue contains a write).
    func remainingWait(writes: Bool) -> Int64? {
        let end = endTime.load(ordering: .relaxed)
        guard end != 0 else { return nil }
        let now = MonotonicClock.milliseconds()
        guard now < end else { return nil }
        switch Mode(rawValue: modeValue.load(ordering: .relaxed)) ?? .none {
        case .all: return end - now
        case .write: return writes ? end - now : nil
        case .none: return nil
        }
    }

    /// Pauses for `milliseconds` from now. As in Redis, an active pause is only extended and strengthened.
    func pause(milliseconds: Int64, mode: Mode) {
        lock.withLock {
            let now = MonotonicClock.milliseconds()
            let current = endTime.load(ordering: .relaxed)
            let active = current > now
            let (end, overflow) = now.addingReportingOverflow(milliseconds)
            let newEnd = overflow ? Int64.max : max(end, 1)
            endTime.store(active ? max(current, newEnd) : newEnd, ordering: .relaxed)
            let currentMode = Mode(rawValue: modeValue.load(ordering: .relaxed)) ?? .none
            modeValue.store((active ? max(currentMode, mode) : mode).rawValue, ordering: .relaxed)
        }
    }

    /// Lifts the pause.
    func unpause() {
        lock.withLock {
            endTime.store(0, ordering: .relaxed)
            modeValue.store(Mode.none.rawValue, ordering: .relaxed)
        }
    }
}
