import Testing

@testable import KVEngine

/// The bitmap commands' arithmetic (BitArithmetic.swift, LCSTable) against naive bit-by-bit versions over every range
/// and field of pseudo-random values; the commands themselves are checked against redis-server in
/// Tests/python/test_bits.py and test_lcs.py.
@Suite struct BitArithmeticTests {
    /// Deterministic bytes: mostly all-zero or all-one runs (which the word-at-a-time paths skip) with noise.
    static func sample(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed
        return (0..<count).map { index in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let noise = UInt8(truncatingIfNeeded: state >> 56)
            switch (index / 11 + Int(seed)) % 3 {
            case 0: return 0
            case 1: return noise % 7 == 0 ? noise : 0xFF
            default: return noise
            }
        }
    }

    static func naiveBit(_ bytes: [UInt8], _ position: Int) -> UInt8 {
        position >> 3 < bytes.count ? (bytes[position >> 3] >> (7 - UInt8(position & 7))) & 1 : 0
    }

    @Test func populationCountOfEveryRange() {
        for length in [0, 1, 7, 8, 9, 31, 32, 33, 70] {
            let bytes = Self.sample(length, seed: UInt64(length))
            bytes.withUnsafeBytes { raw in
                #expect(BitArithmetic.populationCount(raw) == bytes.reduce(0) { $0 + $1.nonzeroBitCount })
                guard length > 0 else { return }
                for first in stride(from: 0, to: length * 8, by: 3) {
                    for last in stride(from: first, to: length * 8, by: 5) {
                        let naive = (first...last).reduce(0) { $0 + Int(Self.naiveBit(bytes, $1)) }
                        #expect(BitArithmetic.populationCount(raw, bits: first...last) == naive, "\(first)...\(last)")
                    }
                }
            }
        }
    }

    @Test func firstBitOfEveryRange() {
        for length in [1, 2, 9, 24, 41] {
            let bytes = Self.sample(length, seed: UInt64(length) + 7)
            bytes.withUnsafeBytes { raw in
                for bit: UInt8 in [0, 1] {
                    for first in 0..<(length * 8) {
                        for last in stride(from: first, to: length * 8, by: 7) {
                            let naive = (first...last).first { Self.naiveBit(bytes, $0) == bit }
                            #expect(BitArithmetic.firstBit(bit, in: raw, bits: first...last) == naive)
                        }
                    }
                }
            }
        }
    }

    @Test func rangesCountFromTheEndAndClamp() {
        #expect(BitArithmetic.bitRange(start: 0, end: -1, unit: .byte, length: 3) == 0...23)
        #expect(BitArithmetic.bitRange(start: -1, end: -1, unit: .byte, length: 3) == 16...23)
        #expect(BitArithmetic.bitRange(start: -100, end: 100, unit: .byte, length: 3) == 0...23)
        #expect(BitArithmetic.bitRange(start: 5, end: 30, unit: .bit, length: 6) == 5...30)
        #expect(BitArithmetic.bitRange(start: -3, end: -1, unit: .bit, length: 1) == 5...7)
        #expect(BitArithmetic.bitRange(start: 2, end: 1, unit: .byte, length: 3) == nil)
        #expect(BitArithmetic.bitRange(start: 0, end: -1, unit: .byte, length: 0) == nil)
        #expect(BitArithmetic.bitRange(start: .min, end: .max, unit: .bit, length: 2) == 0...15)
    }

    @Test func fieldsReadAndWriteLikeBitByBit() {
        let original = Self.sample(12, seed: 3)
        for width in 1...64 {
            for offset in 0...(96 - width) {
                var naive: UInt64 = 0
                for position in offset..<(offset + width) {
                    naive = naive << 1 | UInt64(Self.naiveBit(original, position))
                }
                original.withUnsafeBytes { raw in
                    #expect(BitArithmetic.unsignedField(raw, offset: offset, width: width) == naive)
                    let negative = width < 64 && naive >> UInt64(width - 1) == 1
                    let signed = negative ? Int64(bitPattern: naive | ~0 << UInt64(width)) : Int64(bitPattern: naive)
                    #expect(BitArithmetic.signedField(raw, offset: offset, width: width) == signed)
                }
                // Writing the complement changes exactly the field's bits.
                var written = original
                written.withUnsafeMutableBytes { BitArithmetic.setField(~naive, in: $0, offset: offset, width: width) }
                for position in 0..<96 {
                    let inField = position >= offset && position < offset + width
                    let expected = Self.naiveBit(original, position) ^ (inField ? 1 : 0)
                    #expect(Self.naiveBit(written, position) == expected, "width \(width) offset \(offset)")
                }
            }
        }
    }

