import CXXHash
import KVStore
import NIOCore
import RESP

/// Redis 8.4's compare-and-set: DIGEST, DELEX, and the conditions SET shares with DELEX (`IFEQ`, `IFNE`, `IFDEQ`,
/// `IFDNE`; SET's own parsing is in SetOptions.swift). Matched against Redis's src/t_string.c (`setGenericCommand`,
/// `validateHexDigest`, `stringDigest`, `digestCommand`) and src/db.c (`delexCommand`); see docs/command-table.md.
///
/// The writes go through the keyspace's `set` and `delete` like every other write, so they take a revision and reach
/// the change log; a condition that fails writes nothing.
struct CompareAndSetCommands: CommandFamily {
    var commands: [CommandSpec] { Self.all }

    static let all: [CommandSpec] = [
        // A single-key read, so it may run from committed data without the lock, as GET does.
        CommandSpec(.digest, kvnodeFlags: .readsCommitted, handler: digest),
        CommandSpec(.delex, keyFinder: delexKeys, handler: delex),
    ]

    /// `DIGEST key`: the XXH3 hash of the value, as 16 lower-case hex digits; null for a missing key.
    static func digest(_ ctx: CommandContext) throws {
        let found: Void? = try ctx.readKey(1) { value, _ in
            try StoredValue.requireString(value)
            ValueDigest.withHex(of: value) { ctx.reply.bulk($0) }
        }
        if found == nil { ctx.reply.null() }
    }

    /// `DELEX key [IFEQ value | IFNE value | IFDEQ digest | IFDNE digest]`: `:1` when it deleted the key, `:0` when
    /// the key is missing or the condition fails. Without a condition it is DEL of one key, whatever the key holds.
    ///
    /// Redis checks the argument count before it looks the key up, and the condition's name and digest after: a
    /// missing key replies `:0` even to an unknown condition or a malformed digest, as SET's conditions do.
    static func delex(_ ctx: CommandContext) throws {
        let keyspace = ctx.keyspace
        let key = ctx.argument(1)
        if ctx.argumentCount == 2 {
            let deleted = try keyspace.delete(key)
            if deleted { ctx.notify(.generic, "del", key: key) }
            return ctx.reply.integer(deleted ? 1 : 0)
        }
        guard ctx.argumentCount == 4 else { throw CommandError.syntax }
        let holds = try keyspace.readForWrite(key) { value, _ -> Bool in
            try StoredValue.requireString(value)
            guard let condition = ValueCondition(ctx, at: 2) else { throw CommandError.syntax }
            try condition.validate(ctx)
            return condition.holds(for: value, in: ctx)
        }
        guard holds == true else { return ctx.reply.integer(0) }
        try keyspace.delete(key)
        ctx.notify(.generic, "del", key: key)
        ctx.reply.integer(1)
    }

    /// DELEX's key and how it is accessed (Redis's `delexGetKeys`): removed blindly without a condition, as DEL;
    /// read and then removed with one.
    static func delexKeys(_ arguments: CommandArguments) -> [KeyReference] {
        [KeyReference(position: 1, flags: arguments.count > 2 ? [.readWrite, .delete] : [.remove, .delete])]
    }
}

/// A condition on a key's current value: `IFEQ`/`IFNE` compare the value with an argument, `IFDEQ`/`IFDNE` its
/// digest. A missing key never equals anything: IFEQ and IFDEQ fail on it, IFNE and IFDNE pass.
struct ValueCondition {
    enum Kind: Equatable {
        case equal, notEqual, digestEqual, digestNotEqual
    }

    let kind: Kind
    /// The argument holding the value or digest to compare with.
    let argument: Int

    init(_ kind: Kind, argument: Int) {
        self.kind = kind
        self.argument = argument
    }

