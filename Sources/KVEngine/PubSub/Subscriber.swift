import NIOCore
import RESP
import Synchronization

/// Where a connection's out-of-band messages go (Pub/Sub messages, later watch events). The network layer
/// implements it: it writes the frame after the replies already produced, applies the output limits of Pub/Sub
/// clients, and counts what waits for the socket.
public protocol PushSink: AnyObject {
    /// Delivers one Pub/Sub message, under the Pub/Sub output limits; called on the connection's event loop.
    func deliver(_ frame: PushFrame)
    /// Writes any other push (KV.WATCH frames) after what was written before it, with no limit of its own: the
    /// caller watches `unsentBytes`. Called on the connection's event loop.
    func push(_ frame: PushFrame)
    /// Bytes written to the connection and not yet taken by the socket.
    var unsentBytes: Int { get }
    /// Closes the connection once everything written so far has been sent.
    func closeAfterSending()
    /// The protocol the connection speaks now, for frames built for it alone.
    var protocolVersion: ProtocolVersion { get }
}

/// A connection's mailbox for Pub/Sub messages, safe to hand messages to from any thread.
///
/// Messages are handed to the connection's sink on its own event loop, which disconnects a subscriber that stops
/// reading by Redis's rule for Pub/Sub clients (`client-output-buffer-limit pubsub 32mb 8mb 60` unless CONFIG SET
/// changes it): at once when its unsent output passes the hard limit, or when it has stayed above the soft limit for
/// the soft period.
final class Subscriber: Sendable {
    let clientID: Int
    let eventLoop: any EventLoop
    /// The sink, until the connection closes: a strong reference (cheaper per message than a weak one) that
    /// `detach()` drops.
    private let sink: NIOLoopBoundBox<(any PushSink)?>

    init(clientID: Int, eventLoop: any EventLoop) {
        self.clientID = clientID
        self.eventLoop = eventLoop
        self.sink = NIOLoopBoundBox(nil, eventLoop: eventLoop)
    }

    /// Starts deliveries; called on the event loop before the connection runs a command.
    func attach(_ sink: any PushSink) {
        self.sink.value = sink
    }

    /// Stops deliveries; called on the event loop when the connection closes.
    func detach() {
        sink.value = nil
    }

    /// Writes a push that is not Pub/Sub; on the event loop.
    func push(_ frame: PushFrame) {
        sink.value?.push(frame)
    }

    /// The connection's protocol; on the event loop.
    var protocolVersion: ProtocolVersion { sink.value?.protocolVersion ?? .resp3 }

    /// Bytes the connection has not sent yet; on the event loop.
    var unsentBytes: Int { sink.value?.unsentBytes ?? 0 }

    /// Closes the connection once what was written is sent; on the event loop.
    func closeAfterSending() {
        sink.value?.closeAfterSending()
    }


    /// Delivers one frame to many subscribers with one task per event loop rather than one per subscriber.
    static func deliver(_ frame: PushFrame, to subscribers: [Subscriber]) {
        // There are only as many groups as event loops, so a short array beats hashing on every publish.
        var byLoop: [(loop: any EventLoop, subscribers: [Subscriber])] = []
        for subscriber in subscribers {
            if let index = byLoop.firstIndex(where: { $0.loop === subscriber.eventLoop }) {
                byLoop[index].subscribers.append(subscriber)
            } else {
                byLoop.append((subscriber.eventLoop, [subscriber]))
            }
        }
        for (loop, group) in byLoop {
            if loop.inEventLoop {
                for subscriber in group { subscriber.sink.value?.deliver(frame) }
            } else {
                loop.execute {
                    for subscriber in group { subscriber.sink.value?.deliver(frame) }
                }
            }
        }
    }
}

/// Redis's `client-output-buffer-limit` for one class of clients.
public struct OutputBufferLimit: Sendable {
    /// Unsent bytes that disconnect the client at once; 0 disables.
    public var hardBytes: Int
    /// Unsent bytes that disconnect the client when exceeded for `softSeconds`; 0 disables.
    public var softBytes: Int
    public var softSeconds: Int

    public init(hardBytes: Int, softBytes: Int, softSeconds: Int) {
        self.hardBytes = hardBytes
        self.softBytes = softBytes
        self.softSeconds = softSeconds
    }

    /// Redis's default for Pub/Sub clients: 32mb 8mb 60.
    public static let pubsubDefault = OutputBufferLimit(hardBytes: 32 << 20, softBytes: 8 << 20, softSeconds: 60)
    /// Redis's default for replicas: 256mb 64mb 60.
    public static let replicaDefault = OutputBufferLimit(hardBytes: 256 << 20, softBytes: 64 << 20, softSeconds: 60)
    /// No limit, Redis's default for normal clients.
    public static let none = OutputBufferLimit(hardBytes: 0, softBytes: 0, softSeconds: 0)
}

/// `client-output-buffer-limit` for every class of clients, as CONFIG GET shows it. kvnode enforces the Pub/Sub class;
/// it never limits normal clients, and keeps the replica class only to report it (it has no replicas).
struct OutputBufferLimits: Sendable {
    var replica = OutputBufferLimit.replicaDefault
    var pubsub: OutputBufferLimit

    /// Redis's CONFIG GET text: `normal 0 0 0 slave <hard> <soft> <seconds> pubsub <hard> <soft> <seconds>`.
    var description: String {
        "normal 0 0 0 slave \(replica.hardBytes) \(replica.softBytes) \(replica.softSeconds) "
            + "pubsub \(pubsub.hardBytes) \(pubsub.softBytes) \(pubsub.softSeconds)"
    }
}