    @Test func fieldsPastTheEndReadAsZero() {
        [UInt8(0xFF)].withUnsafeBytes { raw in
            #expect(BitArithmetic.unsignedField(raw, offset: 4, width: 8) == 0xF0)
            #expect(BitArithmetic.signedField(raw, offset: 8, width: 64) == 0)
            #expect(BitArithmetic.signedField(raw, offset: 0, width: 4) == -1)
        }
    }

    @Test func unsignedOverflow() {
        #expect(BitArithmetic.unsignedSum(3, 1, width: 2, overflow: .wrap) == 0)
        #expect(BitArithmetic.unsignedSum(3, 1, width: 2, overflow: .saturate) == 3)
        #expect(BitArithmetic.unsignedSum(3, 1, width: 2, overflow: .fail) == nil)
        #expect(BitArithmetic.unsignedSum(0, -1, width: 8, overflow: .wrap) == 255)
        #expect(BitArithmetic.unsignedSum(0, -1, width: 8, overflow: .saturate) == 0)
        #expect(BitArithmetic.unsignedSum(200, -100, width: 8, overflow: .fail) == 100)
        // (2^63 - 1) + (2^63 - 1) = 2^64 - 2, whose low 63 bits are 2^63 - 2.
        #expect(BitArithmetic.unsignedSum((1 << 63) - 1, .max, width: 63, overflow: .wrap) == (UInt64(1) << 63) - 2)
        // SET checks its value with an increment of 0: a negative value, read unsigned, is too large.
        #expect(BitArithmetic.unsignedSum(UInt64(bitPattern: -2), 0, width: 8, overflow: .wrap) == 254)
        #expect(BitArithmetic.unsignedSum(UInt64(bitPattern: -2), 0, width: 8, overflow: .saturate) == 255)
    }

    @Test func signedOverflow() {
        #expect(BitArithmetic.signedSum(127, 1, width: 8, overflow: .wrap) == -128)
        #expect(BitArithmetic.signedSum(127, 1, width: 8, overflow: .saturate) == 127)
        #expect(BitArithmetic.signedSum(-128, -1, width: 8, overflow: .saturate) == -128)
        #expect(BitArithmetic.signedSum(-128, -1, width: 8, overflow: .wrap) == 127)
        #expect(BitArithmetic.signedSum(-128, -1, width: 8, overflow: .fail) == nil)
        #expect(BitArithmetic.signedSum(.max, 1, width: 64, overflow: .wrap) == .min)
        #expect(BitArithmetic.signedSum(.min, -1, width: 64, overflow: .saturate) == .min)
        #expect(BitArithmetic.signedSum(.min, .max, width: 64, overflow: .fail) == -1)
        #expect(BitArithmetic.signedSum(-1000, 0, width: 8, overflow: .saturate) == -128)
        // Redis's wrapping check takes a value this far below the range for an overflow.
        #expect(BitArithmetic.signedSum(.min, 0, width: 8, overflow: .saturate) == 127)
        #expect(BitArithmetic.signedSum(.min + 5, 0, width: 8, overflow: .wrap) == 5)
    }

    @Test func combineAndInvertMatchBytewise() {
        let left = Self.sample(37, seed: 11)
        let right = Self.sample(29, seed: 12)
        for (combination, operation) in [
            (BitArithmetic.Combination.and, { (a: UInt8, b: UInt8) in a & b }), (.or, { $0 | $1 }), (.xor, { $0 ^ $1 }),
        ] {
            var result = left
            right.withUnsafeBytes { source in
                result.withUnsafeMutableBytes { BitArithmetic.combine($0, with: source, combination) }
            }
            #expect(result == zip(left, right).map(operation) + left[29...])
        }
        var inverted = left
        inverted.withUnsafeMutableBytes { BitArithmetic.invert($0) }
        #expect(inverted == left.map { ~$0 })
    }

    @Test func longestCommonSubsequence() {
        let a = Array("ohmytext".utf8)
        let b = Array("mynewtext".utf8)
        a.withUnsafeBytes { a in
            b.withUnsafeBytes { b in
                let table = LCSTable(a, b)
                #expect(table.length == 6)
                #expect(LCSTable.length(a, b) == 6)
                #expect(table.subsequence(a, b) == Array("mytext".utf8))
                #expect(table.matches(a, b) == [.init(a: 4, b: 5, length: 4), .init(a: 2, b: 0, length: 2)])
            }
        }
        for seed in 0..<20 as Range<UInt64> {
            let a = Self.sample(Int(seed) * 3, seed: seed).map { $0 % 3 }
            let b = Self.sample(40 - Int(seed), seed: seed + 100).map { $0 % 3 }
            a.withUnsafeBytes { a in
                b.withUnsafeBytes { b in
                    let table = LCSTable(a, b)
                    let subsequence = table.subsequence(a, b)
                    #expect(LCSTable.length(a, b) == table.length)
                    #expect(subsequence.count == table.length)
                    #expect(table.matches(a, b).reduce(0) { $0 + $1.length } == table.length)
                }
            }
        }
    }
}
