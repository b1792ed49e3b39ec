@testable import KVEngine

/// What is missing or inconsistent in the metadata of table rows, one line per problem: the rules Redis's own
/// command table keeps (checked over every Redis 7.0 command when this audit was written), so a hand-written
/// definition that breaks one is caught before COMMAND reports it.
enum MetadataAudit {
    /// Problems of `commands` and their subcommands.
    static func problems(of commands: [CommandSpec]) -> [String] {
        var problems: [String] = []
        for command in commands {
            problems += self.problems(of: command, container: nil)
            for sub in command.subcommands { problems += self.problems(of: sub, container: command) }
        }
        return problems
    }

    static func problems(of command: CommandSpec, container: CommandSpec?) -> [String] {
        let metadata = command.metadata
        var problems: [String] = []
        func problem(_ text: String) { problems.append("\(metadata.fullName): \(text)") }

        // Documentation.
        let doc = metadata.doc
        if doc.summary.isEmpty { problem("no summary") }
        if doc.since.isEmpty { problem("no since") }
        if doc.group.isEmpty { problem("no group") }

        // Arity: non-zero, and at least the container and subcommand names for a subcommand.
        if metadata.arity == 0 { problem("arity 0") }
        if container != nil && abs(metadata.arity) < 2 { problem("a subcommand's arity counts both names") }

        // Where it is registered.
        if let container {
            if metadata.container != container.name {
                problem("registered under \(container.name), its metadata says \(metadata.container ?? "top level")")
            }
            if !command.subcommands.isEmpty { problem("subcommands nest one level only") }
        } else if let parent = metadata.container {
            problem("a subcommand of \(parent) registered at the top level")
        }
        if !command.subcommands.isEmpty {
            if metadata.arity >= 0 { problem("a container's arity must be negative for its subcommands to run") }
            let names = command.subcommands.map(\.name)
            if Set(names).count != names.count { problem("a subcommand registered twice") }
        }

        // Flags: Redis's only in the metadata, and the ones Redis derives present.
        if !metadata.flags.isDisjoint(with: CommandFlags.kvnodeOwn) { problem("kvnode-internal flags in metadata") }
        if !command.flags.isSuperset(of: metadata.flags) { problem("the row drops flags of its metadata") }
        let derived = legacyKeys(metadata.keySpecs)
        if metadata.flags.contains(.movableKeys) != derived.movable {
            problem("movablekeys should be \(derived.movable) for its key specs")
        }

        problems += categoryProblems(metadata).map { "\(metadata.fullName): \($0)" }

        // Keys: key specs exactly when the command has keys, consistent with first/last/step.
        let hasKeys = metadata.keys.first != 0 || metadata.flags.contains(.movableKeys)
        if metadata.keySpecs.isEmpty == hasKeys {
            problem(hasKeys ? "keys but no key specs" : "key specs but no keys (first key 0, not movable)")
        }
        if metadata.keys != derived.keys {
            problem("first/last/step \(metadata.keys) but its key specs give \(derived.keys)")
        }
        for (index, spec) in metadata.keySpecs.enumerated() {
            problems += keySpecProblems(spec, arity: metadata.arity)
                .map { "\(metadata.fullName): key spec \(index): \($0)" }
        }
        let needsFinder = metadata.keySpecs.contains {
            !$0.flags.isDisjoint(with: [.incomplete, .variableFlags]) || $0.isUnknown
        }
        if needsFinder && command.keyFinder == nil {
            problem("its key specs are incomplete, variable or unknown: the row needs a key finder")
        }
        for index in keySpecIndexes(doc.arguments) where index >= metadata.keySpecs.count {
            problem("an argument names key spec \(index) of \(metadata.keySpecs.count)")
        }
        return problems
    }

