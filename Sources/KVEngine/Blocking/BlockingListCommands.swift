import KVStore
import NIOCore
import RESP

/// BLPOP, BRPOP, BLMPOP, BLMOVE and BRPOPLPUSH: the list pops that wait for data.
///
/// With data in one of its lists a blocking pop answers at once, as its plain form does; inside MULTI it never
/// waits (an empty answer instead). Otherwise the client is queued on its keys (`BlockingPops`) and its request
/// parked without a lease; the command that makes one of the keys a non-empty list serves it
/// (`Executor.serveBlockedClients`), and the parked request then only writes the reply it was given. Timeouts are
/// seconds with decimals (0 waits forever), judged by the store's clock.
struct BlockingListCommands: CommandFamily {
    let pops: BlockingPops

    var commands: [CommandSpec] {
        [
            CommandSpec(.blpop) { try run($0, keys: 1..<($0.argumentCount - 1), operation: .pop(.head, count: 1, multiple: false)) },
            CommandSpec(.brpop) { try run($0, keys: 1..<($0.argumentCount - 1), operation: .pop(.tail, count: 1, multiple: false)) },
            CommandSpec(.brpoplpush) { ctx in
                try run(ctx, keys: 1..<2, operation: .move(destination: ctx.argument(2), from: .tail, to: .head))
            },
            CommandSpec(.blmove) { ctx in
                let from = try ListArguments.end(ctx, 3)
                let to = try ListArguments.end(ctx, 4)
                try run(ctx, keys: 1..<2, operation: .move(destination: ctx.argument(2), from: from, to: to))
            },
            CommandSpec(.blmpop) { ctx in
                let request = try ListArguments.multiPop(ctx, numberIndex: 2)
                try run(
                    ctx, keys: 3..<(3 + request.keys.count), timeoutIndex: 1,
                    operation: .pop(request.end, count: request.count, multiple: true))
            },
        ]
    }

    /// Answers from the first non-empty list, or blocks; a parked run writes how the wait ended.
    private func run(
        _ ctx: CommandContext, keys: Range<Int>, timeoutIndex: Int? = nil, operation: BlockedPop.Operation
    ) throws {
        let session = ctx.session
        if let blocked = session.blockedPop {
            return resume(ctx, blocked, operation: operation)
        }
        let timeout = try Self.timeoutMilliseconds(ctx, timeoutIndex ?? ctx.argumentCount - 1)
        let keyList = keys.map { ctx.argument($0) }
        if try Self.serve(operation, keys: keyList, keyspace: ctx.keyspace, notify: ctx.listNotify, reply: &ctx.reply) {
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

    /// What a blocking pop answers with nothing to pop: a null array, or BLMOVE's null.
    static func writeEmpty(_ operation: BlockedPop.Operation, _ reply: inout ReplyWriter) {
        if case .move = operation { reply.null() } else { reply.nullArray() }
    }

    /// Pops for `operation` from the first non-empty list of `keys`, writing its reply.
    /// - Returns: false when every list was empty (nothing written).
    /// - Throws: `WrongTypeError` for a key of another type met first (or a BLMOVE destination), before any change.
    static func serve(
        _ operation: BlockedPop.Operation, keys: [ByteBuffer], keyspace: Keyspace, notify: ListNotify,
        reply: inout ReplyWriter
    ) throws -> Bool {
        switch operation {
        case .pop(let end, let count, let multiple):
            let request = ListArguments.MultiPop(keys: keys, end: end, count: count)
            guard let (key, items) = try ListPops.popFirst(request, keyspace: keyspace, notify: notify) else {
                return false
            }
            if multiple {
                ListPops.writeKeyAndItems(&reply, key: key, items: items)
            } else {
                reply.arrayHeader(2)
                reply.bulk(key)
                reply.bulk(items[0])
            }
            return true
        case .move(let destination, let from, let to):
            guard let item = try ListPops.move(
                source: keys[0], destination: destination, from: from, to: to, keyspace: keyspace, notify: notify)
            else { return false }
            reply.bulk(item)
            return true
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
    /// Serves the clients blocked on the keys the command just run changed, under its lease: each key that is now a
    /// non-empty list pops for its clients in the order they blocked, as long as it has items (a BLMOVE's push may
    /// ready another key, served in turn). The pops commit at once; only then are the clients woken with their
    /// replies. If the commit fails they stay blocked, in their places.
    func serveBlockedClients(_ keyspace: Keyspace) {
        let pops = engine.blockingPops
        var served: [(BlockedPop, ByteBuffer)] = []
        let notify: ListNotify = { [engine] in
            engine.keyspaceEvents.notify($0, $1, key: $2, database: keyspace.selectedDatabase)
        }
        while pops.hasReady {
            for ready in pops.takeReady() {
                // The pop happens in the database the client blocked in, whatever the command's.
                keyspace.select(ready.database)
                let key = ready.key
                // Only a list serves: a key now missing or of another type keeps its clients blocked (Redis 7.0).
                guard (try? keyspace.collectionForWrite(key, .list)) ?? nil != nil else { continue }
                while let blocked = pops.takeFirst(waitingOn: ready) {
                    var reply = ReplyWriter(buffer: ByteBuffer(), version: blocked.version)
                    let done: Bool
                    do {
                        done = try BlockingListCommands.serve(
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
