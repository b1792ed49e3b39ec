import KVStore
import Logging
import NIOCore
import RESP

@testable import KVEngine

#if canImport(Glibc)
import Glibc
#endif

/// Runs `body` with an engine over a store in a fresh directory under /tmp, removed afterwards.
func withEngine(_ body: (Engine) throws -> Void) throws {
    var template = Array("/tmp/kvnode-engine-XXXXXX".utf8CString)
    let path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    defer { _ = system("rm -rf '\(path)'") }
    var configuration = ServerConfiguration()
    configuration.dataDirectory = path
    let store = try Store.open(configuration: configuration)
    defer { try? store.close() }
    var logger = Logger(label: "kvnode-engine-tests")
    logger.logLevel = .warning
    try body(Engine(configuration: configuration, store: store, logger: logger))
}

/// A request of `arguments`, as the decoder would make it.
func request(_ arguments: [String]) -> Request {
    var frame = ByteBuffer()
    var spans: [ArgumentSpan] = []
    for argument in arguments {
        spans.append(ArgumentSpan(offset: frame.writerIndex, length: argument.utf8.count))
        frame.writeString(argument)
    }
    return Request(frame: frame, spans: spans)
}

/// The keys `command` finds in `arguments` (the command name first), as (key, flag names) pairs.
func keys(of command: CommandSpec, _ arguments: String...) -> [Key] {
    command.keyPositions(in: request(arguments)).map { Key(arguments[$0.position], $0.flags.names) }
}

/// A key and its access flags, as COMMAND GETKEYSANDFLAGS shows them.
struct Key: Equatable, CustomStringConvertible {
    let name: String
    let flags: [String]

    init(_ name: String, _ flags: [String]) {
        self.name = name
        self.flags = flags
    }

    var description: String { "\(name) \(flags)" }
}
