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

    // MARK: Revisions (docs/watch.md)

    private static let revisionArgument = ArgumentDoc("revision", "integer")

    /// `KV.GET key [AT revision]`.
    static let kvGet = CommandMetadata(
        "kv.get", arity: -2, flags: [.readonly, .fast], keys: (1, 1, 1), categories: [.read, .string, .fast],
        keySpecs: [
            KeySpec(flags: [.readOnly, .access], beginSearch: .index(1), findKeys: .range(lastKey: 0, keyStep: 1, limit: 0)),
        ],
        doc: CommandDoc(
            summary: "Get a key's value with its revision, creation revision, version and expiry, now or at a past revision",
            since: "0.2.0", group: "string",
            complexity: "O(1); O(log N) with AT, N being the size of the change log.",
            arguments: [
                ArgumentDoc("key", "key", keySpecIndex: 0),
                ArgumentDoc("revision", "integer", token: "AT", flags: ["optional"]),
            ]))

    /// `KV.SET key value [IFREV revision] [EX seconds | PX milliseconds | KEEPTTL]`.
    static let kvSet = CommandMetadata(
        "kv.set", arity: -3, flags: [.write, .denyOOM], keys: (1, 1, 1), categories: [.write, .string, .slow],
        keySpecs: [
            KeySpec(flags: [.readWrite, .update], beginSearch: .index(1), findKeys: .range(lastKey: 0, keyStep: 1, limit: 0)),
        ],
        doc: CommandDoc(
            summary: "Set a key's value, only if its last revision is the one given (compare-and-set), and reply the new revision",
            since: "0.2.0", group: "string", complexity: "O(1)",
            arguments: [
                ArgumentDoc("key", "key", keySpecIndex: 0),
                ArgumentDoc("value", "string"),
                ArgumentDoc("revision", "integer", token: "IFREV", flags: ["optional"]),
                ArgumentDoc("expiration", "oneof", flags: ["optional"], arguments: [
                    ArgumentDoc("seconds", "integer", token: "EX"),
                    ArgumentDoc("milliseconds", "integer", token: "PX"),
                    ArgumentDoc("keepttl", "pure-token", token: "KEEPTTL"),
                ]),
            ]))

    /// `KV.DEL key [IFREV revision]`.
    static let kvDel = CommandMetadata(
        "kv.del", arity: -2, flags: [.write, .fast], keys: (1, 1, 1), categories: [.keyspace, .write, .fast],
        keySpecs: [
            KeySpec(flags: [.readWrite, .delete], beginSearch: .index(1), findKeys: .range(lastKey: 0, keyStep: 1, limit: 0)),
        ],
        doc: CommandDoc(
            summary: "Delete a key, only if its last revision is the one given, and reply the revision of the deletion",
            since: "0.2.0", group: "generic", complexity: "O(1)",
            arguments: [
                ArgumentDoc("key", "key", keySpecIndex: 0),
                ArgumentDoc("revision", "integer", token: "IFREV", flags: ["optional"]),
            ]))

    /// `KV.HISTORY key [FROM revision] [LIMIT count] [DESC]`.
    static let kvHistory = CommandMetadata(
        "kv.history", arity: -2, flags: [.readonly], keys: (1, 1, 1), categories: [.read, .string, .slow],
        keySpecs: [
            KeySpec(flags: [.readOnly, .access], beginSearch: .index(1), findKeys: .range(lastKey: 0, keyStep: 1, limit: 0)),
        ],
        doc: CommandDoc(
            summary: "List the retained changes of a key: revision, operation and value",
            since: "0.2.0", group: "string",
            complexity: "O(log N + M), N being the size of the change log and M the number of changes returned.",
            arguments: [
                ArgumentDoc("key", "key", keySpecIndex: 0),
                ArgumentDoc("revision", "integer", token: "FROM", flags: ["optional"]),
                ArgumentDoc("count", "integer", token: "LIMIT", flags: ["optional"]),
                ArgumentDoc("desc", "pure-token", token: "DESC", flags: ["optional"]),
            ]))

    /// `KV.REVISION`.
    static let kvRevision = CommandMetadata(
        "kv.revision", arity: 1, flags: [.readonly, .fast, .loading, .stale], categories: [.keyspace, .read, .fast],
        doc: CommandDoc(
            summary: "Return the store's current revision and the oldest revision the change log still holds",
            since: "0.2.0", group: "server", complexity: "O(1)"))

    /// `KV.WATCH (KEY key | PREFIX prefix | PATTERN pattern) [FROM revision] [INITIAL] [PREVKV]`: follows keys from
    /// the change log; like SUBSCRIBE it names no key (access control checks the prefix or pattern itself).
    static let kvWatch = CommandMetadata(
        "kv.watch", arity: -3, flags: [.readonly, .noscript, .loading, .stale], categories: [.keyspace, .read, .slow],
        doc: CommandDoc(
            summary: "Follow the changes of a key, a prefix or a pattern, from a past revision or with their current values, without a gap",
            since: "0.2.0", group: "pubsub",
            complexity: "O(1) to start; O(N) for a replay of N changes or INITIAL's N keys.",
            arguments: [
                ArgumentDoc("what", "oneof", arguments: [
                    ArgumentDoc("key", "key", token: "KEY"),
                    ArgumentDoc("prefix", "string", token: "PREFIX"),
                    ArgumentDoc("pattern", "pattern", token: "PATTERN"),
                ]),
                ArgumentDoc("revision", "integer", token: "FROM", flags: ["optional"]),
                ArgumentDoc("initial", "pure-token", token: "INITIAL", flags: ["optional"]),
                ArgumentDoc("prevkv", "pure-token", token: "PREVKV", flags: ["optional"]),
            ]))

    /// `KV.UNWATCH [id]`.
    static let kvUnwatch = CommandMetadata(
        "kv.unwatch", arity: -1, flags: [.noscript, .loading, .stale], categories: [.keyspace, .slow],
        doc: CommandDoc(
            summary: "End one watch, or every watch of the connection", since: "0.2.0", group: "pubsub",
            complexity: "O(N) where N is the number of watches ended.",
            arguments: [ArgumentDoc("id", "integer", flags: ["optional"])]))

    // MARK: Redis 8.4's compare-and-set (as Redis 8.4's src/commands/set.json, delex.json and digest.json give them)

    /// `SET`: Redis 8.4's, which adds the IFEQ, IFNE, IFDEQ and IFDNE conditions to Redis 7.0's (and the summary
    /// Redis 7.2 gave it). The key specification already had `variable_flags` for GET; a condition makes the key read
    /// too (`StringCommands.setKeys`).
    static let set = CommandMetadata(
        "set", arity: -3, flags: [.write, .denyOOM], keys: (1, 1, 1),
        categories: [.write, .string, .slow],
        keySpecs: [
            KeySpec(
                notes: "RW and ACCESS due to the optional `GET` argument",
                flags: [.readWrite, .access, .update, .variableFlags], beginSearch: .index(1),
                findKeys: .range(lastKey: 0, keyStep: 1, limit: 0)),
        ],
        doc: CommandDoc(
            summary: "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.",
            since: "1.0.0", group: "string", complexity: "O(1)",
            history: [
                ("2.6.12", "Added the `EX`, `PX`, `NX` and `XX` options."),
                ("6.0.0", "Added the `KEEPTTL` option."),
                ("6.2.0", "Added the `GET`, `EXAT` and `PXAT` option."),
                ("7.0.0", "Allowed the `NX` and `GET` options to be used together."),
                ("8.4.0", "Added 'IFEQ', 'IFNE', 'IFDEQ', 'IFDNE' options."),
            ],
            arguments: [
                ArgumentDoc("key", "key", keySpecIndex: 0),
                ArgumentDoc("value", "string"),
                ArgumentDoc("condition", "oneof", since: "2.6.12", flags: ["optional"], arguments: [
                    ArgumentDoc("nx", "pure-token", token: "NX"),
                    ArgumentDoc("xx", "pure-token", token: "XX"),
                    ArgumentDoc("ifeq-value", "string", token: "IFEQ", since: "8.4.0"),
                    ArgumentDoc("ifne-value", "string", token: "IFNE", since: "8.4.0"),
                    ArgumentDoc("ifdeq-digest", "integer", token: "IFDEQ", since: "8.4.0"),
                    ArgumentDoc("ifdne-digest", "integer", token: "IFDNE", since: "8.4.0"),
                ]),
                ArgumentDoc("get", "pure-token", token: "GET", since: "6.2.0", flags: ["optional"]),
                ArgumentDoc("expiration", "oneof", flags: ["optional"], arguments: [
                    ArgumentDoc("seconds", "integer", token: "EX", since: "2.6.12"),
                    ArgumentDoc("milliseconds", "integer", token: "PX", since: "2.6.12"),
                    ArgumentDoc("unix-time-seconds", "unix-time", token: "EXAT", since: "6.2.0"),
                    ArgumentDoc("unix-time-milliseconds", "unix-time", token: "PXAT", since: "6.2.0"),
                    ArgumentDoc("keepttl", "pure-token", token: "KEEPTTL", since: "6.0.0"),
                ]),
            ]))

    /// `DELEX`: the key is removed blindly without a condition and read first with one, hence `variable_flags` and
    /// a key finder (`CompareAndSetCommands.delexKeys`). Redis 8.4 types the digests `integer` (they are hex
    /// strings; Redis changed that later).
    static let delex = CommandMetadata(
        "delex", arity: -2, flags: [.write, .fast], keys: (1, 1, 1),
        categories: [.write, .string, .fast],
        keySpecs: [
            KeySpec(
                flags: [.readWrite, .delete, .variableFlags], beginSearch: .index(1),
                findKeys: .range(lastKey: 0, keyStep: 1, limit: 0)),
        ],
        doc: CommandDoc(
            summary: "Conditionally removes the specified key based on value or digest comparison.",
            since: "8.4.0", group: "string",
            complexity: "O(1) for IFEQ/IFNE, O(N) for IFDEQ/IFDNE where N is the length of the string value.",
            arguments: [
                ArgumentDoc("key", "key", keySpecIndex: 0),
                ArgumentDoc("condition", "oneof", flags: ["optional"], arguments: [
                    ArgumentDoc("ifeq-value", "string", token: "IFEQ"),
                    ArgumentDoc("ifne-value", "string", token: "IFNE"),
                    ArgumentDoc("ifdeq-digest", "integer", token: "IFDEQ"),
                    ArgumentDoc("ifdne-digest", "integer", token: "IFDNE"),
                ]),
            ]))

    /// `DIGEST`.
    static let digest = CommandMetadata(
        "digest", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1),
        categories: [.read, .string, .fast],
        keySpecs: [
            KeySpec(flags: [.readOnly, .access], beginSearch: .index(1), findKeys: .range(lastKey: 0, keyStep: 1, limit: 0)),
        ],
        doc: CommandDoc(
            summary: "Returns the XXH3 hash of a string value.", since: "8.4.0", group: "string",
            complexity: "O(N) where N is the length of the string value.",
            arguments: [ArgumentDoc("key", "key", keySpecIndex: 0)]))
}
