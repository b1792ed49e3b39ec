#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import NIOConcurrencyHelpers
import Synchronization

/// One reader's count of lock-free reads in progress. Each event loop has its own, so concurrent readers write
/// different cache lines.
public final class ReaderSlot: Sendable {
    let inFlight = Atomic<Int>(0)
    // Keeps the next allocation's counter off this cache line.
    private let padding: (Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0)
}

/// Lets single-key reads run without the store's lock, and lets the store shut them all out when the database
/// itself is about to change (reopened during recovery, closed at shutdown).
///
/// A reader announces itself in its slot, then checks the gate; the store closes the gate, then waits until no slot
/// counts a reader. With sequentially consistent operations on both sides, either the reader sees the gate closed or
/// the store sees the reader, so no read runs on a database being closed.
final class LockFreeReadGate: Sendable {
    private let isOpen = Atomic<Bool>(true)
    private let slots = NIOLockedValueBox<[ReaderSlot]>([])

    func makeSlot() -> ReaderSlot {
        let slot = ReaderSlot()
        slots.withLockedValue { $0.append(slot) }
        return slot
    }

    /// Starts a lock-free read; false when the caller must read under the lock instead.
    @inline(__always)
    func enter(_ slot: ReaderSlot) -> Bool {
        slot.inFlight.wrappingAdd(1, ordering: .sequentiallyConsistent)
        if isOpen.load(ordering: .sequentiallyConsistent) { return true }
        slot.inFlight.wrappingSubtract(1, ordering: .releasing)
        return false
    }

    @inline(__always)
    func leave(_ slot: ReaderSlot) {
        slot.inFlight.wrappingSubtract(1, ordering: .releasing)
    }

    /// Shuts new readers out and waits for those inside, which finish one LevelDB lookup each.
    func closeAndDrain() {
        isOpen.store(false, ordering: .sequentiallyConsistent)
        let all = slots.withLockedValue { $0 }
        for slot in all {
            while slot.inFlight.load(ordering: .sequentiallyConsistent) != 0 { sched_yield() }
        }
    }

    func open() {
        isOpen.store(true, ordering: .sequentiallyConsistent)
    }
}
