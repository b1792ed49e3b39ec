/// Reference data (docs, tips, key specs) of every documented command, by full name (`get`, `client|list`).
///
/// Most of it is generated from Redis by `scripts/gen-command-reference` (Generated/); commands Redis 7.0 lacks are
/// documented by hand in `additions`.
enum CommandReferences {
    static let all: [String: CommandReference] = {
        var all = additions
        for group in generated { all.merge(group) { handWritten, _ in handWritten } }
        return all
    }()

    /// Commands kvnode has that the Redis server the reference is generated from does not (Redis 7.2 additions).
    static let additions: [String: CommandReference] = [
        "client|setinfo": CommandReference(CommandDoc(
            summary: "Sets information specific to the client or connection.", since: "7.2.0", group: "connection",
            complexity: "O(1)",
            arguments: [
                ArgumentDoc("attr", "oneof", arguments: [
                    ArgumentDoc("libname", "string", token: "LIB-NAME"),
                    ArgumentDoc("libver", "string", token: "LIB-VER"),
                ]),
            ])),
        "client|no-touch": CommandReference(CommandDoc(
            summary: "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.",
            since: "7.2.0", group: "connection", complexity: "O(1)",
            arguments: [
                ArgumentDoc("enabled", "oneof", arguments: [
                    ArgumentDoc("on", "pure-token", token: "ON"),
                    ArgumentDoc("off", "pure-token", token: "OFF"),
                ]),
            ])),
    ]
}
