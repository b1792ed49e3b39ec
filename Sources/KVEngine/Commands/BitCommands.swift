import KVStore
import NIOCore
import RESP

/// SETBIT, GETBIT, BITCOUNT, BITPOS and BITOP: a string value as an array of bits, bit 0 the top bit of the first
/// byte. Matched against Redis 7.0's src/bitops.c and checked against redis-server 7.0.15 (Tests/python/test_bits.py);
/// BITFIELD is in BitField.swift, the arithmetic in BitArithmetic.swift.
///
/// Writes go through the keyspace's `set` and `delete`, so they take a revision, reach the change log and invalidate
/// WATCH. As in Redis, a SETBIT that changes nothing (the bit already has the value, the value does not grow) writes
/// nothing and notifies nothing. A bit offset may address at most `proto-max-bulk-len` bytes (512 MB by default:
/// bits 0 to 2^32 - 1).
struct BitCommands: CommandFamily {
    /// `proto-max-bulk-len` bounds the bit offsets SETBIT, GETBIT and BITFIELD accept.
    let settings: RuntimeSettings

    var commands: [CommandSpec] {
        let settings = self.settings
        return [
            CommandSpec(.setbit) { try Self.setbit($0, limit: settings.maxStringLength) },
            // Single-key reads: they may run from committed data without the lock, as GET does.
            CommandSpec(.getbit, kvnodeFlags: .readsCommitted) { try Self.getbit($0, limit: settings.maxStringLength) },
            CommandSpec(.bitcount, kvnodeFlags: .readsCommitted, handler: Self.bitcount),
            CommandSpec(.bitpos, kvnodeFlags: .readsCommitted, handler: Self.bitpos),
            CommandSpec(.bitop, handler: Self.bitop),
        ]
    }

    static let offsetOutOfRange = CommandError("ERR bit offset is not an integer or out of range")
    static let bitOutOfRange = CommandError("ERR bit is not an integer or out of range")

    /// Redis's `getBitOffsetFromArgument`: argument `index` as a bit offset, an integer from 0 whose byte lies within
    /// `limit` bytes. With `fieldWidth` (BITFIELD) the `#n` form means the n-th field of that width, `n * width`.
    static func bitOffset(
        _ ctx: CommandContext, _ index: Int, limit: Int, fieldWidth: Int? = nil
    ) throws(CommandError) -> Int {
        let offset: Int? = ctx.request.withArgument(index) { text in
            var digits = text
            var multiplier = 1
            if let fieldWidth, text.first == UInt8(ascii: "#") {
                digits = UnsafeRawBufferPointer(rebasing: text[1...])
                multiplier = fieldWidth
            }
            guard let parsed = RESPInteger.parse(digits) else { return nil }
            let (offset, overflow) = parsed.multipliedReportingOverflow(by: multiplier)
            guard !overflow, offset >= 0, offset >> 3 < limit else { return nil }
            return offset
        }
        guard let offset else { throw offsetOutOfRange }
        return offset
    }

    /// A copy of `bytes` padded with zero bytes to `length` (at least its own): the one copy a bit write makes of the
    /// value it changes.
    static func paddedCopy(of bytes: UnsafeRawBufferPointer, length: Int) -> ByteBuffer {
        var copy = ByteBuffer()
        copy.reserveCapacity(max(bytes.count, length))
        copy.writeBytes(bytes)
        if length > bytes.count { copy.writeRepeatingByte(0, count: length - bytes.count) }
        return copy
    }

    /// `count` zero bytes: the value a bit write creates.
    static func zeros(_ count: Int) -> ByteBuffer {
        var zeros = ByteBuffer()
        zeros.reserveCapacity(count)
        zeros.writeRepeatingByte(0, count: count)
        return zeros
    }

    // MARK: SETBIT, GETBIT

