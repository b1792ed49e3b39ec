import KVStore
import LevelDB
import NIOCore
import Testing

/// When a locked batch's writes reach LevelDB: bounded batches for pipelines, one batch for a transaction.
@Suite struct KeyspaceCommitTests {
    @Test func commitIfLargeBoundsThePendingBatch() throws {
        try withTemporaryStore { store, _ in
            try store.withKeyspace { (ks: Keyspace) throws in
                ks.maximumPendingWrites = 10
                for index in 0..<10 { try ks.set(bytes("k\(index)"), value: bytes("v")) }
                try ks.commitIfLarge()
                #expect(ks.pendingWrites == 0)
            }
        }
    }

    @Test func deferredCommitsKeepATransactionInOneBatch() throws {
        try withTemporaryStore { store, _ in
            try store.withKeyspace { (ks: Keyspace) throws in
                ks.maximumPendingWrites = 10
                ks.defersCommits = true
                for index in 0..<50 {
                    try ks.set(bytes("k\(index)"), value: bytes("v"))
                    try ks.commitIfLarge()
                }
                #expect(ks.pendingWrites >= 50)
                // Nothing is in LevelDB before the one commit that ends the batch.
                #expect(try store.database.get([StorageLayout.keyPrefix] + Array("k0".utf8)) == nil)
                ks.defersCommits = false
            }
            #expect(try store.database.get([StorageLayout.keyPrefix] + Array("k0".utf8)) != nil)
        }
    }
}
