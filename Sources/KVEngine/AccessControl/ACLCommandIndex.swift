/// The command table as access control sees it: the rows rules can name, the categories they carry, and the bit each
/// row has in a selector (its statistics slot). Everything comes from the one command table: `+@read` means the rows
/// whose metadata lists `@read`, `+client|list` the row of that subcommand.
struct ACLCommandIndex: Sendable {
    /// Top-level commands by name, the order in which descriptions list single commands and ACL CAT lists a category.
    let commands: [CommandSpec]
    /// Bits a selector needs: one per statistics slot handed out when the table was built.
    let bitCount: Int
    private let table: CommandTable

    init(table: CommandTable) {
        self.table = table
        self.commands = table.commands.sorted { $0.name < $1.name }
        self.bitCount = CommandSpec.slotCount
    }

    /// The row a rule names, as Redis's `ACLLookupCommand`: `get` or `client|list` (any case); nil for an unknown name,
    /// a subcommand of a command without subcommands, or more than one `|`.
    func lookup(_ name: [UInt8]) -> CommandSpec? {
        table.lookup(fullName: String(decoding: name, as: UTF8.self))
    }

    /// Every row of `category`, commands before their subcommands (ACL CAT).
    func rows(in category: ACLCategories) -> [CommandSpec] {
        var rows: [CommandSpec] = []
        func visit(_ specs: [CommandSpec]) {
            for spec in specs {
                if spec.categories.contains(category) { rows.append(spec) }
                visit(spec.subcommands)
            }
        }
        visit(commands)
        return rows
    }
}
