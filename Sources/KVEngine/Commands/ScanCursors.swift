import KVStore
import NIOConcurrencyHelpers
import NIOCore
import RESP

/// SCAN's cursors: decimal integers below 2^53, so that clients which read them as IEEE doubles (JavaScript's
/// `Number`, node-redis) get them back exactly, standing for a position in the ordered keyspace
/// (docs/scan-cursors.md).
///
/// A cursor is `[first 3 bytes of the last key visited][29-bit id]`, never 0. The server remembers the exact last key
/// of the newest `capacity` cursors not yet used, so an iteration resumes strictly after it and returns each key
/// once. A cursor it does not remember (evicted, used already, issued before a restart or by an older kvnode, or made
/// up) resumes at the 3-byte prefix it carries, which is never past the key it was made for: keys may then come
/// twice, but none that existed throughout the iteration is skipped.
final class ScanCursors: Sendable {
    /// Where an iteration continues.
    enum Resume: Equatable {
        /// From the first key (cursor 0).
        case start
        /// Strictly after this key.
        case after([UInt8])
        /// At or after this key.
        case from([UInt8])
    }

    /// Every cursor is below 2^53: integers up to there survive a round trip through a double.
    static let cursorBits = 53
    /// Key bytes a cursor carries for its fallback.
    static let prefixBytes = 3
    /// Bits that tell apart cursors with the same prefix: 29, so 536 million ids.
    static let idBits = cursorBits - 8 * prefixBytes
    static let idMask: UInt64 = (1 << idBits) - 1
    /// Ids are 1 ... 2^29 - 1 (0 would make the cursor of a key starting with three zero bytes 0, the end).
    static let idCount: UInt64 = idMask
    /// A remembered cursor is forgotten once this many newer ones were issued, well before its id comes round
    /// again: a remembered id always belongs to exactly one cursor.
    static let maximumAge: UInt64 = 1 << (idBits - 1)
    /// Largest table; `--scan-cursor-table-size` is validated against it.
    static let maximumCapacity = 1 << 22

    private struct Entry {
        var lastKey: [UInt8]
        var sequence: UInt64
    }

    private struct Table {
        var entries: [UInt64: Entry] = [:]
        /// Cursors in the order they were issued, oldest first; records of entries already used (whose entry is gone
        /// or was issued again under a later sequence) linger until they reach the front or a compaction.
        var issued = CircularBuffer<(id: UInt64, sequence: UInt64)>()
        /// Number of the newest cursor issued. It starts at a random point, so that cursors of an earlier run of the
        /// server (a client iterating across a restart) do not systematically name the early cursors of this one.
        var sequence = UInt64.random(in: 0..<(1 << 62))
    }

    let capacity: Int
    private let table = NIOLockedValueBox(Table())

    init(capacity: Int) {
        self.capacity = min(max(capacity, 1), Self.maximumCapacity)
    }

    /// Where the iteration of `cursor` continues. A remembered cursor is used up: asking again falls back to its
    /// prefix.
    func resume(_ cursor: UInt64) -> Resume {
        // Not one of ours (an older kvnode issued cursors up to 2^63): only the start is sure to skip nothing.
        if cursor == 0 || cursor >> Self.cursorBits != 0 { return .start }
        let id = cursor & Self.idMask
        let prefix = cursor >> Self.idBits
        let remembered: [UInt8]? = table.withLockedValue { table in
            // The prefix must agree too: a cursor from another run that happens to name a live id rarely does.
            guard let entry = table.entries[id], Self.prefix(of: entry.lastKey) == prefix else { return nil }
            table.entries[id] = nil
            return entry.lastKey
        }
        if let remembered { return .after(remembered) }
        var bytes = (0..<Self.prefixBytes).map { index in
            UInt8(truncatingIfNeeded: prefix >> (8 * (Self.prefixBytes - 1 - index)))
        }
        // Padding zeros are dropped: the shorter prefix still sorts at or before the key ("a" <= "a", not "a\0\0").
        while bytes.last == 0 { bytes.removeLast() }
        return .from(bytes)
    }

    /// A new cursor that resumes strictly after `key`.
    func cursor(after key: [UInt8]) -> UInt64 {
        let prefix = Self.prefix(of: key)
        let capacity = self.capacity
        return table.withLockedValue { table in
            table.sequence &+= 1
            let sequence = table.sequence
            let id = sequence % Self.idCount + 1
            table.entries[id] = Entry(lastKey: key, sequence: sequence)
            table.issued.append((id, sequence))
            // Forget, oldest first, entries beyond the capacity or the age limit, and records of entries used already.
            while let oldest = table.issued.first {
                let live = table.entries[oldest.id]?.sequence == oldest.sequence
                if live && table.entries.count <= capacity && sequence &- oldest.sequence < Self.maximumAge { break }
                if live { table.entries[oldest.id] = nil }
                table.issued.removeFirst()
            }
            if table.issued.count > 2 * table.entries.count + 1024 {
                // Mostly records of used cursors, held behind an older live one: keep the live ones, in order.
                let entries = table.entries
                table.issued = CircularBuffer(table.issued.filter { entries[$0.id]?.sequence == $0.sequence })
            }
            return prefix << Self.idBits | id
        }
    }

    /// The first `prefixBytes` bytes of `key`, zero-padded, as a big-endian number.
    private static func prefix(of key: [UInt8]) -> UInt64 {
        var prefix: UInt64 = 0
        for index in 0..<prefixBytes {
            prefix = prefix << 8 | UInt64(index < key.count ? key[index] : 0)
        }
        return prefix
    }
}

/// One call of a cursor-driven walk (SCAN, HSCAN, SSCAN): the range its cursor resumes in, the COUNT bookkeeping,
/// the matching entries' reply items, and the reply `[next cursor, [items]]`.
struct ScanPage {
    /// Entries to visit; `.max` for a walk that returns everything at once.
    let count: Int
    var items: ReplyWriter
    /// Items written (an entry may write more than one: HSCAN's field and value).
    var itemCount = 0
    private var visited = 0
    private var lastVisited: [UInt8] = []
    private var more = false

    init(count: Int, version: ProtocolVersion) {
        self.count = count
        items = ReplyWriter(buffer: ByteBuffer(), version: version)
    }

    /// The range `cursor` resumes in (`cursors` decodes it), within the literal prefix of `pattern`.
    static func range(resuming cursor: UInt64, in cursors: ScanCursors, pattern: GlobPattern?) -> KeyRange {
        var range = KeyRange.all
        switch cursors.resume(cursor) {
        case .start: break
        case .after(let key): range.restrict(after: key)
        case .from(let key): range.restrict(from: key)
        }
        if let pattern { range = range.intersection(KeyRange(prefix: pattern.literalPrefix)) }
        return range
    }

    /// Counts one more entry visited; false, without counting it, when the page already holds COUNT (another entry
    /// follows: the walk goes on after the last one visited).
    mutating func visit(_ key: UnsafeRawBufferPointer) -> Bool {
        if visited == count {
            more = true
            return false
        }
        visited += 1
        if visited == count { lastVisited = Array(key) }
        return true
    }

    /// Writes `[next cursor, [items]]`: 0 when the walk is over.
    mutating func reply(into writer: inout ReplyWriter, cursors: ScanCursors) {
        let next = more ? cursors.cursor(after: lastVisited) : 0
        writer.arrayHeader(2)
        writer.bulk(decimal: Int(next))
        writer.arrayHeader(itemCount)
        writer.buffer.writeBuffer(&items.buffer)
    }
}