    /// `SETBIT key offset 0|1`: replies the bit's previous value, growing the value with zero bytes to reach it.
    static func setbit(_ ctx: CommandContext, limit: Int) throws {
        let offset = try bitOffset(ctx, 2, limit: limit)
        guard let bit = ctx.request.withArgument(3, RESPInteger.parse), bit == 0 || bit == 1 else {
            throw bitOutOfRange
        }
        let keyspace = ctx.keyspace
        let key = ctx.argument(1)
        let byte = offset >> 3
        let mask = UInt8(0x80) >> UInt8(offset & 7)
        let existing = try keyspace.readForWrite(key) { bytes, expireAt throws in
            try StoredValue.requireString(bytes)
            let wasSet = byte < bytes.count && bytes[byte] & mask != 0
            // Nothing changes: no write, no revision, no notification.
            guard byte >= bytes.count || wasSet != (bit == 1) else {
                return (wasSet: wasSet, updated: ByteBuffer?.none, expireAt: expireAt)
            }
            return (wasSet: wasSet, updated: Optional(paddedCopy(of: bytes, length: byte + 1)), expireAt: expireAt)
        }
        if let existing, existing.updated == nil { return ctx.reply.integer(existing.wasSet ? 1 : 0) }
        var value = existing?.updated ?? zeros(byte + 1)
        value.withUnsafeMutableReadableBytes { bytes in
            bytes[byte] = bit == 1 ? bytes[byte] | mask : bytes[byte] & ~mask
        }
        try keyspace.set(
            key, value: value, expireAt: existing?.expireAt ?? 0, previousExpiry: existing?.expireAt, rawEncoding: true)
        ctx.notify(.string, "setbit", key: key)
        ctx.reply.integer(existing?.wasSet == true ? 1 : 0)
    }

    /// `GETBIT key offset`: 0 past the end of the value or for a missing key; the offset is checked first.
    static func getbit(_ ctx: CommandContext, limit: Int) throws {
        let offset = try bitOffset(ctx, 2, limit: limit)
        let bit = try ctx.readKey(1) { bytes, _ throws in
            try StoredValue.requireString(bytes)
            return Int(BitArithmetic.bit(offset, of: bytes))
        }
        ctx.reply.integer(bit ?? 0)
    }

    // MARK: BITCOUNT, BITPOS

    /// `BYTE` or `BIT` at argument `index`.
    static func rangeUnit(_ ctx: CommandContext, _ index: Int) throws(CommandError) -> BitArithmetic.RangeUnit {
        if ctx.argument(index, is: "byte") { return .byte }
        if ctx.argument(index, is: "bit") { return .bit }
        throw .syntax
    }

    /// `BITCOUNT key [start end [BYTE|BIT]]`: the set bits of the value or of an inclusive range of it.
    ///
    /// Redis 7.0 looks the key up before it reads the range, so a missing key counts 0 whatever the arguments (7.2
    /// checks them first).
    static func bitcount(_ ctx: CommandContext) throws {
        let count = try ctx.readKey(1) { bytes, _ throws -> Int in
            try StoredValue.requireString(bytes)
            switch ctx.argumentCount {
            case 2:
                return BitArithmetic.populationCount(bytes)
            case 4, 5:
                let start = try ctx.integerArgument(2)
                let end = try ctx.integerArgument(3)
                let unit = ctx.argumentCount == 5 ? try rangeUnit(ctx, 4) : .byte
                // Both from the end and crossed: empty, before they are clamped (where they could meet at 0).
                if start < 0 && end < 0 && start > end { return 0 }
                guard
                    let bits = BitArithmetic.bitRange(start: start, end: end, unit: unit, length: bytes.count)
                else { return 0 }
                return BitArithmetic.populationCount(bytes, bits: bits)
            default:
                throw CommandError.syntax
            }
        }
        ctx.reply.integer(count ?? 0)
    }

