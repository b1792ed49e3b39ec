import KVStore
import NIOCore
import RESP

/// SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE, their UNSUBSCRIBEs, PUBLISH, SPUBLISH and PUBSUB: the Pub/Sub family.
struct PubSubCommands: CommandFamily {
    let hub: PubSubHub

    var commands: [CommandSpec] {
        let hub = self.hub
        return [
            CommandSpec(.subscribe, kvnodeFlags: .allowedWhileSubscribed, channelFinder: ChannelReference.all) {
                Self.subscribe($0, hub, namespace: .channels)
            },
            CommandSpec(.unsubscribe, kvnodeFlags: .allowedWhileSubscribed) {
                Self.unsubscribe($0, hub, namespace: .channels)
            },
            CommandSpec(.psubscribe, kvnodeFlags: .allowedWhileSubscribed, channelFinder: ChannelReference.allPatterns) {
                Self.psubscribe($0, hub)
            },
            CommandSpec(.punsubscribe, kvnodeFlags: .allowedWhileSubscribed) { Self.punsubscribe($0, hub) },
            CommandSpec(.ssubscribe, kvnodeFlags: .allowedWhileSubscribed, channelFinder: ChannelReference.all) {
                Self.subscribe($0, hub, namespace: .shardChannels)
            },
            CommandSpec(.sunsubscribe, kvnodeFlags: .allowedWhileSubscribed) {
                Self.unsubscribe($0, hub, namespace: .shardChannels)
            },
            CommandSpec(.publish, channelFinder: ChannelReference.first) { ctx in
                ctx.reply.integer(hub.publish(ctx.argument(2), to: ctx.argument(1)))
            },
            CommandSpec(.spublish, channelFinder: ChannelReference.first) { ctx in
                ctx.reply.integer(hub.publish(ctx.argument(2), to: ctx.argument(1), in: .shardChannels))
            },
            // PUBSUB's subcommands had `fast` before the one table; Redis 7.0 does not report it (they walk every
            // channel), and nothing in kvnode depends on it.
            CommandSpec(.pubsub, subcommands: [
                CommandSpec(.pubsubChannels) { try Self.listChannels($0, hub, namespace: .channels) },
                CommandSpec(.pubsubShardchannels) { try Self.listChannels($0, hub, namespace: .shardChannels) },
                CommandSpec(.pubsubNumsub) { Self.countSubscribers($0, hub, namespace: .channels) },
                CommandSpec(.pubsubShardnumsub) { Self.countSubscribers($0, hub, namespace: .shardChannels) },
                CommandSpec(.pubsubNumpat) { ctx in ctx.reply.integer(hub.patternCount) },
            ]),
        ]
    }

    // MARK: Subscribing

    /// The count Redis reports after (un)subscribing: channels plus patterns, or shard channels alone.
    private static func subscriptionCount(_ ctx: CommandContext, _ namespace: PubSubHub.Namespace) -> Int {
        namespace == .channels
            ? ctx.session.channelSubscriptions.count + ctx.session.patternSubscriptions.count : ctx.session.shardSubscriptions.count
    }

    private static func subscriptions(_ ctx: CommandContext, _ namespace: PubSubHub.Namespace) -> Set<ByteBuffer> {
        namespace == .channels ? ctx.session.channelSubscriptions : ctx.session.shardSubscriptions
    }

    private static func update(_ ctx: CommandContext, _ namespace: PubSubHub.Namespace, _ body: (inout Set<ByteBuffer>) -> Void) {
        if namespace == .channels { body(&ctx.session.channelSubscriptions) } else { body(&ctx.session.shardSubscriptions) }
    }

    static func subscribe(_ ctx: CommandContext, _ hub: PubSubHub, namespace: PubSubHub.Namespace) {
        for index in 1..<ctx.argumentCount {
            // A copy, so the subscription does not keep the request's buffer alive.
            let channel = ByteBuffer(bytes: ctx.argument(index).readableBytesView)
            if !subscriptions(ctx, namespace).contains(channel) {
                update(ctx, namespace) { $0.insert(channel) }
                hub.subscribe(ctx.session.subscriber, to: channel, in: namespace)
            }
            confirm(ctx, namespace == .channels ? "subscribe" : "ssubscribe", channel, namespace)
        }
    }

