import RESP
import Testing

@testable import KVEngine

@Suite struct CommandTableTests {
    /// Every row of the standard table has all its metadata, consistent with itself (see `MetadataAudit`).
    @Test func everyCommandHasCompleteMetadata() throws {
        try withEngine { engine in
            let table = engine.commands
            #expect(table.commands.count > 50)
            let problems = MetadataAudit.problems(of: table.commands)
            #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
        }
    }

    /// The audit catches each kind of missing or inconsistent metadata, so the test above cannot pass vacuously.
    @Test func auditReportsBrokenMetadata() {
        let undocumented = CommandMetadata(
            "nodoc", arity: 0, flags: [.write, .fast], categories: [],
            doc: CommandDoc(summary: "", since: "", group: ""))
        #expect(MetadataAudit.problems(of: [CommandSpec(undocumented) { _ in }]).sorted() == [
            "nodoc: arity 0", "nodoc: exactly one of @fast, @slow", "nodoc: its flags imply @write",
            "nodoc: no ACL categories", "nodoc: no group", "nodoc: no since", "nodoc: no summary",
            "nodoc: the fast flag goes with @fast",
        ])

        // Keys without key specs, and positions that disagree with them.
        let keysWithoutSpecs = CommandMetadata(
            "nospecs", arity: 2, flags: [.readonly], keys: (1, 1, 1), categories: [.read, .slow],
            doc: CommandDoc(summary: "s", since: "1", group: "g"))
        #expect(MetadataAudit.problems(of: [CommandSpec(keysWithoutSpecs) { _ in }]) == [
            "nospecs: keys but no key specs", "nospecs: first/last/step (first: 1, last: 1, step: 1) but its key "
                + "specs give (first: 0, last: 0, step: 0)",
        ])
        let wrongPositions = CommandMetadata(
            "wrongkeys", arity: -2, flags: [.readonly], keys: (1, 1, 1), categories: [.read, .slow],
            keySpecs: [
                KeySpec(
                    flags: [.readOnly], beginSearch: .index(1), findKeys: .range(lastKey: -1, keyStep: 1, limit: 0)),
            ],
            doc: CommandDoc(summary: "s", since: "1", group: "g"))
        #expect(MetadataAudit.problems(of: [CommandSpec(wrongPositions) { _ in }]) == [
            "wrongkeys: first/last/step (first: 1, last: 1, step: 1) but its key specs give "
                + "(first: 1, last: -1, step: 1)",
        ])

        // Movable keys, and a key spec only a key finder can follow.
        #expect(MetadataAudit.problems(of: [CommandSpec(.sort) { _ in }]) == [
            "sort: its key specs are incomplete, variable or unknown: the row needs a key finder",
        ])
        #expect(MetadataAudit.problems(of: [CommandSpec(.sort, keyFinder: { _ in [] }) { _ in }]).isEmpty)

        // A subcommand under the wrong container, or at the top level; a container with a fixed arity.
        let misplaced = CommandSpec(.config, subcommands: [CommandSpec(.clientList) { _ in }])
        #expect(MetadataAudit.problems(of: [misplaced, CommandSpec(.objectEncoding) { _ in }]) == [
            "client|list: registered under config, its metadata says client",
            "object|encoding: a subcommand of object registered at the top level",
        ])
        let fixedContainer = CommandMetadata(
            "box", arity: 2, flags: [], categories: [.slow], doc: CommandDoc(summary: "s", since: "1", group: "g"))
        #expect(MetadataAudit.problems(of: [CommandSpec(fixedContainer, subcommands: [])]).isEmpty)
        let fixedWithSubcommand = CommandSpec(fixedContainer, subcommands: [CommandSpec(.objectHelp) { _ in }])
        #expect(MetadataAudit.problems(of: [fixedWithSubcommand])
            .contains("box: a container's arity must be negative for its subcommands to run"))
    }

    /// Redis's own metadata passes the audit, whether kvnode has the command yet or not: a sample across groups.
    @Test func generatedMetadataPassesTheAudit() {
        let sample: [CommandMetadata] = [
            .eval, .fcall, .migrate, .georadius, .xread, .xreadgroup, .zunionstore, .lmpop, .blmpop, .bitfield,
            .rename, .copy, .hset, .blpop, .sintercard, .memoryUsage, .psync, .replconf, .objectFreq, .spublish,
        ]
        for metadata in sample {
            let row = CommandSpec(metadata, keyFinder: { _ in [] }) { _ in }
            #expect(MetadataAudit.problems(of: row, container: nil).filter { !$0.contains("registered at the top") }
                .isEmpty, "\(metadata.fullName)")
        }
    }

    /// kvnode's internal flags are added by the row and never reported; Redis's come from the metadata alone.
    @Test func rowsAddInternalFlagsWithoutReportingThem() throws {
        try withEngine { engine in
            let get = try #require(engine.commands.lookup(name: "get"))
            #expect(get.flags.contains(.readsCommitted) && !get.flags.contains(.keyspace))
            #expect(get.metadata.flags.names == ["readonly", "fast"])
            let set = try #require(engine.commands.lookup(name: "set"))
            #expect(set.flags.contains(.keyspace))  // derived from `write`
            let exec = try #require(engine.commands.lookup(name: "exec"))
            #expect(exec.flags.isSuperset(of: [.transactionControl, .keyspace]))
            #expect(exec.metadata.flags.names == ["noscript", "loading", "stale", "skip_slowlog"])
            let list = try #require(engine.commands.lookup(fullName: "CLIENT|LIST"))
            #expect(list.fullName == "client|list" && list.categories == [.admin, .slow, .dangerous, .connection])
        }
    }

    /// Lookups by request follow Redis's `lookupCommand`: a container's subcommand when one follows.
    @Test func lookupByArguments() throws {
        try withEngine { engine in
            let table = engine.commands
            #expect(table.lookup(CommandArguments(request(["OBJECT", "Encoding", "k"])))?.fullName == "object|encoding")
            #expect(table.lookup(CommandArguments(request(["object"])))?.fullName == "object")
            #expect(table.lookup(CommandArguments(request(["object", "nosuch"]))) == nil)
            #expect(table.lookup(CommandArguments(request(["get", "k"])))?.fullName == "get")
            #expect(table.lookup(CommandArguments(request(["command", "getkeys", "get", "k"]), from: 2))?.name == "get")
            #expect(table.lookup(CommandArguments(request([]))) == nil)
        }
    }
}

