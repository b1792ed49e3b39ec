#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Wall-clock time in milliseconds since the Unix epoch, the unit of every expiry.
public enum WallClock {
    @inlinable
    public static func milliseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }

    /// Wall-clock time in microseconds since the Unix epoch.
    @inlinable
    public static func microseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1_000_000 + Int64(spec.tv_nsec) / 1000
    }
}

/// The wall clock a store judges expiry by: the system's, or one a test sets and advances, so expiry can be tested
/// without sleeping.
///
/// Reading it costs one relaxed atomic load more than `WallClock`.
public final class StoreClock: Sendable {
    /// `Int64.min` while the system clock is used.
    private let fixed: Atomic<Int64>

    /// The system's wall clock.
    public static let system = StoreClock(fixedAt: .min)

    private init(fixedAt: Int64) {
        fixed = Atomic(fixedAt)
    }

    /// A clock that stands still at `milliseconds` (Unix ms) until set or advanced.
    public static func manual(at milliseconds: Int64) -> StoreClock {
        StoreClock(fixedAt: milliseconds)
    }

    /// Unix milliseconds now.
    @inline(__always)
    public func milliseconds() -> Int64 {
        let value = fixed.load(ordering: .relaxed)
        return value == .min ? WallClock.milliseconds() : value
    }

    /// Moves a manual clock forward.
    public func advance(byMilliseconds delta: Int64) {
        precondition(fixed.load(ordering: .relaxed) != .min, "the system clock cannot be advanced")
        fixed.wrappingAdd(delta, ordering: .relaxed)
    }
}
