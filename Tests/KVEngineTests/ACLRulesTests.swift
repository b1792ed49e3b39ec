import Testing

@testable import KVEngine

/// The ACL rule language and how a user is written back (ACL LIST / the ACL file), with Redis 7.0's texts.
@Suite struct ACLRulesTests {
    /// The user after `rules`, described as ACL LIST writes it (after `user <name> `).
    private func describe(_ rules: [String], in engine: Engine, base: UserRules? = nil) throws -> String {
        let language = engine.access.rules
        var user = base ?? language.newUser()
        for rule in rules { try language.apply(Array(rule.utf8), to: &user) }
        return String(decoding: ACLDescription.user(user, index: engine.access.index), as: UTF8.self)
    }

    private func error(_ rules: [String], in engine: Engine) -> ACLRuleError? {
        do {
            _ = try describe(rules, in: engine)
            return nil
        } catch let error as ACLRuleError {
            return error
        } catch {
            return nil
        }
    }

    @Test func defaultAndNewUsers() throws {
        try withEngine { engine throws in
            let language = engine.access.rules
            #expect(String(decoding: ACLDescription.user(language.defaultUser(), index: engine.access.index), as: UTF8.self)
                == "on nopass ~* &* +@all")
            #expect(try describe([], in: engine) == "off resetchannels -@all")
            #expect(try describe(["reset"], in: engine) == "off sanitize-payload resetchannels -@all")
            #expect(try describe(["on", "nopass", "allkeys", "allchannels", "allcommands"], in: engine)
                == "on nopass ~* &* +@all")
        }
    }

    @Test func passwordsAreKeptAsSHA256() throws {
        try withEngine { engine throws in
            let hashOfA = "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
            #expect(try describe([">a", ">a"], in: engine) == "off #\(hashOfA) resetchannels -@all")
            #expect(try describe(["nopass", ">a"], in: engine) == "off #\(hashOfA) resetchannels -@all",
                "a password ends nopass")
            #expect(try describe([">a", ">b", "<a"], in: engine).hasPrefix("off #3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d "))
            #expect(try describe(["#\(hashOfA)", "!\(hashOfA)"], in: engine) == "off resetchannels -@all")
            #expect(try describe([">a", "resetpass"], in: engine) == "off resetchannels -@all")
            #expect(try describe([">a", "nopass"], in: engine) == "off nopass resetchannels -@all")

            let language = engine.access.rules
            var user = language.newUser()
            try language.apply(Array(">secret".utf8), to: &user)
            #expect(user.accepts(password: Array("secret".utf8)))
            #expect(!user.accepts(password: Array("Secret".utf8)))
            try language.apply(Array("nopass".utf8), to: &user)
            #expect(user.accepts(password: Array("anything".utf8)))
        }
    }

    @Test func keyAndChannelPatterns() throws {
        try withEngine { engine throws in
            #expect(try describe(["~foo:*", "%R~bar*", "%W~baz", "&chan*"], in: engine)
                == "off ~foo:* %R~bar* %W~baz resetchannels &chan* -@all")
            #expect(try describe(["%RW~x", "%R~y", "%W~y", "~z", "%R~z", "%r~w"], in: engine)
                == "off ~x ~y ~z %R~w resetchannels -@all", "a pattern given again gains the new access")
            #expect(try describe(["~a", "allkeys"], in: engine) == "off ~* resetchannels -@all")
            #expect(try describe(["allkeys", "resetkeys", "~b"], in: engine) == "off ~b resetchannels -@all")
            #expect(try describe(["&a", "&a", "&*"], in: engine) == "off &* -@all")
        }
    }

    @Test func commandRulesAreDescribedAsRedis70Does() throws {
        try withEngine { engine throws in
            #expect(try describe(["+get"], in: engine) == "off resetchannels -@all +get")
            #expect(try describe(["+@all", "-flushall"], in: engine) == "off resetchannels +@all -flushall")
            #expect(try describe(["allcommands", "-get", "+get"], in: engine) == "off resetchannels +@all")
            #expect(try describe(["+get", "+@string"], in: engine) == "off resetchannels -@all +@string",
                "a command its category already holds is not listed")
            #expect(try describe(["-@all", "+client", "-client|kill"], in: engine)
                == "off resetchannels -@all +client -client|kill")
            #expect(try describe(["+@string", "-get", "+@read"], in: engine)
                == "off resetchannels -@all +@read +@string")
            #expect(try describe(["+client|list", "+get|x"], in: engine)
                == "off resetchannels -@all +client|list +get|x", "a first argument of a command")
            #expect(try describe(["+get|x", "+get"], in: engine) == "off resetchannels -@all +get",
                "allowing the command forgets its first arguments")
            #expect(try describe(["+kv.get", "+pdel"], in: engine) == "off resetchannels -@all +kv.get +pdel",
                "kvnode's own commands are rows like any other")
        }
    }

    @Test func selectors() throws {
        try withEngine { engine throws in
            #expect(try describe(["(~a* +get)", "(%R~b +@read)"], in: engine)
                == "off resetchannels -@all (~a* resetchannels -@all +get) (%R~b resetchannels -@all +@read)")
            #expect(try describe(["(~a +get)", "clearselectors"], in: engine) == "off resetchannels -@all")
            guard case .success(let merged) = ACLRules.mergeSelectorArguments(["(~a", "+get)", "on"].map { Array($0.utf8) })
            else { Issue.record("the selector should close"); return }
            #expect(merged.map { String(decoding: $0, as: UTF8.self) } == ["(~a +get)", "on"])
            guard case .failure(let unclosed) = ACLRules.mergeSelectorArguments(["on", "(~a", "+get"].map { Array($0.utf8) })
            else { Issue.record("the selector is never closed"); return }
            #expect(unclosed.index == 1)
        }
    }

    @Test func errorsHaveRedisTexts() throws {
        try withEngine { engine throws in
            #expect(error(["foo"], in: engine) == .syntax)
            #expect(error(["+nosuch"], in: engine) == .unknownCommand)
            #expect(error(["+@nosuch"], in: engine) == .unknownCommand)
            #expect(error(["-get|x"], in: engine) == .unknownCommand)
            #expect(error(["+client|list|x"], in: engine) == .firstArgumentOfSubcommand)
            #expect(error(["+client|"], in: engine) == .syntax)
            #expect(error(["+client|nosuch"], in: engine) == .unknownCommand)
            #expect(error(["#abc"], in: engine) == .badHash)
            #expect(error(["#" + String(repeating: "A", count: 64)], in: engine) == .badHash)
            #expect(error(["<nothere"], in: engine) == .noSuchPassword)
            #expect(error(["~*", "~foo"], in: engine) == .keysAfterAllKeys)
            #expect(error(["&*", "&foo"], in: engine) == .channelsAfterAllChannels)
            #expect(error(["%X~a"], in: engine) == .syntax)
            #expect(error(["%~a"], in: engine) == .syntax)
            #expect(error(["~a b"], in: engine) == .syntax)
            #expect(error(["(~a +nosuch)"], in: engine) == .unknownCommand)
            #expect(ACLRuleError.keysAfterAllKeys.message
                == "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any "
                + "effect. Try 'resetkeys' to start with an empty list of patterns")
            #expect(ACLRuleError.badHash.message
                == "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters")
        }
    }

    @Test func sha256Vectors() {
        #expect(SHA256.hexDigest([UInt8]()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hexDigest(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hexDigest(Array(repeating: UInt8(ascii: "a"), count: 55))
            == "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318")
        #expect(SHA256.hexDigest(Array(repeating: UInt8(ascii: "a"), count: 56))
            == "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a")
        #expect(SHA256.hexDigest(Array(repeating: UInt8(ascii: "a"), count: 64))
            == "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb")
        #expect(SHA256.hexDigest(Array(repeating: UInt8(ascii: "x"), count: 1000))
            == "44f8354494a5ba03ba1792a8d3e9c534c47a9181980fde7a3f44b06ef2ae7c7f")
    }

    /// The check reads key specifications: GET reads, SET writes, DEL writes, EXISTS needs no particular access.
    @Test func keyAccessComesFromKeySpecs() throws {
        try withEngine { engine throws in
            let language = engine.access.rules
            var user = language.newUser()
            for rule in ["+@all", "%R~r*", "%W~w*"] { try language.apply(Array(rule.utf8), to: &user) }
            func denial(_ arguments: String...) -> ACLDenial? {
                let spec = engine.commands.lookup(CommandArguments(request(arguments)))!
                return ACLPermissionCheck.check(user, spec, CommandArguments(request(arguments)))
            }
            #expect(denial("get", "r1") == nil)
            #expect(denial("get", "w1") == .key(position: 1))
            #expect(denial("set", "w1", "v") == nil)
            #expect(denial("set", "r1", "v") == .key(position: 1))
            #expect(denial("del", "w1") == nil)
            #expect(denial("exists", "r1", "w1") == nil)
            #expect(denial("exists", "x") == .key(position: 1))
            #expect(denial("mset", "w1", "v", "x", "v") == .key(position: 3))
            #expect(denial("keys", "*") == nil, "plain KEYS needs no key permission, as in Redis")
            #expect(denial("keys", "*", "withvalues") == .key(position: 1))
            #expect(denial("keys", "r*", "withvalues") == nil)
            #expect(denial("keys", "r*", "pivot", "withvalues") == nil, "PIVOT's value is not the WITHVALUES option")
            #expect(denial("pdel", "w:*") == nil)
            #expect(denial("pdel", "r*") == .key(position: 1))
            #expect(denial("kv.watch", "prefix", "r") == nil)
            #expect(denial("kv.watch", "prefix", "") == .key(position: 2))
            #expect(denial("kv.watch", "key", "w1") == .key(position: 2))
            #expect(denial("kv.watch", "pattern", "r[0-9]") == nil)
        }
    }
}
