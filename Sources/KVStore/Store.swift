#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import LevelDB
import NIOConcurrencyHelpers
import NIOCore
import Synchronization

/// The database: one LevelDB, the one lock that makes every command atomic, and the means to make writes durable and
/// to recover when they cannot be.
///
/// Commands from every event loop reach the `Keyspace` only inside `withLease`, which holds the lock for its scope and
/// commits the writes made in it when the scope ends, so each command (and each transaction) sees and leaves a
/// consistent state, as Redis's single thread guarantees. A connection holds one lease for a whole read batch, not one
/// per command, which keeps pipelines cheap. Single-key reads can skip the lock (`readCommitted`).
public final class Store: @unchecked Sendable {
    // @unchecked: `database`, `keyspace` and `isOpen` change only under `lock`, with lock-free readers shut out by
    // `lockFreeReads` (see `recover()`); everything else is immutable or synchronised itself.

    /// The data directory.
    public let directory: String
    /// The durability the server was started with.
    public let durability: Durability
    /// The clock expiry is judged by.
    public let clock: StoreClock
    /// Whether writes can be persisted; set by failed commits and fsyncs, cleared by `recover()`.
    public let health = PersistenceHealth()

    private let options: Options
    private let lock = NIOLock()
    /// The open database; `package` for the micro-benchmarks that measure LevelDB itself.
    package private(set) var database: Database
    private let keyspace: Keyspace
    /// False after a recovery failed to reopen the database: every lease is refused until one succeeds.
    private var isOpen = true
    private let logSyncer: LogSyncer
    /// Set when a commit has written data that has not been fsynced yet.
    private let unsynced = Atomic<Bool>(false)
    /// Successful commits so far, and how many of them an fsync has made durable: a lease's observer is told the
    /// first number, and `onSync` the second, so what must wait for durability can.
    private let committedSequence = Atomic<UInt64>(0)
    private let syncedSequence = Atomic<UInt64>(0)
    /// The same two marks as store revisions: the last committed, and the last an fsync has made durable.
    private let committedRevision = Atomic<UInt64>(0)
    private let syncedRevision = Atomic<UInt64>(0)
    private let syncListener = NIOLockedValueBox<(@Sendable (UInt64) -> Void)?>(nil)
    private let lockFreeReads: LockFreeReadGate
    /// The background jobs' slot, for the work they do on the database without the lock (compactions).
    private let maintenanceSlot: ReaderSlot
    /// Live `KeyspaceSnapshot`s: the database cannot be reopened under them.
    private let snapshots = SnapshotTracker()

    /// Opens (or creates) the store in `directory`.
    /// - Throws: `LevelDBError` when LevelDB cannot open the directory, for example because another process holds it.
    /// - Parameter logsChanges: whether changes go to the change log (revisions are kept either way).
    public init(
        directory: String, durability: Durability, options: Options = Options(), clock: StoreClock = .system,
        logsChanges: Bool = true
    ) throws {
        self.directory = directory
        self.durability = durability
        self.options = options
        self.clock = clock
        database = try Database(path: directory, options: options)
        logSyncer = LogSyncer(directory: directory)
        let gate = LockFreeReadGate()
        lockFreeReads = gate
        maintenanceSlot = gate.makeSlot()
        keyspace = try Keyspace(
            database: database, health: health, clock: clock, snapshots: snapshots, logsChanges: logsChanges)
        // What LevelDB recovered from its files is on disk.
        committedRevision.store(keyspace.committedRevision, ordering: .relaxed)
        syncedRevision.store(keyspace.committedRevision, ordering: .relaxed)
    }

    /// Told of every change: WATCH, keyspace notifications, statistics. Set once, before the store is shared.
    public var observer: (any KeyspaceObserver)? {
        get { lock.withLock { keyspace.observer } }
        set { lock.withLock { keyspace.observer = newValue } }
    }

    // MARK: Leases