    /// The condition named by argument `index` (`IFEQ`, any case), comparing with argument `index + 1`; nil for
    /// another word.
    init?(_ ctx: CommandContext, at index: Int) {
        guard let kind = Kind(ctx, index) else { return nil }
        self.init(kind, argument: index + 1)
    }

    /// Whether a key that does not exist satisfies the condition (SET then creates it).
    var passesWhenMissing: Bool { kind == .notEqual || kind == .digestNotEqual }

    /// Redis's check of a digest argument, made only once the key is found (`validateHexDigest`): exactly 16
    /// characters. Only the length: characters that are not hex digits simply never match.
    func validate(_ ctx: CommandContext) throws(CommandError) {
        guard kind == .digestEqual || kind == .digestNotEqual else { return }
        guard ctx.request.length(of: argument) == ValueDigest.hexLength else { throw ValueDigest.malformed }
    }

    /// Whether `value` satisfies the condition: byte equality for IFEQ/IFNE, and for IFDEQ/IFDNE equality of its
    /// digest with the argument ignoring ASCII case (Redis compares with `strcasecmp`).
    func holds(for value: UnsafeRawBufferPointer, in ctx: CommandContext) -> Bool {
        ctx.request.withArgument(argument) { match in
            switch kind {
            case .equal: value.elementsEqual(match)
            case .notEqual: !value.elementsEqual(match)
            case .digestEqual: ValueDigest.matches(value, hex: match)
            case .digestNotEqual: !ValueDigest.matches(value, hex: match)
            }
        }
    }
}

extension ValueCondition.Kind {
    init?(_ ctx: CommandContext, _ index: Int) {
        if ctx.argument(index, is: "ifeq") { self = .equal }
        else if ctx.argument(index, is: "ifne") { self = .notEqual }
        else if ctx.argument(index, is: "ifdeq") { self = .digestEqual }
        else if ctx.argument(index, is: "ifdne") { self = .digestNotEqual }
        else { return nil }
    }
}

/// The digest DIGEST replies and IFDEQ/IFDNE compare: XXH3's 64-bit hash with seed 0, written as 16 lower-case hex
/// digits, zero-padded (Redis's `stringDigest` formats it `%016` PRIx64).
enum ValueDigest {
    static let hexLength = 16
    /// `validateHexDigest`'s error (`addReplyErrorFormat` adds the `ERR` code).
    static let malformed = CommandError("ERR must be exactly 16 hexadecimal characters")

    /// XXH3-64 of `bytes`, seed 0.
    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        XXH3_64bits(bytes.baseAddress, bytes.count)
    }

    /// Hands `body` the digest of `value` as 16 lower-case hex digits, without allocating.
    static func withHex<R>(of value: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let hash = hash(value)
        return try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: hexLength) { digits in
            for position in 0..<hexLength {
                let nibble = UInt8(truncatingIfNeeded: hash >> UInt64(4 * (hexLength - 1 - position))) & 0x0f
                digits[position] = nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
            }
            return try body(UnsafeRawBufferPointer(digits))
        }
    }

    /// Whether `hex` is the digest of `value`, ignoring ASCII case.
    static func matches(_ value: UnsafeRawBufferPointer, hex: UnsafeRawBufferPointer) -> Bool {
        guard hex.count == hexLength else { return false }
        return withHex(of: value) { digits in
            zip(digits, hex).allSatisfy { $0 == CommandTable.lowercase($1) }
        }
    }
}

/// The type of a stored value, for the commands that need a string.
enum StoredValue {
    /// Redis's `checkType(c, o, OBJ_STRING)`: DIGEST, SET with GET or a condition, and DELEX with a condition need a
    /// string, and reply WRONGTYPE for a key of another type. The keyspace's string reads (`read`, `readForWrite`)
    /// already throw `WrongTypeError` for another type before handing over a value, so a value seen here is a string;
    /// this marks the places that rely on it.
    @inline(__always)
    static func requireString(_ value: UnsafeRawBufferPointer) throws(CommandError) {}
}
