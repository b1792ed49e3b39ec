// The metadata of the commands `scripts/gen-command-reference` does not generate: kvnode's own commands, its
// extensions of Redis's (KEYS), and commands newer than the Redis 7.0 the generated metadata comes from. The generator
// skips every `static let` name defined here, so each command still has exactly one definition.

extension CommandMetadata {
    // MARK: kvnode's extensions of Redis commands

    /// `KEYS`: Redis's, plus PIVOT, LIMIT, DESC and WITHVALUES over kvnode's ordered keyspace. The arity is -2 instead
    /// of Redis's 2 for those options (a limit applies by default: `keys-default-limit`); the rest (flags,
    /// categories, tips) is Redis's.
    static let keys = CommandMetadata(
        "keys", arity: -2, flags: [.readonly],
        categories: [.keyspace, .read, .slow, .dangerous],
        tips: ["request_policy:all_shards", "nondeterministic_output_order"],
        doc: CommandDoc(
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
            ]))

    // MARK: kvnode's own commands

    /// `PDEL`: deletes by pattern, like KEYS it names no key (access control sees it through `@dangerous`).
    static let pdel = CommandMetadata(
        "pdel", arity: 2, flags: [.write], categories: [.keyspace, .write, .slow, .dangerous],
        doc: CommandDoc(
            summary: "Delete every key matching the given pattern", since: "0.1.0", group: "generic",
            complexity: "O(log N + M) for a pattern with a literal prefix, M being the number of keys visited.",
            arguments: [ArgumentDoc("pattern", "pattern")]))

    /// `SNAPSHOT`: SAVE's flags and categories, replying with the snapshot's directory.
    static let snapshot = CommandMetadata(
        "snapshot", arity: 1, flags: [.admin, .noscript, .noMulti], categories: [.admin, .slow, .dangerous],
        doc: CommandDoc(
            summary: "Write a point-in-time snapshot of the keyspace and reply its directory once it is complete",
            since: "0.1.0", group: "server", complexity: "O(N) where N is the number of keys."))

    /// `RAFTSNAPSHOT`: SNAPSHOT under the name Raft-based callers use.
    static let raftsnapshot = CommandMetadata(
        "raftsnapshot", arity: 1, flags: [.admin, .noscript, .noMulti], categories: [.admin, .slow, .dangerous],
        doc: CommandDoc(
            summary: "Write a point-in-time snapshot of the keyspace and reply its directory once it is complete",
            since: "0.1.0", group: "server", complexity: "O(N) where N is the number of keys."))

    // MARK: Redis 7.2 commands the Redis 7.0 metadata lacks (as Redis 7.2 reports them)

    /// `CLIENT SETINFO`.
    static let clientSetinfo = CommandMetadata(
        "setinfo", of: "client", arity: 4, flags: [.noscript, .loading, .stale], categories: [.slow, .connection],
        doc: CommandDoc(
            summary: "Sets information specific to the client or connection.", since: "7.2.0", group: "connection",
            complexity: "O(1)",
            arguments: [
                ArgumentDoc("attr", "oneof", arguments: [
                    ArgumentDoc("libname", "string", token: "LIB-NAME"),
                    ArgumentDoc("libver", "string", token: "LIB-VER"),
                ]),
            ]))

    /// `CLIENT NO-TOUCH`.
    static let clientNoTouch = CommandMetadata(
        "no-touch", of: "client", arity: 3, flags: [.noscript, .loading, .stale], categories: [.slow, .connection],
        doc: CommandDoc(
            summary: "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.",
            since: "7.2.0", group: "connection", complexity: "O(1)",
            arguments: [
                ArgumentDoc("enabled", "oneof", arguments: [
                    ArgumentDoc("on", "pure-token", token: "ON"),
                    ArgumentDoc("off", "pure-token", token: "OFF"),
                ]),
            ]))
}
