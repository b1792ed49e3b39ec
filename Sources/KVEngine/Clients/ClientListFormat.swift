import Synchronization
import NIOConcurrencyHelpers
/// One connection's line in CLIENT LIST and CLIENT INFO, in Redis 7.2's format and field order.
enum ClientListFormat {
    static func line(for handle: ClientHandle, commandsBySlot: [CommandSpec?]) -> String {
        let now = MonotonicClock.milliseconds()
        let identity = handle.identity.withLockedValue { $0 }
        let queued = handle.queuedCommands.load(ordering: .relaxed)
        let queuedBytes = queued >= 0 ? handle.queuedBytes.load(ordering: .relaxed) : 0
        let queryBuffer = handle.queryBufferBytes.load(ordering: .relaxed)
        let slot = handle.lastCommandSlot.load(ordering: .relaxed)
        let subscriptions = handle.subscriptionCounts
        let command = slot >= 0 && slot < commandsBySlot.count ? commandsBySlot[slot]?.fullName : nil
        let output = handle.outputBytes.load(ordering: .relaxed)
        let fields: [(String, String)] = [
            ("id", String(handle.id)),
            ("addr", handle.address),
            ("laddr", handle.localAddress),
            // SwiftNIO does not expose socket descriptors; -1 is what Redis shows for connections without one.
            ("fd", "-1"),
            ("name", text(identity.name)),
            ("age", String((now - handle.connectedAt) / 1000)),
            ("idle", String((now - handle.lastInteraction.load(ordering: .relaxed)) / 1000)),
            ("flags", flags(handle, inTransaction: queued >= 0, subscribed: handle.isPubSubClient)),
            ("db", String(handle.database.load(ordering: .relaxed))),
            ("sub", String(subscriptions.channels)),
            ("psub", String(subscriptions.patterns)),
            ("ssub", String(subscriptions.shardChannels)),
            ("multi", String(queued)),
            ("qbuf", String(queryBuffer)),
            ("qbuf-free", "0"),
            ("argv-mem", "0"),
            ("multi-mem", String(queuedBytes)),
            ("rbs", "0"),
            ("rbp", "0"),
            // kvnode has no 16 KB reply block and reply list: what waits for the socket is counted in Redis's 16 KB
            // list-node units.
            ("obl", "0"),
            ("oll", String((output + 16383) / 16384)),
            ("omem", String(output)),
            ("tot-mem", String(queryBuffer + queuedBytes + output)),
            ("events", "r"),
            ("cmd", command ?? "NULL"),
            ("user", identity.user.nameText),
            ("redir", "-1"),
            ("resp", String(handle.protocolVersion.load(ordering: .relaxed))),
            ("lib-name", text(identity.libraryName)),
            ("lib-ver", text(identity.libraryVersion)),
        ]
        return fields.map { "\($0.0)=\($0.1)" }.joined(separator: " ") + "\n"
    }

    /// Redis's flag letters: P subscribed, x in MULTI, b blocked (a parked command), A closing, U Unix socket, e no-evict,
    /// T no-touch; N when none applies.
    private static func flags(_ handle: ClientHandle, inTransaction: Bool, subscribed: Bool) -> String {
        let flags = handle.flags
        var letters = subscribed ? "P" : ""
        if inTransaction { letters += "x" }
        if handle.isPostponed.load(ordering: .relaxed) { letters += "b" }
        if flags.contains(.closeASAP) { letters += "A" }
        if handle.isUnixSocket { letters += "U" }
        if flags.contains(.noEvict) { letters += "e" }
        if flags.contains(.noTouch) { letters += "T" }
        return letters.isEmpty ? "N" : letters
    }

    private static func text(_ bytes: [UInt8]) -> String {
        String(decoding: bytes, as: UTF8.self)
    }
}
