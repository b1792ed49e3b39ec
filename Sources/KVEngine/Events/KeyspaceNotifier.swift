import KVStore
import NIOCore
import Synchronization

/// The classes of keyspace events, named by the letters of Redis's `notify-keyspace-events`.
public struct KeyspaceEventFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let keyspace = KeyspaceEventFlags(rawValue: 1 << 0)  // K
    public static let keyevent = KeyspaceEventFlags(rawValue: 1 << 1)  // E
    public static let generic = KeyspaceEventFlags(rawValue: 1 << 2)  // g
    public static let string = KeyspaceEventFlags(rawValue: 1 << 3)  // $
    public static let list = KeyspaceEventFlags(rawValue: 1 << 4)  // l
    public static let set = KeyspaceEventFlags(rawValue: 1 << 5)  // s
    public static let hash = KeyspaceEventFlags(rawValue: 1 << 6)  // h
    public static let sortedSet = KeyspaceEventFlags(rawValue: 1 << 7)  // z
    public static let expired = KeyspaceEventFlags(rawValue: 1 << 8)  // x
    public static let evicted = KeyspaceEventFlags(rawValue: 1 << 9)  // e
    public static let stream = KeyspaceEventFlags(rawValue: 1 << 10)  // t
    public static let keyMiss = KeyspaceEventFlags(rawValue: 1 << 11)  // m
    public static let module = KeyspaceEventFlags(rawValue: 1 << 12)  // d
    public static let new = KeyspaceEventFlags(rawValue: 1 << 13)  // n

    /// `A`: every class except key-miss and new, as in Redis.
    public static let all: KeyspaceEventFlags = [
        .generic, .string, .list, .set, .hash, .sortedSet, .expired, .evicted, .stream, .module,
    ]

    private static let letters: [(Character, KeyspaceEventFlags)] = [
        ("g", .generic), ("$", .string), ("l", .list), ("s", .set), ("h", .hash), ("z", .sortedSet),
        ("x", .expired), ("e", .evicted), ("t", .stream), ("d", .module),
    ]

    /// Parses Redis's letters (`KEA`, `Kx`, ...); nil for a letter Redis does not know.
    public init?(letters text: String) {
        var flags: KeyspaceEventFlags = []
        for letter in text {
            switch letter {
            case "A": flags.formUnion(.all)
            case "K": flags.insert(.keyspace)
            case "E": flags.insert(.keyevent)
            case "m": flags.insert(.keyMiss)
            case "n": flags.insert(.new)
            default:
                guard let match = Self.letters.first(where: { $0.0 == letter }) else { return nil }
                flags.insert(match.1)
            }
        }
        self = flags
    }

    /// The canonical form CONFIG GET returns: `A` or the class letters, then `K`, `E`, `m`, `n` (Redis's order).
    public var letters: String {
        var text = ""
        if isSuperset(of: .all) {
            text = "A"
        } else {
            for (letter, flag) in Self.letters where contains(flag) { text.append(letter) }
        }
        if contains(.keyspace) { text += "K" }
        if contains(.keyevent) { text += "E" }
        if contains(.keyMiss) { text += "m" }
        if contains(.new) { text += "n" }
        return text
    }
}

/// Publishes keyspace notifications (`__keyspace@<db>__:<key>` and `__keyevent@<db>__:<event>`) for changes to keys.
///
/// Commands record their events through the keyspace observer while they run; the observer publishes them here once
/// their batch is committed, in commit order. With notifications off (the default) recording costs one atomic load.
public final class KeyspaceNotifier: Sendable {
    private let flags: Atomic<UInt32>
    private let hub: PubSubHub

    init(flags: KeyspaceEventFlags, hub: PubSubHub) {
        self.flags = Atomic(flags.rawValue)
        self.hub = hub
    }

    /// The classes currently published (`notify-keyspace-events`).
    public var enabled: KeyspaceEventFlags {
        get { KeyspaceEventFlags(rawValue: flags.load(ordering: .relaxed)) }
        set { flags.store(newValue.rawValue, ordering: .relaxed) }
    }

    /// Whether events of class `type` are published.
    @inline(__always)
    func publishes(_ type: KeyspaceEventFlags) -> Bool {
        let enabled = self.enabled
        return enabled.contains(type) && !enabled.isDisjoint(with: [.keyspace, .keyevent])
    }

    /// Publishes `event` of class `type` for `key` of database `database`, if that class is enabled.
    func publish(_ type: KeyspaceEventFlags, _ event: StaticString, key: ByteBuffer, database: UInt32) {
        let enabled = self.enabled
        guard enabled.contains(type), !enabled.isDisjoint(with: [.keyspace, .keyevent]) else { return }
        if enabled.contains(.keyspace) {
            var channel = ByteBuffer()
            channel.reserveCapacity(24 + key.readableBytes)
            Self.writePrefix("__keyspace@", database, into: &channel)
            channel.writeImmutableBuffer(key)
            var payload = ByteBuffer()
            payload.writeStaticString(event)
            hub.publish(payload, to: channel)
        }
        if enabled.contains(.keyevent) {
            var channel = ByteBuffer()
            Self.writePrefix("__keyevent@", database, into: &channel)
            channel.writeStaticString(event)
            hub.publish(key, to: channel)
        }
    }

    /// `__keyspace@` / `__keyevent@`, the database in decimal, `__:`.
    private static func writePrefix(_ kind: StaticString, _ database: UInt32, into channel: inout ByteBuffer) {
        channel.writeStaticString(kind)
        if database == 0 {
            channel.writeStaticString("0__:")
        } else {
            channel.writeString(String(database))
            channel.writeStaticString("__:")
        }
    }
}