    /// Runs `body` with exclusive access to the keyspace, then commits what it wrote as one LevelDB write.
    ///
    /// `body` must not let the keyspace escape: it is valid only inside the scope. Observers hear of committed changes
    /// after the lock is released, in commit order. A failed commit discards the writes (the keyspace is as it was
    /// after the last successful commit) and puts the store in the failing state.
    /// - Returns: `body`'s result and what became of its writes, or nil without running `body` while the database is
    ///   closed after a failed recovery.
    public func withLease<R>(_ body: (Keyspace) -> R) -> (result: R, commit: LeaseCommit)? {
        guard let keyspace = beginHeldLease() else { return nil }
        let result = body(keyspace)
        return (result, endHeldLease())
    }

    /// Takes the lock and opens a lease that stays open until `endHeldLease()`, for a lease shared by several callers
    /// on one thread: an event loop holds one across a turn, so every connection it reads from in that turn commits
    /// in one LevelDB write, as Redis writes its AOF once per event-loop pass. The holder must not call `withLease`
    /// (the lock is not reentrant) and must end the lease soon: other threads' leases wait for it.
    /// - Returns: the keyspace, or nil (nothing held) while the database is closed after a failed recovery.
    public func beginHeldLease() -> Keyspace? {
        lock.lock()
        guard isOpen else {
            lock.unlock()
            return nil
        }
        keyspace.beginLease()
        return keyspace
    }

    /// Commits what was written under the lease `beginHeldLease()` opened, calls `settle` while the lock is still held
    /// (so the holder can take back replies of a failed commit before anyone else runs), releases the lock, then lets
    /// the observer publish the committed changes.
    @discardableResult
    public func endHeldLease(settle: (Keyspace, LeaseCommit) -> Void = { _, _ in }) -> LeaseCommit {
        var commit = LeaseCommit(wrote: false, failure: nil)
        do { try keyspace.commit() } catch { commit.failure = error }
        settle(keyspace, commit)
        commit.wrote = keyspace.endLease()
        let sequence = UInt64(keyspace.commits)
        committedRevision.store(keyspace.committedRevision, ordering: .relaxed)
        committedSequence.store(sequence, ordering: .releasing)
        let delivers = keyspace.observer?.leaseEnding(commitSequence: sequence) ?? false
        if commit.wrote { unsynced.store(true, ordering: .relaxed) }
        lock.unlock()
        if delivers { keyspace.observer?.deliverCommittedChanges() }
        return commit
    }

    /// Runs `body` with exclusive access to the keyspace and commits its writes.
    /// - Throws: what `body` throws, or the commit's error.
    public func withKeyspace<R>(_ body: (Keyspace) throws -> R) throws -> R {
        guard let (result, commit) = withLease({ keyspace in Result { try body(keyspace) } }) else {
            throw StoreUnavailableError()
        }
        if let failure = commit.failure { throw failure }
        return try result.get()
    }

    // MARK: Lock-free reads

    /// A reader's registration for lock-free reads: one per event loop, so readers on different loops never share a
    /// cache line.
    public func makeReaderSlot() -> ReaderSlot {
        lockFreeReads.makeSlot()
    }

