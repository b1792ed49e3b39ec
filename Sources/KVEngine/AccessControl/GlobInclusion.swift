import KVStore

/// Whether every string one Redis glob matches is matched by another: "may the user read every key `KEYS user:*`
/// could return, given key patterns `user:*` and `admin`?". kvnode's pattern commands (PDEL, KEYS WITHVALUES,
/// KV.WATCH PREFIX/PATTERN) reach keys by a glob or prefix instead of naming them, so access control asks this question
/// instead of matching keys one by one.
///
/// The answer is exact for the language `stringmatchlen` (and `GlobPattern`) gives a pattern: both globs are read into
/// tokens that consume exactly what the matcher consumes (a byte set per `?`, `[...]`, escape or literal; `*` for any
/// run), and inclusion is decided on automata: the candidate's NFA walked in step with the subset construction of the
/// union of the allowed patterns, over the byte classes the patterns distinguish. A word the candidate accepts while
/// no allowed pattern does is a counter-example. Whenever the walk grows too large, or an allowed pattern has so many
/// `*` that Redis's matcher would give up on it (its nesting limit), the answer is "not covered": refusing is safe.
enum GlobInclusion {
    /// Whether every string `candidate` matches is matched by at least one of `allowed`.
    static func isCovered(_ candidate: GlobPattern, by allowed: [GlobPattern]) -> Bool {
        if allowed.contains(where: \.matchesEverything) { return true }
        let usable = allowed.map(tokens).filter { $0.filter { $0 == .star }.count <= maximumStars }
        return Inclusion(candidate: tokens(candidate), allowed: usable).holds()
    }

    /// Whether every key starting with `prefix` is matched by one of `allowed`.
    static func isCovered(prefix: [UInt8], by allowed: [GlobPattern]) -> Bool {
        isCovered(prefixPattern(prefix), by: allowed)
    }

    /// The glob matching exactly the strings that start with `prefix`: its bytes escaped, then `*`.
    static func prefixPattern(_ prefix: [UInt8]) -> GlobPattern {
        var pattern: [UInt8] = []
        for byte in prefix {
            if byte == UInt8(ascii: "*") || byte == UInt8(ascii: "?") || byte == UInt8(ascii: "[")
                || byte == UInt8(ascii: "\\")
            {
                pattern.append(UInt8(ascii: "\\"))
            }
            pattern.append(byte)
        }
        pattern.append(UInt8(ascii: "*"))
        return GlobPattern(pattern)
    }

    /// Redis's matcher stops recursing past 1000 nested `*`; well below that the token language is exact.
    private static let maximumStars = 64
    /// Pairs of states visited before giving up (and refusing).
    private static let maximumStates = 20_000

    // MARK: Tokens

    /// One step of a glob: any run of bytes, or exactly one byte from a set.
    enum Token: Equatable {
        case star
        case byte(ByteSet)
    }

    /// A set of bytes, as four 64-bit words.
    struct ByteSet: Equatable, Hashable {
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

        static let all: ByteSet = {
            var set = ByteSet()
            set.words = (.max, .max, .max, .max)
            return set
        }()

        init() {}

        init(_ byte: UInt8) {
            insert(byte)
        }

        func contains(_ byte: UInt8) -> Bool {
            let bit = UInt64(1) << UInt64(byte & 63)
            switch byte >> 6 {
            case 0: return words.0 & bit != 0
            case 1: return words.1 & bit != 0
            case 2: return words.2 & bit != 0
            default: return words.3 & bit != 0
            }
        }

        mutating func insert(_ byte: UInt8) {
            let bit = UInt64(1) << UInt64(byte & 63)
            switch byte >> 6 {
            case 0: words.0 |= bit
            case 1: words.1 |= bit
            case 2: words.2 |= bit
            default: words.3 |= bit
            }
        }

        var complement: ByteSet {
            var set = ByteSet()
            set.words = (~words.0, ~words.1, ~words.2, ~words.3)
            return set
        }

        var isEmpty: Bool { words == (0, 0, 0, 0) }

        static func == (lhs: ByteSet, rhs: ByteSet) -> Bool { lhs.words == rhs.words }

        func hash(into hasher: inout Hasher) {
            hasher.combine(words.0)
            hasher.combine(words.1)
            hasher.combine(words.2)
            hasher.combine(words.3)
        }
    }

