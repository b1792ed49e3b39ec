#if canImport(Glibc)
import Glibc
#endif
import KVEngine
import KVSnapshot
import KVStore
import Logging
import NIOCore

/// The key redis-benchmark uses for `-r 1000000` (`key:__rand_int__` with 12 digits): 16 bytes.
let benchmarkKey = "key:000000001234"
/// A 64-byte value, redis-benchmark's `-d 64`.
let benchmarkValue = String(repeating: "x", count: 64)

/// One request in RESP multibulk form, as redis-benchmark and client libraries send it.
func multibulk(_ arguments: [String]) -> String {
    "*\(arguments.count)\r\n" + arguments.map { "$\($0.utf8.count)\r\n\($0)\r\n" }.joined()
}

/// `count` copies of `request` in one buffer: what one read of a `-P count` pipeline holds.
func pipeline(_ request: String, count: Int) -> ByteBuffer {
    ByteBuffer(string: String(repeating: request, count: count))
}

/// The distinct keys the keyspace benchmarks cycle through, each one in its own small buffer as a decoded request's
/// argument would be (a slice of a frame).
func benchmarkKeys(_ count: Int) -> [ByteBuffer] {
    (0..<count).map { ByteBuffer(string: "key:" + String(repeating: "0", count: 12 - String($0).count) + String($0)) }
}

/// A new empty directory under /tmp.
func makeTemporaryDirectory(_ label: String) -> String {
    var template = Array("/tmp/kvnode-bench-\(label)-XXXXXX".utf8CString)
    return template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
}

/// Removes a directory made by `makeTemporaryDirectory` and everything in it.
func removeTemporaryDirectory(_ path: String) {
    try? FileSystem.removeDirectory(path)
}

/// An engine over a store in a new temporary directory, for benchmarks that need its command table.
func makeBenchmarkEngine() -> Engine {
    var configuration = ServerConfiguration()
    configuration.dataDirectory = makeTemporaryDirectory("engine")
    var logger = Logger(label: "kvnode-bench")
    logger.logLevel = .warning
    let store = try! Store.open(configuration: configuration)
    return Engine(configuration: configuration, store: store, logger: logger)
}
