import KVStore
import NIOCore
import RESP

/// LCS, the longest common subsequence of two string values, and SUBSTR, GETRANGE's name before Redis 2.0. LCS is
/// matched against Redis 7.0's src/t_string.c (`lcsCommand`) and checked against redis-server 7.0.15
/// (Tests/python/test_lcs.py).
struct SubstringCommands: CommandFamily {
    /// `proto-max-bulk-len` bounds LCS's table, as in Redis.
    let settings: RuntimeSettings

    var commands: [CommandSpec] {
        let settings = self.settings
        return [
            CommandSpec(.lcs) { try Self.lcs($0, limit: settings.maxStringLength) },
            CommandSpec(.substr, handler: StringRangeCommands.getrange),
        ]
    }

    static let notStrings = CommandError("ERR The specified keys must contain string values")

    /// What LCS replies.
    enum Output {
        /// The subsequence itself.
        case subsequence
        /// Its length (`LEN`).
        case length
        /// The matching ranges and the length (`IDX`), ranges shorter than `minimumLength` left out.
        case ranges(minimumLength: Int, withLength: Bool)
    }

    /// `LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]`. A missing key is an empty string; a key of
    /// another type is an error of LCS's own, not WRONGTYPE (the keyspace's string reads throw `WrongTypeError` for it).
    ///
    /// The dynamic programming table has (len1 + 1) × (len2 + 1) 32-bit cells, which Redis refuses to allocate beyond
    /// `proto-max-bulk-len` bytes; kvnode refuses the same requests, and answers LEN with two rows of the table.
    static func lcs(_ ctx: CommandContext, limit: Int) throws {
        let keyspace = ctx.keyspace
        // Both keys are looked up before either is judged, as in Redis. The first is copied: a second read would
        // invalidate the bytes a first one lends.
        var holdsOtherType = false
        let first: ByteBuffer
        do {
            first = try keyspace.read(ctx.argument(1)) { bytes, _ -> ByteBuffer in
                var copy = ByteBuffer()
                copy.writeBytes(bytes)
                return copy
            } ?? ByteBuffer()
        } catch is WrongTypeError {
            (first, holdsOtherType) = (ByteBuffer(), true)
        }
        let found: Void?
        do {
            found = try keyspace.read(ctx.argument(2)) { bytes, _ in
                try first.withUnsafeReadableBytes { try reply(ctx, $0, bytes, holdsOtherType: holdsOtherType, limit: limit) }
            }
        } catch is WrongTypeError {
            throw notStrings
        }
        if found == nil {
            try first.withUnsafeReadableBytes {
                try reply(ctx, $0, UnsafeRawBufferPointer(start: nil, count: 0), holdsOtherType: holdsOtherType, limit: limit)
            }
        }
    }

    /// Checks the types and options, in Redis's order, and replies LCS of `a` and `b`.
    static func reply(
        _ ctx: CommandContext, _ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer, holdsOtherType: Bool,
        limit: Int
    ) throws {
        guard !holdsOtherType else { throw notStrings }
        let output = try options(ctx)
        guard a.count < Int(UInt32.max) - 1, b.count < Int(UInt32.max) - 1 else {
            throw CommandError("ERR String too long for LCS")
        }
        let (cells, overflow) = (a.count + 1).multipliedReportingOverflow(by: b.count + 1)
        guard !overflow, cells <= limit / MemoryLayout<UInt32>.size else {
            throw CommandError("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")
        }
        switch output {
        case .length:
            ctx.reply.integer(LCSTable.length(a, b))
        case .subsequence:
            let table = LCSTable(a, b)
            let subsequence = table.subsequence(a, b)
            subsequence.withUnsafeBytes { ctx.reply.bulk($0) }
        case .ranges(let minimumLength, let withLength):
            let table = LCSTable(a, b)
            let ranges = table.matches(a, b).filter { minimumLength == 0 || $0.length >= minimumLength }
            ctx.reply.mapHeader(2)
            ctx.reply.bulk("matches")
            ctx.reply.arrayHeader(ranges.count)
            for range in ranges {
                ctx.reply.arrayHeader(withLength ? 3 : 2)
                ctx.reply.arrayHeader(2)
                ctx.reply.integer(range.a)
                ctx.reply.integer(range.a + range.length - 1)
                ctx.reply.arrayHeader(2)
                ctx.reply.integer(range.b)
                ctx.reply.integer(range.b + range.length - 1)
                if withLength { ctx.reply.integer(range.length) }
            }
            ctx.reply.bulk("len")
            ctx.reply.integer(table.length)
        }
    }

