/// An error reply a command sends instead of its normal reply. `text` is the whole line after `-`, error code first.
public struct CommandError: Error, Sendable, Equatable {
    public let text: String

    public init(_ text: String) {
        self.text = text
    }

    // Redis's shared error replies, word for word.
    package static let syntax = CommandError("ERR syntax error")
    package static let notInteger = CommandError("ERR value is not an integer or out of range")
    package static let notFloat = CommandError("ERR value is not a valid float")
    package static let overflow = CommandError("ERR increment or decrement would overflow")
    package static let noSuchKey = CommandError("ERR no such key")
    package static let wrongType = CommandError("WRONGTYPE Operation against a key holding the wrong kind of value")
    package static let dbIndexOutOfRange = CommandError("ERR DB index is out of range")
    /// MOVE to the selected database, COPY onto itself.
    package static let sameObject = CommandError("ERR source and destination objects are the same")

    package static func wrongArity(_ fullName: String) -> CommandError {
        CommandError("ERR wrong number of arguments for '\(fullName)' command")
    }

    package static func notAllowedWhileSubscribed(_ command: String) -> CommandError {
        CommandError(
            "ERR Can't execute '\(command)': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
        )
    }

    package static func invalidExpireTime(_ command: String) -> CommandError {
        CommandError("ERR invalid expire time in '\(command)' command")
    }

    package static func unknownSubcommand(_ name: String, of command: String) -> CommandError {
        CommandError("ERR unknown subcommand '\(name.prefix(128))'. Try \(command.uppercased()) HELP.")
    }
}

extension CommandError {
    /// A command that needs the keyspace while the data directory is closed after a failed recovery.
    package static let storeUnavailable = CommandError(
        "ERR the data directory is unavailable: it could not be reopened after a write failure")
}
