import LevelDB

extension StorageLayout {
    /// `m` + `expires`: the number of keys with an expiry (BE u64) and the sum of their expiry times (BE i128), so
    /// INFO can report `expires` and `avg_ttl` without scanning the expiry index.
    static let expiryStatisticsKey: [UInt8] = [metadataPrefix] + Array("expires".utf8)
}

/// Keyspace statistics for INFO: hit/miss counters and the expiring-key count and average TTL.
extension Keyspace {
    /// The average remaining time to live, in milliseconds, of database 0's keys with an expiry (0 when there are
    /// none); `statistics(ofDatabase:)` gives any database's.
    public var averageTTL: Int64 {
        Self.averageTTL(sum: expireAtSum, count: expiringKeys, now: now)
    }

    /// The average remaining time to live of `count` keys whose expiry times add up to `sum`.
    static func averageTTL(sum: Int128, count: Int, now: Int64) -> Int64 {
        guard count > 0 else { return 0 }
        let average = sum / Int128(count) - Int128(now)
        return average > 0 ? Int64(clamping: average) : 0
    }

    /// Zeroes the hit and miss counters (CONFIG RESETSTAT).
    public func resetStatistics() {
        hits = 0
        misses = 0
    }

    /// Accounts for a key's expiry changing from `old` to `new` (0 = none).
    func trackExpiry(from old: Int64, to new: Int64) {
        guard old != new else { return }
        guard storageDatabase == 0 else { return trackNumberedExpiry(from: old, to: new) }
        if old > 0 {
            expiringKeys -= 1
            expireAtSum -= Int128(old)
        }
        if new > 0 {
            expiringKeys += 1
            expireAtSum += Int128(new)
        }
    }

    func clearExpiryStatistics() {
        expiringKeys = 0
        expireAtSum = 0
    }

    /// Reads the persisted statistics, or computes them once from the expiry index for a database written before
    /// they were kept.
    func loadExpiryStatistics() throws {
        if let stored = try database.get(StorageLayout.expiryStatisticsKey), stored.count == 24 {
            expiringKeys = Int(stored[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
            expireAtSum = Int128(bitPattern: stored[8..<24].reduce(UInt128(0)) { $0 << 8 | UInt128($1) })
        } else {
            let iterator = database.makeIterator()
            iterator.seek([StorageLayout.expiryPrefix])
            while iterator.isValid, iterator.key.first == StorageLayout.expiryPrefix, iterator.key.count >= 9 {
                let expireAt = iterator.key[1..<9].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                expiringKeys += 1
                expireAtSum += Int128(Int64(bitPattern: expireAt))
                iterator.next()
            }
            try iterator.checkError()
            committedExpiryStatistics = (expiringKeys, expireAtSum)
            expiryStatisticsUnpersisted = true  // by the next commit
            return
        }
        committedExpiryStatistics = (expiringKeys, expireAtSum)
    }

    /// Adds the statistics to the pending batch when they changed since the last commit (without allocating: this
    /// runs on every commit that adds or removes a key with an expiry).
    /// - Returns: the statistics the batch will persist, to record once it is committed.
    func stageExpiryStatisticsIfChanged() -> (count: Int, sum: Int128) {
        let current = (count: expiringKeys, sum: expireAtSum)
        guard committedExpiryStatistics != current || expiryStatisticsUnpersisted else { return current }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 24) { encoded in
            var count = UInt64(expiringKeys)
            for index in (0..<8).reversed() {
                encoded[index] = UInt8(truncatingIfNeeded: count)
                count >>= 8
            }
            var sum = UInt128(bitPattern: expireAtSum)
            for index in (8..<24).reversed() {
                encoded[index] = UInt8(truncatingIfNeeded: sum)
                sum >>= 8
            }
            StorageLayout.expiryStatisticsKey.withUnsafeBytes {
                batch.put(key: $0, value: UnsafeRawBufferPointer(encoded))
            }
        }
        return current
    }
}
