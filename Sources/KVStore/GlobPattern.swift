/// A Redis glob pattern (`stringmatchlen`): `*`, `?`, `[abc]`, `[^a]`, `[a-z]` and `\` escapes, matched byte by byte.
///
/// Besides matching, it yields the pattern's literal prefix — the bytes every match starts with — which turns
/// `KEYS user:1234:*` into a seek to `user:1234:` and a scan that stops at the first key past that prefix.
public struct GlobPattern: Sendable {
    public let pattern: [UInt8]
    /// Bytes every matching string starts with (escapes resolved).
    public let literalPrefix: [UInt8]
    /// True when the pattern has no wildcard: it matches exactly `literalPrefix` and nothing else.
    public let isExact: Bool
    /// True for `*` (and `**`...): everything matches.
    public let matchesEverything: Bool

    public init<Bytes: Sequence<UInt8>>(_ pattern: Bytes) {
        let pattern = Array(pattern)
        self.pattern = pattern
        var prefix: [UInt8] = []
        var index = 0
        var exact = true
        scan: while index < pattern.count {
            switch pattern[index] {
            case UInt8(ascii: "*"), UInt8(ascii: "?"), UInt8(ascii: "["):
                exact = false
                break scan
            case UInt8(ascii: "\\") where index + 1 < pattern.count:
                prefix.append(pattern[index + 1])
                index += 2
            default:
                prefix.append(pattern[index])
                index += 1
            }
        }
        literalPrefix = prefix
        isExact = exact
        matchesEverything = !pattern.isEmpty && pattern.allSatisfy { $0 == UInt8(ascii: "*") }
    }

    /// Whether `string` matches the whole pattern.
    public func matches(_ string: UnsafeRawBufferPointer) -> Bool {
        if matchesEverything { return true }
        return pattern.withUnsafeBytes { patternBytes in
            var skipLongerMatches = false
            return Self.match(patternBytes[...], string[...], &skipLongerMatches, nesting: 0)
        }
    }

    /// Whether `string` matches the whole pattern.
    public func matches<Bytes: Sequence<UInt8>>(_ string: Bytes) -> Bool {
        if let result = string.withContiguousStorageIfAvailable({ matches(UnsafeRawBufferPointer($0)) }) {
            return result
        }
        return Array(string).withUnsafeBytes { matches($0) }
    }

    /// A port of Redis's `stringmatchlen_impl`, including its guard against patterns that nest too deeply and its
    /// early exit once a `*` has failed at every later position.
    private static func match(
        _ pattern: Slice<UnsafeRawBufferPointer>, _ string: Slice<UnsafeRawBufferPointer>,
        _ skipLongerMatches: inout Bool, nesting: Int
    ) -> Bool {
        if nesting > 1000 { return false }
        var p = pattern.startIndex
        var s = string.startIndex
        let pEnd = pattern.endIndex
        let sEnd = string.endIndex
        while p < pEnd && s < sEnd {
            switch pattern[p] {
            case UInt8(ascii: "*"):
                while p + 1 < pEnd && pattern[p + 1] == UInt8(ascii: "*") { p += 1 }
                if p + 1 == pEnd { return true }
                while s < sEnd {
                    if match(pattern[(p + 1)...], string[s...], &skipLongerMatches, nesting: nesting + 1) { return true }
                    if skipLongerMatches { return false }
                    s += 1
                }
                skipLongerMatches = true
                return false
            case UInt8(ascii: "?"):
                s += 1
            case UInt8(ascii: "["):
                p += 1
                let negate = p < pEnd && pattern[p] == UInt8(ascii: "^")
                if negate { p += 1 }
                var matched = false
                let c = string[s]
                while true {
                    if p < pEnd && pattern[p] == UInt8(ascii: "\\") && pEnd - p >= 2 {
                        p += 1
                        if pattern[p] == c { matched = true }
                    } else if p < pEnd && pattern[p] == UInt8(ascii: "]") {
                        break
                    } else if p >= pEnd {
                        // An unterminated class: Redis steps back so the outer loop ends cleanly.
                        p -= 1
                        break
                    } else if pEnd - p >= 3 && pattern[p + 1] == UInt8(ascii: "-") {
                        var start = pattern[p]
                        var end = pattern[p + 2]
                        if start > end { swap(&start, &end) }
                        p += 2
                        if c >= start && c <= end { matched = true }
                    } else if pattern[p] == c {
                        matched = true
                    }
                    p += 1
                }
                if negate { matched.toggle() }
                if !matched { return false }
                s += 1
            case UInt8(ascii: "\\") where pEnd - p >= 2:
                p += 1
                if pattern[p] != string[s] { return false }
                s += 1
            default:
                if pattern[p] != string[s] { return false }
                s += 1
            }
            p += 1
            if s == sEnd {
                while p < pEnd && pattern[p] == UInt8(ascii: "*") { p += 1 }
                break
            }
        }
        return p == pEnd && s == sEnd
    }
}
