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

    let view: KeyspaceSnapshot
    /// The watcher's start revision: the replay covers everything through it.
    let through: UInt64
    var source: Source
    /// Entries read per step: enough to keep the socket busy, few enough to keep the event loop responsive.
    static let step = 256

    /// The frames of the next step; whether the replay is complete; and the revision through which the watcher has
    /// now been sent everything (nil while INITIAL's values are incomplete: those resume only by starting again).
    /// - Throws: when the snapshot cannot be read; the watcher must not go on as if the replay were complete.
    mutating func next(watcher: Watcher) throws -> (frames: [PushFrame], done: Bool, sentThrough: UInt64?) {
        switch source {
        case .log(let from, let position):
            let (events, complete) = try view.events(from: from, after: position, through: through, limit: Self.step)
            if let last = events.last { source = .log(next: from, position: (last.revision, last.index)) }
            let frames = events.filter { watcher.filter.matches($0) }.map { watcher.frame(for: $0) }
            // Revisions are read whole, so the last one read is complete.
            let sentThrough = complete ? through : events.last.map(\.revision) ?? from &- 1
            return (frames, complete, sentThrough)
        case .initial(let after, let inside?):
            let frames = try elements(of: inside, watcher: watcher)
            return (frames, false, nil)
        case .initial(let after, nil):
            var frames: [PushFrame] = []
            var last: [UInt8]?
            var collection: CollectionCursor?
            let read = try view.entries(in: watcher.filter.range, after: after, limit: Self.step) {
                key, value, expireAt, revision, type in
                last = Array(key)
                guard watcher.filter.matches(key) else { return true }
                guard type.isCollection else {
                    frames.append(WatchFrames.initialValue(
                        id: watcher.id, key: ByteBuffer(bytes: key), value: ByteBuffer(bytes: value), revision: revision,
                        expireAt: expireAt))
                    return true
                }
                guard let metadata = CollectionMetadata(value), type.elementEvents != nil else { return true }
                // Its elements come in the next steps; the walk goes on after it then.
                collection = CollectionCursor(
                    key: ByteBuffer(bytes: key), type: type, generation: metadata.generation, revision: revision)
                return false
            }
            source = .initial(after: last ?? after, inside: collection)
            let done = collection == nil && read < Self.step
            return (frames, done, done ? through : nil)
        }
    }

    /// The frames of the next elements of the collection INITIAL is in.
    private mutating func elements(of cursor: CollectionCursor, watcher: Watcher) throws -> [PushFrame] {
        guard let (kind, operation) = cursor.type.elementEvents else { return [] }
        var frames: [PushFrame] = []
        var last: [UInt8]?
        try view.forEachElement(generation: cursor.generation, kind: kind, after: cursor.afterElement) { element, value in
            frames.append(WatchFrames.initialElement(
                id: watcher.id, key: cursor.key, type: cursor.type, operation: operation,
                element: ByteBuffer(bytes: element), value: ByteBuffer(bytes: value), revision: cursor.revision))
            last = Array(element)
            return frames.count < Self.step
        }
        var next = cursor
        next.afterElement = last
        let after = Array(cursor.key.readableBytesView)
        source = .initial(after: after, inside: frames.count < Self.step ? nil : next)
        return frames
    }

    /// The frame that ends the replay: `kv.synced` after the initial values.
    func completionFrame(watcher: Watcher) -> PushFrame? {
        if case .initial = source { return WatchFrames.synced(id: watcher.id, revision: through) }
        return nil
    }
}
