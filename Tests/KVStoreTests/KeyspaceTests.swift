import KVStore
import LevelDB
import NIOCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A new empty directory under /tmp; the caller removes it.
func makeTemporaryDirectory() -> String {
    var template = Array("/tmp/kvnode-store-XXXXXX".utf8CString)
    return template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
}

/// A store in a fresh directory under /tmp, removed when the test ends.
func withTemporaryStore(_ body: (Store, String) throws -> Void) throws {
    let path = makeTemporaryDirectory()
    defer { _ = system("rm -rf '\(path)'") }
    let store = try Store(directory: path, durability: .low)
    try body(store, path)
}

func bytes(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

func value(_ keyspace: Keyspace, _ key: String) throws -> String? {
    try keyspace.read(bytes(key)) { value, _ in String(decoding: value, as: UTF8.self) }
}

@Suite struct KeyspaceTests {
    @Test func setReadDeleteAndCount() throws {
        try withTemporaryStore { store, _ in
            try store.withKeyspace { (ks: Keyspace) throws in
                #expect(try ks.set(bytes("a"), value: bytes("1")) == false)
                #expect(try ks.set(bytes("a"), value: bytes("2")) == true)
                #expect(try value(ks, "a") == "2")
                #expect(ks.count == 1)
            }
            try store.withKeyspace { (ks: Keyspace) throws in
                #expect(try value(ks, "a") == "2")
                #expect(try ks.delete(bytes("a")))
                #expect(try !ks.delete(bytes("a")))
                #expect(ks.count == 0)
            }
        }
    }

    @Test func writesInOneBatchSeeEachOther() throws {
        try withTemporaryStore { store, _ in
            try store.withKeyspace { (ks: Keyspace) throws in
                try ks.set(bytes("k"), value: bytes("v1"))
                try ks.set(bytes("k"), value: bytes("v2"))
                #expect(ks.pendingWrites > 0)
                #expect(try value(ks, "k") == "v2")
                #expect(ks.count == 1)
            }
        }
    }

    @Test func expiredKeysAreInvisible() throws {
        try withTemporaryStore { store, _ in
            try store.withKeyspace { (ks: Keyspace) throws in
                try ks.set(bytes("soon"), value: bytes("x"), expireAt: ks.now + 50)
                try ks.set(bytes("later"), value: bytes("y"), expireAt: ks.now + 60_000)
                #expect(try ks.expiry(of: bytes("soon")) == ks.now + 50)
            }
            usleep(100_000)
            try store.withKeyspace { (ks: Keyspace) throws in
                #expect(try value(ks, "soon") == nil)
                #expect(try value(ks, "later") == "y")
                #expect(ks.count == 1)
            }
        }
    }

    @Test func countAndDataSurviveReopen() throws {
        var template = Array("/tmp/kvnode-store-XXXXXX".utf8CString)
        let path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        defer { _ = system("rm -rf '\(path)'") }
        do {
            let store = try Store(directory: path, durability: .high)
            try store.withKeyspace { (ks: Keyspace) throws in
                for index in 0..<100 { try ks.set(bytes("key\(index)"), value: bytes("\(index)")) }
            }
            try store.close()
        }
        let reopened = try Store(directory: path, durability: .high)
        try reopened.withKeyspace { (ks: Keyspace) throws in
            #expect(ks.count == 100)
            #expect(try value(ks, "key42") == "42")
        }
    }

    @Test func leaseReportsWritesAlreadyCommittedBetweenCommands() throws {
        try withTemporaryStore { store, _ in
            let (pendingAtEnd, commit) = try #require(store.withLease { ks in
                ks.maximumPendingWrites = 4
                for index in 0..<4 { try? ks.set(bytes("k\(index)"), value: bytes("v")) }
                try? ks.commitIfLarge()
                return ks.pendingWrites
            })
            // Nothing was pending at the end, yet the lease did write: a `high` durability fsync is still due.
            #expect(pendingAtEnd == 0)
            #expect(commit.wrote)
            #expect(commit.failure == nil)
            let idle = try #require(store.withLease { _ in () })
            #expect(!idle.commit.wrote)
        }
    }

    @Test func removeAllEmptiesTheKeyspace() throws {
        try withTemporaryStore { store, _ in
            try store.withKeyspace { (ks: Keyspace) throws in
                for index in 0..<50 { try ks.set(bytes("k\(index)"), value: bytes("v"), expireAt: ks.now + 100_000) }
            }
            try store.withKeyspace { (ks: Keyspace) throws in
                try ks.removeAll()
                #expect(ks.count == 0)
                #expect(try value(ks, "k1") == nil)
            }
            // No record and no expiry entry is left in LevelDB (metadata and the change log stay).
            let iterator = store.database.makeIterator()
            iterator.seekToFirst()
            while iterator.isValid {
                #expect(iterator.key.first != UInt8(ascii: "k") && iterator.key.first != UInt8(ascii: "e"))
                iterator.next()
            }
        }
    }
}

@Suite struct GlobPatternTests {
    static let cases: [(String, String, Bool)] = [
        ("*", "anything", true), ("*", "", true), ("", "", true), ("", "a", false),
        ("h?llo", "hello", true), ("h?llo", "hllo", false), ("h*llo", "heeeello", true),
        ("h[ae]llo", "hallo", true), ("h[ae]llo", "hillo", false), ("h[^e]llo", "hallo", true),
        ("h[^e]llo", "hello", false), ("h[a-b]llo", "hbllo", true), ("h[a-b]llo", "hcllo", false),
        ("h\\*llo", "h*llo", true), ("h\\*llo", "hello", false), ("key", "key", true), ("key", "key1", false),
        ("a*b*c", "aXbYc", true), ("a*b*c", "aXbY", false), ("[", "[", false), ("\\", "\\", true),
    ]

    @Test(arguments: cases)
    func matchesLikeRedis(pattern: String, string: String, expected: Bool) {
        #expect(GlobPattern(pattern.utf8).matches(Array(string.utf8)) == expected)
    }

    @Test func literalPrefix() {
        #expect(GlobPattern("user:12:*".utf8).literalPrefix == Array("user:12:".utf8))
        #expect(GlobPattern("a\\*b*".utf8).literalPrefix == Array("a*b".utf8))
        #expect(GlobPattern("exact".utf8).isExact)
        #expect(!GlobPattern("ex?ct".utf8).isExact)
    }

    @Test func questionMarkMatchesOneByteOfMultiByteText() {
        // Redis matches bytes, not characters: "é" is two bytes.
        #expect(GlobPattern("caf??".utf8).matches(Array("café".utf8)))
        #expect(!GlobPattern("caf?".utf8).matches(Array("café".utf8)))
    }
}
