import KVStore
import NIOConcurrencyHelpers
import NIOCore
import RESP
import Synchronization

/// One KV.WATCH: a filter over keys, and the events it has still to send, in revision order with no gap and no
/// duplicate.
///
/// ```
///   KV.WATCH (under a lease, revision R committed) ──► catching up ─────────────────────► live ──► (ended)
///                                                      │ replays the log (FROM) or the      ▲
///                                                      │ keyspace (INITIAL) through R from  │ then the events committed
///                                                      │ a LevelDB snapshot taken at R,     │ meanwhile, after R
///   events committed after R ─────────────────────────►│ buffered ──────────────────────────┘
/// ```
/// Events at or before R never reach the watcher from the live feed (the replay has them, or it asked for none), so
/// the seam has neither gap nor duplicate. Frames go to the connection's push sink on its event loop; a watcher whose
/// connection backs up past the output limit is cut off with `kv.lagged` naming the last revision whose events it was
/// all sent (a replay step can end inside a revision), and its connection closes once that is written: the client
/// resumes with `FROM` that revision + 1, losing nothing, since the log, not a buffer, holds the events. A replay
/// reads a bounded number of bytes per step and waits while the connection is backed up, so it holds little memory.
final class Watcher: Sendable {
    let id: Int
    let filter: WatchFilter
    /// The database the connection had selected at KV.WATCH: the watch follows that database's keys only.
    let database: UInt32
    let includePrevious: Bool
    /// Events at or before this revision are not sent from the live feed.
    let start: UInt64
    /// The connection watching.
    var clientID: Int { subscriber.clientID }
    private let hub: WatchHub
    private let store: Store
    private let subscriber: Subscriber
    private let readerSlot: ReaderSlot

    private enum State {
        case catchingUp(buffered: [ChangeEvent], bytes: Int)
        case live
        case ended
    }

    private let state = NIOLockedValueBox(State.catchingUp(buffered: [], bytes: 0))
    /// The newest revision offered to the watcher (matching or not), and the newest matching one handed on to be
    /// sent: progress may claim the first only once everything through the second has been sent.
    private let feed: NIOLockedValueBox<(offered: UInt64, queued: UInt64)>
    /// What only the watcher's event loop touches.
    private let onLoop: NIOLoopBoundBox<LoopState>

    private struct LoopState {
        var lastSent: UInt64
        var sentSinceProgress = false
        var progress: RepeatedTask?
        var replay: Replay?
    }

    init(
        id: Int, filter: WatchFilter, database: UInt32 = 0, includePrevious: Bool, start: UInt64, hub: WatchHub,
        store: Store, subscriber: Subscriber, readerSlot: ReaderSlot
    ) {
        self.id = id
        self.filter = filter
        self.database = database
        self.includePrevious = includePrevious
        self.start = start
        self.hub = hub
        self.store = store
        self.subscriber = subscriber
        self.readerSlot = readerSlot
        onLoop = NIOLoopBoundBox(LoopState(lastSent: start), eventLoop: subscriber.eventLoop)
        feed = NIOLockedValueBox((offered: start, queued: start))
    }

    var eventLoop: any EventLoop { subscriber.eventLoop }

    /// The protocol of the watcher's connection; on its event loop.
    var protocolVersion: ProtocolVersion { subscriber.protocolVersion }

    // MARK: Live feed (any thread)

    /// Takes the events of one lease that match; called in commit order.
    func offer(_ events: [ChangeEvent]) {
        let matching = events.filter { $0.revision > start && follows($0) }
        // Recorded before the events are handed on, so a progress tick never claims a revision still on its way.
        feed.withLockedValue { feed in
            if let last = events.last { feed.offered = max(feed.offered, last.revision) }
            if let last = matching.last { feed.queued = max(feed.queued, last.revision) }
        }
        guard !matching.isEmpty else { return }
        enum Next { case send, cut, nothing }
        let next: Next = state.withLockedValue { state in
            switch state {
            case .catchingUp(var buffered, var bytes):
                buffered.append(contentsOf: matching)
                bytes += matching.reduce(0) { $0 + $1.key.readableBytes + ($1.value?.readableBytes ?? 0) + 64 }
                if bytes > hub.outputLimit {
                    state = .ended
                    return .cut
                }
                state = .catchingUp(buffered: buffered, bytes: bytes)
                return .nothing
            case .live:
                return .send
            case .ended:
                return .nothing
            }
        }
        switch next {
        case .send: eventLoop.execute { self.send(matching) }
        case .cut: eventLoop.execute { self.cutOff() }
        case .nothing: break
        }
    }

    // MARK: On the event loop

    /// Starts the watcher: the replay (when asked), then live events; first, with `medium` or `high` durability, waits
    /// until everything through its start revision is durable, so it never sends what a crash could take back.
    func begin(replay: Replay?, retryDelay: TimeAmount = .milliseconds(1)) {
        eventLoop.preconditionInEventLoop()
        // Until the replay has sent them, the revisions through `start` are not the watcher's to resume after (a
        // cut-off before it begins names the revision before its FROM).
        if let replay { onLoop.value.lastSent = replay.sentBeforeStart }
        guard !isEnded else { return }
        if let durability = hub.durability, durability.durableRevision() < start {
            durability.requestSync()
            // Usually one fsync away; backs off while fsyncs fail (the store is then refusing writes).
            eventLoop.scheduleTask(in: retryDelay) {
                self.begin(replay: replay, retryDelay: min(retryDelay * 2, .milliseconds(100)))
            }
            return
        }
        onLoop.value.progress = eventLoop.scheduleRepeatedTask(
            initialDelay: hub.progressInterval, delay: hub.progressInterval
        ) { [weak self] _ in self?.progressTick() }
        if let replay {
            onLoop.value.replay = replay
            pump()
        } else {
            goLive()
        }
    }