    /// Reads `glob` exactly as `stringmatchlen` walks it: the bytes each step consumes do not depend on the string, so
    /// the pattern is a sequence of byte sets and stars (consecutive stars merged).
    static func tokens(_ glob: GlobPattern) -> [Token] {
        let pattern = glob.pattern
        let end = pattern.count
        var tokens: [Token] = []
        var p = 0
        while p < end {
            switch pattern[p] {
            case UInt8(ascii: "*"):
                if tokens.last != .star { tokens.append(.star) }
            case UInt8(ascii: "?"):
                tokens.append(.byte(.all))
            case UInt8(ascii: "["):
                p += 1
                let negate = p < end && pattern[p] == UInt8(ascii: "^")
                if negate { p += 1 }
                var set = ByteSet()
                while true {
                    if p < end && pattern[p] == UInt8(ascii: "\\") && end - p >= 2 {
                        p += 1
                        set.insert(pattern[p])
                    } else if p < end && pattern[p] == UInt8(ascii: "]") {
                        break
                    } else if p >= end {
                        p -= 1  // an unterminated class, as the matcher treats it
                        break
                    } else if end - p >= 3 && pattern[p + 1] == UInt8(ascii: "-") {
                        let (low, high) = (min(pattern[p], pattern[p + 2]), max(pattern[p], pattern[p + 2]))
                        for byte in low...high { set.insert(byte) }
                        p += 2
                    } else {
                        set.insert(pattern[p])
                    }
                    p += 1
                }
                tokens.append(.byte(negate ? set.complement : set))
            case UInt8(ascii: "\\") where end - p >= 2:
                p += 1
                tokens.append(.byte(ByteSet(pattern[p])))
            default:
                tokens.append(.byte(ByteSet(pattern[p])))
            }
            p += 1
        }
        return tokens
    }

    // MARK: Inclusion

    /// The walk: pairs of (candidate NFA state, set of allowed-pattern states).
    private struct Inclusion {
        let candidate: [Token]
        let allowed: [[Token]]
        /// Where each allowed pattern's states start in the combined numbering.
        let offsets: [Int]
        let stateCount: Int
        /// One byte of each class of bytes that no token tells apart.
        let representatives: [UInt8]

        init(candidate: [Token], allowed: [[Token]]) {
            self.candidate = candidate
            self.allowed = allowed
            var offsets: [Int] = []
            var total = 0
            for tokens in allowed {
                offsets.append(total)
                total += tokens.count + 1
            }
            self.offsets = offsets
            self.stateCount = total
            var sets: [ByteSet] = []
            for case .byte(let set) in candidate + allowed.flatMap({ $0 }) where !sets.contains(set) { sets.append(set) }
            // Bytes with the same membership in every set behave alike: one stands for its class.
            var seen = Set<[Bool]>()
            var representatives: [UInt8] = []
            for byte in UInt8.min...UInt8.max {
                let signature = sets.map { $0.contains(byte) }
                if seen.insert(signature).inserted { representatives.append(byte) }
            }
            self.representatives = representatives
        }

        /// The states reachable from `state` without consuming a byte (a `*` may match nothing).
        private static func closure(_ tokens: [Token], from state: Int) -> [Int] {
            var states = [state]
            var current = state
            while current < tokens.count, tokens[current] == .star {
                current += 1
                states.append(current)
            }
            return states
        }

        /// The states after consuming `byte` from `state`.
        private static func step(_ tokens: [Token], _ state: Int, _ byte: UInt8) -> [Int] {
            guard state < tokens.count else { return [] }
            switch tokens[state] {
            case .star: return closure(tokens, from: state)
            case .byte(let set): return set.contains(byte) ? closure(tokens, from: state + 1) : []
            }
        }

        private func allowedStart() -> [Bool] {
            var states = [Bool](repeating: false, count: stateCount)
            for (index, tokens) in allowed.enumerated() {
                for state in Self.closure(tokens, from: 0) { states[offsets[index] + state] = true }
            }
            return states
        }

        private func allowedStep(_ states: [Bool], _ byte: UInt8) -> [Bool] {
            var next = [Bool](repeating: false, count: stateCount)
            for (index, tokens) in allowed.enumerated() {
                for state in 0...tokens.count where states[offsets[index] + state] {
                    for target in Self.step(tokens, state, byte) { next[offsets[index] + target] = true }
                }
            }
            return next
        }

        private func allowedAccepts(_ states: [Bool]) -> Bool {
            allowed.indices.contains { states[offsets[$0] + allowed[$0].count] }
        }

        struct Pair: Hashable {
            let candidate: Int
            let allowed: [Bool]
        }

        func holds() -> Bool {
            let start = allowedStart()
            var pending = Self.closure(candidate, from: 0).map { Pair(candidate: $0, allowed: start) }
            var visited = Set(pending)
            while let pair = pending.popLast() {
                if pair.candidate == candidate.count && !allowedAccepts(pair.allowed) { return false }
                for byte in representatives {
                    let targets = Self.step(candidate, pair.candidate, byte)
                    if targets.isEmpty { continue }
                    let next = allowedStep(pair.allowed, byte)
                    for target in targets {
                        let successor = Pair(candidate: target, allowed: next)
                        if visited.insert(successor).inserted {
                            guard visited.count <= maximumStates else { return false }
                            pending.append(successor)
                        }
                    }
                }
            }
            return true
        }
    }
}
