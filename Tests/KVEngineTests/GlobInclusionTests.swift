import KVStore
import Testing

@testable import KVEngine

/// The "glob A ⊆ globs B" check kvnode's pattern commands are authorised by: it must never say yes wrongly (a false
/// yes would let PDEL or KEYS WITHVALUES reach keys the user may not touch), and should say yes where it is true.
@Suite struct GlobInclusionTests {
    private func covered(_ candidate: String, by allowed: [String]) -> Bool {
        GlobInclusion.isCovered(GlobPattern(Array(candidate.utf8)), by: allowed.map { GlobPattern(Array($0.utf8)) })
    }

    @Test func coveredCases() {
        #expect(covered("user:*", by: ["user:*"]))
        #expect(covered("user:1*", by: ["user:*"]))
        #expect(covered("user:1", by: ["user:*"]))
        #expect(covered("user:?", by: ["user:*"]))
        #expect(covered("user:[abc]x", by: ["user:*"]))
        #expect(covered("user:[abc]", by: ["user:[a-c]"]))
        #expect(covered("a*b", by: ["a*"]))
        #expect(covered("a*b*c", by: ["a*c"]))
        #expect(covered("*", by: ["*"]))
        #expect(covered("anything", by: ["*"]))
        #expect(covered("k?", by: ["k[^x]", "kx"]), "a union of patterns covers what no single one does")
        #expect(covered("a[", by: []), "an unterminated empty class matches nothing, so nothing is needed")
        #expect(covered("\\*x", by: ["[*]x"]), "an escaped star is a literal")
        #expect(covered("ab", by: ["a?", "zz"]))
        #expect(covered("", by: ["*"]))
        #expect(covered("[a-z]", by: ["[a-y]", "[b-z]"]), "a-y ∪ b-z is a-z")
        // Redis's quirk: `[a-]` is the range from `]` to `a` (the closing bracket is the range's end), then unterminated.
        #expect(covered("[a-]", by: ["]", "^", "_", "`", "a"]))
        #expect(!covered("[a-]", by: ["a", "-"]))
    }

    @Test func notCoveredCases() {
        #expect(!covered("*", by: ["user:*"]))
        #expect(!covered("user*", by: ["user:*"]), "user itself and userx are outside user:*")
        #expect(!covered("user:*", by: ["user:1*"]))
        #expect(!covered("user:?", by: ["user:[a-y]"]))
        #expect(!covered("a*", by: ["a*b"]))
        #expect(!covered("a*c", by: ["a*b*c"]), "ac is not matched by a*b*c")
        #expect(!covered("x", by: []))
        #expect(!covered("", by: ["?*"]))
        #expect(!covered("k?", by: ["k[^x]"]))
        #expect(!covered("*x", by: ["\\*x"]), "the allowed pattern's escaped star matches only a literal star")
        #expect(!covered("user:[^a]", by: ["user:[b-z]"]))
    }

    /// Prefixes are escaped into globs, so their special characters are literal.
    @Test func prefixes() {
        let allowed = [GlobPattern(Array("app:*".utf8))]
        #expect(GlobInclusion.isCovered(prefix: Array("app:".utf8), by: allowed))
        #expect(GlobInclusion.isCovered(prefix: Array("app:x*".utf8), by: allowed))
        #expect(!GlobInclusion.isCovered(prefix: Array("app".utf8), by: allowed))
        #expect(!GlobInclusion.isCovered(prefix: [], by: allowed))
        #expect(GlobInclusion.prefixPattern(Array("a*?[\\".utf8)).pattern == Array("a\\*\\?\\[\\\\*".utf8))
        let starKeys = [GlobPattern(Array("\\*x*".utf8))]
        #expect(GlobInclusion.isCovered(prefix: Array("*x".utf8), by: starKeys))
        #expect(!GlobInclusion.isCovered(prefix: Array("ax".utf8), by: starKeys))
    }

    /// Tokens consume what Redis's matcher consumes, quirks included: checked against the matcher itself on every
    /// short string over a small alphabet.
    @Test func inclusionAgreesWithTheMatcherOnShortStrings() {
        let alphabet: [UInt8] = Array("ab-]\\*".utf8)
        var strings: [[UInt8]] = [[]]
        var frontier: [[UInt8]] = [[]]
        for _ in 0..<4 {
            frontier = frontier.flatMap { prefix in alphabet.map { prefix + [$0] } }
            strings += frontier
        }
        let patterns = [
            "a*", "*b", "a?b", "[ab]*", "[^a]*", "[a-]", "[]a]", "a[", "\\*", "a\\", "[\\]]", "*a*", "?", "**b",
            "[a-b]-", "-*", "[^]]*", "b*a*",
        ]
        for candidate in patterns {
            for allowed in patterns {
                let (a, b) = (GlobPattern(Array(candidate.utf8)), GlobPattern(Array(allowed.utf8)))
                guard GlobInclusion.isCovered(a, by: [b]) else { continue }
                for string in strings where a.matches(string) {
                    #expect(b.matches(string), "\(candidate) ⊆ \(allowed) claimed, but \(string) is a counter-example")
                }
            }
        }
    }

    /// Too many stars in an allowed pattern (Redis's matcher gives up on deep nesting): refused, never wrongly allowed.
    @Test func manyStarsAreRefused() {
        let stars = String(repeating: "a*", count: 100)
        #expect(!covered("a", by: [stars + "x"]))
        #expect(covered("a", by: [stars + "x", "a"]))
    }
}
