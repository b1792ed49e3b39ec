import KVStore
import NIOCore

/// What a watcher sends before its live events, read step by step from a LevelDB snapshot taken at its start
/// revision: the log's events from `FROM` (a resumed watch), or the current value of every key it follows
/// (`INITIAL`), followed by `kv.synced`.
struct Replay {
    enum Source {
        case log(next: UInt64, position: (revision: UInt64, index: UInt32)?)
        /// INITIAL's walk: after the key `after`, or inside a collection's elements.
        case initial(after: [UInt8]?, inside: CollectionCursor?)
    }

    /// Where INITIAL is inside a collection: its elements are sent a step at a time, so a key of any size keeps the
    /// event loop responsive.
    struct CollectionCursor {
        let key: ByteBuffer
        let type: ValueType
        let generation: UInt64
        let revision: KeyRevision
        var afterElement: [UInt8]?
    }

    /// One step: its frames, whether the replay is complete, and the newest revision whose events have all been
    /// sent once these frames are (nil while nothing resumable has been sent).
    struct Step {
        var frames: [PushFrame]
        var done: Bool
        var sentThrough: UInt64?
    }

    let view: KeyspaceSnapshot
    /// The watcher's start revision: the replay covers everything through it.
    let through: UInt64
    var source: Source
    /// Entries read per step: enough to keep the socket busy, few enough to keep the event loop responsive.
    static let step = 256
    /// Bytes of keys and values read per step: a step's frames are built at once, so with large values this, not
    /// the count, bounds what a replay holds before the socket takes it.
    static let stepBytes = 1 << 20

    /// What the watcher has been sent completely before the first step: the revision before `FROM`, or nothing (0)
    /// for INITIAL, whose values are a whole only once `kv.synced` is sent.
    var sentBeforeStart: UInt64 {
        switch source {
        case .log(let from, _): from &- 1
        case .initial: 0
        }
    }

    /// The next step.
    /// - Throws: when the snapshot cannot be read; the replay cannot go on without a gap.
    mutating func next(watcher: Watcher) throws -> Step {
        switch source {
        case .log(let from, let position):
            let (events, done) = try view.events(
                from: from, after: position, through: through, limit: Self.step, maxBytes: Self.stepBytes)
            if let last = events.last { source = .log(next: from, position: (last.revision, last.index)) }
            let frames = events.filter { watcher.follows($0) }.map { watcher.frame(for: $0) }
            // Steps never split a revision: everything through the last one read has been sent.
            return Step(frames: frames, done: done, sentThrough: done ? through : events.last?.revision)
        case .initial(_, let inside?):
            return Step(frames: try elements(of: inside, watcher: watcher), done: false, sentThrough: nil)
        case .initial(let after, nil):
            var frames: [PushFrame] = []
            var last: [UInt8]?
            var bytes = 0
            var collection: CollectionCursor?
            let read = try view.entries(
                in: watcher.filter.range, database: watcher.database, after: after, limit: Self.step,
                maxBytes: Self.stepBytes
            ) { key, value, expireAt, revision, type in
                last = Array(key)
                bytes += key.count + value.count
                guard watcher.filter.matches(key) else { return true }
                guard type.isCollection else {
                    frames.append(WatchFrames.initialValue(
                        id: watcher.id, key: ByteBuffer(bytes: key), value: ByteBuffer(bytes: value), revision: revision,
                        expireAt: expireAt, watcher.protocolVersion))
                    return true
                }
                guard let metadata = CollectionMetadata(value), type.elementEvents != nil else { return true }
                // Its elements come in the next steps; the walk goes on after it then.
                collection = CollectionCursor(
                    key: ByteBuffer(bytes: key), type: type, generation: metadata.generation, revision: revision)
                return false
            }
            source = .initial(after: last ?? after, inside: collection)
            let done = collection == nil && read < Self.step && bytes < Self.stepBytes
            return Step(frames: frames, done: done, sentThrough: done ? through : nil)
        }
    }

    /// The frames of the next elements of the collection INITIAL is in.
    private mutating func elements(of cursor: CollectionCursor, watcher: Watcher) throws -> [PushFrame] {
        guard let (kind, operation) = cursor.type.elementEvents else { return [] }
        var frames: [PushFrame] = []
        var last: [UInt8]?
        var bytes = 0
        try view.forEachElement(generation: cursor.generation, kind: kind, after: cursor.afterElement) { element, value in
            // A list's item is its value; the others name their field or member.
            frames.append(WatchFrames.initialElement(
                id: watcher.id, key: cursor.key, type: cursor.type, operation: operation,
                element: ByteBuffer(bytes: cursor.type.eventsNameValues ? value : element),
                value: ByteBuffer(bytes: value), revision: cursor.revision, watcher.protocolVersion))
            last = Array(element)
            bytes += element.count + value.count
            return frames.count < Self.step && bytes < Self.stepBytes
        }
        let more = frames.count >= Self.step || bytes >= Self.stepBytes
        var next = cursor
        next.afterElement = last
        let after = Array(cursor.key.readableBytesView)
        source = .initial(after: after, inside: more ? next : nil)
        return frames
    }

    /// The frame that ends the replay: `kv.synced` after the initial values.
    func completionFrame(watcher: Watcher) -> PushFrame? {
        if case .initial = source { return WatchFrames.synced(id: watcher.id, revision: through, watcher.protocolVersion) }
        return nil
    }
}