    /// Reads a live key's committed value without taking the lock, for a single-key read by a connection that holds no
    /// lease.
    ///
    /// This is still atomic: LevelDB makes a whole `WriteBatch` visible at once, and a writer's reply goes out only
    /// after its commit, so the read sees every acknowledged write and no half of any batch. An expired key is reported
    /// missing and left for the sweeper to delete (removing it here would be a write).
    ///
    /// A write made of several batches (FLUSHDB, PDEL, a transaction that contains one) is a seqlock: when one ran at
    /// any moment of the read, the value is not used and the read is made again under the lock. Keyspace hits and
    /// misses are the caller's to count.
    /// Only database 0, while no SWAPDB is in effect, is read without the lock (its layout is the one encoded here);
    /// another database's read takes the lock.
    /// - Parameter scratch: the caller's own buffer for the LevelDB key, so concurrent readers share nothing.
    /// - Parameter database: the reader's logical database (SELECT).
    /// - Returns: `body`'s result, or nil when the key does not exist or has expired.
    /// - Throws: LevelDB's error, or `StoreUnavailableError` while the database is closed.
    public func readCommitted<R>(
        _ key: UnsafeRawBufferPointer, database logical: UInt32 = 0, scratch: inout ByteBuffer, slot: ReaderSlot,
        _ body: (_ value: UnsafeRawBufferPointer, _ expireAt: Int64) throws -> R
    ) throws -> R? {
        if logical != 0 {
            return try withKeyspace { keyspace in
                keyspace.select(logical)
                return try keyspace.lookup(ByteBuffer(bytes: key), body)
            }
        }
        if lockFreeReads.enter(slot) {
            let outcome: LockFreeOutcome<R>
            do {
                defer { lockFreeReads.leave(slot) }
                outcome = try readWithoutLock(key, scratch: &scratch, body)
            }
            if case .read(let result) = outcome { return result }
        }
        return try withKeyspace { try $0.lookup(ByteBuffer(bytes: key), body) }
    }

    private enum LockFreeOutcome<R> {
        case read(R?)
        /// A multi-batch write overlapped the read: read again under the lock.
        case overlapped
    }

    private func readWithoutLock<R>(
        _ key: UnsafeRawBufferPointer, scratch: inout ByteBuffer,
        _ body: (_ value: UnsafeRawBufferPointer, _ expireAt: Int64) throws -> R
    ) throws -> LockFreeOutcome<R> {
        let generation = keyspace.multiBatchWrites.load(ordering: .sequentiallyConsistent)
        if generation & 1 == 1 { return .overlapped }
        // Logical database 0 is stored elsewhere after a SWAPDB: the lock knows where.
        if keyspace.databasesSwapped.load(ordering: .relaxed) { return .overlapped }
        var overlapped = false
        StorageLayout.encodeUserKey(key, into: &scratch)
        let result: R?? = try scratch.withUnsafeReadableBytes { storageKey in
            try database.withValue(forKey: storageKey) { record -> R? in
                // Checked before `body` sees the value, as `body` writes the reply.
                guard keyspace.multiBatchWrites.load(ordering: .sequentiallyConsistent) == generation else {
                    overlapped = true
                    return nil
                }
                guard let (expireAt, type, value) = RecordFormat.decode(record) else { return nil }
                if RecordFormat.hasExpired(expireAt, at: clock.milliseconds()) { return nil }
                guard type == .string else { throw WrongTypeError(found: type) }
                return try body(value, expireAt)
            }
        }
        if result == nil {  // not found: was it removed by a write still in progress?
            overlapped = keyspace.multiBatchWrites.load(ordering: .sequentiallyConsistent) != generation
        }
        return overlapped ? .overlapped : .read(result ?? nil)
    }

    /// The value `key` was given by its last event of `revision`, read without the lock from the change log (nil when
    /// that event was not a `set`, or the log no longer holds it). Events are never changed once written, so no lock
    /// is needed; the slot keeps the read off a database being reopened.
    public func loggedValue(
        of key: ByteBuffer, database logical: UInt32 = 0, at revision: UInt64, slot: ReaderSlot
    ) throws -> ByteBuffer? {
        guard lockFreeReads.enter(slot) else { return nil }
        defer { lockFreeReads.leave(slot) }
        // The key's last event of `revision` (a command can change a key more than once): the value it left.
        var prefix = ByteBuffer()
        key.withUnsafeReadableBytes { ChangeLogLayout.historyKeyPrefix($0, database: logical, into: &prefix) }
        let prefixBytes = Array(prefix.readableBytesView)
        let iterator = database.makeIterator()
        withUnsafeBytes(of: (revision &+ 1).bigEndian) { iterator.seek(prefixBytes + $0) }
        if iterator.isValid { iterator.previous() } else { iterator.seekToLast() }
        guard iterator.isValid, iterator.key.starts(with: prefixBytes),
            let entry = ChangeLogLayout.historyEntry(key: iterator.key, value: iterator.value, prefixLength: prefixBytes.count),
            entry.revision == revision
        else {
            try iterator.checkError()
            return nil
        }
        var eventKey = ByteBuffer()
        ChangeLogLayout.eventKey(revision: revision, index: entry.index, into: &eventKey)
        return try eventKey.withUnsafeReadableBytes { storageKey in
            try database.withValue(forKey: storageKey) { record -> ByteBuffer? in
                guard let event = ChangeLogLayout.decodeEvent(key: storageKey, value: record), event.operation == .set
                else { return nil }
                return event.value
            } ?? nil
        }
    }

