/// Redis's `save` setting: take a background snapshot once at least `changes` keys changed and more than `seconds`
/// passed since the last successful one. Empty (kvnode's default, `save ""`) means no automatic snapshots.
public struct SavePoints: Sendable, Equatable, CustomStringConvertible {
    /// One `<seconds> <changes>` pair.
    public struct Point: Sendable, Equatable {
        /// Seconds since the last successful snapshot (Redis's `time_t`), at least 1.
        public let seconds: Int64
        /// Key changes since then; Redis keeps it in a C `int`, so larger values wrap as Redis's do.
        public let changes: Int32
    }

    public let points: [Point]

    /// No save points: no automatic snapshots.
    public init() { points = [] }

    init(points: [Point]) { self.points = points }

    /// Parses `<seconds> <changes> ...` as Redis's CONFIG SET does: the text is split at every single space (so two
    /// spaces in a row make an empty field, which reads as 0), each field is read with `strtoll` (leading white
    /// space and a sign allowed, out-of-range values clamped), and the pairs must have seconds >= 1 and
    /// changes >= 0. `""` is no save points.
    /// - Returns: nil for anything Redis refuses with `Invalid save parameters`.
    public init?(_ text: String) {
        guard !text.isEmpty else {
            self.init(points: [])
            return
        }
        let fields = text.utf8.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        guard fields.count % 2 == 0 else { return nil }
        var points: [Point] = []
        for pair in stride(from: 0, to: fields.count, by: 2) {
            guard let seconds = Self.strtoll(fields[pair]), seconds >= 1,
                let changes = Self.strtoll(fields[pair + 1]), changes >= 0
            else { return nil }
            points.append(Point(seconds: seconds, changes: Int32(truncatingIfNeeded: changes)))
        }
        self.init(points: points)
    }

    public var isEmpty: Bool { points.isEmpty }

    /// As CONFIG GET shows it: `"3600 1 300 100"`, or `""`.
    public var description: String {
        points.map { "\($0.seconds) \($0.changes)" }.joined(separator: " ")
    }

    /// The first point reached with `changes` key changes `elapsed` seconds after the last successful snapshot,
    /// tested as Redis's serverCron does (`dirty >= changes && now - lastsave > seconds`).
    public func point(reachedWith changes: Int, elapsed: Int64) -> Point? {
        points.first { changes >= Int($0.changes) && elapsed > $0.seconds }
    }

    /// C's `strtoll(field, &end, 10)` followed by Redis's `end[0] == '\0'` check: the value, or nil when characters
    /// are left over. A field with no digits at all is 0 if it is empty (as in C) and an error otherwise; a NUL ends
    /// the field, as it ends a C string.
    private static func strtoll(_ field: Substring.UTF8View) -> Int64? {
        let bytes = field.prefix { $0 != 0 }
        var index = bytes.startIndex
        while index < bytes.endIndex, isCSpace(bytes[index]) { index = bytes.index(after: index) }
        var negative = false
        if index < bytes.endIndex, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
            negative = bytes[index] == UInt8(ascii: "-")
            index = bytes.index(after: index)
        }
        let digitsStart = index
        var magnitude: UInt64 = 0
        var clamped = false
        while index < bytes.endIndex, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
            let (times10, overflow1) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(bytes[index] - UInt8(ascii: "0")))
            if overflow1 || overflow2 { clamped = true } else { magnitude = sum }
            index = bytes.index(after: index)
        }
        // No digits: strtoll leaves `end` at the start of the field, so only an empty field passes the check.
        guard index > digitsStart else { return bytes.isEmpty ? 0 : nil }
        guard index == bytes.endIndex else { return nil }
        if negative {
            return clamped || magnitude > UInt64(Int64.max) ? Int64.min : -Int64(magnitude)
        }
        return clamped || magnitude > UInt64(Int64.max) ? Int64.max : Int64(magnitude)
    }

    /// C's `isspace` in the C locale.
    private static func isCSpace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || (byte >= 0x09 && byte <= 0x0D)
    }
}
