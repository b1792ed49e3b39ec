import KVStore
import NIOCore
import RESP

/// What every blocking pop does, whatever it pops (the list forms in `BlockingListCommands`, the sorted set forms in
/// `BlockingSortedSetCommands`).
///
/// With data in one of its keys a blocking pop answers at once, as its plain form does; inside MULTI it never
/// waits (an empty answer instead). Otherwise the client is queued on its keys (`BlockingPops`) and its request
/// parked without a lease; the command that gives one of the keys a value of the type it waits for serves it
/// (`Executor.serveBlockedClients`), and the parked request then only writes the reply it was given. Timeouts are
/// seconds with decimals (0 waits forever), judged by the store's clock.
struct BlockingPopCommand {
    let pops: BlockingPops

    /// Answers from the first key that has data, or blocks; a parked run writes how the wait ended.
    /// - Parameter timeoutIndex: the timeout argument, parsed after everything else as Redis does.
    func run(_ ctx: CommandContext, keys: Range<Int>, timeoutIndex: Int, operation: BlockedPop.Operation) throws {
        let session = ctx.session
        if let blocked = session.blockedPop {
            return resume(ctx, blocked, operation: operation)
        }
        let timeout = try Self.timeoutMilliseconds(ctx, timeoutIndex)
        let keyList = keys.map { ctx.argument($0) }
        if try Self.serve(operation, keys: keyList, keyspace: ctx.keyspace, notify: ctx.eventNotify, reply: &ctx.reply) {
            return
        }
        if ctx.isInTransaction { return Self.writeEmpty(operation, &ctx.reply) }
        session.blockedPop = pops.block(
            session.handle, database: session.database, keys: keyList, operation: operation, version: ctx.reply.version)
        ctx.wait(forKeys: [], timeoutMilliseconds: timeout == 0 ? nil : timeout)
    }

    private func resume(_ ctx: CommandContext, _ blocked: BlockedPop, operation: BlockedPop.Operation) {
        switch pops.resume(blocked, timedOut: ctx.waitTimedOut) {
        case .waiting, .serving:
            ctx.wait(forKeys: [], timeoutMilliseconds: nil)
        case .served(let reply):
            ctx.session.blockedPop = nil
            ctx.session.repliesReportCommittedWrite = true
            ctx.reply.buffer.writeImmutableBuffer(reply)
        case .unblocked(error: true):
            ctx.session.blockedPop = nil
            ctx.session.replyError(CommandError("UNBLOCKED client unblocked via CLIENT UNBLOCK"))
        case .unblocked(error: false), .timedOut:
            ctx.session.blockedPop = nil
            Self.writeEmpty(operation, &ctx.reply)
        }
    }

    /// What a blocking pop answers with nothing to pop: BLMOVE's null, or a null array.
    static func writeEmpty(_ operation: BlockedPop.Operation, _ reply: inout ReplyWriter) {
        if case .list(.move) = operation { reply.null() } else { reply.nullArray() }
    }

    /// Pops for `operation` from the first of `keys` that has data, writing its reply.
    /// - Returns: false when no key had any (nothing written).
    /// - Throws: `WrongTypeError` for a key of another type met first (or a BLMOVE destination), before any change.
    static func serve(
        _ operation: BlockedPop.Operation, keys: [ByteBuffer], keyspace: Keyspace, notify: EventNotify,
        reply: inout ReplyWriter
    ) throws -> Bool {
        switch operation {
        case .list(let list):
            try BlockingListCommands.serve(list, keys: keys, keyspace: keyspace, notify: notify, reply: &reply)
        case .sortedSet(let highest, let count, let multiple):
            try SortedSetPops.popFirst(
                keys, highest: highest, count: count, keyspace: keyspace, notify: notify,
                reply: &reply, shape: multiple ? .keyAndPairs : .keyAndFlat)
        }
    }

    /// The timeout argument in milliseconds (0: forever), with Redis 7.0's errors: seconds as a float, rounded up
    /// to the millisecond; too large a value overflows to negative there, and so is refused as negative here.
    static func timeoutMilliseconds(_ ctx: CommandContext, _ index: Int) throws -> Int64 {
        let text = ctx.argumentText(index)
        guard let seconds = Double(text), !seconds.isNaN else {
            throw CommandError("ERR timeout is not a float or out of range")
        }
        let milliseconds = (seconds * 1000).rounded(.up)
        guard milliseconds >= 0, milliseconds < 9.2e18 else { throw CommandError("ERR timeout is negative") }
        return Int64(milliseconds)
    }
}

extension Executor {
    /// Serves the clients blocked on the keys the command just run changed, under its lease: each key that now holds
    /// a non-empty list or sorted set pops for the clients waiting for that type, in the order they blocked, as long
    /// as it has data (a BLMOVE's push may ready another key, served in turn). The pops commit at once; only then are
    /// the clients woken with their replies. If the commit fails they stay blocked, in their places.
    func serveBlockedClients(_ keyspace: Keyspace) {
        let pops = engine.blockingPops
        var served: [(BlockedPop, ByteBuffer)] = []
        let notify: EventNotify = { [engine] in
            engine.keyspaceEvents.notify($0, $1, key: $2, database: keyspace.selectedDatabase)
        }
        while pops.hasReady {
            for ready in pops.takeReady() {
                // The pop happens in the database the client blocked in, whatever the command's.
                keyspace.select(ready.database)
                let key = ready.key
                // A missing key serves nobody, and a key of one type only the clients waiting for that type: the
                // others stay blocked (Redis 7.0).
                guard let type = try? keyspace.typeForWrite(of: key) else { continue }
                while let blocked = pops.takeFirst(waitingOn: ready, for: type) {
                    var reply = ReplyWriter(buffer: ByteBuffer(), version: blocked.version)
                    let done: Bool
                    do {
                        done = try BlockingPopCommand.serve(
                            blocked.operation, keys: [key], keyspace: keyspace, notify: notify, reply: &reply)
                    } catch {
                        // A BLMOVE whose destination now holds another type gets the error, as in Redis.
                        reply.error((error as? CommandError)?.text ?? CommandError.wrongType.text)
                        done = true
                    }
                    guard done else {
                        pops.putBack(blocked)
                        break
                    }
                    served.append((blocked, reply.buffer))
                }
            }
        }
        guard !served.isEmpty else { return }
        do {
            try keyspace.commit()
            for (blocked, reply) in served { pops.finishServing(blocked, reply: reply) }
        } catch {
            for (blocked, _) in served { pops.putBack(blocked) }
        }
    }
}
