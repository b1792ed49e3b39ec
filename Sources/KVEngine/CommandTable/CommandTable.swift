/// All commands, looked up by name without allocating or hashing twice: the name's bytes are hashed once,
/// case-insensitively, into a small open-addressing table.
public struct CommandTable: Sendable {
    /// Every command, in registration order.
    public let commands: [CommandSpec]
    /// Slots of (hash, command), a power of two in size and at most a quarter full, probed linearly.
    private let slots: [(hash: UInt64, command: CommandSpec?)]
    private let mask: Int

    /// A table of every command of `families`, in order.
    init(families: [any CommandFamily]) {
        self.init(families.flatMap(\.commands))
    }

    init(_ commands: [CommandSpec]) {
        self.commands = commands
        var size = 16
        while size < commands.count * 4 { size <<= 1 }
        var slots = [(hash: UInt64, command: CommandSpec?)](repeating: (0, nil), count: size)
        for command in commands {
            let hash = Self.hash(Array(command.name.utf8))
            var index = Int(truncatingIfNeeded: hash) & (size - 1)
            while let existing = slots[index].command {
                precondition(existing.name != command.name, "command registered twice: \(command.name)")
                index = (index + 1) & (size - 1)
            }
            slots[index] = (hash, command)
        }
        self.slots = slots
        self.mask = size - 1
    }

    /// The command named by `name` (any case), or nil.
    func lookup(_ name: UnsafeRawBufferPointer) -> CommandSpec? {
        let hash = Self.hash(name)
        var index = Int(truncatingIfNeeded: hash) & mask
        while let command = slots[index].command {
            if slots[index].hash == hash && Self.equalsIgnoringCase(command.name, name) { return command }
            index = (index + 1) & mask
        }
        return nil
    }

    @inline(__always)
    static func equalsIgnoringCase(_ lowercased: String, _ name: UnsafeRawBufferPointer) -> Bool {
        var utf8 = lowercased.utf8.makeIterator()
        for byte in name {
            guard let expected = utf8.next(), expected == lowercase(byte) else { return false }
        }
        return utf8.next() == nil
    }

    /// Looks up a command by its lower-case name.
    public func lookup(name: String) -> CommandSpec? {
        Array(name.utf8).withUnsafeBytes { lookup($0) }
    }

    @inline(__always) static func lowercase(_ byte: UInt8) -> UInt8 {
        byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
    }

    /// FNV-1a over the ASCII-lower-cased bytes.
    @inline(__always)
    static func hash<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash = (hash ^ UInt64(lowercase(byte))) &* 0x0000_0100_0000_01B3
        }
        return hash
    }

    /// Finds a subcommand of `spec` by name (any case).
    static func subcommand(of spec: CommandSpec, named name: UnsafeRawBufferPointer) -> CommandSpec? {
        spec.subcommands.first { equalsIgnoringCase($0.name, name) }
    }

    /// The row `arguments` name, as Redis's `lookupCommand`: the command, or its subcommand named by the next
    /// argument when it has subcommands and one follows (nil when that subcommand does not exist).
    func lookup(_ arguments: CommandArguments) -> CommandSpec? {
        guard arguments.count > 0, let command = arguments.withArgument(0, { lookup($0) }) else { return nil }
        guard arguments.count > 1 && !command.subcommands.isEmpty else { return command }
        return arguments.withArgument(1) { Self.subcommand(of: command, named: $0) }
    }

    /// Looks up `get` or `client|list` (any case).
    func lookup(fullName: String) -> CommandSpec? {
        let parts = fullName.lowercased().split(separator: "|", maxSplits: 1, omittingEmptySubsequences: false)
            .map(String.init)
        guard let command = lookup(name: parts[0]) else { return nil }
        guard parts.count == 2 else { return command }
        return command.subcommands.first { $0.name == parts[1] }
    }
}

/// A group of commands defined together, in one file under Commands/: one `CommandSpec` row per command, naming its
/// metadata (`CommandSpec(.get, handler: get)`). A family that needs more than its `CommandContext` (the Pub/Sub
/// hub, the snapshotter...) is given it when it is made; every family is registered in `Engine.init`.
public protocol CommandFamily {
    var commands: [CommandSpec] { get }
}
