import KVStore
import NIOConcurrencyHelpers
import NIOCore

/// Where Pub/Sub messages meet their subscribers, across every event loop.
///
/// The registry is guarded by one lock; a publish takes it only long enough to collect the receivers, then hands each
/// one the message encoded once. Each subscriber's event loop writes it, so a publisher's messages reach a subscriber
/// in publish order.
final class PubSubHub: Sendable {
    /// Plain channels and shard channels are separate namespaces, as in Redis.
    enum Namespace: Sendable { case channels, shardChannels }

    private struct PatternEntry {
        let glob: GlobPattern
        var subscribers: [Int: Subscriber]
    }

    private struct Registry {
        var channels: [ByteBuffer: [Int: Subscriber]] = [:]
        var shardChannels: [ByteBuffer: [Int: Subscriber]] = [:]
        var patterns: [ByteBuffer: PatternEntry] = [:]

        subscript(namespace: Namespace) -> [ByteBuffer: [Int: Subscriber]] {
            get { namespace == .channels ? channels : shardChannels }
            set { if namespace == .channels { channels = newValue } else { shardChannels = newValue } }
        }
    }

    private let registry = NIOLockedValueBox(Registry())

    // MARK: Subscriptions

    func subscribe(_ subscriber: Subscriber, to channel: ByteBuffer, in namespace: Namespace) {
        registry.withLockedValue { $0[namespace][channel, default: [:]][subscriber.clientID] = subscriber }
    }

    func unsubscribe(_ subscriber: Subscriber, from channel: ByteBuffer, in namespace: Namespace) {
        registry.withLockedValue { registry in
            registry[namespace][channel]?[subscriber.clientID] = nil
            if registry[namespace][channel]?.isEmpty == true { registry[namespace][channel] = nil }
        }
    }

    func subscribe(_ subscriber: Subscriber, toPattern pattern: ByteBuffer) {
        registry.withLockedValue { registry in
            if registry.patterns[pattern] == nil {
                registry.patterns[pattern] = PatternEntry(glob: GlobPattern(pattern.readableBytesView), subscribers: [:])
            }
            registry.patterns[pattern]!.subscribers[subscriber.clientID] = subscriber
        }
    }

    func unsubscribe(_ subscriber: Subscriber, fromPattern pattern: ByteBuffer) {
        registry.withLockedValue { registry in
            registry.patterns[pattern]?.subscribers[subscriber.clientID] = nil
            if registry.patterns[pattern]?.subscribers.isEmpty == true { registry.patterns[pattern] = nil }
        }
    }

    // MARK: Publishing

    /// Delivers `message` to every subscriber of `channel` (and, for plain channels, of every matching pattern).
    /// - Returns: the number of receivers, as PUBLISH replies.
    @discardableResult
    func publish(_ message: ByteBuffer, to channel: ByteBuffer, in namespace: Namespace = .channels) -> Int {
        var direct: [Subscriber] = []
        var byPattern: [(pattern: ByteBuffer, subscribers: [Subscriber])] = []
        registry.withLockedValue { registry in
            if let subscribers = registry[namespace][channel] { direct = Array(subscribers.values) }
            guard namespace == .channels, !registry.patterns.isEmpty else { return }
            channel.withUnsafeReadableBytes { name in
                for (pattern, entry) in registry.patterns where entry.glob.matches(name) {
                    byPattern.append((pattern, Array(entry.subscribers.values)))
                }
            }
        }
        if !direct.isEmpty {
            let frame = PushFrame.encode(kind: namespace == .channels ? "message" : "smessage", channel, message)
            Subscriber.deliver(frame, to: direct)
        }
        var receivers = direct.count
        for (pattern, subscribers) in byPattern {
            let frame = PushFrame.encode(kind: "pmessage", pattern, channel, message)
            Subscriber.deliver(frame, to: subscribers)
            receivers += subscribers.count
        }
        return receivers
    }

    // MARK: Introspection (PUBSUB)

    /// Channels with at least one subscriber, optionally filtered by a glob.
    func activeChannels(in namespace: Namespace, matching pattern: GlobPattern?) -> [ByteBuffer] {
        registry.withLockedValue { registry in
            registry[namespace].keys.filter { channel in
                pattern.map { glob in channel.withUnsafeReadableBytes { glob.matches($0) } } ?? true
            }
        }
    }

    /// Number of subscribers of `channel`.
    func subscriberCount(of channel: ByteBuffer, in namespace: Namespace) -> Int {
        registry.withLockedValue { $0[namespace][channel]?.count ?? 0 }
    }

    /// Number of distinct patterns subscribed to by anyone.
    var patternCount: Int { registry.withLockedValue { $0.patterns.count } }

    /// What each of `clients` (by id) subscribes to: channels and shard channels, then patterns. Access control
    /// closes a subscriber whose user may no longer use one of them.
    func subscriptions(ofClients clients: Set<Int>) -> [Int: (channels: [ByteBuffer], patterns: [ByteBuffer])] {
        registry.withLockedValue { registry in
            var found: [Int: (channels: [ByteBuffer], patterns: [ByteBuffer])] = [:]
            for namespace in [registry.channels, registry.shardChannels] {
                for (channel, subscribers) in namespace {
                    for id in subscribers.keys where clients.contains(id) { found[id, default: ([], [])].channels.append(channel) }
                }
            }
            for (pattern, entry) in registry.patterns {
                for id in entry.subscribers.keys where clients.contains(id) { found[id, default: ([], [])].patterns.append(pattern) }
            }
            return found
        }
    }
}

/// A Pub/Sub message as it goes on the wire, encoded once per publish in both protocols: a RESP2 array (`*`) and a
/// RESP3 push (`>`), which differ only in their first byte. Each subscriber writes the one its connection speaks.
public struct PushFrame: Sendable {
    /// The frame as a RESP2 array.
    public let resp2: ByteBuffer
    /// The frame as a RESP3 push.
    public let resp3: ByteBuffer

    init(resp2: ByteBuffer, resp3: ByteBuffer) {
        self.resp2 = resp2
        self.resp3 = resp3
    }

    /// A frame built for one connection, in the protocol it speaks: the same bytes either way.
    init(encoded: ByteBuffer) {
        self.init(resp2: encoded, resp3: encoded)
    }

    static func encode(kind: StaticString, _ parts: ByteBuffer...) -> PushFrame {
        var frame = ByteBuffer()
        frame.reserveCapacity(parts.reduce(32) { $0 + $1.readableBytes + 16 })
        frame.writeString("*\(parts.count + 1)\r\n$\(kind.utf8CodeUnitCount)\r\n")
        frame.writeStaticString(kind)
        frame.writeStaticString("\r\n")
        for part in parts {
            frame.writeString("$\(part.readableBytes)\r\n")
            frame.writeImmutableBuffer(part)
            frame.writeStaticString("\r\n")
        }
        var push = frame
        push.setInteger(UInt8(ascii: ">"), at: push.readerIndex)
        return PushFrame(resp2: frame, resp3: push)
    }
}
