import Foundation
import Testing

/// A `kvnode-server` started for one test on a free port with a temporary data directory.
/// The binary is `$KVNODE_BIN` (scripts/test sets it to the release build) or the debug build.
final class ServerProcess {
    let port: Int
    let dataDirectory: URL
    private(set) var process: Process
    private let extraArguments: [String]
    let logURL: URL

    init(arguments: [String] = []) throws {
        port = try freePort()
        dataDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("kvnode-it-\(UUID().uuidString)")
        logURL = dataDirectory.appendingPathExtension("log")
        extraArguments = arguments
        process = Process()
        try start()
    }

    deinit {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: dataDirectory)
        try? FileManager.default.removeItem(at: logURL)
    }

    static var binary: String {
        if let path = ProcessInfo.processInfo.environment["KVNODE_BIN"], !path.isEmpty { return path }
        return FileManager.default.currentDirectoryPath + "/.build/debug/kvnode-server"
    }

    /// Starts the server (again) on the same port and data directory and waits until it answers PING.
    func start() throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = ["--addr", "127.0.0.1:\(port)", "--data", dataDirectory.path] + extraArguments
        FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let logHandle = try FileHandle(forWritingTo: logURL)
        logHandle.seekToEndOfFile()
        process.standardOutput = logHandle
        process.standardError = logHandle
        try process.run()
        for _ in 0..<200 {
            if (try? cli("PING")) == "PONG" { return }
            guard process.isRunning else { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw TestFailure("kvnode-server did not start: \(log())")
    }

    /// Sends SIGTERM and waits for the exit status.
    @discardableResult
    func terminate() -> Int32 {
        process.terminate()
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Kills the server with SIGKILL, as a crash would.
    func kill() {
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// The server's log so far.
    func log() -> String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }

    /// Runs `redis-cli -p PORT args...` and returns its trimmed standard output.
    @discardableResult
    func cli(_ arguments: String..., input: Data? = nil) throws -> String {
        try runCLI(["-p", "\(port)"] + arguments, input: input)
    }

    func runCLI(_ arguments: [String], input: Data? = nil) throws -> String {
        try run("/usr/bin/redis-cli", arguments, input: input)
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs a program to completion and returns its standard output (trailing newline removed).
func run(_ path: String, _ arguments: [String], input: Data? = nil) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    let inputPipe = Pipe()
    process.standardInput = input == nil ? FileHandle.nullDevice : inputPipe
    try process.run()
    if let input {
        // Write on another thread so a large input cannot deadlock against unread output.
        let handle = inputPipe.fileHandleForWriting
        Thread.detachNewThread {
            handle.write(input)
            try? handle.close()
        }
    }
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    var text = String(decoding: data, as: UTF8.self)
    while text.hasSuffix("\n") { text.removeLast() }
    return text
}

/// A TCP port nobody listens on right now.
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
        }
    }
    guard bound else { throw TestFailure("no free port") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// RESP encoding of one command, as `redis-cli --pipe` expects its input.
func respCommand(_ arguments: [String]) -> Data {
    var data = Data("*\(arguments.count)\r\n".utf8)
    for argument in arguments {
        data.append(Data("$\(argument.utf8.count)\r\n".utf8))
        data.append(Data(argument.utf8))
        data.append(Data("\r\n".utf8))
    }
    return data
}
