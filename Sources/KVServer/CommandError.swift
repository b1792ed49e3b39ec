/// An error reply a command sends instead of its normal reply. `text` is the whole line after `-`, error code first.
public struct CommandError: Error, Sendable, Equatable {
    public let text: String

    public init(_ text: String) {
        self.text = text
    }

    // Redis's shared error replies, word for word.
    static let syntax = CommandError("ERR syntax error")
    static let notInteger = CommandError("ERR value is not an integer or out of range")
    static let notFloat = CommandError("ERR value is not a valid float")
    static let overflow = CommandError("ERR increment or decrement would overflow")
    static let noSuchKey = CommandError("ERR no such key")
    static let wrongType = CommandError("WRONGTYPE Operation against a key holding the wrong kind of value")
    static let dbIndexOutOfRange = CommandError("ERR DB index is out of range")

    static func wrongArity(_ fullName: String) -> CommandError {
        CommandError("ERR wrong number of arguments for '\(fullName)' command")
    }

    static func notAllowedWhileSubscribed(_ command: String) -> CommandError {
        CommandError(
            "ERR Can't execute '\(command)': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
        )
    }

    static func invalidExpireTime(_ command: String) -> CommandError {
        CommandError("ERR invalid expire time in '\(command)' command")
    }

    static func unknownSubcommand(_ name: String, of command: String) -> CommandError {
        CommandError("ERR unknown subcommand '\(name.prefix(128))'. Try \(command.uppercased()) HELP.")
    }
}
