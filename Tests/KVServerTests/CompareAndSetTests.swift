import KVEngine
import KVStore
import NIOCore
import Testing

/// Redis 8.4's compare-and-set through the whole request path: DIGEST, SET's IFEQ/IFNE/IFDEQ/IFDNE, DELEX. The
/// expectations follow Redis 8.4's src/t_string.c (`setGenericCommand`, `parseExtendedStringArgumentsOrReply`,
/// `validateHexDigest`, `stringDigest`) and src/db.c (`delexCommand`); no Redis 8.4 server is at hand to compare with.
@Suite struct CompareAndSetTests {
    /// A value whose digest begins with four zero digits (redis/redis#14496).
    static let zeroLeadingValue =
        "v8lf0c11xh8ymlqztfd3eeq16kfn4sspw7fqmnuuq3k3t75em5wdizgcdw7uc26nnf961u2jkfzkjytls2kwlj7626sd"
    static let malformedDigest = "-ERR must be exactly 16 hexadecimal characters\r\n"
    static let syntaxError = "-ERR syntax error\r\n"

    @Test func digestIsXXH3AsSixteenLowerCaseHexDigits() throws {
        let server = try TestServer()
        let client = try server.connect()
        try client.send(["SET", "hello", "Hello world"], ["SET", "test", "test"], ["SET", "zeros", Self.zeroLeadingValue],
                        ["SET", "empty", ""])
        // Redis's documented examples, the zero padding Redis 8.4 added, and the empty string.
        #expect(try client.send(["DIGEST", "hello"], ["DIGEST", "test"], ["DIGEST", "zeros"], ["DIGEST", "empty"]) == [
            "$16\r\nb6acb9d84a38ff74\r\n", "$16\r\n9ec9f7918d7dfc40\r\n", "$16\r\n00006c38adf31777\r\n",
            "$16\r\n2d06800538d394c2\r\n",
        ])
        #expect(try client.send(["DIGEST", "missing"]) == ["$-1\r\n"])
        _ = try client.send(["HELLO", "3"])
        #expect(try client.send(["DIGEST", "missing"], ["DIGEST", "test"]) == ["_\r\n", "$16\r\n9ec9f7918d7dfc40\r\n"])
        #expect(try client.send(["DIGEST"]) == ["-ERR wrong number of arguments for 'digest' command\r\n"])
    }

    @Test func ifeqSetsOnlyAnEqualValueAndNeverCreates() throws {
        let server = try TestServer()
        let client = try server.connect()
        try client.send(["SET", "k", "old"])
        #expect(try client.send(["SET", "k", "new", "IFEQ", "other"], ["GET", "k"]) == ["$-1\r\n", "$3\r\nold\r\n"])
        #expect(try client.send(["SET", "k", "new", "ifeq", "old"], ["GET", "k"]) == ["+OK\r\n", "$3\r\nnew\r\n"])
        // Byte equality: a prefix or a different case is not equal.
        #expect(try client.send(["SET", "k", "x", "IFEQ", "ne"], ["SET", "k", "x", "IFEQ", "NEW"]) == ["$-1\r\n", "$-1\r\n"])
        #expect(try client.send(["SET", "missing", "v", "IFEQ", ""], ["EXISTS", "missing"]) == ["$-1\r\n", ":0\r\n"])
    }

    @Test func ifneSetsAnyOtherValueAndCreatesAMissingKey() throws {
        let server = try TestServer()
        let client = try server.connect()
        try client.send(["SET", "k", "old"])
        #expect(try client.send(["SET", "k", "new", "IFNE", "old"], ["GET", "k"]) == ["$-1\r\n", "$3\r\nold\r\n"])
        #expect(try client.send(["SET", "k", "new", "IFNE", "other"], ["GET", "k"]) == ["+OK\r\n", "$3\r\nnew\r\n"])
        #expect(try client.send(["SET", "missing", "v", "IFNE", "v"], ["GET", "missing"]) == ["+OK\r\n", "$1\r\nv\r\n"])
    }

    @Test func ifdeqComparesTheDigestIgnoringCase() throws {
        let server = try TestServer()
        let client = try server.connect()
        try client.send(["SET", "k", "test"])
        #expect(try client.send(["SET", "k", "a", "IFDEQ", "0123456789abcdef"], ["GET", "k"]) == ["$-1\r\n", "$4\r\ntest\r\n"])
        // Sixteen characters that are not all hex digits are well formed, and never match.
        #expect(try client.send(["SET", "k", "a", "IFDEQ", "zzzzzzzzzzzzzzzz"]) == ["$-1\r\n"])
        #expect(try client.send(["SET", "k", "a", "IFDEQ", "9EC9F7918D7DFC40"], ["GET", "k"]) == ["+OK\r\n", "$1\r\na\r\n"])
        try client.send(["SET", "zeros", Self.zeroLeadingValue])
        // The leading zeros are part of the digest: the short form is malformed.
        #expect(try client.send(["SET", "zeros", "b", "IFDEQ", "6c38adf31777"]) == [Self.malformedDigest])
        #expect(try client.send(["SET", "zeros", "b", "IFDEQ", "00006c38adf31777"]) == ["+OK\r\n"])
        #expect(try client.send(["SET", "missing", "v", "IFDEQ", "9ec9f7918d7dfc40"], ["EXISTS", "missing"])
            == ["$-1\r\n", ":0\r\n"])
    }

    @Test func ifdneSetsUnlessTheDigestMatchesAndCreatesAMissingKey() throws {
        let server = try TestServer()
        let client = try server.connect()
        try client.send(["SET", "k", "test"])
        #expect(try client.send(["SET", "k", "a", "IFDNE", "9ec9f7918d7dfc40"], ["GET", "k"]) == ["$-1\r\n", "$4\r\ntest\r\n"])
        #expect(try client.send(["SET", "k", "a", "IFDNE", "9EC9F7918D7DFC40"]) == ["$-1\r\n"])
        #expect(try client.send(["SET", "k", "a", "IFDNE", "0000000000000000"], ["GET", "k"]) == ["+OK\r\n", "$1\r\na\r\n"])
        #expect(try client.send(["SET", "missing", "v", "IFDNE", "9ec9f7918d7dfc40"], ["GET", "missing"])
            == ["+OK\r\n", "$1\r\nv\r\n"])
    }

    @Test func aMalformedDigestIsAnErrorOnlyWhenTheKeyExists() throws {
        let server = try TestServer()
        let client = try server.connect()
        try client.send(["SET", "k", "v"])
        for digest in ["", "abc", "9ec9f7918d7dfc4", "9ec9f7918d7dfc400"] {
            #expect(try client.send(["SET", "k", "x", "IFDEQ", digest]) == [Self.malformedDigest])
            #expect(try client.send(["SET", "k", "x", "IFDNE", digest]) == [Self.malformedDigest])
            #expect(try client.send(["DELEX", "k", "IFDEQ", digest]) == [Self.malformedDigest])
            #expect(try client.send(["DELEX", "k", "IFDNE", digest]) == [Self.malformedDigest])
        }
        #expect(try client.send(["GET", "k"]) == ["$1\r\nv\r\n"])
        // A missing key is judged before the digest is looked at: IFDEQ fails, IFDNE creates.
        #expect(try client.send(["SET", "m", "x", "IFDEQ", "abc"], ["DELEX", "m", "IFDEQ", "abc"]) == ["$-1\r\n", ":0\r\n"])
        #expect(try client.send(["SET", "m", "x", "IFDNE", "abc"], ["GET", "m"]) == ["+OK\r\n", "$1\r\nx\r\n"])
        // With GET the error is the only reply (Redis would send the old value first, then the error).
        #expect(try client.send(["SET", "k", "x", "IFDEQ", "abc", "GET"], ["PING"]) == [Self.malformedDigest, "+PONG\r\n"])
    }

    @Test func getRepliesTheOldValueWhetherOrNotTheConditionHolds() throws {
        let server = try TestServer()
        let client = try server.connect()
        try client.send(["SET", "k", "old"])
        #expect(try client.send(["SET", "k", "new", "IFEQ", "other", "GET"], ["GET", "k"]) == ["$3\r\nold\r\n", "$3\r\nold\r\n"])
        #expect(try client.send(["SET", "k", "new", "GET", "IFEQ", "old"], ["GET", "k"]) == ["$3\r\nold\r\n", "$3\r\nnew\r\n"])
        #expect(try client.send(["SET", "missing", "v", "IFEQ", "x", "GET"], ["EXISTS", "missing"]) == ["$-1\r\n", ":0\r\n"])
        #expect(try client.send(["SET", "missing", "v", "IFNE", "x", "GET"], ["GET", "missing"]) == ["$-1\r\n", "$1\r\nv\r\n"])
        _ = try client.send(["HELLO", "3"])
        #expect(try client.send(["SET", "k", "x", "IFEQ", "nope"], ["SET", "absent", "x", "IFDEQ", "0123456789abcdef", "GET"])
            == ["_\r\n", "_\r\n"])
    }

    @Test func conditionsExcludeNxXxAndEachOther() throws {
        let server = try TestServer()
        let client = try server.connect()
        try client.send(["SET", "k", "v"])
        let conflicting: [[String]] = [
            ["NX", "IFEQ", "v"], ["IFEQ", "v", "NX"], ["XX", "IFEQ", "v"], ["IFEQ", "v", "XX"],
            ["NX", "IFNE", "v"], ["IFNE", "v", "XX"], ["NX", "IFDEQ", "0123456789abcdef"],
            ["IFDNE", "0123456789abcdef", "XX"], ["IFEQ", "v", "IFNE", "w"], ["IFNE", "w", "IFEQ", "v"],
            ["IFEQ", "v", "IFDEQ", "0123456789abcdef"], ["IFDEQ", "0123456789abcdef", "IFDNE", "fedcba9876543210"],
            ["IFEQ"], ["GET", "IFNE"], ["IFDEQ", "0123456789abcdef", "KEEPTTL", "IFDNE"], ["NX", "XX"],
        ]
        for options in conflicting {
            #expect(try client.send(["SET", "k", "new"] + options) == [Self.syntaxError], "\(options)")
        }
        #expect(try client.send(["GET", "k"]) == ["$1\r\nv\r\n"])
        // The same condition repeated is allowed, the last value winning, as NX NX is.
        #expect(try client.send(["SET", "k", "a", "IFEQ", "v", "IFEQ", "nope"], ["SET", "k", "a", "IFEQ", "nope", "IFEQ", "v"])
            == ["$-1\r\n", "+OK\r\n"])
    }

    @Test func aConditionalSetTakesTheExpiryItIsGiven() throws {
        let server = try TestServer()
        let client = try server.connect()
        try client.send(["SET", "k", "a", "PX", "5000"])
        #expect(try client.send(["SET", "k", "b", "IFEQ", "a", "PX", "100"], ["PTTL", "k"]) == ["+OK\r\n", ":100\r\n"])
        #expect(try client.send(["SET", "k", "c", "IFNE", "x", "KEEPTTL"], ["PTTL", "k"]) == ["+OK\r\n", ":100\r\n"])
        #expect(try client.send(["SET", "k", "d", "IFEQ", "c"], ["PTTL", "k"]) == ["+OK\r\n", ":-1\r\n"])
        // A failed condition leaves the expiry alone; a bad expiry is reported before the key is looked at.
        try client.send(["PEXPIRE", "k", "700"])
        #expect(try client.send(["SET", "k", "e", "IFEQ", "nope", "EX", "1"], ["PTTL", "k"]) == ["$-1\r\n", ":700\r\n"])
        #expect(try client.send(["SET", "k", "e", "IFDEQ", "bad", "EX", "0"])
            == ["-ERR invalid expire time in 'set' command\r\n"])
    }

    @Test func delexWithoutAConditionIsDel() throws {
        let server = try TestServer()
        let client = try server.connect()
        try client.send(["SET", "k", "v"])
        #expect(try client.send(["DELEX", "k"], ["DELEX", "k"], ["EXISTS", "k"]) == [":1\r\n", ":0\r\n", ":0\r\n"])
        #expect(try client.send(["DELEX"]) == ["-ERR wrong number of arguments for 'delex' command\r\n"])
    }

    @Test func delexDeletesOnlyWhenTheConditionHolds() throws {
        let server = try TestServer()
        let client = try server.connect()
        try client.send(["SET", "k", "test"])
        #expect(try client.send(["DELEX", "k", "IFEQ", "other"], ["DELEX", "k", "IFNE", "test"]) == [":0\r\n", ":0\r\n"])
        #expect(try client.send(["DELEX", "k", "IFDEQ", "0123456789abcdef"], ["DELEX", "k", "IFDNE", "9EC9F7918D7DFC40"])
            == [":0\r\n", ":0\r\n"])
        #expect(try client.send(["EXISTS", "k"]) == [":1\r\n"])
        #expect(try client.send(["DELEX", "k", "ifdeq", "9EC9F7918d7dfc40"], ["EXISTS", "k"]) == [":1\r\n", ":0\r\n"])
        for (condition, match) in [("IFEQ", "test"), ("IFNE", "x"), ("IFDNE", "0123456789abcdef")] {
            try client.send(["SET", "k", "test"])
            #expect(try client.send(["DELEX", "k", condition, match], ["EXISTS", "k"]) == [":1\r\n", ":0\r\n"], "\(condition)")
        }
        // A missing key is never deleted, whatever the condition.
        for condition in ["IFEQ", "IFNE", "IFDEQ", "IFDNE"] {
            #expect(try client.send(["DELEX", "missing", condition, "0123456789abcdef"]) == [":0\r\n"])
        }
    }

    @Test func delexChecksTheArgumentCountFirstAndTheConditionOnceTheKeyIsFound() throws {
        let server = try TestServer()
        let client = try server.connect()
        try client.send(["SET", "k", "v"])
        for key in ["k", "missing"] {
            #expect(try client.send(["DELEX", key, "IFEQ"]) == [Self.syntaxError])
            #expect(try client.send(["DELEX", key, "IFEQ", "v", "extra"]) == [Self.syntaxError])
        }
        #expect(try client.send(["DELEX", "k", "NX", "v"]) == [Self.syntaxError])
        #expect(try client.send(["DELEX", "missing", "NX", "v"]) == [":0\r\n"])
        #expect(try client.send(["GET", "k"]) == ["$1\r\nv\r\n"])
    }

    @Test func onlyWritesThatHappenAreNotifiedAndTakeARevision() throws {
        let server = try TestServer()
        let listener = try server.connect()
        let writer = try server.connect()
        try writer.send(["CONFIG", "SET", "notify-keyspace-events", "E$g"])
        try writer.send(["SET", "k", "a"])
        _ = try listener.send(["SUBSCRIBE", "__keyevent@0__:set", "__keyevent@0__:del"])
        func revision() -> UInt64 { server.store.withLease { $0.revision }!.result }

        let start = revision()
        try writer.send(["SET", "k", "b", "IFEQ", "nope"], ["DELEX", "k", "IFNE", "a"], ["DELEX", "gone", "IFNE", "a"])
        #expect(revision() == start)
        #expect(try listener.replies() == [])

        try writer.send(["SET", "k", "b", "IFEQ", "a"])
        #expect(revision() == start + 1)
        try writer.send(["DELEX", "k", "IFDNE", "0123456789abcdef"])
        #expect(revision() == start + 2)
        #expect(try listener.replies() == [
            "*3\r\n$7\r\nmessage\r\n$18\r\n__keyevent@0__:set\r\n$1\r\nk\r\n",
            "*3\r\n$7\r\nmessage\r\n$18\r\n__keyevent@0__:del\r\n$1\r\nk\r\n",
        ])
    }

    @Test func conditionsRunInsideTransactionsAndAbortOnAWatchedChange() throws {
        let server = try TestServer()
        let client = try server.connect()
        try client.send(["SET", "k", "1"])
        #expect(try client.send(["MULTI"], ["SET", "k", "2", "IFEQ", "1"], ["SET", "k", "3", "IFEQ", "1"], ["DELEX", "k", "IFEQ", "2"], ["EXEC"])
            == ["+OK\r\n", "+QUEUED\r\n", "+QUEUED\r\n", "+QUEUED\r\n", "*3\r\n+OK\r\n$-1\r\n:1\r\n"])
        #expect(try client.send(["EXISTS", "k"]) == [":0\r\n"])
    }

    @Test func commandReportsTheNewCommandsAndTheirKeys() throws {
        let server = try TestServer()
        let client = try server.connect()
        let info = try client.send(["COMMAND", "INFO", "delex", "digest"])
        #expect(info == [
            "*2\r\n"
                + "*10\r\n$5\r\ndelex\r\n:-2\r\n*2\r\n+write\r\n+fast\r\n:1\r\n:1\r\n:1\r\n"
                + "*3\r\n+@write\r\n+@string\r\n+@fast\r\n*0\r\n"
                + "*1\r\n*6\r\n$5\r\nflags\r\n*3\r\n+RW\r\n+delete\r\n+variable_flags\r\n"
                + "$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n"
                + "$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n"
                + "*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*0\r\n"
                + "*10\r\n$6\r\ndigest\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n"
                + "*3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n"
                + "*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n+RO\r\n+access\r\n"
                + "$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n"
                + "$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n"
                + "*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*0\r\n",
        ])
        #expect(try client.send(["COMMAND", "GETKEYSANDFLAGS", "DELEX", "k"])
            == ["*1\r\n*2\r\n$1\r\nk\r\n*2\r\n+RM\r\n+delete\r\n"])
        #expect(try client.send(["COMMAND", "GETKEYSANDFLAGS", "DELEX", "k", "IFEQ", "v"])
            == ["*1\r\n*2\r\n$1\r\nk\r\n*2\r\n+RW\r\n+delete\r\n"])
        #expect(try client.send(["COMMAND", "GETKEYSANDFLAGS", "SET", "k", "v", "IFEQ", "get"])
            == ["*1\r\n*2\r\n$1\r\nk\r\n*2\r\n+RW\r\n+update\r\n"])
        #expect(try client.send(["COMMAND", "GETKEYSANDFLAGS", "SET", "k", "v", "IFEQ", "x", "GET"])
            == ["*1\r\n*2\r\n$1\r\nk\r\n*3\r\n+RW\r\n+access\r\n+update\r\n"])
        #expect(try client.send(["COMMAND", "GETKEYSANDFLAGS", "SET", "k", "v"])
            == ["*1\r\n*2\r\n$1\r\nk\r\n*2\r\n+OW\r\n+update\r\n"])
        let setDocs = try client.send(["COMMAND", "DOCS", "set"]).joined()
        #expect(setDocs.contains("$10\r\nifeq-value\r\n"))
        #expect(setDocs.contains("$5\r\n8.4.0\r\n"))
    }
}