    /// LCS's options, from argument 3: the words in any order and case, MINMATCHLEN's value below 0 read as 0.
    static func options(_ ctx: CommandContext) throws -> Output {
        var length = false
        var indexes = false
        var withLength = false
        var minimumLength = 0
        var index = 3
        while index < ctx.argumentCount {
            if ctx.argument(index, is: "idx") {
                indexes = true
            } else if ctx.argument(index, is: "len") {
                length = true
            } else if ctx.argument(index, is: "withmatchlen") {
                withLength = true
            } else if ctx.argument(index, is: "minmatchlen") && index + 1 < ctx.argumentCount {
                minimumLength = max(try ctx.integerArgument(index + 1), 0)
                index += 1
            } else {
                throw CommandError.syntax
            }
            index += 1
        }
        if length && indexes {
            throw CommandError("ERR If you want both the length and indexes, please just use IDX.")
        }
        if indexes { return .ranges(minimumLength: minimumLength, withLength: withLength) }
        return length ? .length : .subsequence
    }
}

/// The table of the classic dynamic programme for the longest common subsequence of `a` and `b`: cell (i, j) holds
/// the length of the LCS of the first i bytes of `a` and the first j of `b`.
struct LCSTable {
    private let cells: [UInt32]
    private let columns: Int

    init(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) {
        let columns = b.count + 1
        self.columns = columns
        cells = [UInt32](unsafeUninitializedCapacity: (a.count + 1) * columns) { cells, initialized in
            for j in 0..<columns { cells[j] = 0 }
            for i in 1..<(a.count + 1) {
                let row = i * columns
                let above = row - columns
                cells[row] = 0
                let byte = a[i - 1]
                for j in 1..<columns {
                    cells[row + j] =
                        byte == b[j - 1] ? cells[above + j - 1] + 1 : Swift.max(cells[above + j], cells[row + j - 1])
                }
            }
            initialized = (a.count + 1) * columns
        }
    }

    private subscript(i: Int, j: Int) -> UInt32 { cells[i * columns + j] }

    /// The length of the LCS of the whole of `a` and `b`.
    var length: Int { Int(cells[cells.count - 1]) }

    /// The LCS length alone, with two rows of the table instead of all of it.
    static func length(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
        var previous = [UInt32](repeating: 0, count: b.count + 1)
        var current = previous
        for byte in a {
            for j in 1..<(b.count + 1) {
                current[j] = byte == b[j - 1] ? previous[j - 1] + 1 : Swift.max(previous[j], current[j - 1])
            }
            swap(&previous, &current)
        }
        return Int(previous[b.count])
    }

    /// Walks the table back from its last cell the way Redis does — on a match take it, otherwise step along `a` only
    /// when that keeps a strictly longer LCS, else along `b` — calling `matched(i, j)` for each matching pair of
    /// positions, last first.
    private func walk(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer, _ matched: (Int, Int) -> Void) {
        var i = a.count
        var j = b.count
        while i > 0 && j > 0 {
            if a[i - 1] == b[j - 1] {
                matched(i - 1, j - 1)
                i -= 1
                j -= 1
            } else if self[i - 1, j] > self[i, j - 1] {
                i -= 1
            } else {
                j -= 1
            }
        }
    }

    /// The subsequence the walk finds (Redis's choice among equally long ones).
    func subsequence(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: length)
        var index = length
        walk(a, b) { i, _ in
            index -= 1
            bytes[index] = a[i]
        }
        return bytes
    }

    /// A run of matched positions consecutive in both strings.
    struct Match: Equatable {
        /// Where it starts in each string.
        let a: Int
        let b: Int
        let length: Int
    }

    /// The walk's matches grouped into runs consecutive in both strings, last first, as Redis's IDX reports them.
    func matches(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> [Match] {
        var matches: [Match] = []
        var run: (a: Int, b: Int, end: Int)?
        walk(a, b) { i, j in
            if let current = run, current.a == i + 1, current.b == j + 1 {
                run = (i, j, current.end)
            } else {
                if let current = run { matches.append(Match(a: current.a, b: current.b, length: current.end - current.a + 1)) }
                run = (i, j, i)
            }
        }
        if let current = run { matches.append(Match(a: current.a, b: current.b, length: current.end - current.a + 1)) }
        return matches
    }
}
