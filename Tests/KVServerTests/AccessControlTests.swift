import KVEngine
import NIOCore
import Testing

/// Access control on the request path, in-process: protected mode judged by the peer's address, the one-branch fast
/// path giving way to checks when a user's rules change, and a deleted user's connection ending mid-pipeline.
@Suite struct AccessControlTests {
    private static let denied =
        "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the "
        + "default user. In this mode connections are only accepted from the loopback interface. If you want to "
        + "connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable "
        + "protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by "
        + "connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly "
        + "accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively "
        + "you can just disable the protected mode by editing the Redis configuration file, and setting the protected "
        + "mode option to 'no', and then restarting the server. 3) If you started the server manually just for "
        + "testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the "
        + "default user. NOTE: You only need to do one of the above things in order for the server to start "
        + "accepting connections from the outside.\r\n"

    @Test func protectedModeRefusesPeersOutsideTheLoopbackInterface() throws {
        let server = try TestServer()
        let remote = try server.connect(from: "10.9.8.7")
        #expect(try remote.replies() == [Self.denied])
        #expect(remote.isClosed)
        for local in ["127.0.0.1", "::1", "::ffff:127.0.0.1"] {
            let client = try server.connect(from: local)
            #expect(try client.send(["PING"]) == ["+PONG\r\n"], "\(local) is the loopback interface")
        }
        let admin = try server.connect()
        #expect(try admin.send(["CONFIG", "SET", "requirepass", "pw"]) == ["+OK\r\n"])
        let withPassword = try server.connect(from: "10.9.8.7")
        #expect(try withPassword.send(["PING"], ["AUTH", "pw"], ["PING"])
            == ["-NOAUTH Authentication required.\r\n", "+OK\r\n", "+PONG\r\n"])
        #expect(try admin.send(["CONFIG", "SET", "requirepass", ""], ["CONFIG", "SET", "protected-mode", "no"])
            == ["+OK\r\n", "+OK\r\n"])
        #expect(try server.connect(from: "10.9.8.7").send(["PING"]) == ["+PONG\r\n"])
    }

    /// A connection of the default user runs unchecked; once the user's rules change, its very next command is
    /// checked, and once they allow everything again it is not.
    @Test func changedRulesReachConnectionsAtTheirNextCommand() throws {
        let server = try TestServer()
        let client = try server.connect()
        let admin = try server.connect()
        #expect(try client.send(["SET", "k", "v"]) == ["+OK\r\n"])
        #expect(try admin.send(["ACL", "SETUSER", "default", "-get"]) == ["+OK\r\n"])
        #expect(try client.send(["GET", "k"], ["SET", "k", "w"])
            == ["-NOPERM this user has no permissions to run the 'get' command\r\n", "+OK\r\n"])
        #expect(try admin.send(["ACL", "SETUSER", "default", "+get"]) == ["+OK\r\n"])
        #expect(try client.send(["GET", "k"]) == ["$1\r\nw\r\n"])
    }

    /// Commands pipelined behind the deletion of the connection's own user do not run.
    @Test func deletingTheConnectionsUserEndsItsPipeline() throws {
        let server = try TestServer()
        let admin = try server.connect()
        #expect(try admin.send(["ACL", "SETUSER", "temp", "on", ">pw", "+@all", "~*"]) == ["+OK\r\n"])
        let client = try server.connect()
        #expect(try client.send(["AUTH", "temp", "pw"]) == ["+OK\r\n"])
        #expect(try client.send(["ACL", "DELUSER", "temp"], ["SET", "after", "1"]) == [":1\r\n"])
        #expect(client.isClosed)
        #expect(try admin.send(["EXISTS", "after"]) == [":0\r\n"])
    }
}
