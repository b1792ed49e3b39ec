import RESP

/// One command's COMMAND DOCS entry.
public struct CommandDoc: Sendable {
    public let summary: String
    public let since: String
    public let group: String
    public let complexity: String?
    public let docFlags: [String]
    public let deprecatedSince: String?
    public let replacedBy: String?
    /// (version, change) pairs.
    public let history: [(String, String)]
    public let arguments: [ArgumentDoc]

    package init(
        summary: String, since: String, group: String, complexity: String? = nil, docFlags: [String] = [],
        deprecatedSince: String? = nil, replacedBy: String? = nil, history: [(String, String)] = [],
        arguments: [ArgumentDoc] = []
    ) {
        self.summary = summary
        self.since = since
        self.group = group
        self.complexity = complexity
        self.docFlags = docFlags
        self.deprecatedSince = deprecatedSince
        self.replacedBy = replacedBy
        self.history = history
        self.arguments = arguments
    }
}

/// One argument in COMMAND DOCS; blocks and one-of groups nest their arguments.
public struct ArgumentDoc: Sendable {
    public let name: String
    public let type: String
    public let displayText: String?
    public let keySpecIndex: Int?
    public let token: String?
    public let summary: String?
    public let since: String?
    public let deprecatedSince: String?
    /// `optional`, `multiple`, `multiple_token`.
    public let flags: [String]
    public let arguments: [ArgumentDoc]

    package init(
        _ name: String, _ type: String, displayText: String? = nil, keySpecIndex: Int? = nil, token: String? = nil,
        summary: String? = nil, since: String? = nil, deprecatedSince: String? = nil, flags: [String] = [],
        arguments: [ArgumentDoc] = []
    ) {
        self.name = name
        self.type = type
        self.displayText = displayText
        self.keySpecIndex = keySpecIndex
        self.token = token
        self.summary = summary
        self.since = since
        self.deprecatedSince = deprecatedSince
        self.flags = flags
        self.arguments = arguments
    }
}

// MARK: Replies, in the shapes Redis sends them

extension CommandDoc {
    /// Writes the doc map; `subcommands` adds a `subcommands` entry with their docs, as Redis does for containers.
    func write(to reply: inout ReplyWriter, subcommands: [(name: String, doc: CommandDoc)] = []) {
        var entries = 3
        for present in [complexity != nil, !docFlags.isEmpty, deprecatedSince != nil, replacedBy != nil,
                        !history.isEmpty, !arguments.isEmpty, !subcommands.isEmpty] where present {
            entries += 1
        }
        reply.mapHeader(entries)
        reply.field("summary", summary)
        reply.field("since", since)
        reply.field("group", group)
        if let complexity { reply.field("complexity", complexity) }
        if !docFlags.isEmpty {
            reply.bulk("doc_flags")
            reply.setHeader(docFlags.count)
            for flag in docFlags { reply.simpleString(flag) }
        }
        if let deprecatedSince { reply.field("deprecated_since", deprecatedSince) }
        if let replacedBy { reply.field("replaced_by", replacedBy) }
        if !history.isEmpty {
            reply.bulk("history")
            reply.setHeader(history.count)
            for (version, change) in history {
                reply.arrayHeader(2)
                reply.bulk(version)
                reply.bulk(change)
            }
        }
        if !arguments.isEmpty {
            reply.bulk("arguments")
            ArgumentDoc.write(arguments, to: &reply)
        }
        if !subcommands.isEmpty {
            reply.bulk("subcommands")
            reply.mapHeader(subcommands.count)
            for (name, doc) in subcommands {
                reply.bulk(name)
                doc.write(to: &reply)
            }
        }
    }
}

extension ArgumentDoc {
    static func write(_ arguments: [ArgumentDoc], to reply: inout ReplyWriter) {
        reply.arrayHeader(arguments.count)
        for argument in arguments { argument.write(to: &reply) }
    }

    func write(to reply: inout ReplyWriter) {
        var entries = 2
        for present in [displayText != nil, keySpecIndex != nil, token != nil, summary != nil, since != nil,
                        deprecatedSince != nil, !flags.isEmpty, !arguments.isEmpty] where present {
            entries += 1
        }
        reply.mapHeader(entries)
        reply.field("name", name)
        reply.field("type", type)
        if let displayText { reply.field("display_text", displayText) }
        if let keySpecIndex {
            reply.bulk("key_spec_index")
            reply.integer(keySpecIndex)
        }
        if let token { reply.field("token", token) }
        if let summary { reply.field("summary", summary) }
        if let since { reply.field("since", since) }
        if let deprecatedSince { reply.field("deprecated_since", deprecatedSince) }
        if !flags.isEmpty {
            reply.bulk("flags")
            reply.setHeader(flags.count)
            for flag in flags { reply.simpleString(flag) }
        }
        if !arguments.isEmpty {
            reply.bulk("arguments")
            ArgumentDoc.write(arguments, to: &reply)
        }
    }
}

extension KeySpec {
    func write(to reply: inout ReplyWriter) {
        reply.mapHeader(notes == nil ? 3 : 4)
        if let notes { reply.field("notes", notes) }
        reply.bulk("flags")
        let flagNames = flags.names
        reply.setHeader(flagNames.count)
        for flag in flagNames { reply.simpleString(flag) }
        reply.bulk("begin_search")
        switch beginSearch {
        case .index(let index):
            reply.typedSpec("index", [("index", index)])
        case .keyword(let keyword, let startFrom):
            reply.mapHeader(2)
            reply.field("type", "keyword")
            reply.bulk("spec")
            reply.mapHeader(2)
            reply.field("keyword", keyword)
            reply.bulk("startfrom")
            reply.integer(startFrom)
        case .unknown:
            reply.typedSpec("unknown", [])
        }
        reply.bulk("find_keys")
        switch findKeys {
        case .range(let lastKey, let keyStep, let limit):
            reply.typedSpec("range", [("lastkey", lastKey), ("keystep", keyStep), ("limit", limit)])
        case .keyNumber(let keyNumberIndex, let firstKey, let keyStep):
            reply.typedSpec("keynum", [("keynumidx", keyNumberIndex), ("firstkey", firstKey), ("keystep", keyStep)])
        case .unknown:
            reply.typedSpec("unknown", [])
        }
    }
}

extension ReplyWriter {
    /// A bulk-string key and a bulk-string value of a map.
    fileprivate mutating func field(_ name: String, _ value: String) {
        bulk(name)
        bulk(value)
    }

    /// `{type: <type>, spec: {<name>: <integer>, ...}}`.
    fileprivate mutating func typedSpec(_ type: String, _ spec: [(String, Int)]) {
        mapHeader(2)
        field("type", type)
        bulk("spec")
        mapHeader(spec.count)
        for (name, value) in spec {
            bulk(name)
            integer(value)
        }
    }
}
