/// All commands, looked up by name without allocating: the name's bytes are hashed case-insensitively.
public struct CommandTable: Sendable {
    /// Every command, in registration order.
    public let commands: [CommandSpec]
    private let byHash: [UInt64: CommandSpec]

    init(_ commands: [CommandSpec]) {
        self.commands = commands
        var byHash: [UInt64: CommandSpec] = [:]
        for command in commands {
            let hash = Self.hash(Array(command.name.utf8))
            precondition(byHash[hash] == nil, "command name hash collision: \(command.name)")
            byHash[hash] = command
        }
        self.byHash = byHash
    }

    /// The command named by `name` (any case), or nil.
    func lookup(_ name: UnsafeRawBufferPointer) -> CommandSpec? {
        guard let spec = byHash[Self.hash(name)], spec.name.utf8.count == name.count else { return nil }
        // Confirm the match byte for byte: a hash hit on an unknown name must not run another command.
        for (expected, actual) in zip(spec.name.utf8, name) where expected != Self.lowercase(actual) {
            return nil
        }
        return spec
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
        spec.subcommands.first { sub in
            sub.name.utf8.count == name.count && zip(sub.name.utf8, name).allSatisfy { $0 == lowercase($1) }
        }
    }
}

extension CommandTable {
    /// The table of every command kvnode implements, one family per file under Commands/.
    static let standard = CommandTable(
        ConnectionCommands.all + ClientCommands.all + StringCommands.all + CounterCommands.all
            + StringRangeCommands.all + KeyCommands.all + ExpiryCommands.all + OrderedKeyspaceCommands.all
            + ServerCommands.all + IntrospectionCommands.all + SnapshotCommands.all + PubSubCommands.all
            + TransactionCommands.all + ConfigCommands.all + ServerStatusCommands.all + ObjectCommands.all
    )
}
