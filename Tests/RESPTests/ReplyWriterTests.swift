import NIOCore
import RESP
import Testing

@Suite struct ReplyWriterTests {
    func encode(_ version: ProtocolVersion, _ body: (inout ReplyWriter) -> Void) -> String {
        var writer = ReplyWriter(buffer: ByteBuffer(), version: version)
        body(&writer)
        return String(buffer: writer.buffer)
    }

    @Test func scalars() {
        #expect(encode(.resp2) { $0.ok() } == "+OK\r\n")
        #expect(encode(.resp2) { $0.integer(-42) } == ":-42\r\n")
        #expect(encode(.resp2) { $0.integer(Int.min) } == ":-9223372036854775808\r\n")
        #expect(encode(.resp2) { $0.bulk("hi") } == "$2\r\nhi\r\n")
        #expect(encode(.resp2) { $0.bulk("") } == "$0\r\n\r\n")
        #expect(encode(.resp2) { $0.error("ERR syntax error") } == "-ERR syntax error\r\n")
        #expect(encode(.resp2) { $0.error("ERR a\r\nb") } == "-ERR a  b\r\n")
    }

    @Test func nullsDependOnTheProtocol() {
        #expect(encode(.resp2) { $0.null() } == "$-1\r\n")
        #expect(encode(.resp2) { $0.nullArray() } == "*-1\r\n")
        #expect(encode(.resp3) { $0.null() } == "_\r\n")
        #expect(encode(.resp3) { $0.nullArray() } == "_\r\n")
    }

    @Test func resp3TypesDegradeForResp2() {
        #expect(encode(.resp3) { $0.mapHeader(2) } == "%2\r\n")
        #expect(encode(.resp2) { $0.mapHeader(2) } == "*4\r\n")
        #expect(encode(.resp3) { $0.pushHeader(3) } == ">3\r\n")
        #expect(encode(.resp2) { $0.pushHeader(3) } == "*3\r\n")
        #expect(encode(.resp3) { $0.boolean(true) } == "#t\r\n")
        #expect(encode(.resp2) { $0.boolean(true) } == ":1\r\n")
        #expect(encode(.resp3) { $0.double(formatted: "1.5") } == ",1.5\r\n")
        #expect(encode(.resp2) { $0.double(formatted: "1.5") } == "$3\r\n1.5\r\n")
        #expect(encode(.resp3) { $0.verbatim("ab") } == "=6\r\ntxt:ab\r\n")
    }
}
