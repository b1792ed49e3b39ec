import KVStore
import LevelDB
import NIOCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Revisions and the change log at the store's level: one revision per command, the events of every write path, key
/// revisions in records, reads at a past revision, and what a restart or a failed commit does to them.
@Suite struct ChangeLogTests {
    private func text(_ buffer: ByteBuffer?) -> String? {
        buffer.map { String(buffer: $0) }
    }

    @Test func eachCommandTakesOneRevisionForAllItsWrites() throws {
        try withTemporaryStore { store, _ in
            try store.withKeyspace { ks in
                try ks.set(bytes("a"), value: bytes("1"))
                ks.beginCommand()
                // Like MSET: one command, one revision, two events.
                try ks.set(bytes("a"), value: bytes("2"))
                try ks.set(bytes("b"), value: bytes("1"))
                ks.beginCommand()
                _ = try ks.read(bytes("a")) { _, _ in () }  // a read takes no revision
                #expect(ks.revision == 2)
                #expect(try ks.revision(of: bytes("a")) == KeyRevision(created: 1, modified: 2, version: 2))
                #expect(try ks.revision(of: bytes("b")) == KeyRevision(created: 2, modified: 2, version: 1))
            }
            try store.withKeyspace { ks in
                let history = try ks.history(of: bytes("a"), from: nil, limit: 10, descending: false)
                #expect(history.map(\.revision) == [1, 2])
                #expect(history.map { text($0.value) } == ["1", "2"])
                #expect(history.map(\.previousRevision) == [0, 1])
                #expect(try ks.history(of: bytes("b"), from: nil, limit: 10, descending: false).map(\.index) == [1])
            }
        }
    }

    @Test func aReplayStepNeverSplitsARevision() throws {
        try withTemporaryStore { store, _ in
            try store.withKeyspace { ks in
                try ks.set(bytes("a"), value: bytes("1"))
                ks.beginCommand()
                for key in ["b", "c", "d", "e"] { try ks.set(bytes(key), value: bytes("2")) }  // revision 2, 4 events
                ks.beginCommand()
                try ks.set(bytes("f"), value: bytes("3"))
            }
            let view = try store.withKeyspace { try $0.snapshot() }
            let first = try view.events(from: 1, after: nil, through: 3, limit: 2)
            #expect(first.events.map(\.revision) == [1, 2, 2, 2, 2] && !first.complete)
            let position = (first.events.last!.revision, first.events.last!.index)
            let rest = try view.events(from: 1, after: position, through: 3, limit: 2)
            #expect(rest.events.map(\.revision) == [3] && rest.complete)
            #expect(try view.events(from: 1, after: nil, through: 2, limit: 100).events.count == 5)
        }
    }

    @Test func deletesExpiriesAndFlushesAreEvents() throws {
        let clock = StoreClock.manual(at: 1_700_000_000_000)
        let path = makeTemporaryDirectory()
        defer { removeDirectory(path) }
        let store = try Store(directory: path, durability: .low, clock: clock)
        try store.withKeyspace { ks in
            try ks.set(bytes("gone"), value: bytes("x"))
            ks.beginCommand()
            try ks.set(bytes("ttl"), value: bytes("y"), expireAt: ks.now + 10)
            ks.beginCommand()
            #expect(try ks.delete(bytes("gone")))
        }
        clock.advance(byMilliseconds: 11)
        #expect(try store.removeExpiredKeys() == 1)  // one sweep step: one revision
        try store.withKeyspace { ks in
            try ks.set(bytes("z"), value: bytes("1"))
            ks.beginCommand()
            try ks.removeAll()
            #expect(ks.revision == 6)
        }
        try store.withKeyspace { ks in
            #expect(try ks.history(of: bytes("gone"), from: nil, limit: 10, descending: false).map(\.operation) == [.set, .delete])
            let ttl = try ks.history(of: bytes("ttl"), from: nil, limit: 10, descending: false)
            #expect(ttl.map(\.operation) == [.set, .expire])
            #expect(ttl[0].expireAt == 1_700_000_000_010)
            #expect(ttl[1].revision == 4)
            // After the flush at 6 nothing exists, though z's last event is a set.
            #expect(try ks.value(of: bytes("z"), at: 5).map { text($0.value) } == "1")
            #expect(try ks.value(of: bytes("z"), at: 6) == nil)
            #expect(try ks.value(of: bytes("ttl"), at: 2).map { text($0.value) } == "y")
            #expect(try ks.value(of: bytes("ttl"), at: 4) == nil)
            #expect(try ks.value(of: bytes("gone"), at: 2).map { text($0.value) } == "x")
            #expect(try ks.value(of: bytes("gone"), at: 3) == nil)
        }
        try store.close()
    }