    /// Sends the next part of the replay, or switches to live events once it is done; waits while the connection is
    /// backed up, so a replay of any length holds a bounded amount in memory.
    private func pump() {
        guard var replay = onLoop.value.replay, !isEnded else { return }
        if subscriber.unsentBytes > hub.outputLimit / 4 {
            eventLoop.scheduleTask(in: .milliseconds(5)) { self.pump() }
            return
        }
        let step: Replay.Step
        do {
            step = try replay.next(watcher: self)
        } catch {
            // The rest of the replay cannot be read: end the watch where it stands rather than go on with a gap.
            cutOff()
            return
        }
        onLoop.value.replay = replay
        for frame in step.frames { subscriber.push(frame) }
        if let sentThrough = step.sentThrough { onLoop.value.lastSent = max(onLoop.value.lastSent, sentThrough) }
        if step.done {
            onLoop.value.replay = nil
            if let marker = replay.completionFrame(watcher: self) { subscriber.push(marker) }
            goLive()
        } else {
            eventLoop.execute { self.pump() }
        }
    }

    private func goLive() {
        let buffered: [ChangeEvent] = state.withLockedValue { state in
            guard case .catchingUp(let buffered, _) = state else { return [] }
            state = .live
            return buffered
        }
        if !buffered.isEmpty { send(buffered) }
    }

    private func send(_ events: [ChangeEvent]) {
        guard !isEnded, let last = events.last else { return }
        for event in events { subscriber.push(frame(for: event)) }
        onLoop.value.lastSent = last.revision
        onLoop.value.sentSinceProgress = true
        if subscriber.unsentBytes > hub.outputLimit { cutOff() }
    }

    private var isEnded: Bool {
        state.withLockedValue { if case .ended = $0 { true } else { false } }
    }

    /// Cuts the watcher off: the last revision it was sent, then the connection closes once that is written.
    private func cutOff() {
        state.withLockedValue { $0 = .ended }
        let lastSent = onLoop.value.lastSent
        subscriber.push(WatchFrames.lagged(id: id, lastSent: lastSent, subscriber.protocolVersion))
        stop()
        subscriber.closeAfterSending()
    }

    /// Ends the watcher (KV.UNWATCH, a cut, the connection closing).
    func stop() {
        state.withLockedValue { $0 = .ended }
        hub.remove(self)
        onLoop.value.progress?.cancel()
        onLoop.value.progress = nil
        onLoop.value.replay = nil
    }

    private func progressTick() {
        guard case .live = state.withLockedValue({ $0 }) else { return }
        guard !onLoop.value.sentSinceProgress else {
            onLoop.value.sentSinceProgress = false
            return
        }
        // Events handed on from another thread may still wait in the event loop's queue (tasks this loop schedules
        // can run before them): until they are sent, progress goes no further than what was sent.
        let lastSent = onLoop.value.lastSent
        let (offered, queued) = feed.withLockedValue { ($0.offered, $0.queued) }
        let revision = queued > lastSent ? lastSent : max(start, offered, lastSent)
        subscriber.push(WatchFrames.progress(id: id, revision: revision, subscriber.protocolVersion))
    }

    // MARK: Frames

    func frame(for event: ChangeEvent) -> PushFrame {
        let previous = includePrevious ? previousValue(of: event) : nil
        return WatchFrames.event(
            id: id, event, previous: includePrevious ? .some(previous) : .none, subscriber.protocolVersion)
    }

    /// The value the key had before `event`, read from the log (nil when it had none, or the log no longer has it).
    private func previousValue(of event: ChangeEvent) -> ByteBuffer? {
        guard event.previousRevision > 0 else { return nil }
        return (try? store.loggedValue(
            of: event.key, database: event.database, at: event.previousRevision, slot: readerSlot)) ?? nil
    }

    /// Whether the watch reports `event`: one of its database (a SWAPDB naming it included) that its filter matches.
    func follows(_ event: ChangeEvent) -> Bool {
        if event.operation == .swapDatabases {
            return event.database == database || event.value.map { String(buffer: $0) } == String(database)
        }
        return event.database == database && filter.matches(event)
    }
}

/// Which keys a watcher follows.
enum WatchFilter: Sendable {
    case key(ByteBuffer)
    case prefix(ByteBuffer)
    case pattern(GlobPattern)

    /// Whether `event` concerns a followed key; a FLUSHDB concerns every watcher (of its database: `Watcher.follows`).
    func matches(_ event: ChangeEvent) -> Bool {
        if event.operation == .flush { return true }
        return event.key.withUnsafeReadableBytes { matches($0) }
    }

    func matches(_ key: UnsafeRawBufferPointer) -> Bool {
        switch self {
        case .key(let watched): watched.withUnsafeReadableBytes { $0.elementsEqual(key) }
        case .prefix(let prefix): prefix.withUnsafeReadableBytes { key.starts(with: $0) }
        case .pattern(let glob): glob.matches(key)
        }
    }

    /// The key range that holds every followed key, for INITIAL's walk.
    var range: KeyRange {
        switch self {
        case .key(let key): KeyRange(prefix: Array(key.readableBytesView))
        case .prefix(let prefix): KeyRange(prefix: Array(prefix.readableBytesView))
        case .pattern(let glob): KeyRange(prefix: glob.literalPrefix)
        }
    }
}
