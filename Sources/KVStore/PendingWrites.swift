import NIOCore

/// The writes of the current batch by key, for reads in the same batch to see them before LevelDB does: records by
/// user key (`Keyspace.PendingEntry`), and collection elements by their LevelDB key (`Keyspace.PendingElement`).
///
/// Records are keyed by user key and database (numbered databases: the same key in two databases is two entries);
/// elements, whose LevelDB key already tells them apart, use database 0.
///
/// An open-addressing table (linear probing, at most half full) hashed eight bytes at a time: a `Dictionary` keyed by
/// `ByteBuffer` spent more on SipHash's per-call setup than on the keys themselves, twice per SET. Clearing touches
/// only the slots in use, so a batch of one command pays for one entry, not for the table's size.
struct PendingWrites<Value> {
    private struct Entry {
        var key: ByteBuffer
        var database: UInt32
        var hash: UInt64
        var slot: Int
        var value: Value
    }

    /// Entry index + 1 per slot; 0 marks an empty slot.
    private var slots = [Int32](repeating: 0, count: 64)
    private var entries: [Entry] = []

    var isEmpty: Bool { entries.isEmpty }
    var count: Int { entries.count }

    subscript(key: ByteBuffer, database: UInt32 = 0) -> Value? {
        get {
            guard !entries.isEmpty else { return nil }
            let (slot, found) = find(key, database: database, hash: Self.hash(key, database: database))
            return found ? entries[Int(slots[slot]) - 1].value : nil
        }
        set {
            // The keyspace never forgets a pending write before commit; `nil` is not a state it stores.
            guard let newValue else { return }
            let hash = Self.hash(key, database: database)
            let (slot, found) = find(key, database: database, hash: hash)
            if found {
                entries[Int(slots[slot]) - 1].value = newValue
                return
            }
            entries.append(Entry(key: key, database: database, hash: hash, slot: slot, value: newValue))
            slots[slot] = Int32(entries.count)
            if entries.count * 2 > slots.count { grow() }
        }
    }

    /// Every pending write, in no particular order.
    var all: [(key: ByteBuffer, entry: Value)] {
        entries.map { ($0.key, $0.value) }
    }

    /// The pending writes of one database, in no particular order.
    func all(in database: UInt32) -> [(key: ByteBuffer, entry: Value)] {
        entries.lazy.filter { $0.database == database }.map { ($0.key, $0.value) }
    }

    mutating func removeAll() {
        for entry in entries { slots[entry.slot] = 0 }
        // Keep the storage for the next batch, unless one huge batch made it large.
        entries.removeAll(keepingCapacity: entries.count < 4096)
        if slots.count > 8192 { slots = [Int32](repeating: 0, count: 64) }
    }

    /// The slot holding `key`, or the empty slot where it would go.
    private func find(_ key: ByteBuffer, database: UInt32, hash: UInt64) -> (slot: Int, found: Bool) {
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while slots[slot] != 0 {
            let entry = entries[Int(slots[slot]) - 1]
            if entry.hash == hash && entry.database == database && entry.key == key { return (slot, true) }
            slot = (slot + 1) & mask
        }
        return (slot, false)
    }

    private mutating func grow() {
        slots = [Int32](repeating: 0, count: slots.count * 2)
        let mask = slots.count - 1
        for index in entries.indices {
            var slot = Int(truncatingIfNeeded: entries[index].hash) & mask
            while slots[slot] != 0 { slot = (slot + 1) & mask }
            slots[slot] = Int32(index + 1)
            entries[index].slot = slot
        }
    }

    /// Database 0's hash is the key's alone; another database's is mixed in (one branch, no cost for database 0).
    @inline(__always)
    static func hash(_ key: ByteBuffer, database: UInt32) -> UInt64 {
        let keyHash = Self.hash(key)
        return database == 0 ? keyHash : (keyHash ^ UInt64(database)) &* 0x9E37_79B9_7F4A_7C15
    }

    /// A 64-bit multiplicative hash over the key, eight bytes per step, with a final avalanche (from MurmurHash3).
    static func hash(_ key: ByteBuffer) -> UInt64 {
        key.withUnsafeReadableBytes { bytes in
            var hash: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(bytes.count)
            var offset = 0
            while offset + 8 <= bytes.count {
                let word = bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
                hash = (hash ^ word) &* 0xFF51_AFD7_ED55_8CCD
                hash ^= hash >> 32
                offset += 8
            }
            var tail: UInt64 = 0
            var shift: UInt64 = 0
            while offset < bytes.count {
                tail |= UInt64(bytes[offset]) << shift
                shift += 8
                offset += 1
            }
            hash = (hash ^ tail) &* 0xC4CE_B9FE_1A85_EC53
            hash ^= hash >> 33
            hash = hash &* 0xFF51_AFD7_ED55_8CCD
            return hash ^ (hash >> 33)
        }
    }
}
