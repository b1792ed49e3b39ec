/// A malformed request. The server replies `-ERR Protocol error: <message>` and closes the connection, as Redis does.
public struct ProtocolError: Error, Equatable, Sendable {
    /// The text after `Protocol error: `, exactly as Redis words it.
    public let message: String

    public init(message: String) {
        self.message = message
    }

    public static let invalidMultibulkLength = ProtocolError(message: "invalid multibulk length")
    public static let invalidBulkLength = ProtocolError(message: "invalid bulk length")
    public static let unbalancedQuotes = ProtocolError(message: "unbalanced quotes in request")
    public static let tooBigInlineRequest = ProtocolError(message: "too big inline request")
    public static let tooBigMultibulkCount = ProtocolError(message: "too big mbulk count string")
    public static let tooBigBulkCount = ProtocolError(message: "too big bulk count string")

    static func expectedDollar(got byte: UInt8) -> ProtocolError {
        ProtocolError(message: "expected '$', got '\(Character(Unicode.Scalar(byte)))'")
    }

    /// The full error line, without the leading `-` and trailing CRLF.
    public var replyText: String { "ERR Protocol error: \(message)" }
}
