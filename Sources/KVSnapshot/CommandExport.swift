#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import KVStore

/// Turns a snapshot, or a stopped server's keyspace, into the command stream of `CommandStreamWriter`; shared by
/// `kvnode-server --parse-snapshot` and `kvnode-dump`.
///
/// A string key becomes `SET key value [PXAT ms]`; a collection becomes commands of at most `elementsPerCommand`
/// elements each (`HSET key field value ...`, `SADD key member ...`, `RPUSH key item ...`, `ZADD key score member
/// ...`), then `PEXPIREAT key ms` when it has an expiry. Elements stream from the source to the output: a collection of
/// any size costs memory for one element at a time.
public struct CommandExport {
    /// Only keys matching this glob pattern are written; nil for all.
    public var pattern: GlobPattern?
    /// Keys whose expiry is at or before this Unix millisecond are left out: replaying them would be a no-op at
    /// best.
    public var now: Int64
    /// Called every `progressInterval` keys read, and once at the end.
    public var progress: ((_ keysRead: Int, _ writer: CommandStreamWriter) -> Void)?
    public var progressInterval = 8192
    /// Most elements per command, so no command of the stream is unboundedly large.
    public var elementsPerCommand = 128

    public init(pattern: GlobPattern? = nil, now: Int64 = WallClock.milliseconds()) {
        self.pattern = pattern
        self.now = now
    }

    /// Writes the commands for the snapshot `file`, after checking it against its meta.json when it has one.
    /// - Throws: `SnapshotError` (`corrupt`, `truncated` ...) or the writer's error. A damaged stream found after
    ///   the check has already produced some output; the caller should report the failure and exit non-zero.
    public func write(_ file: SnapshotFile, to writer: CommandStreamWriter) throws {
        try file.verify()
        let reader = try file.openReader()
        var keysRead = 0
        var collection = CollectionCommands(elementsPerCommand: elementsPerCommand)
        var database: UInt32 = 0
        try reader.forEach { entry in
            switch entry.kind {
            case .string:
                keysRead += 1
                if keysRead % progressInterval == 0 { progress?(keysRead, writer) }
                guard exports(entry.key, entry.expireAt) else { return }
                try select(entry.database, after: &database, writer)
                try writer.writeSet(key: entry.key, value: entry.value, expireAt: entry.expireAt)
            case .collection(let type, let count):
                keysRead += 1
                if keysRead % progressInterval == 0 { progress?(keysRead, writer) }
                if exports(entry.key, entry.expireAt) && count > 0 { try select(entry.database, after: &database, writer) }
                collection.begin(
                    type, key: entry.key, expireAt: entry.expireAt, count: count,
                    skipped: !exports(entry.key, entry.expireAt))
                try collection.finishIfEmpty(writer)
            case .element:
                try collection.element(entry.key, value: entry.value, score: entry.score, to: writer)
            }
        }
        try writer.flush()
        progress?(keysRead, writer)
    }

    /// Writes the commands for every live key of `keyspace`, database by database (`SELECT n` before the keys of
    /// database n, none before database 0's), seeking straight to the pattern's literal prefix.
    public func write(_ keyspace: KeyspaceSnapshot, to writer: CommandStreamWriter) throws {
        var keysRead = 0
        var collection = CollectionCommands(elementsPerCommand: elementsPerCommand)
        var selected: UInt32 = 0
        for database in keyspace.databases {
            try keyspace.forEachKey(withPrefix: pattern?.literalPrefix ?? [], database: database) {
                key, value, expireAt, type in
                keysRead += 1
                if keysRead % progressInterval == 0 { progress?(keysRead, writer) }
                guard exports(key, expireAt) else { return }
                try select(database, after: &selected, writer)
                guard type.isCollection else { return try writer.writeSet(key: key, value: value, expireAt: expireAt) }
                guard let metadata = CollectionMetadata(value) else { throw CorruptRecordError(key: Array(key)) }
                collection.begin(type, key: key, expireAt: expireAt, count: metadata.count, skipped: false)
                try collection.finishIfEmpty(writer)
                try keyspace.forEachSnapshotElement(of: type, metadata: metadata) { element, value, score in
                    try collection.element(element, value: value, score: score, to: writer)
                }
            }
        }
        try writer.flush()
        progress?(keysRead, writer)
    }

