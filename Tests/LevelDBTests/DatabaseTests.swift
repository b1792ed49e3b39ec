import LevelDB
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A fresh database directory under /tmp, removed when the test ends.
func withTemporaryDatabase(_ body: (Database, String) throws -> Void) throws {
    var template = Array("/tmp/kvnode-leveldb-XXXXXX".utf8CString)
    let path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    defer { try? Database.destroy(path: path); rmdir(path) }
    let database = try Database(path: path)
    try body(database, path)
}

@Suite struct DatabaseTests {
    @Test func putGetDelete() throws {
        try withTemporaryDatabase { db, _ in
            try db.put(Array("key".utf8), Array("value".utf8))
            #expect(try db.get(Array("key".utf8)) == Array("value".utf8))
            try db.delete(Array("key".utf8))
            #expect(try db.get(Array("key".utf8)) == nil)
        }
    }

    @Test func emptyKeyAndEmptyValueAreStoredAndFound() throws {
        try withTemporaryDatabase { db, _ in
            try db.put([UInt8](), [UInt8]())
            #expect(try db.get([UInt8]()) == [])
            try db.put(Array("k".utf8), [UInt8]())
            #expect(try db.get(Array("k".utf8)) == [])
        }
    }

    @Test func binaryBytesRoundTrip() throws {
        try withTemporaryDatabase { db, _ in
            let bytes: [UInt8] = [0, 13, 10, 255, 0, 128]
            try db.put(bytes, bytes)
            #expect(try db.get(bytes) == bytes)
        }
    }

    @Test func writeBatchIsAppliedAtomically() throws {
        try withTemporaryDatabase { db, _ in
            try db.put(Array("gone".utf8), Array("x".utf8))
            let batch = WriteBatch()
            batch.put(Array("a".utf8), Array("1".utf8))
            batch.put(Array("b".utf8), Array("2".utf8))
            batch.delete(Array("gone".utf8))
            #expect(batch.count == 3)
            try db.write(batch, sync: true)
            #expect(try db.get(Array("a".utf8)) == Array("1".utf8))
            #expect(try db.get(Array("b".utf8)) == Array("2".utf8))
            #expect(try db.get(Array("gone".utf8)) == nil)
        }
    }

    @Test func iteratorWalksInByteOrderBothWays() throws {
        try withTemporaryDatabase { db, _ in
            for key in ["b", "a", "c", "ab"] { try db.put(Array(key.utf8), Array(key.utf8)) }
            let iterator = db.makeIterator()
            var forward: [String] = []
            iterator.seekToFirst()
            while iterator.isValid {
                forward.append(String(decoding: iterator.key, as: UTF8.self))
                iterator.next()
            }
            #expect(forward == ["a", "ab", "b", "c"])
            iterator.seek(Array("aa".utf8))
            #expect(String(decoding: iterator.key, as: UTF8.self) == "ab")
            iterator.previous()
            #expect(String(decoding: iterator.key, as: UTF8.self) == "a")
            try iterator.checkError()
        }
    }

    @Test func snapshotIgnoresLaterWrites() throws {
        try withTemporaryDatabase { db, _ in
            try db.put(Array("k".utf8), Array("old".utf8))
            let snapshot = db.makeSnapshot()
            try db.put(Array("k".utf8), Array("new".utf8))
            try db.put(Array("k2".utf8), Array("added".utf8))
            let iterator = snapshot.makeIterator()
            iterator.seekToFirst()
            var seen: [String] = []
            while iterator.isValid {
                seen.append(String(decoding: iterator.value, as: UTF8.self))
                iterator.next()
            }
            #expect(seen == ["old"])
        }
    }

    @Test func secondOpenOfTheSameDirectoryFailsAtOnce() throws {
        try withTemporaryDatabase { _, path in
            #expect(throws: LevelDBError.self) { _ = try Database(path: path) }
        }
    }
}
