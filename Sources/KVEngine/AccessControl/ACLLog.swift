import NIOConcurrencyHelpers

/// ACL LOG: recent refusals, newest first, as Redis 7.0 keeps them (`addACLLogEntry`). A refusal like one of the ten
/// newest entries (same reason, context, object and user, within 60 seconds) updates that entry, moved to the front,
/// instead of adding one; adding trims the log to `acllog-max-len` entries (lowering the setting trims at the next
/// refusal, as in Redis).
final class ACLLog: Sendable {
    struct Entry: Sendable {
        var count: Int
        /// `command`, `key`, `channel` or `auth`.
        let reason: String
        /// `toplevel` or `multi`.
        let context: String
        /// The command's full name, the key or channel, or (for `auth`) the command as the client typed it.
        let object: [UInt8]
        let username: [UInt8]
        /// Wall-clock milliseconds of the latest refusal.
        var time: Int64
        /// CLIENT INFO of the refused connection at the latest refusal.
        var clientInfo: String
    }

    private static let groupingWindowMilliseconds: Int64 = 60_000
    private static let entriesCompared = 10

    private let entries = NIOLockedValueBox<[Entry]>([])

    /// Records a refusal; `maximumLength` is `acllog-max-len`.
    func add(_ entry: Entry, maximumLength: Int) {
        entries.withLockedValue { entries in
            for position in entries.indices.prefix(Self.entriesCompared) where Self.sameEvent(entries[position], entry) {
                var match = entries.remove(at: position)
                match.count += 1
                match.time = entry.time
                match.clientInfo = entry.clientInfo
                entries.insert(match, at: 0)
                return
            }
            entries.insert(entry, at: 0)
            if entries.count > maximumLength { entries.removeLast(entries.count - maximumLength) }
        }
    }

    /// The newest `count` entries.
    func newest(_ count: Int) -> [Entry] {
        entries.withLockedValue { Array($0.prefix(max(count, 0))) }
    }

    func reset() {
        entries.withLockedValue { $0 = [] }
    }

    private static func sameEvent(_ a: Entry, _ b: Entry) -> Bool {
        a.reason == b.reason && a.context == b.context && abs(a.time - b.time) <= groupingWindowMilliseconds
            && a.object == b.object && a.username == b.username
    }
}
