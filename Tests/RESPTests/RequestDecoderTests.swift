import NIOCore
import RESP
import Testing

/// Decodes every request in `input`, fed whole.
func decodeAll(_ input: String, limits: DecoderLimits = DecoderLimits()) throws -> [[String]] {
    var decoder = RequestDecoder(limits: limits)
    var buffer = ByteBuffer(string: input)
    var requests: [[String]] = []
    while let request = try decoder.next(from: &buffer) {
        requests.append((0..<request.count).map { String(buffer: request[$0]) })
    }
    return requests
}

/// Decodes every request in `input`, fed one byte at a time, as a slow network would deliver it.
func decodeByteByByte(_ input: String) throws -> [[String]] {
    var decoder = RequestDecoder()
    var buffer = ByteBuffer()
    var requests: [[String]] = []
    for byte in input.utf8 {
        buffer.writeInteger(byte)
        while let request = try decoder.next(from: &buffer) {
            requests.append((0..<request.count).map { String(buffer: request[$0]) })
        }
    }
    return requests
}

@Suite struct RequestDecoderTests {
    static let wellFormed: [(String, [[String]])] = [
        ("*1\r\n$4\r\nPING\r\n", [["PING"]]),
        ("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n", [["SET", "k", ""]]),
        ("*2\r\n$4\r\nECHO\r\n$4\r\na\r\nb\r\n", [["ECHO", "a\r\nb"]]),
        ("PING\r\n", [["PING"]]),
        ("PING\n", [["PING"]]),
        ("SET \"a b\" 'c d'\r\n", [["SET", "a b", "c d"]]),
        ("ECHO \"a\\x41\\n\\t\"\r\n", [["ECHO", "aA\n\t"]]),
        ("ECHO 'it\\'s'\r\n", [["ECHO", "it's"]]),
        ("\r\n\n   \r\nPING\r\n", [["PING"]]),
        ("*0\r\n*-1\r\nPING\r\n", [["PING"]]),
        ("*1\r\n$4\r\nPING\r\nPING\r\n*1\r\n$4\r\nPING\r\n", [["PING"], ["PING"], ["PING"]]),
    ]

    @Test(arguments: wellFormed)
    func decodesWholeFrames(input: String, expected: [[String]]) throws {
        #expect(try decodeAll(input) == expected)
    }

    @Test(arguments: wellFormed)
    func decodesFramesFedByteByByte(input: String, expected: [[String]]) throws {
        #expect(try decodeByteByByte(input) == expected)
    }

    static let malformed: [(String, ProtocolError)] = [
        ("*x\r\n", .invalidMultibulkLength),
        ("*+1\r\n", .invalidMultibulkLength),
        ("*01\r\n", .invalidMultibulkLength),
        ("*3000000000\r\n", .invalidMultibulkLength),
        ("*1\r\n$x\r\n", .invalidBulkLength),
        ("*1\r\n$-1\r\n", .invalidBulkLength),
        ("*1\r\n$536870913\r\n", .invalidBulkLength),
        ("*1\r\nx\r\n", ProtocolError(message: "expected '$', got 'x'")),
        ("SET \"a\r\n", .unbalancedQuotes),
        ("SET 'a\r\n", .unbalancedQuotes),
        ("SET \"a\"b\r\n", .unbalancedQuotes),
    ]

    @Test(arguments: malformed)
    func rejectsMalformedFrames(input: String, error: ProtocolError) throws {
        #expect(throws: error) { _ = try decodeAll(input) }
    }

    @Test func incompleteFrameWaitsForMoreBytes() throws {
        var decoder = RequestDecoder()
        var buffer = ByteBuffer(string: "*2\r\n$3\r\nGET\r\n$5\r\nab")
        #expect(try decoder.next(from: &buffer) == nil)
        buffer.writeString("cde\r\n")
        let request = try #require(try decoder.next(from: &buffer))
        #expect(String(buffer: request[1]) == "abcde")
        #expect(buffer.readableBytes == 0)
    }

    @Test func oversizedInlineRequestIsRefused() {
        var limits = DecoderLimits()
        limits.maxInlineLength = 16
        #expect(throws: ProtocolError.tooBigInlineRequest) {
            _ = try decodeAll(String(repeating: "a", count: 17), limits: limits)
        }
    }

    @Test func hugePipelineDecodesEveryRequest() throws {
        let one = "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n"
        let requests = try decodeAll(String(repeating: one, count: 100_000))
        #expect(requests.count == 100_000)
        #expect(requests.last == ["SET", "key", "value"])
    }
}
