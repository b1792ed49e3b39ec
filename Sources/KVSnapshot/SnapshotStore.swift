import KVStore

/// The directory of snapshots, `DATA/snapshots/`, one subdirectory per snapshot named by its id
/// (`<created Unix ms>-<sequence>`), each holding state.bin and meta.json.
///
/// A snapshot is written into `.tmp-<id>/` and renamed to `<id>/` only once both files are complete and on disk, so
/// a reader never sees a partial snapshot, and a failed one leaves nothing behind.
public struct SnapshotStore: Sendable {
    /// The directory holding the snapshots.
    public let directory: String

    static let stateFileName = "state.bin"
    static let metadataFileName = "meta.json"
    static let temporaryPrefix = ".tmp-"

    public init(directory: String) {
        self.directory = directory
    }

    /// The store of a server's data directory: `dataDirectory/snapshots`.
    public init(dataDirectory: String) {
        self.init(directory: dataDirectory + "/snapshots")
    }

    /// A snapshot's id, ordered by creation time, then sequence.
    public struct ID: Comparable, Sendable, CustomStringConvertible {
        public let createdAt: Int64
        public let sequence: Int

        public var description: String { "\(createdAt)-\(sequence)" }

        /// Parses a directory name such as `1763712522000-1`; nil for anything else.
        public init?(_ name: String) {
            let parts = name.split(separator: "-", omittingEmptySubsequences: false)
            guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isNumber } }),
                let createdAt = Int64(parts[0]), let sequence = Int(parts[1]), createdAt >= 0, sequence >= 0
            else { return nil }
            self.createdAt = createdAt
            self.sequence = sequence
        }

        init(createdAt: Int64, sequence: Int) {
            self.createdAt = createdAt
            self.sequence = sequence
        }

        public static func < (a: ID, b: ID) -> Bool {
            (a.createdAt, a.sequence) < (b.createdAt, b.sequence)
        }
    }

    /// The path of snapshot `id`'s directory.
    public func path(of id: ID) -> String { directory + "/" + id.description }

    /// The complete snapshots, oldest first. A missing directory means none, and so does a symbolic link in its
    /// place: the server neither writes nor deletes through one.
    public func list() throws(SnapshotError) -> [ID] {
        guard FileSystem.isRealDirectory(directory) else { return [] }
        return try FileSystem.contents(ofDirectory: directory).compactMap(ID.init).sorted()
    }

    /// Writes `keyspace` as a new snapshot.
    /// - Parameter isCancelled: polled between keys; returning true abandons the snapshot.
    /// - Returns: the new snapshot's directory and metadata.
    /// - Throws: `SnapshotError`; nothing of the snapshot is left on disk then.
    public func write(
        _ keyspace: KeyspaceSnapshot, isCancelled: () -> Bool = { false }
    ) throws(SnapshotError) -> (path: String, metadata: SnapshotMetadata) {
        try FileSystem.makeDirectory(directory, existingIsFine: true)
        removeTemporaryDirectories()
        let id = try newID(createdAt: keyspace.takenAt)
        let temporary = directory + "/" + Self.temporaryPrefix + id.description
        try FileSystem.makeDirectory(temporary)
        do {
            let metadata = try writeFiles(of: keyspace, id: id, into: temporary, isCancelled: isCancelled)
            let final = path(of: id)
            try FileSystem.move(temporary, to: final)
            try FileSystem.syncDirectory(directory)
            return (final, metadata)
        } catch {
            try? FileSystem.removeDirectory(temporary)
            throw error
        }
    }

    /// Deletes all but the newest `keep` snapshots.
    /// - Returns: the paths deleted.
    @discardableResult
    public func removeOld(keeping keep: Int) throws(SnapshotError) -> [String] {
        let ids = try list()
        guard ids.count > keep else { return [] }
        var removed: [String] = []
        for id in ids.prefix(ids.count - max(keep, 0)) {
            try FileSystem.removeDirectory(path(of: id))
            removed.append(path(of: id))
        }
        return removed
    }

    /// Removes `.tmp-*` directories left by a process that died while writing a snapshot. Only call when no
    /// snapshot is being written into this store.
    public func removeTemporaryDirectories() {
        guard FileSystem.isRealDirectory(directory), let names = try? FileSystem.contents(ofDirectory: directory)
        else { return }
        for name in names where name.hasPrefix(Self.temporaryPrefix) {
            try? FileSystem.removeDirectory(directory + "/" + name)
        }
    }

    private func newID(createdAt: Int64) throws(SnapshotError) -> ID {
        let existing = try list()
        let sequence = existing.filter { $0.createdAt == createdAt }.map(\.sequence).max().map { $0 + 1 } ?? 1
        return ID(createdAt: createdAt, sequence: sequence)
    }

    private func writeFiles(
        of keyspace: KeyspaceSnapshot, id: ID, into temporary: String, isCancelled: () -> Bool
    ) throws(SnapshotError) -> SnapshotMetadata {
        // Database 0 alone is written as version 2, byte for byte what it was before numbered databases.
        let databases = keyspace.databases
        let version = databases.contains { $0 != 0 } ? SnapshotFormat.version : SnapshotFormat.singleDatabaseVersion
        let writer = try SnapshotStreamWriter(
            path: temporary + "/" + Self.stateFileName, takenAt: keyspace.takenAt, version: version)
        do {
            for database in databases {
                try writer.selectDatabase(database)
                try keyspace.forEachKey(database: database) { key, value, expireAt, type in
                    if writer.recordCount & 1023 == 0 && isCancelled() { throw SnapshotError.cancelled }
                    guard type.isCollection else { return try writer.append(key: key, value: value, expireAt: expireAt) }
                    guard let metadata = CollectionMetadata(value) else { throw CorruptRecordError(key: Array(key)) }
                    try writer.beginCollection(type, key: key, expireAt: expireAt, count: metadata.count)
                    var written = 0
                    try keyspace.forEachSnapshotElement(of: type, metadata: metadata) { element, value, score in
                        written += 1
                        if written & 4095 == 0 && isCancelled() { throw SnapshotError.cancelled }
                        try writer.appendElement(element, value: value, score: score)
                    }
                    try writer.endCollection()
                }
            }
        } catch let error as SnapshotError {
            throw error
        } catch {
            throw SnapshotError(.io, "cannot read the keyspace: \(error)")
        }
        try writer.finish()
        let metadata = SnapshotMetadata(
            id: id.description, createdAt: keyspace.takenAt, formatVersion: Int(version),
            keyCount: writer.recordCount, size: writer.fileSize, uncompressedSize: writer.uncompressedSize,
            crc32: writer.fileCRC, revision: keyspace.revision)
        let metadataPath = temporary + "/" + Self.metadataFileName
        let fd = try FileSystem.createForWriting(metadataPath, followSymlink: false)
        do {
            try FileSystem.writeAll(fd, Array(metadata.json.utf8), path: metadataPath)
            try FileSystem.sync(fd, path: metadataPath)
        } catch {
            _ = try? FileSystem.closeFile(fd, path: metadataPath)
            throw error
        }
        try FileSystem.closeFile(fd, path: metadataPath)
        return metadata
    }
}