    /// Compacts a span of the database without holding the lock (LevelDB compacts concurrently with writers), so a
    /// long compaction never stalls commands; the slot keeps it off a database being reopened.
    func compactOutsideLease(start: [UInt8], end: [UInt8]) {
        guard lockFreeReads.enter(maintenanceSlot) else { return }
        defer { lockFreeReads.leave(maintenanceSlot) }
        database.compactRange(start: start, end: end)
    }

    /// Trims the change log to `retention`, a chunk per lease so commands keep flowing, at most `maximum` events per
    /// call (the next call goes on). Meant for a background thread.
    /// - Returns: the number of events deleted.
    @discardableResult
    public func trimChangeLog(_ retention: ChangeLogRetention, maximum: Int = 100_000) throws -> Int {
        var total = 0
        while total < maximum {
            let deleted = try withKeyspace { try $0.trimChangeLog(retention, limit: 1000) }
            total += deleted
            if deleted < 1000 { break }
        }
        return total
    }

    // MARK: Durability

    /// Flushes LevelDB's write-ahead log: every write committed before this call is on disk when it returns. Never
    /// waits for LevelDB's writer queue, so writers and readers on other threads go on meanwhile.
    /// - Throws: `LogSyncError`; the store is then failing, as the writes may not be durable.
    public func sync() throws {
        unsynced.store(false, ordering: .relaxed)
        let covered = committedSequence.load(ordering: .acquiring)
        let coveredRevision = committedRevision.load(ordering: .relaxed)
        do {
            try logSyncer.sync()
        } catch {
            health.recordFailure(error, at: clock.milliseconds())
            throw error
        }
        var synced = syncedRevision.load(ordering: .relaxed)
        while synced < coveredRevision {
            let (exchanged, original) = syncedRevision.compareExchange(
                expected: synced, desired: coveredRevision, ordering: .relaxed)
            if exchanged { break }
            synced = original
        }
        var current = syncedSequence.load(ordering: .relaxed)
        while current < covered {
            let (exchanged, original) = syncedSequence.compareExchange(
                expected: current, desired: covered, ordering: .relaxed)
            if exchanged {
                syncListener.withLockedValue { $0 }?(covered)
                break
            }
            current = original
        }
    }

    /// The newest revision an fsync has made durable (revisions before the store opened are).
    public var durableRevision: UInt64 { syncedRevision.load(ordering: .relaxed) }

    /// The commits an fsync has made durable (see `onSync`).
    public var durableSequence: UInt64 { syncedSequence.load(ordering: .relaxed) }

    /// Calls `listener` after each fsync with the number of commits it covers (the sequence a lease's observer was
    /// given at `leaseEnding`): with `high` durability, what may only go out once durable waits for it.
    public func onSync(_ listener: @escaping @Sendable (UInt64) -> Void) {
        syncListener.withLockedValue { $0 = listener }
    }

    /// Flushes the write-ahead log if anything was written since the last flush.
    public func syncIfNeeded() throws {
        if unsynced.load(ordering: .relaxed) { try sync() }
    }

