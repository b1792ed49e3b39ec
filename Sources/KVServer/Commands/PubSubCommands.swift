import KVStore
import NIOCore
import RESP

/// SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE, their UNSUBSCRIBEs, PUBLISH, SPUBLISH and PUBSUB: the Pub/Sub family.
enum PubSubCommands {
    private static let subscribeFlags: CommandFlags = [.pubsub, .noscript, .loading, .stale]
    private static let publishFlags: CommandFlags = [.pubsub, .loading, .stale, .fast]
    private static let categories = ["pubsub", "slow"]

    static let all: [CommandSpec] = [
        CommandSpec("subscribe", arity: -2, flags: subscribeFlags, categories: categories) { client in
            subscribe(client, namespace: .channels)
        },
        CommandSpec("unsubscribe", arity: -1, flags: subscribeFlags, categories: categories) { client in
            unsubscribe(client, namespace: .channels)
        },
        CommandSpec("psubscribe", arity: -2, flags: subscribeFlags, categories: categories, handler: psubscribe),
        CommandSpec("punsubscribe", arity: -1, flags: subscribeFlags, categories: categories, handler: punsubscribe),
        CommandSpec("ssubscribe", arity: -2, flags: subscribeFlags, keys: (1, -1, 1), categories: categories) {
            client in subscribe(client, namespace: .shardChannels)
        },
        CommandSpec("sunsubscribe", arity: -1, flags: subscribeFlags, keys: (1, -1, 1), categories: categories) {
            client in unsubscribe(client, namespace: .shardChannels)
        },
        CommandSpec("publish", arity: 3, flags: publishFlags, categories: ["pubsub", "fast"]) { client in
            client.reply.integer(client.server.pubsub.publish(client.argument(2), to: client.argument(1)))
        },
        CommandSpec("spublish", arity: 3, flags: publishFlags, keys: (1, 1, 1), categories: ["pubsub", "fast"]) {
            client in
            client.reply.integer(
                client.server.pubsub.publish(client.argument(2), to: client.argument(1), in: .shardChannels))
        },
        CommandSpec("pubsub", arity: -2, flags: [], categories: categories, subcommands: [
            CommandSpec("channels", of: "pubsub", arity: -2, flags: publishFlags, categories: categories) { client in
                try listChannels(client, namespace: .channels)
            },
            CommandSpec("shardchannels", of: "pubsub", arity: -2, flags: publishFlags, categories: categories) {
                client in try listChannels(client, namespace: .shardChannels)
            },
            CommandSpec("numsub", of: "pubsub", arity: -2, flags: publishFlags, categories: categories) { client in
                countSubscribers(client, namespace: .channels)
            },
            CommandSpec("shardnumsub", of: "pubsub", arity: -2, flags: publishFlags, categories: categories) {
                client in countSubscribers(client, namespace: .shardChannels)
            },
            CommandSpec("numpat", of: "pubsub", arity: 2, flags: publishFlags, categories: categories) { client in
                client.reply.integer(client.server.pubsub.patternCount)
            },
        ]),
    ]

    private static let allowedInSubscribedContext: Set<String> = [
        "subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ssubscribe", "sunsubscribe", "ping", "quit", "reset",
    ]

    /// In RESP2 a subscribed connection may only send these commands, as in Redis.
    static func allowedWhileSubscribed(_ spec: CommandSpec) -> Bool {
        allowedInSubscribedContext.contains(spec.name)
    }

    // MARK: Subscribing

    /// The count Redis reports after (un)subscribing: channels plus patterns, or shard channels alone.
    private static func subscriptionCount(_ client: Client, _ namespace: PubSubHub.Namespace) -> Int {
        namespace == .channels
            ? client.channelSubscriptions.count + client.patternSubscriptions.count : client.shardSubscriptions.count
    }

    private static func subscriptions(_ client: Client, _ namespace: PubSubHub.Namespace) -> Set<ByteBuffer> {
        namespace == .channels ? client.channelSubscriptions : client.shardSubscriptions
    }

    private static func update(_ client: Client, _ namespace: PubSubHub.Namespace, _ body: (inout Set<ByteBuffer>) -> Void) {
        if namespace == .channels { body(&client.channelSubscriptions) } else { body(&client.shardSubscriptions) }
    }

