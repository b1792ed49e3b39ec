import Benchmark
import KVStore
import LevelDB
import NIOCore

/// A store in a temporary directory holding `keyCount` keys with 64-byte values, opened by a benchmark's setup and
/// removed by its teardown (only the benchmarks that run pay for one).
final class StoreFixture {
    static let keyCount = 1024
    let keys = benchmarkKeys(keyCount)
    let value = ByteBuffer(string: benchmarkValue)
    private(set) var store: Store!
    private var path = ""

    func open() throws {
        path = makeTemporaryDirectory("store")
        store = try Store(directory: path, durability: .low)
        try store.withKeyspace { keyspace in
            for key in keys { try keyspace.set(key, value: value) }
        }
    }

    func close() throws {
        try store.close()
        store = nil
        removeTemporaryDirectory(path)
    }

    /// Registers a benchmark that gets an open store: setup opens it, teardown removes it. The benchmark keeps the
    /// fixture alive.
    func benchmark(_ name: String, _ body: @escaping (Benchmark, Store) throws -> Void) {
        Benchmark(
            name, configuration: perOperation, closure: { benchmark in try! body(benchmark, self.store) },
            setup: { try self.open() }, teardown: { try self.close() })
    }
}

/// The keyspace's GET and SET paths over LevelDB, with the store lock taken per operation (`-P 1`) or per 16
/// (`-P 16`), next to the raw LevelDB calls under them.
func registerKeyspaceBenchmarks() {
    let fixture = StoreFixture()
    let mask = StoreFixture.keyCount - 1

    // The floor: what LevelDB's C API costs for one lookup (it copies the value into a malloc'd block) and one
    // single-put write, with the storage key and record already encoded.
    let storageKeys = fixture.keys.map { [UInt8(ascii: "k")] + Array($0.readableBytesView) }
    let record = [UInt8(0)] + Array(benchmarkValue.utf8)
    fixture.benchmark("LevelDB get (raw)") { benchmark, store in
        for iteration in benchmark.scaledIterations {
            let found = try storageKeys[iteration & mask].withUnsafeBytes { key in
                try store.database.withValue(forKey: key) { $0.count }
            }
            blackHole(found)
        }
    }
    let batch = WriteBatch()
    fixture.benchmark("LevelDB write of one put (raw)") { benchmark, store in
        try record.withUnsafeBytes { record in
            for iteration in benchmark.scaledIterations {
                storageKeys[iteration & mask].withUnsafeBytes { batch.put(key: $0, value: record) }
                try store.database.write(batch)
                batch.clear()
            }
        }
    }

    fixture.benchmark("Store lease (nothing written)") { benchmark, store in
        for _ in benchmark.scaledIterations {
            blackHole(store.withLease { _ in 0 })
        }
    }

    for perLease in [1, 16] {
        fixture.benchmark("Keyspace GET (lease per \(perLease))") { benchmark, store in
            try runInLeases(store, benchmark.scaledIterations, perLease) { keyspace, iteration in
                blackHole(try keyspace.read(fixture.keys[iteration & mask]) { value, _ in value.count })
            }
        }
        fixture.benchmark("Keyspace SET existing key (lease per \(perLease))") { benchmark, store in
            try runInLeases(store, benchmark.scaledIterations, perLease) { keyspace, iteration in
                try keyspace.set(fixture.keys[iteration & mask], value: fixture.value)
            }
        }
    }

    // Every commit after a SET of a new key or a DEL stores the changed key count: that path, alternating.
    let newKey = ByteBuffer(string: "key:new")
    fixture.benchmark("Keyspace SET new key, DEL it (alternating, lease per 1)") { benchmark, store in
        for iteration in benchmark.scaledIterations {
            try store.withKeyspace { keyspace in
                if iteration & 1 == 0 {
                    try keyspace.set(newKey, value: fixture.value)
                } else {
                    blackHole(try keyspace.delete(newKey))
                }
            }
        }
    }
}

/// Runs `body` once per iteration, `perLease` iterations under each lease, as a pipeline of that depth runs them.
private func runInLeases(
    _ store: Store, _ iterations: Range<Int>, _ perLease: Int, _ body: (Keyspace, Int) throws -> Void
) throws {
    var start = iterations.lowerBound
    while start < iterations.upperBound {
        let end = min(start + perLease, iterations.upperBound)
        try store.withKeyspace { keyspace in
            for iteration in start..<end { try body(keyspace, iteration) }
        }
        start = end
    }
}
