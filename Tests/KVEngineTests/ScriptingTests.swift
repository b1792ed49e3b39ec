import NIOCore
import Testing

@testable import KVEngine

/// The pieces of scripting that need no server: SHA-1 (which names scripts) and shebang flags.
@Suite struct ScriptingTests {
    @Test func sha1MatchesTheStandardVectors() {
        #expect(SHA1.hexDigest([UInt8]()) == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(SHA1.hexDigest(Array("abc".utf8)) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(SHA1.hexDigest(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
            == "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
        // Exactly one block of padding more than the message (55, 56 and 64 bytes straddle the length field).
        #expect(SHA1.hexDigest([UInt8](repeating: 0x61, count: 55)) == "c1c8bbdc22796e28c0e15163d20899b65621d65a")
        #expect(SHA1.hexDigest([UInt8](repeating: 0x61, count: 56)) == "c2db330f6083854c99d4b5bfb6e8f29f201be699")
        #expect(SHA1.hexDigest([UInt8](repeating: 0x61, count: 64)) == "0098ba824b5c16427bd7a1122a5a442a25ec644d")
        #expect(SHA1.hexDigest([UInt8](repeating: 0x61, count: 1_000_000))
            == "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
    }

    @Test func shebangFlagsAreReadAsRedisReadsThem() throws {
        func parse(_ body: String) throws(CommandError) -> (ScriptFlags, Int) {
            try ScriptFlags.parseShebang(ByteBuffer(string: body))
        }
        #expect(try parse("return 1") == ([], 0))
        #expect(try parse("#!lua\nreturn 1") == ([], 5))
        #expect(try parse("#!lua flags=no-writes,allow-stale\nreturn 1") == ([.noWrites, .allowStale], 33))
        #expect(throws: CommandError("ERR Unexpected engine in script shebang: #!python")) { try parse("#!python\n") }
        #expect(throws: CommandError("ERR Unexpected flag in script shebang: bogus")) { try parse("#!lua flags=bogus\n") }
        #expect(throws: CommandError("ERR Unknown lua shebang option: x=1")) { try parse("#!lua x=1\n") }
        #expect(throws: CommandError("ERR Invalid script shebang")) { try parse("#!lua") }
    }
}
