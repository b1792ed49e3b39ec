import KVEngine
import NIOCore
import Testing

/// Protected configs on the request path: `dir` is never settable (Redis's `can't set protected config` unless
/// `enable-protected-configs` allows the connection, and kvnode's own refusal after that), and `protected-mode` is
/// settable from loopback connections always, from remote ones only when protected configs are enabled for them.
@Suite struct ProtectedConfigTests {
    private static func refusal(_ name: String, _ reason: String) -> String {
        "-ERR CONFIG SET failed (possibly related to argument '\(name)') - \(reason)\r\n"
    }

    @Test(arguments: [ProtectedAction.no, .local, .yes])
    func dirCannotBeChanged(enabled: ProtectedAction) throws {
        let server = try TestServer(protectedConfigs: enabled)
        let local = try server.connect()
        let expected = enabled == .no
            ? Self.refusal("dir", "can't set protected config")
            : Self.refusal("dir", "kvnode cannot move its data directory while it runs")
        #expect(try local.send(["CONFIG", "SET", "dir", "/tmp"]) == [expected])
        // All or nothing: the valid value beside it is not applied.
        #expect(try local.send(["CONFIG", "SET", "acllog-max-len", "5", "dir", "../"], ["CONFIG", "GET", "acllog-max-len"])
            == [expected, "*2\r\n$14\r\nacllog-max-len\r\n$3\r\n128\r\n"])
    }

    @Test(arguments: [ProtectedAction.no, .local, .yes])
    func protectedModeFromARemoteConnection(enabled: ProtectedAction) throws {
        let server = try TestServer(protectedConfigs: enabled)
        let local = try server.connect()
        #expect(try local.send(["CONFIG", "SET", "protected-mode", "no"]) == ["+OK\r\n"])
        let remote = try server.connect(from: "10.9.8.7")
        let reply = try remote.send(["CONFIG", "SET", "protected-mode", "yes"])
        #expect(reply == [enabled == .yes ? "+OK\r\n" : Self.refusal("protected-mode", "can't set protected config")])
        #expect(try local.send(["CONFIG", "SET", "protected-mode", "yes"]) == ["+OK\r\n"])
    }

    @Test func fileSettingsAreImmutable() throws {
        let server = try TestServer(protectedConfigs: .yes)
        let client = try server.connect()
        for (name, value) in [
            ("aclfile", "/tmp/users.acl"), ("unixsocket", "/tmp/x.sock"), ("unixsocketperm", "777"),
            ("tls-port", "6380"), ("enable-protected-configs", "no"), ("bind", "0.0.0.0"), ("port", "1"),
        ] {
            #expect(try client.send(["CONFIG", "SET", name, value]) == [Self.refusal(name, "can't set immutable config")])
        }
    }

    /// Without a TLS port, the `tls-*` files are only recorded (Redis does the same); their values are paths.
    @Test func tlsFilesWithoutATLSPortAreRecorded() throws {
        let server = try TestServer()
        let client = try server.connect()
        #expect(try client.send(["CONFIG", "SET", "tls-cert-file", "/etc/passwd"], ["CONFIG", "GET", "tls-cert-file"])
            == ["+OK\r\n", "*2\r\n$13\r\ntls-cert-file\r\n$11\r\n/etc/passwd\r\n"])
        #expect(try client.send(["CONFIG", "SET", "tls-auth-clients", "maybe"])
            == [Self.refusal("tls-auth-clients", "argument(s) must be one of the following: no, yes, optional")])
    }
}
