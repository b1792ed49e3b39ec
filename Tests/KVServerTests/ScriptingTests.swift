import KVEngine
import KVStore
import NIOCore
import NIOEmbedded
import Testing

/// Scripts through the request path: a script's writes are one LevelDB batch and one revision, however many there
/// are, as a transaction's.
@Suite struct ScriptingRequestPathTests {
    /// Commits so far. Read under a lease of its own, which may itself commit staged state when it ends, so read
    /// twice: the second read counts everything before it.
    private func commits(_ server: TestServer) -> Int {
        _ = server.store.withLease { $0.commits }
        return server.store.withLease { $0.commits }!.result
    }

    @Test func aScriptsWritesAreOneBatchAndOneRevision() throws {
        let server = try TestServer()
        let client = try server.connect()
        let writes = 3000  // more than a batch holds before the executor commits it early
        let script = "for i = 1, \(writes) do redis.call('set', 'k' .. i, i) end return redis.call('dbsize')"
        var before = commits(server)
        #expect(try client.send(["EVAL", script, "0"]) == [":\(writes)\r\n"])
        #expect(commits(server) == before + 1)
        #expect(try client.send(["KV.REVISION"]).first?.hasPrefix("*4\r\n$7\r\ncurrent\r\n:1\r\n") == true)
        // The same writes sent as one pipeline are committed in several batches: the test can tell.
        before = commits(server)
        let pipeline = (1...writes).map { ["SET", "p\($0)", "\($0)"] }
        var buffer = ""
        for command in pipeline { buffer += RESP.command(command) }
        _ = try client.sendRaw(buffer)
        #expect(commits(server) > before + 1)
    }
}
