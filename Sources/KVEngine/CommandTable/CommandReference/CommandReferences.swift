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

    /// Commands kvnode has that the Redis server the reference is generated from does not (Redis 7.2 additions and
    /// kvnode's own commands), and kvnode's extensions of Redis commands. These win over the generated entries.
    static let additions: [String: CommandReference] = redis72.merging(kvnode) { first, _ in first }

    /// kvnode's own commands and options.
    static let kvnode: [String: CommandReference] = [
        "keys": CommandReference(CommandDoc(
            summary: "Find all keys matching the given pattern, in byte order from an optional pivot, up to a limit",
            since: "1.0.0", group: "generic",
            complexity: "O(log N + M) for a pattern with a literal prefix, M being the number of keys visited; "
                + "O(N) for a pattern that starts with a wildcard.",
            arguments: [
                ArgumentDoc("pattern", "pattern"),
                ArgumentDoc("pivot", "key", token: "PIVOT", flags: ["optional"]),
                ArgumentDoc("count", "integer", token: "LIMIT", flags: ["optional"]),
                ArgumentDoc("desc", "pure-token", token: "DESC", flags: ["optional"]),
                ArgumentDoc("withvalues", "pure-token", token: "WITHVALUES", flags: ["optional"]),
            ]), tips: ["nondeterministic_output_order"]),
        "pdel": CommandReference(CommandDoc(
            summary: "Delete every key matching the given pattern", since: "0.1.0", group: "generic",
            complexity: "O(log N + M) for a pattern with a literal prefix, M being the number of keys visited.",
            arguments: [ArgumentDoc("pattern", "pattern")])),
        "snapshot": CommandReference(CommandDoc(
            summary: "Write a point-in-time snapshot of the keyspace and reply its directory once it is complete",
            since: "0.1.0", group: "server", complexity: "O(N) where N is the number of keys.")),
        "raftsnapshot": CommandReference(CommandDoc(
            summary: "Write a point-in-time snapshot of the keyspace and reply its directory once it is complete",
            since: "0.1.0", group: "server", complexity: "O(N) where N is the number of keys.")),
    ]

    /// Redis 7.2 commands the Redis 7.0 reference lacks.
    static let redis72: [String: CommandReference] = [
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
