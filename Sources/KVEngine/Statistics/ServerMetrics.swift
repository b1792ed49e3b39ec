import NIOConcurrencyHelpers
import NIOCore
import Synchronization

/// Server-wide statistics behind INFO: the per-event-loop shards summed on demand, connection counts, error counts
/// and the instantaneous rates. CONFIG RESETSTAT records a baseline instead of zeroing the shards, so it never races
/// with the threads that write them.
final class ServerMetrics: Sendable {
    /// Totals of one command (or the difference between two totals).
    struct CommandTotals: Sendable {
        var calls: UInt64 = 0
        var nanoseconds: UInt64 = 0
        var rejected: UInt64 = 0
        var failed: UInt64 = 0

        var isEmpty: Bool { calls == 0 && rejected == 0 && failed == 0 }
    }

    /// Everything the shards count, summed.
    struct Totals: Sendable {
        var commands: [CommandTotals]
        var counters: [UInt64]

        subscript(counter: StatisticsShard.Counter) -> UInt64 { counters[counter.rawValue] }

        var commandsProcessed: UInt64 { commands.reduce(0) { $0 &+ $1.calls } }

        static func - (lhs: Totals, rhs: Totals) -> Totals {
            var result = lhs
            for slot in result.commands.indices {
                result.commands[slot].calls &-= rhs.commands[slot].calls
                result.commands[slot].nanoseconds &-= rhs.commands[slot].nanoseconds
                result.commands[slot].rejected &-= rhs.commands[slot].rejected
                result.commands[slot].failed &-= rhs.commands[slot].failed
            }
            for index in result.counters.indices { result.counters[index] &-= rhs.counters[index] }
            return result
        }
    }

    /// Number of command slots (every `CommandSpec`, subcommands included).
    let slotCount: Int
    private let shards = NIOLockedValueBox<[ObjectIdentifier: StatisticsShard]>([:])
    private let baseline: NIOLockedValueBox<Totals>
    private let errorCounts = NIOLockedValueBox<[String: UInt64]>([:])
    private let connections = NIOLockedValueBox<(received: Int, rejected: Int)>((0, 0))
    let rates = InstantaneousRates()
    private let memoryPeak = NIOLockedValueBox(0)

    init(slotCount: Int) {
        self.slotCount = slotCount
        baseline = NIOLockedValueBox(Totals(
            commands: Array(repeating: CommandTotals(), count: slotCount),
            counters: Array(repeating: 0, count: StatisticsShard.Counter.allCases.count)))
    }

    /// The shard of `eventLoop`, created on first use. Called once per connection, not per command.
    func shard(for eventLoop: any EventLoop) -> StatisticsShard {
        shards.withLockedValue { shards in
            let id = ObjectIdentifier(eventLoop)
            if let shard = shards[id] { return shard }
            let shard = StatisticsShard(slotCount: slotCount)
            shards[id] = shard
            return shard
        }
    }

    /// Sums every shard, without the baseline.
    private func rawTotals() -> Totals {
        var totals = Totals(
            commands: Array(repeating: CommandTotals(), count: slotCount),
            counters: Array(repeating: 0, count: StatisticsShard.Counter.allCases.count))
        for shard in shards.withLockedValue({ Array($0.values) }) {
            for slot in 0..<slotCount {
                totals.commands[slot].calls &+= shard.value(of: .calls, slot: slot)
                totals.commands[slot].nanoseconds &+= shard.value(of: .nanoseconds, slot: slot)
                totals.commands[slot].rejected &+= shard.value(of: .rejected, slot: slot)
                totals.commands[slot].failed &+= shard.value(of: .failed, slot: slot)
            }
            for counter in StatisticsShard.Counter.allCases {
                totals.counters[counter.rawValue] &+= shard.value(of: counter)
            }
        }
        return totals
    }

    /// The totals since the server started or since the last CONFIG RESETSTAT.
    func totals() -> Totals {
        rawTotals() - baseline.withLockedValue { $0 }
    }

    /// Records `used` bytes of memory in use and returns the peak seen so far (INFO `used_memory_peak`).
    func recordMemoryPeak(_ used: Int) -> Int {
        memoryPeak.withLockedValue { peak in
            peak = max(peak, used)
            return peak
        }
    }

    // MARK: Connections and errors (not on the per-command path)

    func connectionAccepted() { connections.withLockedValue { $0.received += 1 } }
    func connectionRejected() { connections.withLockedValue { $0.rejected += 1 } }
    var connectionCounts: (received: Int, rejected: Int) { connections.withLockedValue { $0 } }

    /// Counts an error reply by its code (the first word: `ERR`, `WRONGTYPE`...), for INFO errorstats.
    func countError(_ text: String) {
        let code = text.prefix { $0 != " " }.prefix(128)
        errorCounts.withLockedValue { $0[String(code), default: 0] += 1 }
    }

    /// Error counts by code, sorted by code.
    func errorTotals() -> [(code: String, count: UInt64)] {
        errorCounts.withLockedValue { $0 }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    /// CONFIG RESETSTAT: what INFO reports starts again from zero.
    func reset() {
        let current = rawTotals()
        baseline.withLockedValue { $0 = current }
        errorCounts.withLockedValue { $0.removeAll() }
        connections.withLockedValue { $0 = (0, 0) }
        rates.reset()
    }

    /// Takes one sample of the instantaneous rates; called every `InstantaneousRates.interval`.
    func sampleRates() {
        let totals = rawTotals()
        rates.sample(
            at: MonotonicClock.milliseconds(), operations: totals.commandsProcessed,
            inputBytes: totals[.netInputBytes], outputBytes: totals[.netOutputBytes])
    }
}

/// `instantaneous_ops_per_sec` and the kbps figures as Redis computes them: the average of the last 16 rates, each
/// measured over one 100 ms interval.
final class InstantaneousRates: Sendable {
    static let interval = TimeAmount.milliseconds(100)
    private static let sampleCount = 16

    private struct State {
        var last: (time: Int64, operations: UInt64, input: UInt64, output: UInt64)?
        var operations = [Double](repeating: 0, count: InstantaneousRates.sampleCount)
        var input = [Double](repeating: 0, count: InstantaneousRates.sampleCount)
        var output = [Double](repeating: 0, count: InstantaneousRates.sampleCount)
        var next = 0
    }

    private let state = NIOLockedValueBox(State())

    func sample(at time: Int64, operations: UInt64, inputBytes: UInt64, outputBytes: UInt64) {
        state.withLockedValue { state in
            defer { state.last = (time, operations, inputBytes, outputBytes) }
            guard let last = state.last, time > last.time else { return }
            let seconds = Double(time - last.time) / 1000
            state.operations[state.next] = Double(operations &- last.operations) / seconds
            state.input[state.next] = Double(inputBytes &- last.input) / seconds / 1024
            state.output[state.next] = Double(outputBytes &- last.output) / seconds / 1024
            state.next = (state.next + 1) % Self.sampleCount
        }
    }

    /// Operations per second, input and output kilobytes per second.
    var current: (operationsPerSecond: Int, inputKbps: Double, outputKbps: Double) {
        state.withLockedValue { state in
            let count = Double(Self.sampleCount)
            return (Int(state.operations.reduce(0, +) / count), state.input.reduce(0, +) / count,
                    state.output.reduce(0, +) / count)
        }
    }

    func reset() {
        state.withLockedValue { $0 = State() }
    }
}
