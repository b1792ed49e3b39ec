import Foundation
import Testing

/// End-to-end tests: the built server, driven by the real redis-cli. Serialized: each starts its own server, and the
/// machine has two cores.
@Suite(.serialized) struct RedisCLITests {
    @Test func setGetDelete() throws {
        let server = try ServerProcess()
        #expect(try server.cli("SET", "greeting", "hello world") == "OK")
        #expect(try server.cli("GET", "greeting") == "hello world")
        #expect(try server.cli("DEL", "greeting", "missing") == "1")
        #expect(try server.cli("GET", "greeting") == "")
        #expect(try server.cli("EXISTS", "greeting") == "0")
    }

    @Test func errorsUseRedisWording() throws {
        let server = try ServerProcess()
        #expect(try server.cli("GET") == "ERR wrong number of arguments for 'get' command")
        #expect(try server.cli("FOO", "a", "b") == "ERR unknown command 'FOO', with args beginning with: 'a' 'b' ")
        #expect(try server.cli("SET", "k", "v", "NX", "XX") == "ERR syntax error")
        #expect(try server.cli("SELECT", "16") == "ERR DB index is out of range")
    }

    @Test func massInsertThroughRedisCLIPipe() throws {
        let server = try ServerProcess()
        var input = Data()
        for index in 0..<100_000 { input.append(respCommand(["SET", "key:\(index)", "value:\(index)"])) }
        let output = try server.cli("--pipe", input: input)
        #expect(output.contains("errors: 0, replies: 100000"), "\(output)")
        #expect(try server.cli("DBSIZE") == "100000")
        #expect(try server.cli("GET", "key:99999") == "value:99999")
    }

    /// Crash recovery, not durability: data handed to the kernel survives SIGKILL at any `--durability`
    /// (Tests/python/test_durability.py tells the levels apart by their fsyncs).
    @Test func dataSurvivesKillAndRestart() throws {
        let server = try ServerProcess(arguments: ["--durability", "high"])
        #expect(try server.cli("MSET", "a", "1", "b", "2") == "OK")
        server.kill()
        try server.start()
        #expect(try server.cli("MGET", "a", "b") == "1\n2")
        #expect(try server.cli("DBSIZE") == "2")
    }

    @Test func sigtermShutsDownCleanlyWithExitZero() throws {
        let server = try ServerProcess()
        #expect(try server.cli("SET", "k", "v") == "OK")
        #expect(server.terminate() == 0)
        try server.start()
        #expect(try server.cli("GET", "k") == "v")
    }

    @Test func shutdownCommandStopsTheServerWithExitZero() throws {
        let server = try ServerProcess()
        #expect(try server.cli("SET", "k", "v") == "OK")
        _ = try? server.cli("SHUTDOWN")
        server.process.waitUntilExit()
        #expect(server.process.terminationStatus == 0)
        try server.start()
        #expect(try server.cli("GET", "k") == "v")
    }

    @Test func secondServerOnTheSameDataDirectoryFailsAtOnce() throws {
        let server = try ServerProcess()
        let second = Process()
        second.executableURL = URL(fileURLWithPath: ServerProcess.binary)
        second.arguments = ["--addr", "127.0.0.1:\(try freePort())", "--data", server.dataDirectory.path]
        let output = Pipe()
        second.standardError = output
        second.standardOutput = output
        try second.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        second.waitUntilExit()
        #expect(second.terminationStatus == 1)
        #expect(text.contains("LOCK"), "\(text)")
    }

    @Test func concurrentSetNXHasExactlyOneWinner() async throws {
        let server = try ServerProcess()
        let results = try await withThrowingTaskGroup(of: String.self) { group in
            for index in 0..<50 {
                group.addTask { try server.cli("SET", "race", "client\(index)", "NX") }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.filter { $0 == "OK" }.count == 1)
        #expect(results.filter { $0.isEmpty }.count == 49)
    }
}

extension ServerProcess: @unchecked Sendable {}
