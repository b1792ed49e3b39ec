import KVStore

/// Turns a snapshot, or a stopped server's keyspace, into the command stream of `CommandStreamWriter`; shared by
/// `kvnode-server --parse-snapshot` and `kvnode-dump`.
public struct CommandExport {
    /// Only keys matching this glob pattern are written; nil for all.
    public var pattern: GlobPattern?
    /// Keys whose expiry is at or before this Unix millisecond are left out: replaying them would be a no-op at
    /// best.
    public var now: Int64
    /// Called every `progressInterval` keys read, and once at the end.
    public var progress: ((_ keysRead: Int, _ writer: CommandStreamWriter) -> Void)?
    public var progressInterval = 8192

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
        try reader.forEach { entry in
            keysRead += 1
            try emit(entry.key, entry.value, entry.expireAt, keysRead: keysRead, to: writer)
        }
        try writer.flush()
        progress?(keysRead, writer)
    }

    /// Writes the commands for every live key of `keyspace`, seeking straight to the pattern's literal prefix.
    public func write(_ keyspace: KeyspaceSnapshot, to writer: CommandStreamWriter) throws {
        var keysRead = 0
        try keyspace.forEachKey(withPrefix: pattern?.literalPrefix ?? []) { key, value, expireAt in
            keysRead += 1
            try emit(key, value, expireAt, keysRead: keysRead, to: writer)
        }
        try writer.flush()
        progress?(keysRead, writer)
    }

    @inline(__always)
    private func emit(
        _ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, _ expireAt: Int64, keysRead: Int,
        to writer: CommandStreamWriter
    ) throws {
        if keysRead % progressInterval == 0 { progress?(keysRead, writer) }
        if RecordFormat.hasExpired(expireAt, at: now) { return }
        if let pattern, !pattern.matches(key) { return }
        try writer.writeSet(key: key, value: value, expireAt: expireAt)
    }
}
