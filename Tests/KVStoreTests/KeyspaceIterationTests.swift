import KVStore
import LevelDB
import NIOCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

func keys(
    _ keyspace: Keyspace, in range: KeyRange = .all, order: IterationOrder = .ascending, limit: Int = .max
) throws -> [String] {
    var found: [String] = []
    try keyspace.forEachKey(in: range, order: order) { key, _, _, _ in
        found.append(String(decoding: key, as: UTF8.self))
        return found.count < limit
    }
    return found
}

func range(after: String? = nil, before: String? = nil, prefix: String = "") -> KeyRange {
    var range = KeyRange(prefix: Array(prefix.utf8))
    if let after { range.restrict(after: Array(after.utf8)) }
    if let before { range.restrict(before: Array(before.utf8)) }
    return range
}

/// The keys matching `pattern` inside `range`, as raw bytes: what KEYS and PDEL walk (`forEachKey(matching:)`).
func matchingKeys(
    _ keyspace: Keyspace, _ pattern: [UInt8], within range: KeyRange = .all, order: IterationOrder = .ascending
) throws -> [[UInt8]] {
    var found: [[UInt8]] = []
    try keyspace.forEachKey(matching: GlobPattern(pattern), within: range, order: order) { key, _, _, _ in
        found.append(Array(key))
        return true
    }
    return found
}

/// One SCAN call as the server makes it: up to `count` keys strictly after `cursor` within the range of `pattern`'s
/// literal prefix. Returns the visited keys that match, and the last one visited (the next cursor; nil at the end).
func scanStep(
    _ keyspace: Keyspace, after cursor: [UInt8]?, match pattern: [UInt8], count: Int
) throws -> (matches: [[UInt8]], next: [UInt8]?) {
    var range = KeyRange.all
    if let cursor { range.restrict(after: cursor) }
    let glob = GlobPattern(pattern)
    range = range.intersection(KeyRange(prefix: glob.literalPrefix))
    var visited: [[UInt8]] = []
    try keyspace.forEachKey(in: range) { key, _, _, _ in
        visited.append(Array(key))
        return visited.count < count
    }
    return (visited.filter { glob.matches($0) }, visited.count < count ? nil : visited.last)
}

@Suite struct KeyspaceIterationTests {
    /// Runs `body` twice over the same data: once with every write committed to LevelDB, once with every write still
    /// pending in the batch, so both iteration paths (LevelDB and the overlay) give the same answers.
    func withBothPaths(_ setUp: (Keyspace) throws -> Void, _ body: (Keyspace) throws -> Void) throws {
        try withTemporaryStore { store, _ in
            try store.withKeyspace(setUp)
            try store.withKeyspace(body)
        }
        try withTemporaryStore { store, _ in
            try store.withKeyspace { (ks: Keyspace) throws in
                try setUp(ks)
                #expect(ks.pendingWrites > 0)
                try body(ks)
            }
        }
    }

    @Test func rangesPivotsAndOrder() throws {
        let setUp = { (ks: Keyspace) throws in
            for key in ["key1", "key2", "key3", "key4", "kez", "ke", "a"] {
                try ks.set(bytes(key), value: bytes("v"))
            }
            try ks.set(ByteBuffer(bytes: [0xFF]), value: bytes("v"))
        }
        try withBothPaths(setUp) { (ks: Keyspace) throws in
            #expect(try keys(ks, in: range(prefix: "key")) == ["key1", "key2", "key3", "key4"])
            #expect(try keys(ks, in: range(prefix: "key"), order: .descending) == ["key4", "key3", "key2", "key1"])
            #expect(try keys(ks, in: range(after: "key2", prefix: "key")) == ["key3", "key4"])
            #expect(try keys(ks, in: range(before: "key3", prefix: "key"), order: .descending) == ["key2", "key1"])
            // Pivots beyond either end of the prefix range leave it whole, or empty.
            #expect(try keys(ks, in: range(after: "a", prefix: "key")) == ["key1", "key2", "key3", "key4"])
            #expect(try keys(ks, in: range(after: "zzz", prefix: "key")) == [])
            #expect(try keys(ks, in: range(before: "a", prefix: "key"), order: .descending) == [])
            #expect(try keys(ks, in: range(before: "zzz", prefix: "key"), order: .descending).count == 4)
            // A key equal to the prefix is inside its range.
            #expect(try keys(ks, in: range(prefix: "ke")) == ["ke", "key1", "key2", "key3", "key4", "kez"])
            // The byte 0xFF sorts after every other first byte.
            #expect(try matchingKeys(ks, Array("*".utf8), order: .descending).prefix(2) == [[0xFF], Array("kez".utf8)])
            #expect(try matchingKeys(ks, [0xFF, UInt8(ascii: "*")]) == [[0xFF]])
        }
    }

