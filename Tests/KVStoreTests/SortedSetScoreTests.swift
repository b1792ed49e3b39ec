import LevelDB
import NIOCore
import Testing

@testable import KVStore

/// Sorted-set scores: the order-preserving index encoding, the stored text, and the two records per member.
@Suite struct SortedSetScoreTests {
    /// Doubles at every edge of the encoding, in numeric order.
    static let ordered: [Double] = [
        -.infinity, -.greatestFiniteMagnitude, -1e308, -4503599627370496, -2, -1.5, -1, -0.1,
        -Double.leastNormalMagnitude, -Double.leastNonzeroMagnitude, 0, Double.leastNonzeroMagnitude,
        Double.leastNormalMagnitude, 0.1, 0.30000000000000004, 1, 1.0000000000000002, 2, 1e18, 4611686018427387904,
        1e308, .greatestFiniteMagnitude, .infinity,
    ]

    func indexBytes(_ score: Double) -> [UInt8] {
        withUnsafeBytes(of: SortedSetScore.sortable(score).bigEndian) { Array($0) }
    }

    @Test func byteOrderIsNumericOrderAtTheEdges() {
        for (a, b) in zip(Self.ordered, Self.ordered.dropFirst()) {
            #expect(compareBytes(indexBytes(a), indexBytes(b)) < 0, "\(a) < \(b)")
        }
    }

    @Test func byteOrderIsNumericOrderForRandomDoubles() {
        var generator = SystemRandomNumberGenerator()
        var checked = 0
        while checked < 20_000 {
            let a = Double(bitPattern: generator.next())
            let b = Double(bitPattern: generator.next())
            guard !a.isNaN, !b.isNaN else { continue }
            let order = compareBytes(indexBytes(a), indexBytes(b))
            #expect((order < 0) == (a < b) && (order == 0) == (a == b), "\(a) vs \(b)")
            checked += 1
        }
    }

    @Test func negativeZeroIsEncodedAsZeroAndEveryOtherScoreRoundTrips() {
        #expect(indexBytes(-0.0) == indexBytes(0.0))
        #expect(SortedSetScore.score(sortable: SortedSetScore.sortable(-0.0)).sign == .plus)
        for score in Self.ordered {
            #expect(SortedSetScore.score(sortable: SortedSetScore.sortable(score)) == score)
        }
    }

    @Test func theTextIsRedisSeventeenDigitsAndRoundTrips() {
        let expected: [(Double, String)] = [
            (0.1, "0.10000000000000001"), (1, "1"), (1e18, "1e+18"), (1e308, "1e+308"), (-0.0, "-0"),
            (.infinity, "inf"), (-.infinity, "-inf"), (0.1 + 0.2, "0.30000000000000004"), (2.5, "2.5"),
            (1.5e-7, "1.4999999999999999e-07"),
        ]
        for (score, text) in expected {
            #expect(String(buffer: SortedSetScore.text(score)) == text)
        }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<10_000 {
            let score = Double(bitPattern: generator.next())
            guard !score.isNaN else { continue }
            let text = SortedSetScore.text(score)
            let parsed = text.withUnsafeReadableBytes { SortedSetScore.parse($0) }
            #expect(parsed?.bitPattern == score.bitPattern, "\(score)")
        }
    }

    @Test func parsingRefusesWhatRedisRefuses() {
        func parse(_ text: String, strict: Bool = true) -> Double? {
            Array(text.utf8).withUnsafeBytes { SortedSetScore.parse($0, strict: strict) }
        }
        #expect(parse("inf") == .infinity && parse("+inf") == .infinity && parse("-inf") == -.infinity)
        #expect(parse("1.5") == 1.5 && parse("-0")?.sign == .minus)
        for refused in ["", "nan", "abc", "1x", " 1", "1 ", "1e400", "-1e400", "1e-400"] {
            #expect(parse(refused) == nil, "\(refused)")
        }
        // Range bounds are read as strtod reads them: out of range rounds, and a leading space is skipped.
        #expect(parse("1e400", strict: false) == .infinity && parse(" 1", strict: false) == 1)
    }

    @Test func eachMemberIsARecordAndAnIndexEntryKeptInStep() throws {
        try withTemporaryStore { store, _ in
            try store.withKeyspace { ks in
                var zset = ks.createCollection(bytes("z"), .sortedSet)
                for (member, score) in [("b", 2.0), ("a", 2.0), ("neg", -1.0), ("top", Double.infinity)] {
                    ks.setScore(&zset, bytes(member), score, previous: nil)
                }
                ks.setScore(&zset, bytes("neg"), 5, previous: -1)
                try ks.save(&zset)
            }
            try store.withKeyspace { ks in
                var zset = try #require(try ks.collectionForWrite(bytes("z"), .sortedSet))
                #expect(zset.count == 4)
                #expect(try ks.score(of: zset, bytes("neg")) == 5 && ks.score(of: zset, bytes("none")) == nil)
                var ordered: [String] = []
                try ks.forEachScored(of: zset) { member, score in
                    ordered.append("\(String(decoding: member, as: UTF8.self))=\(score)")
                    return true
                }
                #expect(ordered == ["a=2.0", "b=2.0", "neg=5.0", "top=inf"])
                ks.removeScored(&zset, bytes("b"), 2)
                try ks.save(&zset)
                var reversed: [String] = []
                try ks.forEachScored(of: zset, order: .descending) { member, _ in
                    reversed.append(String(decoding: member, as: UTF8.self))
                    return true
                }
                #expect(reversed == ["top", "neg", "a"])
            }
            // Two records per member under the generation: 3 members, 6 element records.
            let iterator = store.database.makeIterator()
            iterator.seek([StorageLayout.elementPrefix])
            var elements = 0
            while iterator.isValid, iterator.key.first == StorageLayout.elementPrefix {
                elements += 1
                iterator.next()
            }
            #expect(elements == 6)
        }
    }
}