    static func unsubscribe(_ ctx: CommandContext, _ hub: PubSubHub, namespace: PubSubHub.Namespace) {
        let kind: StaticString = namespace == .channels ? "unsubscribe" : "sunsubscribe"
        let channels: [ByteBuffer] = ctx.argumentCount > 1
            ? (1..<ctx.argumentCount).map { ctx.argument($0) } : Array(subscriptions(ctx, namespace))
        if channels.isEmpty {
            confirm(ctx, kind, nil, namespace)
            return
        }
        for channel in channels {
            if subscriptions(ctx, namespace).contains(channel) {
                update(ctx, namespace) { $0.remove(channel) }
                hub.unsubscribe(ctx.session.subscriber, from: channel, in: namespace)
            }
            confirm(ctx, kind, channel, namespace)
        }
    }

    static func psubscribe(_ ctx: CommandContext, _ hub: PubSubHub) {
        for index in 1..<ctx.argumentCount {
            let pattern = ByteBuffer(bytes: ctx.argument(index).readableBytesView)
            if ctx.session.patternSubscriptions.insert(pattern).inserted {
                hub.subscribe(ctx.session.subscriber, toPattern: pattern)
            }
            confirm(ctx, "psubscribe", pattern, .channels)
        }
    }

    static func punsubscribe(_ ctx: CommandContext, _ hub: PubSubHub) {
        let patterns: [ByteBuffer] = ctx.argumentCount > 1
            ? (1..<ctx.argumentCount).map { ctx.argument($0) } : Array(ctx.session.patternSubscriptions)
        if patterns.isEmpty {
            confirm(ctx, "punsubscribe", nil, .channels)
            return
        }
        for pattern in patterns {
            if ctx.session.patternSubscriptions.remove(pattern) != nil {
                hub.unsubscribe(ctx.session.subscriber, fromPattern: pattern)
            }
            confirm(ctx, "punsubscribe", pattern, .channels)
        }
    }

    /// `[kind, channel, count]`, a push in RESP3 and an array in RESP2; a null channel when there was none.
    /// Written as a push, which CLIENT REPLY OFF does not silence (Redis sends confirmations with `CLIENT_PUSHING`).
    private static func confirm(_ ctx: CommandContext, _ kind: StaticString, _ channel: ByteBuffer?, _ namespace: PubSubHub.Namespace) {
        let count = subscriptionCount(ctx, namespace)
        ctx.push { push in
            push.pushHeader(3)
            push.bulk(kind.description)
            if let channel { push.bulk(channel) } else { push.null() }
            push.integer(count)
        }
    }

    /// Drops every subscription of a closing connection, without replying.
    static func unsubscribeAll(_ session: Session) {
        let hub = session.engine.pubsub
        for channel in session.channelSubscriptions { hub.unsubscribe(session.subscriber, from: channel, in: .channels) }
        for channel in session.shardSubscriptions { hub.unsubscribe(session.subscriber, from: channel, in: .shardChannels) }
        for pattern in session.patternSubscriptions { hub.unsubscribe(session.subscriber, fromPattern: pattern) }
        session.channelSubscriptions.removeAll()
        session.shardSubscriptions.removeAll()
        session.patternSubscriptions.removeAll()
    }

    // MARK: PUBSUB

    static func listChannels(_ ctx: CommandContext, _ hub: PubSubHub, namespace: PubSubHub.Namespace) throws {
        guard ctx.argumentCount <= 3 else { throw CommandError.wrongArity("pubsub|\(namespace == .channels ? "channels" : "shardchannels")") }
        let pattern = ctx.argumentCount == 3 ? GlobPattern(ctx.argument(2).readableBytesView) : nil
        let channels = hub.activeChannels(in: namespace, matching: pattern)
        ctx.reply.arrayHeader(channels.count)
        for channel in channels { ctx.reply.bulk(channel) }
    }

    static func countSubscribers(_ ctx: CommandContext, _ hub: PubSubHub, namespace: PubSubHub.Namespace) {
        ctx.reply.arrayHeader((ctx.argumentCount - 2) * 2)
        for index in 2..<ctx.argumentCount {
            let channel = ctx.argument(index)
            ctx.reply.bulk(channel)
            ctx.reply.integer(hub.subscriberCount(of: channel, in: namespace))
        }
    }
}