    /// A literal prefix that ends in 0xFF has no successor of the same length: `a\xFF*` ends before `b`, and a prefix
    /// of nothing but 0xFF bytes has no upper end at all. KEYS, PDEL and SCAN all bound their walk this way.
    @Test func prefixesEndingInByteFF() throws {
        let star = UInt8(ascii: "*")
        let a = UInt8(ascii: "a")
        let stored: [[UInt8]] = [
            [a], [a, 0xFE], [a, 0xFE, 0xFF], [a, 0xFF], [a, 0xFF, 0x00], [a, 0xFF, 0x61], [a, 0xFF, 0xFF],
            [a, 0xFF, 0xFF, 0x00], [a, 0xFF, 0xFF, 0xFF], [UInt8(ascii: "b")], [0xFF], [0xFF, 0xFF], [0xFF, 0xFF, 0x00],
        ]
        let setUp = { (ks: Keyspace) throws in
            for key in stored { try ks.set(ByteBuffer(bytes: key), value: ByteBuffer(bytes: key)) }
        }
        let underAFF: [[UInt8]] = [[a, 0xFF], [a, 0xFF, 0x00], [a, 0xFF, 0x61], [a, 0xFF, 0xFF], [a, 0xFF, 0xFF, 0x00],
                                   [a, 0xFF, 0xFF, 0xFF]]
        #expect(KeyRange(prefix: [a, 0xFF]).upper == KeyRange.Bound([UInt8(ascii: "b")], inclusive: false))
        #expect(KeyRange(prefix: [a, 0xFF, 0xFF]).upper == KeyRange.Bound([UInt8(ascii: "b")], inclusive: false))
        #expect(KeyRange(prefix: [0xFF, 0xFF]).upper == nil)
        try withBothPaths(setUp) { (ks: Keyspace) throws in
            // KEYS: the walk of the prefix range, both ways, and with pivots.
            #expect(try matchingKeys(ks, [a, 0xFF, star]) == underAFF)
            #expect(try matchingKeys(ks, [a, 0xFF, star], order: .descending) == Array(underAFF.reversed()))
            #expect(try matchingKeys(ks, [a, 0xFF, 0xFF, star]) == Array(underAFF[3...]))
            #expect(try matchingKeys(ks, [a, 0xFF, 0xFF, star], order: .descending) == Array(underAFF[3...].reversed()))
            #expect(try matchingKeys(ks, [a, 0xFE, star]) == [[a, 0xFE], [a, 0xFE, 0xFF]])
            #expect(try matchingKeys(ks, [a, 0xFF, UInt8(ascii: "?")]) == [[a, 0xFF, 0x00], [a, 0xFF, 0x61], [a, 0xFF, 0xFF]])
            #expect(try matchingKeys(ks, [0xFF, star]) == [[0xFF], [0xFF, 0xFF], [0xFF, 0xFF, 0x00]])
            #expect(try matchingKeys(ks, [0xFF, 0xFF, star], order: .descending) == [[0xFF, 0xFF, 0x00], [0xFF, 0xFF]])
            #expect(try matchingKeys(ks, [a, 0xFF]) == [[a, 0xFF]])  // no wildcard: that one key
            var afterPivot = KeyRange.all
            afterPivot.restrict(after: [a, 0xFF, 0x61])
            #expect(try matchingKeys(ks, [a, 0xFF, star], within: afterPivot) == Array(underAFF[3...]))
            var beforePivot = KeyRange.all
            beforePivot.restrict(before: [a, 0xFF, 0xFF])
            #expect(try matchingKeys(ks, [a, 0xFF, star], within: beforePivot, order: .descending)
                == Array(underAFF[..<3].reversed()))
            // SCAN: resuming after the last key visited, two at a time, visits the prefix range once.
            for pattern in [[a, 0xFF, star], [a, 0xFF, UInt8(ascii: "?")], [0xFF, star]] {
                var seen: [[UInt8]] = []
                var cursor: [UInt8]?
                for _ in 0..<stored.count {
                    let step = try scanStep(ks, after: cursor, match: pattern, count: 2)
                    seen += step.matches
                    cursor = step.next
                    if cursor == nil { break }
                }
                #expect(cursor == nil)
                #expect(seen == stored.filter { GlobPattern(pattern).matches($0) })
            }
        }
        // PDEL: deleting what the pattern matches removes that prefix range and nothing after it.
        for pattern in [[a, 0xFF, star], [a, 0xFF, 0xFF, star], [0xFF, star]] {
            try withBothPaths(setUp) { (ks: Keyspace) throws in
                let doomed = try matchingKeys(ks, pattern)
                for key in doomed { #expect(try ks.delete(ByteBuffer(bytes: key))) }
                #expect(try matchingKeys(ks, Array("*".utf8)) == stored.filter { !GlobPattern(pattern).matches($0) })
            }
        }
    }