    /// `BITPOS key 0|1 [start [end [BYTE|BIT]]]`: the position of the first bit with that value, or -1.
    ///
    /// Without an end the value counts as padded with zero bits on the right, so a search for 0 in a value of ones
    /// finds the bit after the range; with an end it does not. A missing key is all zeros (0 for 0, -1 for 1) whatever
    /// the range, which Redis 7.0 reads only for an existing key.
    static func bitpos(_ ctx: CommandContext) throws {
        let bit = try ctx.integerArgument(2)
        guard bit == 0 || bit == 1 else { throw CommandError("ERR The bit argument must be 1 or 0.") }
        let position = try ctx.readKey(1) { bytes, _ throws -> Int in
            try StoredValue.requireString(bytes)
            var start = 0
            var end = -1
            var unit = BitArithmetic.RangeUnit.byte
            let argumentCount = ctx.argumentCount
            switch argumentCount {
            case 3:
                break
            case 4, 5, 6:
                // Redis's order: start, then the unit, then the end.
                start = try ctx.integerArgument(3)
                if argumentCount == 6 { unit = try rangeUnit(ctx, 5) }
                if argumentCount >= 5 { end = try ctx.integerArgument(4) }
            default:
                throw CommandError.syntax
            }
            guard let bits = BitArithmetic.bitRange(start: start, end: end, unit: unit, length: bytes.count) else {
                return -1
            }
            if let found = BitArithmetic.firstBit(UInt8(bit), in: bytes, bits: bits) { return found }
            return bit == 0 && argumentCount < 5 ? bits.upperBound + 1 : -1
        }
        ctx.reply.integer(position ?? (bit == 1 ? -1 : 0))
    }

    // MARK: BITOP

    enum BitOperation {
        case and, or, xor, not
    }

    /// `BITOP AND|OR|XOR|NOT destkey key [key ...]`: stores the operation over the sources, a missing or shorter one
    /// read as zero bytes, and replies the result's length, the longest source's. An empty result deletes the
    /// destination (`del`); otherwise it is set without expiry (`set`).
    static func bitop(_ ctx: CommandContext) throws {
        let operation: BitOperation
        if ctx.argument(1, is: "and") { operation = .and }
        else if ctx.argument(1, is: "or") { operation = .or }
        else if ctx.argument(1, is: "xor") { operation = .xor }
        else if ctx.argument(1, is: "not") { operation = .not }
        else { throw CommandError.syntax }
        guard operation != .not || ctx.argumentCount == 4 else {
            throw CommandError("ERR BITOP NOT must be called with a single source key.")
        }
        let keyspace = ctx.keyspace
        // Folded one source at a time, so no source is copied: only the result is built.
        var result = ByteBuffer()
        for index in 3..<ctx.argumentCount {
            let found: Void? = try keyspace.read(ctx.argument(index)) { bytes, _ in
                try StoredValue.requireString(bytes)
                fold(bytes, into: &result, operation, first: index == 3)
            }
            if found == nil { fold(UnsafeRawBufferPointer(start: nil, count: 0), into: &result, operation, first: index == 3) }
        }
        let destination = ctx.argument(2)
        if result.readableBytes > 0 {
            try keyspace.set(
                destination, value: result, expireAt: 0, previousExpiry: try keyspace.expiry(of: destination),
                rawEncoding: true)
            ctx.notify(.string, "set", key: destination)
        } else if try keyspace.delete(destination) {
            ctx.notify(.generic, "del", key: destination)
        }
        ctx.reply.integer(result.readableBytes)
    }

    /// Combines `source` into `result`, growing it with zero bytes to the longer of the two.
    static func fold(_ source: UnsafeRawBufferPointer, into result: inout ByteBuffer, _ operation: BitOperation, first: Bool) {
        if first {
            result.reserveCapacity(source.count)
            result.writeBytes(source)
            if operation == .not { result.withUnsafeMutableReadableBytes { BitArithmetic.invert($0) } }
            return
        }
        if source.count > result.readableBytes { result.writeRepeatingByte(0, count: source.count - result.readableBytes) }
        result.withUnsafeMutableReadableBytes { bytes in
            switch operation {
            case .and:
                BitArithmetic.combine(bytes, with: source, .and)
                // AND with the zero bytes past a shorter source.
                if source.count < bytes.count {
                    UnsafeMutableRawBufferPointer(rebasing: bytes[source.count...])
                        .initializeMemory(as: UInt8.self, repeating: 0)
                }
            case .or: BitArithmetic.combine(bytes, with: source, .or)
            case .xor: BitArithmetic.combine(bytes, with: source, .xor)
            case .not: preconditionFailure("NOT has a single source")
            }
        }
    }
}
