#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A contiguous range of user keys in byte order. Each end is inclusive, exclusive or absent (unbounded).
///
/// A glob's literal prefix becomes such a range (`user:1234:` … `user:1234;`), and so do KEYS's PIVOT and SCAN's
/// resume point, so iterating costs a seek plus the keys inside the range, never a scan of the whole keyspace.
public struct KeyRange: Sendable, Equatable {
    /// One end of a range.
    public struct Bound: Sendable, Equatable {
        public var key: [UInt8]
        public var inclusive: Bool

        public init(_ key: [UInt8], inclusive: Bool) {
            self.key = key
            self.inclusive = inclusive
        }
    }

    /// Smallest key of the range, or nil for no lower limit.
    public var lower: Bound?
    /// Largest key of the range, or nil for no upper limit.
    public var upper: Bound?

    public init(lower: Bound? = nil, upper: Bound? = nil) {
        self.lower = lower
        self.upper = upper
    }

    /// Every key.
    public static let all = KeyRange()

    /// Every key that starts with `prefix`: `[prefix, successor(prefix))`.
    public init(prefix: [UInt8]) {
        lower = prefix.isEmpty ? nil : Bound(prefix, inclusive: true)
        upper = Self.successor(ofPrefix: prefix).map { Bound($0, inclusive: false) }
    }

    /// Narrows the range to keys strictly after `key` (KEYS's ascending PIVOT, SCAN's resume point).
    public mutating func restrict(after key: [UInt8]) { tighten(lower: Bound(key, inclusive: false)) }

    /// Narrows the range to keys at or after `key`.
    public mutating func restrict(from key: [UInt8]) { tighten(lower: Bound(key, inclusive: true)) }

    /// Narrows the range to keys strictly before `key` (KEYS's descending PIVOT).
    public mutating func restrict(before key: [UInt8]) { tighten(upper: Bound(key, inclusive: false)) }

    /// The keys in both ranges.
    public func intersection(_ other: KeyRange) -> KeyRange {
        var result = self
        if let lower = other.lower { result.tighten(lower: lower) }
        if let upper = other.upper { result.tighten(upper: upper) }
        return result
    }

    private mutating func tighten(lower bound: Bound) {
        if let lower {
            let order = compareBytes(bound.key, lower.key)
            if order < 0 || (order == 0 && (bound.inclusive || !lower.inclusive)) { return }
        }
        lower = bound
    }

    private mutating func tighten(upper bound: Bound) {
        if let upper {
            let order = compareBytes(bound.key, upper.key)
            if order > 0 || (order == 0 && (bound.inclusive || !upper.inclusive)) { return }
        }
        upper = bound
    }

    /// Whether `key` is at or after the lower end.
    func isAboveLower(_ key: UnsafeRawBufferPointer) -> Bool {
        guard let lower else { return true }
        let order = lower.key.withUnsafeBytes { compareBytes(key, $0) }
        return order > 0 || (order == 0 && lower.inclusive)
    }

    /// Whether `key` is at or before the upper end.
    func isBelowUpper(_ key: UnsafeRawBufferPointer) -> Bool {
        guard let upper else { return true }
        let order = upper.key.withUnsafeBytes { compareBytes(key, $0) }
        return order < 0 || (order == 0 && upper.inclusive)
    }

    /// Whether `key` lies in the range.
    public func contains(_ key: UnsafeRawBufferPointer) -> Bool {
        isAboveLower(key) && isBelowUpper(key)
    }

    /// The smallest string greater than every string starting with `prefix`, or nil when there is none (the prefix
    /// is empty or all 0xFF).
    static func successor(ofPrefix prefix: [UInt8]) -> [UInt8]? {
        var successor = prefix
        while let last = successor.last {
            if last < 0xFF {
                successor[successor.count - 1] = last + 1
                return successor
            }
            successor.removeLast()
        }
        return nil
    }
}

/// Byte-order comparison of two strings, as LevelDB's default comparator orders keys: negative, zero or positive.
@inlinable
public func compareBytes(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
    let common = min(a.count, b.count)
    if common > 0 {
        let order = memcmp(a.baseAddress!, b.baseAddress!, common)
        if order != 0 { return Int(order) }
    }
    return a.count - b.count
}

/// Byte-order comparison of two byte arrays.
@inlinable
public func compareBytes(_ a: [UInt8], _ b: [UInt8]) -> Int {
    a.withUnsafeBytes { a in b.withUnsafeBytes { compareBytes(a, $0) } }
}
