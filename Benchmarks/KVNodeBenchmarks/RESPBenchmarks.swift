import Benchmark
import KVEngine
import KVServer
import NIOCore
import RESP

/// Decoding, command lookup and reply writing: the protocol work around each command.
func registerRESPBenchmarks() {
    for (name, request) in [
        ("SET", multibulk(["SET", benchmarkKey, benchmarkValue])), ("GET", multibulk(["GET", benchmarkKey])),
    ] {
        // One request per operation, taken from a read of 16 as a connection does (`-P 16`); the read is refilled
        // by copying a ByteBuffer, which allocates nothing.
        Benchmark("RESP decode \(name) (from reads of 16)", configuration: perOperation) { benchmark in
            let read = pipeline(request, count: 16)
            var decoder = RequestDecoder()
            var buffer = read
            for _ in benchmark.scaledIterations {
                if buffer.readableBytes == 0 { buffer = read }
                guard var decoded = try! decoder.next(from: &buffer) else { fatalError("incomplete request") }
                blackHole(decoded.count)
                decoder.recycle(&decoded)
            }
        }
    }

    // The table an engine assembles (over a store in a temporary directory, kept for the process's life).
    let commands = makeBenchmarkEngine().commandTable
    for name in ["GET", "set", "ZREVRANGEBYSCORE"] {
        Benchmark("CommandTable lookup \(name)", configuration: perOperation) { benchmark in
            let bytes = Array(name.utf8)
            bytes.withUnsafeBytes { name in
                for _ in benchmark.scaledIterations {
                    blackHole(commands.lookup(bytes: name))
                }
            }
        }
    }

    // Replies go into one buffer that is emptied every 16 replies, as a connection's reply buffer per read.
    let value = ByteBuffer(string: benchmarkValue)
    let replies: [(String, (inout ReplyWriter) -> Void)] = [
        ("bulk 64 B", { $0.bulk(value) }),
        ("integer", { $0.integer(1_234_567) }),
        ("null", { $0.null() }),
        ("OK", { $0.ok() }),
    ]
    for (name, write) in replies {
        Benchmark("ReplyWriter \(name)", configuration: perOperation) { benchmark in
            var writer = ReplyWriter(buffer: ByteBufferAllocator().buffer(capacity: 4096))
            for iteration in benchmark.scaledIterations {
                if iteration & 15 == 0 { writer.buffer.clear() }
                write(&writer)
            }
            blackHole(writer.buffer.readableBytes)
        }
    }
}
