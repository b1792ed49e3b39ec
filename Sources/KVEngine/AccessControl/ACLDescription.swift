import KVStore

/// A user written back as rules, in Redis 7.0's form: ACL LIST and the ACL file (`user <name> on #<hash> ~k* &c
/// -@all +@read +get`), and the fields of ACL GETUSER.
///
/// Commands are described as Redis 7.0 does (`ACLDescribeSelectorCommandRules`): from `+@all` or `-@all`, then the
/// categories that fit the allowed commands best, then single commands to make up the difference. Redis lists those
/// single commands in the order of its command hash table, which changes from run to run; kvnode lists them by name.
enum ACLDescription {
    /// `on #<hash> ~k* resetchannels &c -@all +get (~x +set)`: everything after `user <name> `.
    static func user(_ rules: UserRules, index: ACLCommandIndex) -> [UInt8] {
        var text: [UInt8] = []
        for name in rules.flags.names { text += Array(name.utf8) + [space] }
        for hash in rules.passwords { text += [UInt8(ascii: "#")] + Array(hash.utf8) + [space] }
        for (position, selector) in rules.selectors.enumerated() {
            let description = self.selector(selector, index: index)
            text += position == 0 ? description : Array(" (".utf8) + description + [UInt8(ascii: ")")]
        }
        return text
    }

    /// A selector as rules: its keys, its channels, its commands.
    static func selector(_ selector: ACLSelector, index: ACLCommandIndex) -> [UInt8] {
        var text: [UInt8] = []
        if selector.flags.contains(.allKeys) {
            text += Array("~* ".utf8)
        } else {
            for pattern in selector.keyPatterns { text += keyPattern(pattern) + [space] }
        }
        if selector.flags.contains(.allChannels) {
            text += Array("&* ".utf8)
        } else {
            text += Array("resetchannels ".utf8)
            for channel in selector.channels { text += [UInt8(ascii: "&")] + channel.pattern + [space] }
        }
        return text + Array(commands(selector, index: index).utf8)
    }

    /// ACL GETUSER's `keys`: `~*`, or each pattern with its access prefix, space separated.
    static func keys(_ selector: ACLSelector) -> [UInt8] {
        if selector.flags.contains(.allKeys) { return Array("~*".utf8) }
        return joined(selector.keyPatterns.map(keyPattern))
    }

    /// ACL GETUSER's `channels`: `&*`, or each pattern after `&`, space separated.
    static func channels(_ selector: ACLSelector) -> [UInt8] {
        if selector.flags.contains(.allChannels) { return Array("&*".utf8) }
        return joined(selector.channels.map { [UInt8(ascii: "&")] + $0.pattern })
    }

    /// `~p`, `%R~p` or `%W~p`.
    private static func keyPattern(_ pattern: KeyPattern) -> [UInt8] {
        let prefix = pattern.access == .readWrite ? "~" : pattern.access == .read ? "%R~" : "%W~"
        return Array(prefix.utf8) + pattern.glob.pattern
    }

    /// The command rules: `+@all -flushall`, `-@all +@read +client|list`.
    static func commands(_ selector: ACLSelector, index: ACLCommandIndex) -> String {
        let additive = !selector.allowsFutureCommands
        var rules = additive ? "-@all " : "+@all "
        // `described` follows the rules written so far; `remaining` loses each category once written, so the next
        // best fit is judged on what is left.
        var described = ACLSelector(flags: [], commandCount: index.bitCount)
        described.setAllCommands(!additive)
        var remaining = selector
        var applied = Set<Int>()
        while true {
            var best: Int?
            var fewestDifferences = Int.max
            var mostAlike = 0
            for (position, (category, _)) in ACLCategories.named.enumerated() where !applied.contains(position) {
                let (allowed, forbidden) = remaining.count(category: category, in: index)
                let differences = additive ? forbidden : allowed
                let alike = additive ? allowed : forbidden
                if alike > differences
                    && (differences < fewestDifferences || (differences == fewestDifferences && alike > mostAlike))
                {
                    best = position
                    fewestDifferences = differences
                    mostAlike = alike
                }
            }
            guard let best else { break }
            let (category, name) = ACLCategories.named[best]
            described.setPermission(category: category, additive, in: index)
            remaining.setPermission(category: category, !additive, in: index)
            rules += (additive ? "+@" : "-@") + name + " "
            applied.insert(best)
        }
        func singleCommands(_ specs: [CommandSpec]) {
            for spec in specs.sorted(by: { $0.name < $1.name }) {
                let allowed = selector.commands[spec.statisticsSlot]
                if allowed != described.commands[spec.statisticsSlot] {
                    rules += (allowed ? "+" : "-") + spec.fullName + " "
                    described.setPermission(spec, allowed)
                }
                singleCommands(spec.subcommands)
                if !allowed, let arguments = selector.firstArguments[spec.statisticsSlot] {
                    for argument in arguments {
                        rules += "+" + spec.fullName + "|" + String(decoding: argument, as: UTF8.self) + " "
                    }
                }
            }
        }
        singleCommands(index.commands)
        rules.removeLast()
        return rules
    }

    private static let space = UInt8(ascii: " ")

    private static func joined(_ parts: [[UInt8]]) -> [UInt8] {
        var text: [UInt8] = []
        for (position, part) in parts.enumerated() {
            if position > 0 { text.append(space) }
            text += part
        }
        return text
    }
}