    /// ACL categories: present, fast or slow (not both), and the ones Redis implies from flags
    /// (`setImplicitACLCategories`).
    static func categoryProblems(_ metadata: CommandMetadata) -> [String] {
        let categories = metadata.categories
        let flags = metadata.flags
        var problems: [String] = []
        if categories.isEmpty { problems.append("no ACL categories") }
        if categories.contains(.fast) == categories.contains(.slow) { problems.append("exactly one of @fast, @slow") }
        if flags.contains(.fast) != categories.contains(.fast) { problems.append("the fast flag goes with @fast") }
        var implied: ACLCategories = []
        if flags.contains(.write) { implied.insert(.write) }
        if flags.contains(.readonly) && !categories.contains(.scripting) { implied.insert(.read) }
        if flags.contains(.admin) { implied.formUnion([.admin, .dangerous]) }
        if flags.contains(.pubsub) { implied.insert(.pubsub) }
        if flags.contains(.blocking) { implied.insert(.blocking) }
        if !categories.isSuperset(of: implied) {
            problems.append("its flags imply @\(implied.subtracting(categories).names.joined(separator: " @"))")
        }
        return problems
    }

    static func keySpecProblems(_ spec: KeySpec, arity: Int) -> [String] {
        var problems: [String] = []
        if spec.flags.isDisjoint(with: [.readOnly, .readWrite, .overwrite, .remove, .notKey]) {
            problems.append("no access flag (RO, RW, OW, RM or not_key)")
        }
        switch spec.beginSearch {
        case .index(let index) where index < 1: problems.append("begins at \(index)")
        case .keyword(let keyword, _) where keyword.isEmpty: problems.append("an empty keyword")
        default: break
        }
        switch spec.findKeys {
        case .range(let lastKey, let keyStep, let limit):
            if keyStep < 1 { problems.append("key step \(keyStep)") }
            if limit != 0 && lastKey != -1 { problems.append("a limit goes with last key -1") }
            // A fixed arity must hold every key (Redis panics otherwise).
            if arity > 0, case .index(let first) = spec.beginSearch, lastKey >= 0, first + lastKey >= arity {
                problems.append("keys past the arity \(arity)")
            }
        case .keyNumber(let keyNumberIndex, let firstKey, let keyStep):
            if keyStep < 1 || firstKey < 1 || keyNumberIndex < 0 { problems.append("a malformed key count") }
        case .unknown:
            break
        }
        return problems
    }

    /// First/last/step and movablekeys derived from key specs, as Redis's `populateCommandLegacyRangeSpec` does.
    static func legacyKeys(_ specs: [KeySpec]) -> (keys: (first: Int, last: Int, step: Int), movable: Bool) {
        var movable = specs.contains { $0.range == nil }
        if specs.count == 1, let range = specs[0].range {
            let last = range.lastKey >= 0 ? range.first + range.lastKey : range.lastKey
            return ((range.first, last, range.step), movable || specs[0].flags.contains(.incomplete))
        }
        var first = Int.max
        var last: UInt32 = 0
        var previousLast: UInt32 = 0
        for spec in specs {
            guard let range = spec.range else { continue }
            if range.step != 1 || (previousLast != 0 && previousLast != UInt32(range.first - 1)) {
                movable = true
                continue
            }
            if spec.flags.contains(.incomplete) { movable = true }
            first = min(first, range.first)
            let absoluteLast = range.lastKey >= 0 ? range.lastKey + range.first : range.lastKey
            // Unsigned, as in Redis: a negative last key (counted from the end) wins.
            last = max(last, UInt32(truncatingIfNeeded: absoluteLast))
            previousLast = last
        }
        guard first != .max else { return ((0, 0, 0), movable || !specs.isEmpty) }
        return ((first, Int(Int32(bitPattern: last)), 1), movable)
    }

    static func keySpecIndexes(_ arguments: [ArgumentDoc]) -> [Int] {
        arguments.flatMap { [$0.keySpecIndex].compactMap { $0 } + keySpecIndexes($0.arguments) }
    }
}

extension KeySpec {
    /// The plain shape Redis's legacy key positions come from: an index and a range.
    fileprivate var range: (first: Int, lastKey: Int, step: Int)? {
        guard case .index(let first) = beginSearch, case .range(let lastKey, let step, _) = findKeys else {
            return nil
        }
        return (first, lastKey, step)
    }

    fileprivate var isUnknown: Bool {
        if case .unknown = beginSearch { return true }
        if case .unknown = findKeys { return true }
        return false
    }
}