    @Test func revisionsSurviveARestart() throws {
        try withTemporaryStore { store, path in
            try store.withKeyspace { ks in try ks.set(bytes("a"), value: bytes("1")) }
            try store.withKeyspace { ks in try ks.set(bytes("a"), value: bytes("2")) }
            try store.close()
            let reopened = try Store(directory: path, durability: .low)
            try reopened.withKeyspace { ks in
                #expect(ks.revision == 2)
                #expect(try ks.revision(of: bytes("a")) == KeyRevision(created: 1, modified: 2, version: 2))
                try ks.set(bytes("b"), value: bytes("1"))
                #expect(ks.revision == 3)
            }
            try reopened.close()
        }
    }

    @Test func aFailedCommitGivesItsRevisionBack() throws {
        try withTemporaryStore { store, _ in
            try store.withKeyspace { ks in try ks.set(bytes("a"), value: bytes("1")) }
            store.database.failNextWrites(1)
            #expect(throws: (any Error).self) { try store.withKeyspace { ks in try ks.set(bytes("a"), value: bytes("2")) } }
            #expect(store.recover())
            try store.withKeyspace { ks in
                #expect(ks.revision == 1)
                try ks.set(bytes("a"), value: bytes("3"))
                #expect(ks.revision == 2)
                let history = try ks.history(of: bytes("a"), from: nil, limit: 10, descending: false)
                #expect(history.map { text($0.value) } == ["1", "3"])
            }
        }
    }

    @Test func snapshotReadsStopAtAByteBudget() throws {
        try withTemporaryStore { store, _ in
            let big = ByteBuffer(repeating: UInt8(ascii: "v"), count: 300_000)
            try store.withKeyspace { ks in
                for key in ["a", "b", "c", "d", "e"] {
                    try ks.set(bytes(key), value: big)
                    ks.beginCommand()
                }
            }
            let view = try store.withKeyspace { try $0.snapshot() }
            // Events of 300 KB: the one that reaches 1 MiB is the last of the step, whatever the count allows.
            let first = try view.events(from: 1, after: nil, through: 5, limit: 256, maxBytes: 1 << 20)
            #expect(first.events.map(\.revision) == [1, 2, 3, 4] && !first.complete)
            let rest = try view.events(from: 1, after: (4, 0), through: 5, limit: 256, maxBytes: 1 << 20)
            #expect(rest.events.map(\.revision) == [5] && rest.complete)
            var keys: [String] = []
            let visited = try view.entries(in: .all, after: nil, limit: 256, maxBytes: 500_000) { key, _, _, _, _ in
                keys.append(String(decoding: key, as: UTF8.self))
                return true
            }
            #expect(visited == 2 && keys == ["a", "b"])
        }
    }

    @Test func historyHoldsEveryEventOfAKeyInOneRevision() throws {
        try withTemporaryStore { store, _ in
            try store.withKeyspace { ks in
                // Like MULTI; SET k 1; SET k 2; DEL k; EXEC: one revision, three events of one key.
                try ks.set(bytes("k"), value: bytes("1"))
                try ks.set(bytes("k"), value: bytes("2"))
                #expect(try ks.delete(bytes("k")))
                ks.beginCommand()
                try ks.set(bytes("k"), value: bytes("3"))
            }
            try store.withKeyspace { ks in
                let history = try ks.history(of: bytes("k"), from: nil, limit: 10, descending: false)
                #expect(history.map { "\($0.revision):\($0.index):\($0.operation.name)" } == ["1:0:set", "1:1:set", "1:2:del", "2:0:set"])
                #expect(try ks.history(of: bytes("k"), from: 1, limit: 2, descending: true).map(\.index) == [2, 1])
                #expect(try ks.value(of: bytes("k"), at: 1) == nil)
            }
        }
    }

    @Test func withoutTheLogRevisionsAreStillKept() throws {
        let path = makeTemporaryDirectory()
        defer { removeDirectory(path) }
        let store = try Store(directory: path, durability: .low, logsChanges: false)
        try store.withKeyspace { ks in
            try ks.set(bytes("a"), value: bytes("1"))
            ks.beginCommand()
            try ks.set(bytes("a"), value: bytes("2"))
            #expect(try ks.revision(of: bytes("a")) == KeyRevision(created: 1, modified: 2, version: 2))
            #expect(try ks.history(of: bytes("a"), from: nil, limit: 10, descending: false).isEmpty)
        }
        try store.close()
    }
}

func removeDirectory(_ path: String) {
    _ = system("rm -rf '\(path)'")
}
