import KVStore
import NIOCore
import RESP

/// The frames a watcher receives, as RESP3 pushes or (on a RESP2 connection that only watches) arrays:
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
    static func event(id: Int, _ event: ChangeEvent, previous: ByteBuffer??) -> PushFrame {
        build(count: previous == nil ? 6 : 7) { writer in
            writer.bulk("kv.event")
            writer.integer(id)
            writer.integer(Int(truncatingIfNeeded: event.revision))
            writer.bulk(event.operation.name.description)
            writer.bulk(event.key)
            if let value = event.value { writer.bulk(value) } else { writer.null() }
            if case .some(let previous) = previous {
                if let previous { writer.bulk(previous) } else { writer.null() }
            }
        }
    }

    /// A key's current value sent by INITIAL, as a `set` event of its last change.
    static func initialValue(
        id: Int, key: ByteBuffer, value: ByteBuffer, revision: KeyRevision, expireAt: Int64
    ) -> PushFrame {
        build(count: 6) { writer in
            writer.bulk("kv.event")
            writer.integer(id)
            writer.integer(Int(truncatingIfNeeded: revision.modified))
            writer.bulk("set")
            writer.bulk(key)
            writer.bulk(value)
        }
    }

    static func watching(id: Int, revision: UInt64) -> PushFrame { control("kv.watch", id, revision) }
    static func synced(id: Int, revision: UInt64) -> PushFrame { control("kv.synced", id, revision) }
    static func progress(id: Int, revision: UInt64) -> PushFrame { control("kv.progress", id, revision) }
    static func lagged(id: Int, lastSent: UInt64) -> PushFrame { control("kv.lagged", id, lastSent) }
    static func unwatched(id: Int, remaining: Int) -> PushFrame { control("kv.unwatch", id, UInt64(remaining)) }

    private static func control(_ kind: String, _ id: Int, _ number: UInt64) -> PushFrame {
        build(count: 3) { writer in
            writer.bulk(kind)
            writer.integer(id)
            writer.integer(Int(truncatingIfNeeded: number))
        }
    }

    /// The frame in both encodings: a RESP2 array and a RESP3 push.
    private static func build(count: Int, _ body: (inout ReplyWriter) -> Void) -> PushFrame {
        var resp2 = ReplyWriter(buffer: ByteBuffer(), version: .resp2)
        resp2.pushHeader(count)
        body(&resp2)
        var resp3 = ReplyWriter(buffer: ByteBuffer(), version: .resp3)
        resp3.pushHeader(count)
        body(&resp3)
        return PushFrame(resp2: resp2.buffer, resp3: resp3.buffer)
    }
}
