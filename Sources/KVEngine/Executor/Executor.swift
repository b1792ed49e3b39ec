import KVStore
import NIOCore
import Logging
import RESP
import Synchronization

/// Runs the requests of a connection's read: the one place every command passes through.
///
/// ```
///   decode ─► resolve ─► check ─► queue (MULTI) │ park (CLIENT PAUSE) │ run ─► reply ─► ... ─► commit ─► outcome
/// ```
/// - decode: every complete request in the input, in order; a protocol error replies and closes.
/// - resolve: the command table row (subcommands included) and its arity.
/// - check (`CommandChecks`): RESP2 subscribed context, MULTI-only rules, the plugged-in hooks (access control),
///   writes refused while the store cannot persist (`-MISCONF`), CLIENT PAUSE.
/// - run: a command whose row has the `keyspace` flag runs under the event loop's turn lease (`TurnLease`), which is
///   then held for the rest of the read and for the other connections the loop reads from in the same turn: one
///   lock round trip and one LevelDB write per turn, however many commands and connections it holds.
/// - commit: at the end of the turn; the replies wait for it. Replies are honest: when a commit fails, every reply
///   written since the last successful commit is replaced by an error (`UncommittedReplies`), so a client is never
///   told that an unwritten write succeeded and still gets one reply per request.
public struct Executor: Sendable {
    let engine: Engine

    public init(engine: Engine) {
        self.engine = engine
    }

    /// Runs every complete request in `input` (a parked request first), consuming their bytes, and leaves their
    /// replies in `session.reply`.
    public func run(_ session: Session, input: inout ByteBuffer) -> BatchOutcome {
        session.commandClock = MonotonicClock.nanoseconds()
        session.decoder.limits.maxBulkLength = engine.settings.protoMaxBulkLength.load(ordering: .relaxed)
        let turn = session.loop.turn
        // While the loop holds the turn's lease, everything runs under it: a lock-free read could miss a write of
        // this connection's earlier batch that the turn has not committed yet.
        var stop: Stop
        if turn.keyspace != nil, let keyspace = turn.acquire(for: session) {
            stop = runRequests(session, &input, lease: keyspace, first: nil, replies: &session.uncommittedReplies)
        } else {
            stop = runRequests(session, &input, lease: nil, first: nil)
        }
        while case .needsLease(let spec) = stop {
            guard let keyspace = turn.acquire(for: session) else {
                // The store is closed after a failed recovery: nothing that needs it can run.
                session.replyError(CommandError.storeUnavailable)
                session.decoder.recycle(&session.request)
                stop = runRequests(session, &input, lease: nil, first: nil)
                continue
            }
            stop = runRequests(session, &input, lease: keyspace, first: spec, replies: &session.uncommittedReplies)
        }
        var wroteData = false
        if session.repliesReportCommittedWrite && !session.awaitsTurnCommit {
            session.repliesReportCommittedWrite = false
            wroteData = true
        }
        // Every byte not yet run counts, as Redis counts its query buffer: a request still arriving (all of it, the
        // bulk being received included) and any behind a command that waits.
        if input.readableBytes > engine.settings.clientQueryBufferLimit.load(ordering: .relaxed) {
            engine.logger.warning(
                "closing client that reached max query buffer length", metadata: ["client": "\(session.address)"])
            session.closeAfterReply = true
        }
        session.publishState(queryBufferBytes: input.readableBytes)
        return BatchOutcome(
            wroteData: wroteData, awaitsCommit: session.awaitsTurnCommit, next: next(after: stop, session))
    }

    private func next(after stop: Stop, _ session: Session) -> BatchOutcome.Next {
        if session.closeAfterReply { return .close }
        if let future = session.deferredReply {
            session.deferredReply = nil
            return .awaitReply(future)
        }
        if case .parked(let milliseconds) = stop { return .park(wakeAfterMilliseconds: milliseconds) }
        return .readMore
    }

    /// Commits the event loop's turn now if `session`'s replies wait for it, so that they are sent before the
    /// connection closes (QUIT, graceful shutdown) rather than after its output is gone.
    public func commitTurn(for session: Session) {
        if session.awaitsTurnCommit { session.loop.turn.finish() }
    }

    /// Writes the reply of the command that ended the previous batch with `replyLater`.
    public func completeDeferredReply(_ session: Session, _ result: Result<DeferredReply, any Error>) {
        switch result {
        case .success(let write): write(&session.reply)
        case .failure(let error): session.replyError(error)
        }
    }

    // MARK: The request loop

    private enum Stop {
        /// Every complete request was run.
        case endOfInput
        /// The request in `session.request` needs the keyspace and no lease is held.
        case needsLease(CommandSpec)
        /// The request in `session.parkedRequest` waits: at most this many milliseconds (CLIENT PAUSE, a command
        /// waiting for keys with a timeout), or until woken (nil).
        case parked(Int64?)
        /// A command asked to close the connection or to reply later.
        case stopped
    }