    // MARK: Recovery

    /// While the store is failing, reopens the database once the disk has room for LevelDB to replay its log: writes
    /// are accepted again if that succeeds. Meant to be called about once a second from a background thread.
    ///
    /// Reopening replays the log (dropping any record torn by the failed write, which was never acknowledged) and
    /// starts a fresh one, which clears LevelDB's sticky errors. Everything acknowledged is in the log or the tables,
    /// so nothing acknowledged is lost; the key count is reloaded from disk, where every commit keeps it exact.
    /// Leases wait meanwhile; lock-free readers are drained first and kept out.
    /// - Returns: whether the store accepts writes.
    @discardableResult
    public func recover() -> Bool {
        guard health.isFailing else { return true }
        guard snapshots.live.load(ordering: .relaxed) == 0 else { return false }
        do {
            let needed = try logFileBytes() + (1 << 20)
            let free = try freeDiskBytes()
            guard free >= needed else {
                throw StoreRecoveryError("\(free) bytes free, \(needed) needed to replay the log")
            }
        } catch {
            health.recordRecoveryFailure(error)
            return false
        }
        return lock.withLock {
            lockFreeReads.closeAndDrain()
            if isOpen {
                database.close()
                isOpen = false
            }
            do {
                database = try Database(path: directory, options: options)
                try keyspace.reopen(on: database)
                syncedRevision.store(keyspace.committedRevision, ordering: .relaxed)
                isOpen = true
                lockFreeReads.open()
                health.recordRecovery()
                return true
            } catch {
                health.recordRecoveryFailure(error)
                return false
            }
        }
    }

    private func logFileBytes() throws -> Int {
        guard let listing = opendir(directory) else { throw StoreRecoveryError("cannot list \(directory)") }
        defer { closedir(listing) }
        var total = 0
        while let entry = readdir(listing) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard name.hasSuffix(".log") else { continue }
            var info = stat()
            if stat(directory + "/" + name, &info) == 0 { total += Int(info.st_size) }
        }
        return total
    }

    private func freeDiskBytes() throws -> Int {
        var info = statvfs()
        guard statvfs(directory, &info) == 0 else { throw StoreRecoveryError("statvfs failed: errno \(errno)") }
        return Int(info.f_bavail) * Int(info.f_frsize)
    }

    // MARK: Closing

    /// Commits nothing new but makes everything written so far durable, then closes LevelDB. The store must not be
    /// used afterwards.
    public func close() throws {
        lock.lock()
        defer { lock.unlock() }
        guard isOpen else { return }
        lockFreeReads.closeAndDrain()
        try keyspace.commit()
        try logSyncer.sync()
        // LevelDB does not write its memtable out on close, so the next start would replay the whole write-ahead
        // log; compacting an empty range flushes the memtable first, moving that cost to shutdown.
        database.compactRange(start: [0], end: [0])
        database.close()
        isOpen = false
    }
}

/// What became of the writes made under one lease.
public struct LeaseCommit: Sendable {
    /// Whether a commit reached LevelDB (so a `high` durability fsync is due before replying).
    public var wrote: Bool
    /// The error of a commit that failed, in which case the writes staged since the last successful commit were
    /// discarded; nil when every commit succeeded.
    public var failure: (any Error)?
}

/// The database is closed after a failed attempt to reopen it; commands that need it fail until one succeeds.
public struct StoreUnavailableError: Error, CustomStringConvertible, Sendable {
    public var description: String { "the data directory could not be reopened after a write failure" }
}

/// Writes were discarded without reaching LevelDB because the store is failing (see `PersistenceHealth`).
public struct StoreWriteRefusedError: Error, CustomStringConvertible, Sendable {
    public let description: String

    init(_ health: PersistenceHealth) {
        description = health.failure ?? "writes are refused"
    }
}

/// Why the store could not recover yet.
public struct StoreRecoveryError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}
