import KVStore
import NIOCore
import RESP

/// The frames a watcher receives, as RESP3 pushes or (on a RESP2 connection that only watches) arrays, each built in
/// the one protocol its connection speaks:
/// ```
///   kv.watch    id revision                          the watch started after `revision`
///   kv.event    id revision op key value [previous]  one change (value and previous null when absent)
///   kv.synced   id revision                          INITIAL's current values are all sent; live events follow
///   kv.progress id revision                          nothing more for this watch through `revision`
///   kv.lagged   id revision                          cut off: every event through `revision` was sent (and maybe
///                                                    some of the next revision's); resume with FROM revision + 1.
///                                                    0 when INITIAL's values were not all sent: start again
///   kv.unwatch  id remaining                         the watch ended
/// ```
enum WatchFrames {
    /// `kv.event id revision op key value [previous]`, or for an element operation (`hset`, `sadd`, ...)
    /// `kv.event id revision op key element value [previous]` (`linsert` adds BEFORE or AFTER before the element).
    static func event(id: Int, _ event: ChangeEvent, previous: ByteBuffer??, _ version: ProtocolVersion) -> PushFrame {
        let count = 5 + event.operation.argumentCount + (previous == nil ? 0 : 1)
        return build(count: count, version) { writer in
            writer.bulk("kv.event")
            writer.integer(id)
            writer.integer(Int(truncatingIfNeeded: event.revision))
            writer.bulk(event.operation.name.description)
            writer.bulk(event.key)
            event.writeArguments(into: &writer)
            if case .some(let previous) = previous {
                if let previous { writer.bulk(previous) } else { writer.null() }
            }
        }
    }

    /// A key's current value sent by INITIAL, as a `set` event of its last change (a collection's elements as
    /// `hset`/`sadd` events, see `initialElement`).
    static func initialValue(
        id: Int, key: ByteBuffer, value: ByteBuffer, revision: KeyRevision, expireAt: Int64, _ version: ProtocolVersion
    ) -> PushFrame {
        event(id: id, ChangeEvent(
            revision: revision.modified, index: 0, operation: .set, key: key, value: value, expireAt: expireAt,
            keyRevision: revision, previousRevision: 0, time: 0), previous: nil, version)
    }

    /// One element of a collection sent by INITIAL, as the event that recreates it, at the key's last change.
    static func initialElement(
        id: Int, key: ByteBuffer, type: ValueType, operation: ChangeOperation, element: ByteBuffer, value: ByteBuffer?,
        revision: KeyRevision, _ version: ProtocolVersion
    ) -> PushFrame {
        event(id: id, ChangeEvent(
            revision: revision.modified, index: 0, operation: operation, key: key, element: element,
            value: operation.carriesValue ? value : nil, valueType: type, expireAt: 0, keyRevision: revision,
            previousRevision: 0, time: 0), previous: nil, version)
    }

    static func watching(id: Int, revision: UInt64, _ version: ProtocolVersion) -> PushFrame {
        control("kv.watch", id, revision, version)
    }
    static func synced(id: Int, revision: UInt64, _ version: ProtocolVersion) -> PushFrame {
        control("kv.synced", id, revision, version)
    }
    static func progress(id: Int, revision: UInt64, _ version: ProtocolVersion) -> PushFrame {
        control("kv.progress", id, revision, version)
    }
    static func lagged(id: Int, lastSent: UInt64, _ version: ProtocolVersion) -> PushFrame {
        control("kv.lagged", id, lastSent, version)
    }
    static func unwatched(id: Int, remaining: Int, _ version: ProtocolVersion) -> PushFrame {
        control("kv.unwatch", id, UInt64(remaining), version)
    }

    private static func control(_ kind: String, _ id: Int, _ number: UInt64, _ version: ProtocolVersion) -> PushFrame {
        build(count: 3, version) { writer in
            writer.bulk(kind)
            writer.integer(id)
            writer.integer(Int(truncatingIfNeeded: number))
        }
    }

    /// The frame in `version`: a RESP2 array or a RESP3 push.
    private static func build(count: Int, _ version: ProtocolVersion, _ body: (inout ReplyWriter) -> Void) -> PushFrame {
        var writer = ReplyWriter(buffer: ByteBuffer(), version: version)
        writer.pushHeader(count)
        body(&writer)
        return PushFrame(encoded: writer.buffer)
    }
}
