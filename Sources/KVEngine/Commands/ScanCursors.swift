import NIOConcurrencyHelpers

/// SCAN's cursors: decimal integers, as clients expect, that stand for a position in the ordered keyspace
/// (docs/scan-cursors.md).
///
/// A cursor is `[first 5 bytes of the last key returned][23-bit nonce]`, always below 2^63 and never 0. The server
/// remembers the exact last key of the newest `capacity` cursors, so an iteration resumes strictly after it and
/// returns each key once. A cursor it no longer remembers (evicted, issued before a restart, or made up) resumes at
/// the 5-byte prefix it carries, which is never past the key it was made for: keys may then come twice, but none
/// that existed throughout the iteration is skipped.
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

    static let nonceBits = 23
    static let prefixBytes = 5

    private struct Table {
        var lastKeys: [UInt64: [UInt8]] = [:]
        /// Cursors in the order they were issued, oldest first from `head`; entries already used may linger.
        var issued: [UInt64] = []
        var head = 0
        var nonce: UInt64 = 0
    }

    let capacity: Int
    private let table = NIOLockedValueBox(Table())

    init(capacity: Int) {
        // A nonce must not come round again while its cursor is still remembered.
        self.capacity = min(max(capacity, 1), 1 << (Self.nonceBits - 1))
    }

    /// Where the iteration of `cursor` continues. A remembered cursor is used up: asking again falls back to its
    /// prefix.
    func resume(_ cursor: UInt64) -> Resume {
        if cursor == 0 { return .start }
        if let key = table.withLockedValue({ $0.lastKeys.removeValue(forKey: cursor) }) { return .after(key) }
        var prefix = (0..<Self.prefixBytes).map { index in
            UInt8(truncatingIfNeeded: cursor >> (Self.nonceBits + 8 * (Self.prefixBytes - 1 - index)))
        }
        // Padding zeros are dropped: the shorter prefix still sorts at or before the key.
        while prefix.last == 0 { prefix.removeLast() }
        return .from(prefix)
    }

    /// A new cursor that resumes strictly after `key`.
    func cursor(after key: [UInt8]) -> UInt64 {
        var prefix: UInt64 = 0
        for index in 0..<Self.prefixBytes {
            prefix = prefix << 8 | UInt64(index < key.count ? key[index] : 0)
        }
        let capacity = self.capacity
        return table.withLockedValue { table in
            table.nonce = table.nonce % ((1 << Self.nonceBits) - 1) + 1
            let cursor = prefix << Self.nonceBits | table.nonce
            table.lastKeys[cursor] = key
            table.issued.append(cursor)
            while table.lastKeys.count > capacity {
                table.lastKeys.removeValue(forKey: table.issued[table.head])
                table.head += 1
            }
            if table.issued.count - table.head > 2 * capacity {
                // Mostly cursors already used: keep the remembered ones, in order.
                table.issued = table.issued[table.head...].filter { table.lastKeys[$0] != nil }
                table.head = 0
            } else if table.head > 4096 && table.head * 2 > table.issued.count {
                table.issued.removeFirst(table.head)
                table.head = 0
            }
            return cursor
        }
    }
}
