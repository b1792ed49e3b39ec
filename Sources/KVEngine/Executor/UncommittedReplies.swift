import KVStore
import NIOCore
import RESP

/// The replies written since the last successful commit of a lease, so that a failed commit can take them back.
///
/// A run starts with the first command that leaves writes pending; replies before it stay (they read committed
/// data). When a commit fails, each request of the run that touched the keyspace gets the error instead of its reply;
/// the others (PING, PUBLISH, CLIENT ...) keep theirs, in place: still exactly one reply per request, in order. A
/// command whose own reply is already that error (its commit failed inside it) counts once, like any other.
struct UncommittedReplies {
    /// Where each reply of the run starts, and whether it depends on the keyspace.
    private var run: [(offset: Int, touchesKeyspace: Bool)] = []
    private var commandStart = 0
    private var commandTouchesKeyspace = false
    private var commitsBefore = 0
    private var discardsBefore = 0

    /// A run this long is committed early, so taking it back never needs more than a bounded record.
    var isLong: Bool { run.count >= 4096 }

    mutating func commandStarting(_ spec: CommandSpec, at offset: Int, _ keyspace: Keyspace) {
        commandStart = offset
        commandTouchesKeyspace = spec.flags.contains(.keyspace) || spec.flags.contains(.readsCommitted)
        commitsBefore = keyspace.commits
        discardsBefore = keyspace.discards
    }

    /// After a command: a commit inside it may have failed or succeeded, and it may have left writes pending.
    mutating func commandFinished(_ keyspace: Keyspace, _ session: Session, _ error: () -> CommandError) {
        if keyspace.discards != discardsBefore {
            run.append((commandStart, true))
            replaceWithErrors(session, error())
            discardsBefore = keyspace.discards
            return
        }
        if keyspace.commits != commitsBefore { run.removeAll(keepingCapacity: true) }
        if keyspace.pendingWrites > 0 { run.append((commandStart, commandTouchesKeyspace)) }
    }

    /// After a commit between commands.
    mutating func commitAttempted(_ keyspace: Keyspace, _ session: Session, _ error: () -> CommandError) {
        if keyspace.discards != discardsBefore {
            replaceWithErrors(session, error())
        } else if keyspace.commits != commitsBefore {
            run.removeAll(keepingCapacity: true)
        }
        commitsBefore = keyspace.commits
        discardsBefore = keyspace.discards
    }

    /// Replaces the replies of the run's keyspace commands with `error`, keeping the others.
    mutating func replaceWithErrors(_ session: Session, _ error: CommandError) {
        guard let first = run.first else { return }
        defer { run.removeAll(keepingCapacity: true) }
        let end = session.reply.buffer.writerIndex
        // The replies kept are copied out before the buffer is cut back to where the run began.
        let kept: [ByteBuffer?] = run.indices.map { index in
            guard !run[index].touchesKeyspace else { return nil }
            let start = run[index].offset
            let stop = index + 1 < run.count ? run[index + 1].offset : end
            return session.reply.buffer.getSlice(at: start, length: stop - start).map { ByteBuffer(buffer: $0) }
        }
        session.reply.buffer.moveWriterIndex(to: first.offset)
        for reply in kept {
            if var reply {
                session.reply.buffer.writeBuffer(&reply)
            } else if session.replyMode != .off {
                session.replyError(error)
            }
        }
    }
}
