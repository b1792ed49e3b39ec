/// The bit arithmetic of the bitmap commands, on a string value's bytes, as Redis's src/bitops.c numbers bits: bit 0
/// is the most significant bit of byte 0, so a value reads left to right as one big-endian bit string, and bytes past
/// its end read as zero.
///
/// Pure functions on raw bytes, so the commands (BitCommands.swift, BitField.swift) only parse, look up and reply.
enum BitArithmetic {
    // MARK: Counting and searching

    /// The number of set bits in `bytes`, eight bytes at a time.
    static func populationCount(_ bytes: UnsafeRawBufferPointer) -> Int {
        var total = 0
        var index = 0
        let count = bytes.count
        // Four independent sums, so the additions do not wait on each other.
        var sums: (Int, Int, Int, Int) = (0, 0, 0, 0)
        while index + 32 <= count {
            sums.0 &+= bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self).nonzeroBitCount
            sums.1 &+= bytes.loadUnaligned(fromByteOffset: index + 8, as: UInt64.self).nonzeroBitCount
            sums.2 &+= bytes.loadUnaligned(fromByteOffset: index + 16, as: UInt64.self).nonzeroBitCount
            sums.3 &+= bytes.loadUnaligned(fromByteOffset: index + 24, as: UInt64.self).nonzeroBitCount
            index += 32
        }
        total = sums.0 &+ sums.1 &+ sums.2 &+ sums.3
        while index + 8 <= count {
            total &+= bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self).nonzeroBitCount
            index += 8
        }
        while index < count {
            total &+= bytes[index].nonzeroBitCount
            index += 1
        }
        return total
    }

    /// The number of set bits among bits `bits` of `bytes` (both ends inside the value).
    static func populationCount(_ bytes: UnsafeRawBufferPointer, bits: ClosedRange<Int>) -> Int {
        let firstByte = bits.lowerBound >> 3
        let lastByte = bits.upperBound >> 3
        let whole = populationCount(UnsafeRawBufferPointer(rebasing: bytes[firstByte...lastByte]))
        // Take back the bits of the edge bytes that lie outside the range (the two masks never overlap).
        let before = ~(UInt8(0xFF) >> (bits.lowerBound & 7))
        let after = UInt8(0xFF) >> ((bits.upperBound & 7) + 1)
        return whole - (bytes[firstByte] & before).nonzeroBitCount - (bytes[lastByte] & after).nonzeroBitCount
    }

    /// The value (0 or 1) of bit `position`; 0 past the end.
    @inline(__always)
    static func bit(_ position: Int, of bytes: UnsafeRawBufferPointer) -> UInt8 {
        let byte = position >> 3
        guard byte < bytes.count else { return 0 }
        return (bytes[byte] >> (7 - UInt8(truncatingIfNeeded: position & 7))) & 1
    }

    /// The position of the first bit equal to `bit` (0 or 1) among bits `bits` of `bytes` (both ends inside the
    /// value), or nil when there is none. Whole runs of eight bytes that cannot hold it are skipped a word at a time.
    static func firstBit(_ bit: UInt8, in bytes: UnsafeRawBufferPointer, bits: ClosedRange<Int>) -> Int? {
        var position = bits.lowerBound
        // The partial byte the range starts in.
        while position & 7 != 0 {
            guard position <= bits.upperBound else { return nil }
            if self.bit(position, of: bytes) == bit { return position }
            position += 1
        }
        // Whole bytes: a byte holds the bit when it is not all the other bit.
        var byte = position >> 3
        let endOfWholeBytes = (bits.upperBound + 1) >> 3
        let skipped: UInt64 = bit == 1 ? 0 : ~0
        while byte + 8 <= endOfWholeBytes && bytes.loadUnaligned(fromByteOffset: byte, as: UInt64.self) == skipped {
            byte += 8
        }
        while byte < endOfWholeBytes {
            let searched = bit == 1 ? bytes[byte] : ~bytes[byte]
            if searched != 0 { return byte * 8 + searched.leadingZeroBitCount }
            byte += 1
        }
        // The partial byte the range ends in.
        position = max(position, byte * 8)
        while position <= bits.upperBound {
            if self.bit(position, of: bytes) == bit { return position }
            position += 1
        }
        return nil
    }

    // MARK: Combining

    /// How BITOP combines two values byte by byte.
    enum Combination {
        case and, or, xor
    }

    /// `result[i] = result[i] <combination> source[i]` for the bytes both have, eight at a time.
    static func combine(_ result: UnsafeMutableRawBufferPointer, with source: UnsafeRawBufferPointer, _ combination: Combination) {
        @inline(__always) func apply<Word: FixedWidthInteger>(_ left: Word, _ right: Word) -> Word {
            switch combination {
            case .and: left & right
            case .or: left | right
            case .xor: left ^ right
            }
        }
        let count = min(result.count, source.count)
        var index = 0
        while index + 8 <= count {
            let left = result.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            let right = source.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            result.storeBytes(of: apply(left, right), toByteOffset: index, as: UInt64.self)
            index += 8
        }
        while index < count {
            result[index] = apply(result[index], source[index])
            index += 1
        }
    }

    /// Flips every bit of `bytes` (BITOP NOT).
    static func invert(_ bytes: UnsafeMutableRawBufferPointer) {
        var index = 0
        while index + 8 <= bytes.count {
            bytes.storeBytes(of: ~bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self), toByteOffset: index, as: UInt64.self)
            index += 8
        }
        while index < bytes.count {
            bytes[index] = ~bytes[index]
            index += 1
        }
    }

    // MARK: Ranges

    /// How a BITCOUNT or BITPOS range counts: in bytes (the default) or, since Redis 7, in bits.
    enum RangeUnit {
        case byte, bit
    }

    /// The bits an inclusive `start...end` range covers in a value of `length` bytes, counted in `unit`s, the way
    /// BITCOUNT and BITPOS read it: negative ends count from the end, then both are clamped to the value. Nil when
    /// the range is empty.
    static func bitRange(start: Int, end: Int, unit: RangeUnit, length: Int) -> ClosedRange<Int>? {
        let total = unit == .bit ? length << 3 : length
        var start = start < 0 ? total &+ start : start
        var end = end < 0 ? total &+ end : end
        start = max(start, 0)
        end = min(max(end, 0), total - 1)
        guard start <= end else { return nil }
        return unit == .bit ? start...end : (start << 3)...((end << 3) | 7)
    }

    // MARK: Bit fields

    /// The widest field that spans: 64 bits starting anywhere inside a byte reach into a ninth byte.
    private static let windowBytes = 9

    /// Bytes `offset >> 3` onward (up to nine, zero past the end) as the top 72 bits of a `UInt128`'s low 72.
    @inline(__always)
    private static func window(_ bytes: UnsafeRawBufferPointer, at firstByte: Int) -> UInt128 {
        var window: UInt128 = 0
        for index in firstByte..<(firstByte + windowBytes) {
            window = (window << 8) | UInt128(index < bytes.count ? bytes[index] : 0)
        }
        return window
    }

    /// The unsigned integer of `width` bits (1...64) at bit `offset`; bits past the end of the value read as zero.
    static func unsignedField(_ bytes: UnsafeRawBufferPointer, offset: Int, width: Int) -> UInt64 {
        let window = window(bytes, at: offset >> 3)
        let shift = windowBytes * 8 - (offset & 7) - width
        let mask: UInt64 = width == 64 ? ~0 : (1 << UInt64(width)) - 1
        return UInt64(truncatingIfNeeded: window >> shift) & mask
    }

    /// The two's complement integer of `width` bits (1...64) at bit `offset`, its top bit the sign.
    static func signedField(_ bytes: UnsafeRawBufferPointer, offset: Int, width: Int) -> Int64 {
        let raw = unsignedField(bytes, offset: offset, width: width)
        guard width < 64, raw & (1 << UInt64(width - 1)) != 0 else { return Int64(bitPattern: raw) }
        return Int64(bitPattern: raw | (~0 << UInt64(width)))
    }

    /// Stores the low `width` bits (1...64) of `value` at bit `offset`, which the buffer must reach.
    static func setField(_ value: UInt64, in bytes: UnsafeMutableRawBufferPointer, offset: Int, width: Int) {
        let firstByte = offset >> 3
        let touchedBytes = ((offset & 7) + width + 7) >> 3
        var window = window(UnsafeRawBufferPointer(bytes), at: firstByte)
        let shift = windowBytes * 8 - (offset & 7) - width
        let mask: UInt128 = (width == 64 ? UInt128(UInt64.max) : (UInt128(1) << width) - 1) << shift
        window = (window & ~mask) | ((UInt128(value) << shift) & mask)
        for index in 0..<touchedBytes {
            let byte = UInt8(truncatingIfNeeded: window >> ((windowBytes - 1 - index) * 8))
            bytes[firstByte + index] = byte
        }
    }

    /// What an INCRBY or SET that does not fit its field does (`BITFIELD ... OVERFLOW WRAP|SAT|FAIL`).
    enum Overflow {
        /// Keeps the low bits: unsigned fields wrap modulo 2^width, signed ones around to the other end.
        case wrap
        /// Clamps to the field's largest or smallest value.
        case saturate
        /// Leaves the field as it is and replies nil.
        case fail
    }

    /// `value + increment` in an unsigned field of `width` bits (1...63), as Redis's `checkUnsignedBitfieldOverflow`:
    /// nil when it does not fit and `overflow` is `.fail`. SET checks its value with an increment of 0; a negative
    /// value, read as unsigned, is then too large, so SAT sets it to the field's maximum.
    static func unsignedSum(_ value: UInt64, _ increment: Int64, width: Int, overflow: Overflow) -> UInt64? {
        let max: UInt64 = (1 << UInt64(width)) - 1
        let sum = value &+ UInt64(bitPattern: increment)
        let maxIncrement = Int64(bitPattern: max &- value)
        let minIncrement = Int64(bitPattern: 0 &- value)
        let tooLarge = value > max || (increment > 0 && increment > maxIncrement)
        let tooSmall = !tooLarge && increment < 0 && increment < minIncrement
        guard tooLarge || tooSmall else { return sum }
        switch overflow {
        case .wrap: return sum & max
        case .saturate: return tooLarge ? max : 0
        case .fail: return nil
        }
    }

    /// `value + increment` in a signed field of `width` bits (1...64), as Redis's `checkSignedBitfieldOverflow`, with
    /// its wrapping arithmetic kept: a SET value below the field's range by more than 2^63 - max is judged an overflow
    /// rather than an underflow, so SAT then gives the maximum, as Redis does.
    static func signedSum(_ value: Int64, _ increment: Int64, width: Int, overflow: Overflow) -> Int64? {
        let max: Int64 = width == 64 ? .max : (1 << Int64(width - 1)) - 1
        let min = -max - 1
        let maxIncrement = Int64(bitPattern: UInt64(bitPattern: max) &- UInt64(bitPattern: value))
        let minIncrement = min &- value
        let tooLarge =
            value > max || (width != 64 && increment > maxIncrement)
            || (value >= 0 && increment > 0 && increment > maxIncrement)
        let tooSmall =
            !tooLarge
            && (value < min || (width != 64 && increment < minIncrement)
                || (value < 0 && increment < 0 && increment < minIncrement))
        guard tooLarge || tooSmall else { return value &+ increment }
        switch overflow {
        case .wrap:
            var sum = UInt64(bitPattern: value) &+ UInt64(bitPattern: increment)
            if width < 64 {
                // Sign-extend from the field's top bit.
                let high: UInt64 = ~0 << UInt64(width)
                sum = sum & (1 << UInt64(width - 1)) != 0 ? sum | high : sum & ~high
            }
            return Int64(bitPattern: sum)
        case .saturate: return tooLarge ? max : min
        case .fail: return nil
        }
    }
}
