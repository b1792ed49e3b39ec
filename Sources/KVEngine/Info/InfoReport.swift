import KVStore

/// One INFO section: its title and its `field:value` lines.
struct InfoSection: Sendable {
    /// Which INFO requests include the section without naming it.
    enum Group: Sendable {
        /// `INFO`, `INFO default`, `INFO all`, `INFO everything`.
        case `default`
        /// `INFO all`, `INFO everything` only (commandstats).
        case all
    }

    /// Title as printed after `# `, e.g. `Server`; INFO arguments match it ignoring case.
    let title: String
    let group: Group
    let fields: @Sendable (InfoContext) -> [(String, String)]
}

/// What section generators read, computed at most once per INFO call.
final class InfoContext {
    let server: Engine
    /// INFO runs under a lease: the Keyspace section reads the keyspace.
    let keyspace: Keyspace

    init(_ command: CommandContext) {
        server = command.engine
        keyspace = command.keyspace
    }

    private(set) lazy var totals: ServerMetrics.Totals = server.metrics.totals()
}

/// Builds INFO's text from the sections, in Redis's order.
enum InfoReport {
    static let sections: [InfoSection] = [
        InfoSection(title: "Server", group: .default, fields: InfoSections.server),
        InfoSection(title: "Clients", group: .default, fields: InfoSections.clients),
        InfoSection(title: "Memory", group: .default, fields: InfoSections.memory),
        InfoSection(title: "Persistence", group: .default, fields: PersistenceInfo.fields),
        InfoSection(title: "Stats", group: .default, fields: InfoSections.stats),
        InfoSection(title: "Replication", group: .default, fields: InfoSections.replication),
        InfoSection(title: "CPU", group: .default, fields: InfoSections.cpu),
        InfoSection(title: "Modules", group: .default) { _ in [] },
        InfoSection(title: "Commandstats", group: .all, fields: InfoSections.commandStats),
        InfoSection(title: "Errorstats", group: .default, fields: InfoSections.errorStats),
        InfoSection(title: "Cluster", group: .default) { _ in [("cluster_enabled", "0")] },
        InfoSection(title: "Keyspace", group: .default, fields: InfoSections.keyspace),
        // kvnode's own, like a module's section: in `INFO all` and by name, not in the default set tools compare with Redis.
        InfoSection(title: "Changelog", group: .all, fields: ChangeLogInfo.fields),
    ]

    /// The text of `INFO` with `arguments` (lower-case section names, `default`, `all` or `everything`).
    static func text(for arguments: [String], context: InfoContext) -> String {
        let requested = Set(arguments.isEmpty ? ["default"] : arguments)
        let wantsAll = requested.contains("all") || requested.contains("everything")
        let wantsDefault = wantsAll || requested.contains("default")
        var parts: [String] = []
        for section in sections {
            let included = requested.contains(section.title.lowercased())
                || (section.group == .default && wantsDefault) || (section.group == .all && wantsAll)
            guard included else { continue }
            var text = "# \(section.title)\r\n"
            for (field, value) in section.fields(context) { text += "\(field):\(value)\r\n" }
            parts.append(text)
        }
        return parts.joined(separator: "\r\n")
    }
}
