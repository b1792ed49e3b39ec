import KVStore
import NIOCore
import RESP

/// OBJECT ENCODING / FREQ / IDLETIME / REFCOUNT / HELP, answering as Redis 7.0 would for the same value (for a
/// collection, the encoding its size and contents would have given it: `CollectionEncoding`).
struct ObjectCommands: CommandFamily {
    var commands: [CommandSpec] { Self.all }

    /// Redis shares the integers 0...9999 between keys and reports their reference count as INT_MAX.
    private static let sharedIntegers = 0..<10_000
    private static let sharedReferenceCount = Int(Int32.max)

    static let all: [CommandSpec] = [
        CommandSpec(.object, subcommands: [
            CommandSpec(.objectEncoding) { ctx in
                let key = ctx.argument(2)
                let found = try ctx.keyspace.readAny(key) { type, value, _ in
                    type == .string ? encoding(of: value) : CollectionEncoding.name(of: type, CollectionMetadata(value))
                }
                guard var name = found else { return ctx.reply.null() }
                // A string changed in place is `raw` whatever it holds: a second read of its record, after the first
                // (OBJECT is no hot path).
                if name != "raw", try ctx.keyspace.hasRawEncoding(key) { name = "raw" }
                ctx.reply.bulk(name)
            },
            CommandSpec(.objectRefcount) { ctx in
                try reply(ctx) { type, value in
                    let shared = type == .string && RESPInteger.parse(value).map { sharedIntegers.contains($0) } ?? false
                    ctx.reply.integer(shared ? sharedReferenceCount : 1)
                }
            },
            CommandSpec(.objectIdletime) { ctx in
                // kvnode does not record access times; every key reports as just used.
                try reply(ctx) { _, _ in ctx.reply.integer(0) }
            },
            CommandSpec(.objectFreq) { ctx in
                let found = try ctx.keyspace.readAny(ctx.argument(2)) { _, _, _ in true }
                guard found != nil else { return ctx.reply.null() }
                throw CommandError(
                    "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when "
                        + "switching between policies at runtime LRU and LFU data will take some time to adjust.")
            },
            CommandSpec(.objectHelp) { ctx in HelpText.reply(to: ctx, command: "OBJECT", lines: helpLines) },
        ]),
    ]

    /// Redis's encoding of a string value as SET stores it: `int` when it is a 64-bit integer in canonical form,
    /// `embstr` up to 44 bytes, `raw` beyond. A value changed in place is `raw` whatever it holds
    /// (`Keyspace.hasRawEncoding`).
    static func encoding(of value: UnsafeRawBufferPointer) -> String {
        if RESPInteger.parse(value) != nil { return "int" }
        return value.count <= 44 ? "embstr" : "raw"
    }

    /// Runs `body` with the type and value (a collection's metadata) of the key in argument 2, or replies null when
    /// it does not exist.
    private static func reply(_ ctx: CommandContext, _ body: (ValueType, UnsafeRawBufferPointer) -> Void) throws {
        let found = try ctx.keyspace.readAny(ctx.argument(2)) { type, value, _ in
            body(type, value)
            return true
        }
        if found == nil { ctx.reply.null() }
    }

    private static let helpLines = [
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
    ]
}