    @Test func theBatchsWritesWinOverLevelDB() throws {
        try withTemporaryStore { store, _ in
            try store.withKeyspace { (ks: Keyspace) throws in
                for key in ["b", "c", "d"] { try ks.set(bytes(key), value: bytes("old")) }
            }
            try store.withKeyspace { (ks: Keyspace) throws in
                try ks.delete(bytes("c"))
                try ks.set(bytes("a"), value: bytes("new"))
                try ks.set(bytes("d"), value: bytes("new"))
                try ks.set(bytes("e"), value: bytes("new"))
                var seen: [String] = []
                try ks.forEachKey(in: .all) { key, value, _, _ in
                    seen.append(String(decoding: key, as: UTF8.self) + "=" + String(decoding: value, as: UTF8.self))
                    return true
                }
                #expect(seen == ["a=new", "b=old", "d=new", "e=new"])
                #expect(try keys(ks, order: .descending) == ["e", "d", "b", "a"])
            }
        }
    }

    @Test func expiredKeysAreSkippedAndNotCounted() throws {
        try withTemporaryStore { store, _ in
            var expireAt: Int64 = 0
            try store.withKeyspace { (ks: Keyspace) throws in
                expireAt = ks.now + 20
                try ks.set(bytes("gone"), value: bytes("x"), expireAt: expireAt)
                try ks.set(bytes("kept"), value: bytes("y"))
            }
            // Until the clock has passed the expiry (bounded; it moves on its own).
            var waits = 0
            while WallClock.milliseconds() <= expireAt && waits < 1000 {
                usleep(5_000)
                waits += 1
            }
            try store.withKeyspace { (ks: Keyspace) throws in
                #expect(ks.count == 2)
                #expect(try ks.liveCount() == 1)
                #expect(try keys(ks) == ["kept"])
                #expect(try ks.randomKey() == Array("kept".utf8))
            }
        }
    }

    @Test func randomKeyReachesEveryKey() throws {
        try withTemporaryStore { store, _ in
            try store.withKeyspace { (ks: Keyspace) throws in
                #expect(try ks.randomKey() == nil)
                for key in ["a", "ab", "abc", "b", "user:1", "user:2", "user:10"] { try ks.set(bytes(key), value: bytes("v")) }
                var seen = Set<[UInt8]>()
                for _ in 0..<2000 { seen.insert(try ks.randomKey()!) }
                #expect(seen.count == 7)
            }
        }
    }
}