    /// Runs requests until the input is exhausted or something stops the batch. Without a lease it stops at the
    /// first request that needs one; with a lease it runs the rest of the batch under it.
    private func runRequests(
        _ session: Session, _ input: inout ByteBuffer, lease: Keyspace?, first: CommandSpec?,
        replies: inout UncommittedReplies
    ) -> Stop {
        var resolved = first
        while true {
            if session.closeAfterReply || session.deferredReply != nil { return .stopped }
            let spec: CommandSpec
            if let resolved {
                spec = resolved
            } else {
                do {
                    guard let request = try nextRequest(session, &input) else { return .endOfInput }
                    // Moved, not copied: the decoder takes the span array back after the command.
                    session.request = consume request
                } catch {
                    session.replyError(CommandError(error.replyText))
                    session.closeAfterReply = true
                    return .stopped
                }
                let mark = session.reply.buffer.writerIndex
                switch CommandChecks(engine: engine, session: session).resolve() {
                case .refused, .queued:
                    if session.replyMode != .on { session.applyReplyMode(since: mark) }
                    session.decoder.recycle(&session.request)
                    continue
                case .park(let milliseconds):
                    session.park()
                    return .parked(milliseconds)
                case .run(let found):
                    spec = found
                }
            }
            resolved = nil
            if lease == nil && spec.flags.contains(.keyspace) { return .needsLease(spec) }
            runTopLevel(spec, session, lease: lease, replies: &replies)
            if session.waitRequested { return .parked(parkForKeys(session)) }
        }
    }

    private func runRequests(_ session: Session, _ input: inout ByteBuffer, lease: Keyspace?, first: CommandSpec?) -> Stop {
        var none = UncommittedReplies()
        return runRequests(session, &input, lease: lease, first: first, replies: &none)
    }

    private func nextRequest(_ session: Session, _ input: inout ByteBuffer) throws(ProtocolError) -> Request? {
        if let parked = session.parkedRequest {
            session.parkedRequest = nil
            session.handle.isPostponed.store(false, ordering: .relaxed)
            // A waiting command runs again and waits again if it must; its deadline stays in `keyWait`.
            if let wait = session.keyWait { engine.keyWaiters.remove(session.handle, keys: wait.keys) }
            return parked
        }
        return try session.decoder.next(from: &input)
    }

    /// Parks a command that asked to wait for keys; returns how long it may wait.
    private func parkForKeys(_ session: Session) -> Int64? {
        session.waitRequested = false
        let wait = session.keyWait!
        engine.keyWaiters.add(session.handle, keys: wait.keys)
        session.park()
        return wait.deadline.map { max($0 &- engine.store.clock.milliseconds(), 0) }
    }

    /// Runs one request of the batch (not one queued in a transaction): the command, CLIENT REPLY, the pushes it
    /// caused, and the commit bookkeeping.
    private func runTopLevel(_ spec: CommandSpec, _ session: Session, lease: Keyspace?, replies: inout UncommittedReplies) {
        let mark = session.reply.buffer.writerIndex
        if let lease {
            lease.beginCommand()  // its writes, however many, are one revision
            replies.commandStarting(spec, at: mark, lease)
        }
        execute(spec, session: session, lease: lease)
        // A command that completed (did not ask to wait) is done with any wait of an earlier run.
        if !session.waitRequested { session.keyWait = nil }
        if session.replyMode != .on { session.applyReplyMode(since: mark) }
        if session.pushesDuringCommand.readableBytes > 0 {
            session.reply.buffer.writeBuffer(&session.pushesDuringCommand)
            session.pushesDuringCommand.clear()
        }
        // A command that waits keeps its request, to run again when woken.
        if !session.waitRequested { session.decoder.recycle(&session.request) }
        guard let lease else { return }
        // Clients blocked on keys this command made non-empty lists are served now, before any other command runs.
        if engine.blockingPops.hasReady { serveBlockedClients(lease) }
        replies.commandFinished(lease, session, engine.misconfError)
        let commits = lease.commits
        // Bounds the batch of a long pipeline; an error here is a failed commit, handled like any other.
        if replies.isLong { _ = try? lease.commit() } else { try? lease.commitIfLarge() }
        if lease.commits != commits { session.commandClock = MonotonicClock.nanoseconds() }  // no command's time
        replies.commitAttempted(lease, session, engine.misconfError)
    }

    /// Runs `spec` on `session.request`, replying with the command's error if it throws, and records the call.
    ///
    /// A command's time runs from `commandClock` (the end of the previous command, or the start of the read) to its
    /// end, which becomes the next command's start: one clock read per command.
    func execute(_ spec: CommandSpec, session: Session, lease: Keyspace?) {
        let start = session.commandClock
        let wasExecuting = session.isExecuting
        session.isExecuting = true
        var failed = false
        // The session's database (SELECT); for database 0 without SWAPDB two stores, no allocation.
        lease?.select(session.database)
        do {
            try spec.handler(CommandContext(session: session, lease: lease, executor: self))
        } catch {
            failed = true
            session.replyError(error)
        }
        session.isExecuting = wasExecuting
        let end = MonotonicClock.nanoseconds()
        session.statistics.recordCall(slot: spec.statisticsSlot, nanoseconds: end &- start, failed: failed)
        session.commandClock = end
        for hook in engine.hooks { hook.commandRan(spec, session: session, nanoseconds: end &- start) }
    }

    // MARK: Connection lifecycle

    /// Registers a new connection; false when `maxclients` is reached, or protected mode refuses a peer outside the
    /// loopback interface, after replying the error: send it and close.
    public func connectionOpened(_ session: Session) -> Bool {
        if engine.clients.register(session.handle) > engine.settings.maxClients.load(ordering: .relaxed) {
            engine.metrics.connectionRejected()
            session.reply.error("ERR max number of clients reached")
            return false
        }
        if engine.access.refusesConnection(fromLoopback: session.handle.isLoopback) {
            engine.metrics.connectionRejected()
            session.reply.error(AccessControl.protectedModeRefusal)
            return false
        }
        engine.metrics.connectionAccepted()
        return true
    }

    /// Forgets a closed connection: its subscriptions, transaction and watches.
    public func connectionClosed(_ session: Session) {
        session.disconnected()
    }
}
