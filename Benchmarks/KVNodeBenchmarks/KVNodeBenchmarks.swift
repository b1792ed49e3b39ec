import Benchmark

/// Micro-benchmarks of the per-request hot path, each reported per operation (one request, one lookup, one reply,
/// one keyspace call) unless its name says "per read": decode, command lookup, reply writing, the keyspace over a
/// temporary LevelDB, and the whole path through a connection handler. Run with scripts/microbench.
///
/// Each family also measures the layer below it (raw LevelDB, an echo channel), so the allocations a layer adds read
/// as a difference.
let benchmarks: @Sendable () -> Void = {
    registerRESPBenchmarks()
    registerKeyspaceBenchmarks()
    registerServerBenchmarks()
}

/// What every benchmark records. Instruction counts would be steadier, but this VM exposes no perf counters
/// (`perf stat -e instructions true` says "not supported"). CPU time is left out: it comes in 10 ms ticks, and reading
/// it from /proc allocates, which would show in the malloc count of every per-read benchmark. The malloc interposer
/// does not produce `.allocatedResidentMemory`.
var perOperationMetrics: [BenchmarkMetric] { [.wallClock, .mallocCountTotal] }

/// For benchmarks whose inner loop runs `benchmark.scaledIterations` (1000) operations: results are per operation.
var perOperation: Benchmark.Configuration {
    .init(
        metrics: perOperationMetrics, warmupIterations: 10, scalingFactor: .kilo, maxDuration: .seconds(2),
        maxIterations: 100_000)
}

/// For benchmarks whose body is one read of a whole pipeline: results are per read.
var perRead: Benchmark.Configuration {
    .init(
        metrics: perOperationMetrics, warmupIterations: 100, scalingFactor: .one, maxDuration: .seconds(2),
        maxIterations: 1_000_000)
}