/// Key positions from the row, as COMMAND GETKEYSANDFLAGS reports them; each expectation is Redis 7.0's reply.
@Suite struct KeyPositionTests {
    @Test func rangesAndSteps() throws {
        try withEngine { engine in
            let table = engine.commands
            let mset = try #require(table.lookup(name: "mset"))
            #expect(keys(of: mset, "mset", "a", "1", "b", "2")
                == [Key("a", ["OW", "update"]), Key("b", ["OW", "update"])])
            // An odd count: the last key still counts (Redis: `COMMAND GETKEYS mset a 1 b` → a b).
            #expect(keys(of: mset, "mset", "a", "1", "b").map(\.name) == ["a", "b"])
            let del = try #require(table.lookup(name: "del"))
            #expect(keys(of: del, "del", "a", "b") == [Key("a", ["RM", "delete"]), Key("b", ["RM", "delete"])])
            let encoding = try #require(table.lookup(fullName: "object|encoding"))
            #expect(keys(of: encoding, "object", "encoding", "k") == [Key("k", ["RO"])])
        }
    }

    /// One key spec per key, each with its own flags.
    @Test func oneSpecPerKey() throws {
        try withEngine { engine in
            let copy = try #require(engine.commands.lookup(name: "copy"))
            #expect(keys(of: copy, "copy", "a", "b", "db", "1", "replace")
                == [Key("a", ["RO", "access"]), Key("b", ["OW", "update"])])
            let rename = try #require(engine.commands.lookup(name: "rename"))
            #expect(keys(of: rename, "rename", "a", "b")
                == [Key("a", ["RW", "access", "delete"]), Key("b", ["OW", "update"])])
        }
    }

    /// SET's flags depend on GET, so its row's key finder gives them (Redis's `setGetKeys`).
    @Test func variableFlagsComeFromTheKeyFinder() throws {
        try withEngine { engine in
            let set = try #require(engine.commands.lookup(name: "set"))
            #expect(keys(of: set, "set", "k", "v") == [Key("k", ["OW", "update"])])
            #expect(keys(of: set, "set", "k", "v", "EX", "10", "gEt") == [Key("k", ["RW", "access", "update"])])
            // `get` as the value is not the GET option.
            #expect(keys(of: set, "set", "k", "get") == [Key("k", ["OW", "update"])])
        }
    }

    /// Shard channels are `not_key`: no keys, as in Redis (`COMMAND GETKEYS ssubscribe a` has no key arguments).
    @Test func notKeySpecsHaveNoKeys() throws {
        try withEngine { engine in
            let ssubscribe = try #require(engine.commands.lookup(name: "ssubscribe"))
            #expect(!ssubscribe.hasKeys)
            #expect(keys(of: ssubscribe, "ssubscribe", "a", "b").isEmpty)
            #expect(try #require(engine.commands.lookup(name: "get")).hasKeys)
            #expect(try !#require(engine.commands.lookup(name: "keys")).hasKeys)
        }
    }

    /// Keyword and key-count specifications, on Redis commands kvnode does not have yet: their rows will only name
    /// the metadata.
    @Test func keywordsAndKeyCounts() {
        let xread = CommandSpec(.xread) { _ in }
        #expect(keys(of: xread, "xread", "count", "2", "streams", "a", "b", "0", "0").map(\.name) == ["a", "b"])
        #expect(keys(of: xread, "xread", "STREAMS", "a", "0") == [Key("a", ["RO", "access"])])
        let eval = CommandSpec(.eval) { _ in }
        #expect(keys(of: eval, "eval", "s", "2", "k1", "k2", "a1")
            == [Key("k1", ["RW", "access", "update"]), Key("k2", ["RW", "access", "update"])])
        #expect(keys(of: eval, "eval", "s", "0").isEmpty)
        #expect(keys(of: eval, "eval", "s", "x", "k").isEmpty)
        let zunionstore = CommandSpec(.zunionstore) { _ in }
        #expect(keys(of: zunionstore, "zunionstore", "dst", "2", "a", "b", "weights", "1", "2")
            == [Key("dst", ["OW", "update"]), Key("a", ["RO", "access"]), Key("b", ["RO", "access"])])
        // More keys announced than there are arguments: none.
        #expect(keys(of: zunionstore, "zunionstore", "dst", "5", "a", "b").isEmpty)
        let georadius = CommandSpec(.georadius) { _ in }
        #expect(keys(of: georadius, "georadius", "k", "0", "0", "1", "km", "store", "d1", "storedist", "d2")
            == [Key("k", ["RO", "access"]), Key("d1", ["OW", "update"]), Key("d2", ["OW", "update"])])
        let lmpop = CommandSpec(.lmpop) { _ in }
        #expect(keys(of: lmpop, "lmpop", "-1", "a", "left").isEmpty)
        // MIGRATE's second specification (after KEYS) is incomplete: when it is used, the key finder has the final
        // word; without one, no keys. An absent keyword only skips its specification.
        let migrate = CommandSpec(.migrate) { _ in }
        #expect(keys(of: migrate, "migrate", "h", "1", "k", "0", "5") == [Key("k", ["RW", "access", "delete"])])
        #expect(keys(of: migrate, "migrate", "h", "1", "", "0", "5", "keys", "k1", "k2").isEmpty)
        let finder: KeyFinder = { _ in [KeyReference(position: 7, flags: .readWrite)] }
        let migrateWithFinder = CommandSpec(.migrate, keyFinder: finder) { _ in }
        #expect(keys(of: migrateWithFinder, "migrate", "h", "1", "", "0", "5", "keys", "k1") == [Key("k1", ["RW"])])
    }
}
