import KVStore
import RESP

/// Why CONFIG SET refused a value: the text after `- ` in Redis's
/// `CONFIG SET failed (possibly related to argument 'x') - <reason>`.
struct ConfigValueError: Error, Sendable {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}

/// One CONFIG parameter: its names, how to read it, and how to check and apply a new value.
///
/// Setting is two-phase so that CONFIG SET of several parameters is all-or-nothing, as in Redis: `parse` validates a
/// value and returns the change, which is applied only once every value of the command has been validated.
struct ConfigParameter: Sendable {
    enum Mutability: Sendable, Equatable {
        case mutable
        /// Fixed at startup: `can't set immutable config`.
        case immutable
        /// Redis's protected configs: `can't set protected config` unless `enable-protected-configs` allows the
        /// connection; `alwaysFromLocal` also lets loopback and Unix socket connections change it whatever that says.
        case protected(alwaysFromLocal: Bool)
    }

    typealias Change = @Sendable () -> Void

    /// Canonical lower-case name.
    let name: String
    /// Other accepted names (Redis's deprecated or kvnode-specific aliases).
    let aliases: [String]
    let mutability: Mutability
    /// The current value, formatted as CONFIG GET shows it.
    let get: @Sendable (Engine) -> String
    /// Validates `value` and returns the change that applies it.
    let parse: @Sendable (Engine, String) throws -> Change
    /// For the `tls-*` settings: writes `value` into the TLS settings CONFIG SET is assembling; the TLS layer then
    /// checks them all together (a new certificate usually comes with a new key) before anything changes.
    let editTLS: (@Sendable (inout TLSSettings, String) throws(ConfigValueError) -> Void)?

    init(
        _ name: String, aliases: [String] = [], mutability: Mutability = .mutable,
        get: @escaping @Sendable (Engine) -> String,
        parse: @escaping @Sendable (Engine, String) throws -> Change = { _, _ in {} }
    ) {
        self.name = name
        self.aliases = aliases
        self.mutability = mutability
        self.get = get
        self.parse = parse
        self.editTLS = nil
    }

    /// A `tls-*` setting: read from and written to the TLS settings.
    init(
        tls name: String, get: @escaping @Sendable (TLSSettings) -> String,
        edit: @escaping @Sendable (inout TLSSettings, String) throws(ConfigValueError) -> Void
    ) {
        self.name = name
        self.aliases = []
        self.mutability = .mutable
        self.get = { get($0.tlsSettings) }
        self.parse = { _, _ in {} }
        self.editTLS = edit
    }
}

/// Every CONFIG parameter, looked up by name or alias (ignoring case) or matched by a glob pattern.
struct ConfigRegistry: Sendable {
    let parameters: [ConfigParameter]
    private let byName: [String: Int]

    init(_ parameters: [ConfigParameter]) {
        self.parameters = parameters
        var byName: [String: Int] = [:]
        for (index, parameter) in parameters.enumerated() {
            for name in [parameter.name] + parameter.aliases {
                precondition(byName[name] == nil, "duplicate CONFIG parameter \(name)")
                byName[name] = index
            }
        }
        self.byName = byName
    }

    /// The parameter called `name` (any case), by its name or an alias.
    func lookup(_ name: String) -> ConfigParameter? {
        byName[name.lowercased()].map { parameters[$0] }
    }

    /// Every name (aliases included, as Redis lists them) matching `pattern`, ignoring case, with its parameter.
    func matching(_ pattern: String) -> [(name: String, parameter: ConfigParameter)] {
        let glob = GlobPattern(pattern.lowercased().utf8)
        var result: [(String, ConfigParameter)] = []
        for parameter in parameters {
            for name in [parameter.name] + parameter.aliases where glob.matches(name.utf8) {
                result.append((name, parameter))
            }
        }
        return result
    }
}

// MARK: Value parsing, with Redis's messages

extension ConfigParameter {
    /// `yes` / `no`.
    static func parseBoolean(_ text: String) throws(ConfigValueError) -> Bool {
        switch text.lowercased() {
        case "yes": return true
        case "no": return false
        default: throw ConfigValueError("argument must be 'yes' or 'no'")
        }
    }

    /// A plain integer within `range`.
    static func parseInteger(_ text: String, in range: ClosedRange<Int>) throws(ConfigValueError) -> Int {
        guard let value = RESPInteger.parse(bytes: Array(text.utf8)) else {
            throw ConfigValueError("argument couldn't be parsed into an integer")
        }
        return try check(value, in: range)
    }

    /// A memory amount such as `100mb` or `1gb` (units as Redis's `memtoull`), within `range`.
    static func parseMemory(_ text: String, in range: ClosedRange<Int>) throws(ConfigValueError) -> Int {
        guard let value = MemoryAmount.parse(text) else { throw ConfigValueError("argument must be a memory value") }
        return try check(value, in: range)
    }

    /// One of `values` (any case); returns the lower-case value.
    static func parseEnumeration(_ text: String, _ values: [String]) throws(ConfigValueError) -> String {
        let lowered = text.lowercased()
        guard values.contains(lowered) else {
            throw ConfigValueError("argument(s) must be one of the following: \(values.joined(separator: ", "))")
        }
        return lowered
    }

    private static func check(_ value: Int, in range: ClosedRange<Int>) throws(ConfigValueError) -> Int {
        guard range.contains(value) else {
            throw ConfigValueError("argument must be between \(range.lowerBound) and \(range.upperBound) inclusive")
        }
        return value
    }
}

/// Redis's `memtoull`: a number with an optional unit `b`, `k`, `kb`, `m`, `mb`, `g` or `gb` (any case); `k` is 1000
/// and `kb` 1024.
enum MemoryAmount {
    static func parse(_ text: String) -> Int? {
        let lowered = text.lowercased()
        let units: [(String, Int)] = [
            ("kb", 1024), ("mb", 1024 * 1024), ("gb", 1024 * 1024 * 1024),
            ("k", 1000), ("m", 1000 * 1000), ("g", 1000 * 1000 * 1000), ("b", 1),
        ]
        var number = Substring(lowered)
        var multiplier = 1
        if let (suffix, factor) = units.first(where: { lowered.hasSuffix($0.0) }) {
            number = number.dropLast(suffix.count)
            multiplier = factor
        }
        guard !number.isEmpty, number.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(number) else {
            return nil
        }
        let (result, overflow) = value.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : result
    }

    /// Formats bytes as Redis's `bytesToHuman`: `0B`, `1.50K`, `2.00M`...
    static func human(_ bytes: Int) -> String {
        let value = Double(bytes)
        let units: [(Double, String)] = [
            (1024 * 1024 * 1024 * 1024 * 1024, "P"), (1024 * 1024 * 1024 * 1024, "T"), (1024 * 1024 * 1024, "G"),
            (1024 * 1024, "M"), (1024, "K"),
        ]
        for (size, unit) in units where value >= size {
            return DecimalText.format(value / size, fractionDigits: 2) + unit
        }
        return "\(bytes)B"
    }
}