    /// Writes `SELECT database` before the first key of a database other than the one selected last (a stream
    /// starts in database 0: one that holds only database 0 has no SELECT).
    private func select(_ database: UInt32, after selected: inout UInt32, _ writer: CommandStreamWriter) throws {
        guard database != selected else { return }
        try writer.beginCommand("SELECT", argumentCount: 2)
        try writer.argument(decimal: UInt64(database))
        selected = database
    }

    /// Whether a key is written: not expired, and matching the pattern.
    private func exports(_ key: UnsafeRawBufferPointer, _ expireAt: Int64) -> Bool {
        if RecordFormat.hasExpired(expireAt, at: now) { return false }
        if let pattern, !pattern.matches(key) { return false }
        return true
    }
}

/// Writes one collection's elements as commands of bounded size, and its expiry after them.
struct CollectionCommands {
    let elementsPerCommand: Int
    private var key: [UInt8] = []
    private var type = ValueType.string
    private var expireAt: Int64 = 0
    /// Elements of the collection not seen yet, and of the current command not written yet.
    private var remaining = 0
    private var remainingInCommand = 0
    private var skipped = false

    init(elementsPerCommand: Int) {
        self.elementsPerCommand = max(elementsPerCommand, 1)
    }

    mutating func begin(_ type: ValueType, key: UnsafeRawBufferPointer, expireAt: Int64, count: Int, skipped: Bool) {
        self.key = Array(key)
        self.type = type
        self.expireAt = expireAt
        remaining = count
        remainingInCommand = 0
        self.skipped = skipped
    }

    /// A collection without elements (never stored, but a stream may say so) has nothing to write.
    mutating func finishIfEmpty(_ writer: CommandStreamWriter) throws {
        if remaining == 0 { skipped = true }
    }

    mutating func element(
        _ element: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, score: Double, to writer: CommandStreamWriter
    ) throws {
        guard remaining > 0 else { throw SnapshotError(.corrupt, "an element outside any collection") }
        remaining -= 1
        if skipped { return }
        if remainingInCommand == 0 {
            remainingInCommand = min(elementsPerCommand, remaining + 1)
            let perElement = type == .hash || type == .sortedSet ? 2 : 1
            let arguments = 2 + perElement * remainingInCommand
            switch type {
            case .hash: try writer.beginCommand("HSET", argumentCount: arguments)
            case .set: try writer.beginCommand("SADD", argumentCount: arguments)
            case .list: try writer.beginCommand("RPUSH", argumentCount: arguments)
            case .sortedSet: try writer.beginCommand("ZADD", argumentCount: arguments)
            case .string: preconditionFailure("a string has no elements")
            }
            try key.withUnsafeBytes { try writer.argument($0) }
        }
        switch type {
        case .hash:
            try writer.argument(element)
            try writer.argument(value)
        case .sortedSet:
            try Self.withScoreText(score) { try writer.argument($0) }
            try writer.argument(element)
        default:
            try writer.argument(element)
        }
        remainingInCommand -= 1
        if remaining == 0 && expireAt > 0 {
            try writer.beginCommand("PEXPIREAT", argumentCount: 3)
            try key.withUnsafeBytes { try writer.argument($0) }
            try writer.argument(decimal: UInt64(expireAt))
        }
    }

    /// A score as ZADD reads it back exactly: `%.17g`, and `inf` / `-inf`.
    static func withScoreText<R>(_ score: Double, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        if score.isInfinite { return try Array((score < 0 ? "-inf" : "inf").utf8).withUnsafeBytes(body) }
        var buffer = [CChar](repeating: 0, count: 40)
        let length = withVaList([score]) { vsnprintf(&buffer, buffer.count, "%.17g", $0) }
        return try buffer.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[..<Int(length)])) }
    }
}
