import RESP

/// A Redis 7 key specification: where a command's keys start, how to find the rest, and how the command accesses
/// them. COMMAND INFO reports them; key finding (`CommandSpec.keyPositions`) and access control read them.
public struct KeySpec: Sendable {
    public enum BeginSearch: Sendable {
        /// The keys start at this argument.
        case index(Int)
        /// The keys start after `keyword`, searched from argument `startFrom` (negative: from the end, backwards).
        case keyword(String, startFrom: Int)
        /// Only the command's own key finder knows (SORT).
        case unknown
    }

    public enum FindKeys: Sendable {
        /// Keys up to `lastKey` (relative to the first key; negative counts from the end), `keyStep` apart; a
        /// `limit` of n > 0 with `lastKey` -1 means one n-th of the remaining arguments.
        case range(lastKey: Int, keyStep: Int, limit: Int)
        /// The argument at `keyNumberIndex` (relative to the begin search) holds the number of keys, the first of
        /// which is at `firstKey` (relative too).
        case keyNumber(keyNumberIndex: Int, firstKey: Int, keyStep: Int)
        case unknown
    }

    /// How the command uses the keys of a specification: Redis's key-spec flags.
    public struct Flags: NamedOptions, Sendable, Hashable {
        public let rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }

        /// `RO`: reads the key's value.
        public static let readOnly = Flags(rawValue: 1 << 0)
        /// `RW`: reads and writes the value.
        public static let readWrite = Flags(rawValue: 1 << 1)
        /// `OW`: overwrites the value without reading it.
        public static let overwrite = Flags(rawValue: 1 << 2)
        /// `RM`: deletes the key.
        public static let remove = Flags(rawValue: 1 << 3)
        public static let access = Flags(rawValue: 1 << 4)
        public static let update = Flags(rawValue: 1 << 5)
        public static let insert = Flags(rawValue: 1 << 6)
        public static let delete = Flags(rawValue: 1 << 7)
        /// Not a key (a shard channel), though cluster clients route by it.
        public static let notKey = Flags(rawValue: 1 << 8)
        /// The specification may miss keys: the command's key finder has the final word.
        public static let incomplete = Flags(rawValue: 1 << 9)
        /// The flags depend on the arguments (SET with or without GET): the command's key finder gives them.
        public static let variableFlags = Flags(rawValue: 1 << 10)

        public static let named: [(Flags, String)] = [
            (.readOnly, "RO"), (.readWrite, "RW"), (.overwrite, "OW"), (.remove, "RM"), (.access, "access"),
            (.update, "update"), (.insert, "insert"), (.delete, "delete"), (.notKey, "not_key"),
            (.incomplete, "incomplete"), (.variableFlags, "variable_flags"),
        ]
    }

    public let notes: String?
    public let flags: Flags
    public let beginSearch: BeginSearch
    public let findKeys: FindKeys

    package init(notes: String? = nil, flags: Flags, beginSearch: BeginSearch, findKeys: FindKeys) {
        self.notes = notes
        self.flags = flags
        self.beginSearch = beginSearch
        self.findKeys = findKeys
    }
}

/// One key argument of a request: its position (the command name is 0) and how the command accesses it.
public struct KeyReference: Sendable, Equatable {
    public let position: Int
    public let flags: KeySpec.Flags

    public init(position: Int, flags: KeySpec.Flags) {
        self.position = position
        self.flags = flags
    }
}

/// Finds the keys of a command whose key specifications cannot (Redis's `getkeys_proc`): specifications marked
/// `incomplete` or `variableFlags`, or of unknown shape. Returns no keys when the arguments hold none.
public typealias KeyFinder = @Sendable (CommandArguments) -> [KeyReference]

/// A command's arguments as key finding sees them: a whole request, or the part of one after `COMMAND GETKEYS`.
/// Argument 0 is the command name.
public struct CommandArguments {
    let request: Request
    let base: Int

    /// The arguments of `request` from `base` on (`COMMAND GETKEYS get k` → base 2).
    public init(_ request: Request, from base: Int = 0) {
        self.request = request
        self.base = base
    }

    public var count: Int { request.count - base }

    public func withArgument<R>(_ index: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try request.withArgument(base + index, body)
    }

    /// Whether argument `index` is `word` (ASCII, compared case-insensitively).
    public func argument(_ index: Int, is word: String) -> Bool {
        withArgument(index) { bytes in
            bytes.count == word.utf8.count
                && zip(bytes, word.utf8).allSatisfy { CommandTable.lowercase($0) == CommandTable.lowercase($1) }
        }
    }
}

extension KeySpec {
    /// The keys `specs` find in `arguments`, as Redis's `getKeysUsingKeySpecs`: `notKey` specifications are skipped,
    /// a keyword that is absent contributes no key, and nil means the arguments do not fit a specification (a key
    /// count that is not a number, keys past the end) or one is `incomplete` or `unknown`.
    static func keys(of specs: [KeySpec], in arguments: CommandArguments) -> [KeyReference]? {
        let count = arguments.count
        var keys: [KeyReference] = []
        for spec in specs where !spec.flags.contains(.notKey) {
            var first: Int
            switch spec.beginSearch {
            case .index(let index):
                first = index
            case .keyword(let keyword, let startFrom):
                guard let found = search(keyword, from: startFrom, in: arguments) else { continue }
                first = found + 1
            case .unknown:
                return nil
            }
            let last: Int
            let step: Int
            switch spec.findKeys {
            case .range(let lastKey, let keyStep, let limit):
                step = keyStep
                if lastKey >= 0 {
                    last = first + lastKey
                } else if limit == 0 {
                    last = count + lastKey
                } else {
                    last = first + (count - first) / limit + lastKey
                }
            case .keyNumber(let keyNumberIndex, let firstKey, let keyStep):
                step = keyStep
                let at = first + keyNumberIndex
                guard at >= 0 && at < count,
                    let number = arguments.withArgument(at, { RESPInteger.parse($0) }), number >= 0,
                    number <= count
                else { return nil }
                first += firstKey
                last = first + number - 1
            case .unknown:
                return nil
            }
            guard first < count && last < count && last >= first else { return nil }
            for position in stride(from: first, through: last, by: max(step, 1)) {
                keys.append(KeyReference(position: position, flags: spec.flags))
            }
            if spec.flags.contains(.incomplete) { return nil }
        }
        return keys
    }

    /// The position of `keyword` searching from `startFrom` towards the end (positive) or, from the end, towards the
    /// start (negative); the last argument (forwards) and the first two (backwards) are never searched, as in Redis.
    private static func search(_ keyword: String, from startFrom: Int, in arguments: CommandArguments) -> Int? {
        let count = arguments.count
        let start = startFrom > 0 ? startFrom : count + startFrom
        let end = startFrom > 0 ? count - 1 : 1
        let direction = start <= end ? 1 : -1
        var index = start
        while index != end {
            if index >= count || index < 1 { return nil }
            if arguments.argument(index, is: keyword) { return index }
            index += direction
        }
        return nil
    }
}
