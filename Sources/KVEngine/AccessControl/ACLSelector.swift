import KVStore

/// One set of permissions of a user, as Redis 7's `aclSelector`: the commands it may run, the keys it may read or
/// write, the Pub/Sub channels it may use. Every user has a root selector; `(...)` rules add more, and a command is
/// allowed when one selector allows all of it (command, keys and channels together).
struct ACLSelector: Sendable {
    struct Flags: OptionSet, Sendable {
        let rawValue: UInt8
        /// `allkeys` / `~*`: every key, read and write.
        static let allKeys = Flags(rawValue: 1 << 0)
        /// `allchannels` / `&*`.
        static let allChannels = Flags(rawValue: 1 << 1)
        /// `allcommands` / `+@all`, until a command is removed.
        static let allCommands = Flags(rawValue: 1 << 2)
    }

    var flags: Flags
    /// Redis's reserved "future commands" bit: set by `+@all`, cleared only by `-@all`. The description of the
    /// commands starts from `+@all` when it is set, from `-@all` otherwise.
    var allowsFutureCommands = false
    /// The commands allowed, by command table row.
    var commands: CommandBits
    /// First arguments allowed for a command that is otherwise not (`+get|foo`, deprecated in Redis but accepted),
    /// by command table row, in the order they were given.
    var firstArguments: [Int: [[UInt8]]] = [:]
    /// Key patterns, in the order they were given, each with the access it grants.
    var keyPatterns: [KeyPattern] = []
    /// Channel patterns, in the order they were given.
    var channels: [GlobPattern] = []

    init(flags: Flags, commandCount: Int) {
        self.flags = flags
        self.commands = CommandBits(count: commandCount)
    }

    /// Whether this selector lets everything through: the executor then checks nothing.
    var allowsEverything: Bool { flags.isSuperset(of: [.allKeys, .allChannels, .allCommands]) }

    /// Allows or forbids `spec` and, for a container, all its subcommands (Redis's `ACLChangeSelectorPerm`).
    mutating func setPermission(_ spec: CommandSpec, _ allowed: Bool) {
        setBit(spec.statisticsSlot, allowed)
        firstArguments[spec.statisticsSlot] = nil
        for sub in spec.subcommands { setBit(sub.statisticsSlot, allowed) }
    }

    private mutating func setBit(_ slot: Int, _ allowed: Bool) {
        commands[slot] = allowed
        if !allowed { flags.remove(.allCommands) }
    }

    /// Sets or clears every command of `category`, and every subcommand of a container in it (Redis's
    /// `ACLSetSelectorCommandBitsForCategory`).
    mutating func setPermission(category: ACLCategories, _ allowed: Bool, in index: ACLCommandIndex) {
        func visit(_ specs: [CommandSpec]) {
            for spec in specs {
                if spec.categories.contains(category) { setPermission(spec, allowed) }
                visit(spec.subcommands)
            }
        }
        visit(index.commands)
    }

    /// Every command allowed or none, forgetting first arguments (`+@all`, `-@all`).
    mutating func setAllCommands(_ allowed: Bool) {
        commands.setAll(allowed)
        allowsFutureCommands = allowed
        firstArguments = [:]
        if allowed { flags.insert(.allCommands) } else { flags.remove(.allCommands) }
    }

    /// How many commands of `category` this selector allows and forbids, counting subcommands.
    func count(category: ACLCategories, in index: ACLCommandIndex) -> (allowed: Int, forbidden: Int) {
        var allowed = 0
        var forbidden = 0
        func visit(_ specs: [CommandSpec]) {
            for spec in specs {
                if spec.categories.contains(category) {
                    if commands[spec.statisticsSlot] { allowed += 1 } else { forbidden += 1 }
                }
                visit(spec.subcommands)
            }
        }
        visit(index.commands)
        return (allowed, forbidden)
    }
}

/// Which commands a selector allows: one bit per command table row (the row's statistics slot).
struct CommandBits: Sendable, Equatable {
    private var words: [UInt64]

    init(count: Int) {
        words = [UInt64](repeating: 0, count: (count + 63) / 64)
    }

    /// A row outside the bits (one added after access control was set up) is forbidden, as in Redis.
    subscript(slot: Int) -> Bool {
        get {
            let word = slot >> 6
            return word < words.count && words[word] & (1 << UInt64(slot & 63)) != 0
        }
        set {
            let word = slot >> 6
            guard word < words.count else { return }
            if newValue { words[word] |= 1 << UInt64(slot & 63) } else { words[word] &= ~(1 << UInt64(slot & 63)) }
        }
    }

    mutating func setAll(_ value: Bool) {
        for index in words.indices { words[index] = value ? .max : 0 }
    }
}

/// What a key pattern lets a command do with the keys it matches (`~`: both, `%R~`, `%W~`).
struct KeyAccess: OptionSet, Sendable, Hashable {
    let rawValue: UInt8
    static let read = KeyAccess(rawValue: 1 << 0)
    static let write = KeyAccess(rawValue: 1 << 1)
    static let readWrite: KeyAccess = [.read, .write]

    /// The access a key argument needs, from its key specification flags, as Redis's `ACLSelectorCheckKey`: `access`
    /// reads; `insert`, `delete` and `update` write. A key with neither (EXISTS, TYPE) needs no particular access, and
    /// any pattern that matches it lets it through.
    init(keySpecFlags flags: KeySpec.Flags) {
        var access: KeyAccess = []
        if flags.contains(.access) { access.insert(.read) }
        if !flags.isDisjoint(with: [.insert, .delete, .update]) { access.insert(.write) }
        self = access
    }

    init(rawValue: UInt8) {
        self.rawValue = rawValue
    }
}

/// A key pattern of a selector.
struct KeyPattern: Sendable {
    var glob: GlobPattern
    var access: KeyAccess
}