    static func subscribe(_ client: Client, namespace: PubSubHub.Namespace) {
        for index in 1..<client.argumentCount {
            // A copy, so the subscription does not keep the request's buffer alive.
            let channel = ByteBuffer(bytes: client.argument(index).readableBytesView)
            if !subscriptions(client, namespace).contains(channel) {
                update(client, namespace) { $0.insert(channel) }
                client.server.pubsub.subscribe(client.subscriber, to: channel, in: namespace)
            }
            confirm(client, namespace == .channels ? "subscribe" : "ssubscribe", channel, namespace)
        }
    }

    static func unsubscribe(_ client: Client, namespace: PubSubHub.Namespace) {
        let kind: StaticString = namespace == .channels ? "unsubscribe" : "sunsubscribe"
        let channels: [ByteBuffer] = client.argumentCount > 1
            ? (1..<client.argumentCount).map { client.argument($0) } : Array(subscriptions(client, namespace))
        if channels.isEmpty {
            confirm(client, kind, nil, namespace)
            return
        }
        for channel in channels {
            if subscriptions(client, namespace).contains(channel) {
                update(client, namespace) { $0.remove(channel) }
                client.server.pubsub.unsubscribe(client.subscriber, from: channel, in: namespace)
            }
            confirm(client, kind, channel, namespace)
        }
    }

    static func psubscribe(_ client: Client) {
        for index in 1..<client.argumentCount {
            let pattern = ByteBuffer(bytes: client.argument(index).readableBytesView)
            if client.patternSubscriptions.insert(pattern).inserted {
                client.server.pubsub.subscribe(client.subscriber, toPattern: pattern)
            }
            confirm(client, "psubscribe", pattern, .channels)
        }
    }

    static func punsubscribe(_ client: Client) {
        let patterns: [ByteBuffer] = client.argumentCount > 1
            ? (1..<client.argumentCount).map { client.argument($0) } : Array(client.patternSubscriptions)
        if patterns.isEmpty {
            confirm(client, "punsubscribe", nil, .channels)
            return
        }
        for pattern in patterns {
            if client.patternSubscriptions.remove(pattern) != nil {
                client.server.pubsub.unsubscribe(client.subscriber, fromPattern: pattern)
            }
            confirm(client, "punsubscribe", pattern, .channels)
        }
    }

    /// `[kind, channel, count]`, a push in RESP3 and an array in RESP2; a null channel when there was none.
    private static func confirm(_ client: Client, _ kind: StaticString, _ channel: ByteBuffer?, _ namespace: PubSubHub.Namespace) {
        client.reply.pushHeader(3)
        client.reply.bulk(kind.description)
        if let channel { client.reply.bulk(channel) } else { client.reply.null() }
        client.reply.integer(subscriptionCount(client, namespace))
    }

    /// Drops every subscription of a closing connection, without replying.
    static func unsubscribeAll(_ client: Client) {
        let hub = client.server.pubsub
        for channel in client.channelSubscriptions { hub.unsubscribe(client.subscriber, from: channel, in: .channels) }
        for channel in client.shardSubscriptions { hub.unsubscribe(client.subscriber, from: channel, in: .shardChannels) }
        for pattern in client.patternSubscriptions { hub.unsubscribe(client.subscriber, fromPattern: pattern) }
        client.channelSubscriptions.removeAll()
        client.shardSubscriptions.removeAll()
        client.patternSubscriptions.removeAll()
    }

    // MARK: PUBSUB

    static func listChannels(_ client: Client, namespace: PubSubHub.Namespace) throws {
        guard client.argumentCount <= 3 else { throw CommandError.wrongArity("pubsub|\(namespace == .channels ? "channels" : "shardchannels")") }
        let pattern = client.argumentCount == 3 ? GlobPattern(client.argument(2).readableBytesView) : nil
        let channels = client.server.pubsub.activeChannels(in: namespace, matching: pattern)
        client.reply.arrayHeader(channels.count)
        for channel in channels { client.reply.bulk(channel) }
    }

    static func countSubscribers(_ client: Client, namespace: PubSubHub.Namespace) {
        client.reply.arrayHeader((client.argumentCount - 2) * 2)
        for index in 2..<client.argumentCount {
            let channel = client.argument(index)
            client.reply.bulk(channel)
            client.reply.integer(client.server.pubsub.subscriberCount(of: channel, in: namespace))
        }
    }
}
