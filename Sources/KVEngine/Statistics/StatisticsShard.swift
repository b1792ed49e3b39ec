#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// The counters of one event loop: per-command calls, time, rejections and failures, and network bytes.
///
/// Only the owning event loop's thread writes a shard, so an increment is a relaxed load and store rather than an
/// atomic read-modify-write: the hot path pays nothing for statistics but two clock reads per command. INFO, on any
/// thread, sums every shard with relaxed loads.
final class StatisticsShard: @unchecked Sendable {
    // @unchecked: `counters` is a fixed allocation of atomics, written by one thread and read by any.

    /// Counters kept for every command slot.
    enum CommandCounter: Int, CaseIterable {
        case calls, nanoseconds, rejected, failed
    }

    /// Counters kept once per shard.
    enum Counter: Int, CaseIterable {
        case netInputBytes, netOutputBytes, readsProcessed, writesProcessed
        /// Hits and misses of reads made without the store's lock (the keyspace counts those made under it).
        case keyspaceHits, keyspaceMisses
    }

    // `allCases` builds an array on every use: the hot path uses these constants instead.
    private static let counterCount = Counter.allCases.count
    private static let commandCounterCount = CommandCounter.allCases.count

    let slotCount: Int
    private let counters: UnsafeMutablePointer<Atomic<UInt64>>
    private var capacity: Int { Self.counterCount + slotCount * Self.commandCounterCount }

    init(slotCount: Int) {
        self.slotCount = slotCount
        let capacity = Self.counterCount + slotCount * Self.commandCounterCount
        counters = .allocate(capacity: capacity)
        for index in 0..<capacity { (counters + index).initialize(to: Atomic(0)) }
    }

    deinit {
        counters.deinitialize(count: capacity)
        counters.deallocate()
    }

    @inline(__always) private func add(_ amount: UInt64, at index: Int) {
        counters[index].store(counters[index].load(ordering: .relaxed) &+ amount, ordering: .relaxed)
    }

    @inline(__always) private func index(_ counter: CommandCounter, slot: Int) -> Int {
        Self.counterCount + slot * Self.commandCounterCount + counter.rawValue
    }

    /// Records one executed command. Call only from the shard's event loop.
    @inline(__always) func recordCall(slot: Int, nanoseconds: UInt64, failed: Bool) {
        guard slot < slotCount else { return }
        add(1, at: index(.calls, slot: slot))
        add(nanoseconds, at: index(.nanoseconds, slot: slot))
        if failed { add(1, at: index(.failed, slot: slot)) }
    }

    /// Records a command refused before it ran (arity, unknown subcommand, not allowed in MULTI...).
    func recordRejection(slot: Int) {
        guard slot < slotCount else { return }
        add(1, at: index(.rejected, slot: slot))
    }

    /// Adds to a per-shard counter. Call only from the shard's event loop.
    @inline(__always) func add(_ amount: Int, to counter: Counter) {
        add(UInt64(truncatingIfNeeded: amount), at: counter.rawValue)
    }

    func value(of counter: CommandCounter, slot: Int) -> UInt64 {
        counters[index(counter, slot: slot)].load(ordering: .relaxed)
    }

    func value(of counter: Counter) -> UInt64 {
        counters[counter.rawValue].load(ordering: .relaxed)
    }
}

/// A monotonic clock for measuring durations.
enum MonotonicClock {
    @inline(__always) static func nanoseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) &* 1_000_000_000 &+ UInt64(spec.tv_nsec)
    }

    static func milliseconds() -> Int64 { Int64(nanoseconds() / 1_000_000) }
}
