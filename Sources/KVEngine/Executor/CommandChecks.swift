import KVStore
import NIOCore
import Logging
import RESP
import Synchronization

/// Everything decided about a request before it runs, in Redis's order (`processCommand`): which command it is and
/// whether its arity allows it, whether MULTI allows it, whether the connection must authenticate first or its user
/// may not run it (access control), whether a RESP2 subscriber may send it, whether a plugged-in hook refuses it,
/// whether writes are refused, whether CLIENT PAUSE holds it back, and whether MULTI queues it.
///
/// A refusal replies the error itself; inside MULTI it dooms the transaction, and a refused EXEC ends it.
struct CommandChecks {
    let engine: Engine
    let session: Session

    enum Resolution {
        /// Run the command now.
        case run(CommandSpec)
        /// Refused; the error has been replied.
        case refused
        /// Queued by MULTI; `QUEUED` has been replied.
        case queued
        /// Held back by CLIENT PAUSE for this many milliseconds.
        case park(Int64)
    }

    func resolve() -> Resolution {
        let request = session.request
        guard let spec = request.withArgument(0, { engine.commands.lookup($0) }) else {
            return refuse(nil, CommandError(unknownCommandText()))
        }
        guard spec.accepts(argumentCount: request.count) else { return refuse(spec, .wrongArity(spec.fullName)) }
        var resolved = spec
        if !spec.subcommands.isEmpty && spec.arity < 0 && request.count >= 2 {
            guard let sub = request.withArgument(1, { CommandTable.subcommand(of: spec, named: $0) }) else {
                return refuse(spec, .unknownSubcommand(argumentText(1), of: spec.name))
            }
            guard sub.accepts(argumentCount: request.count) else { return refuse(sub, .wrongArity(sub.fullName)) }
            resolved = sub
        }
        if session.transaction != nil && resolved.flags.contains(.noMulti) {
            return refuse(resolved, CommandError("ERR Command not allowed inside a transaction"))
        }
        session.handle.lastCommandSlot.store(resolved.statisticsSlot, ordering: .relaxed)
        // Access control costs this one branch while the connection's user may do everything.
        if !session.accessGate.allowsEverything, let refusal = engine.access.authorize(resolved, session) {
            return refuse(resolved, refusal)
        }
        if session.isSubscribed && session.reply.version == .resp2
            && !resolved.flags.contains(.allowedWhileSubscribed)
        {
            return refuse(resolved, .notAllowedWhileSubscribed(resolved.fullName))
        }
        for hook in engine.hooks {
            if let error = hook.authorize(resolved, session: session) { return refuse(resolved, error) }
        }
        let writes = self.writes(resolved)
        if writes && engine.store.health.isFailing { return refuse(resolved, engine.misconfError()) }
        if engine.pause.mayBeActive,
            let wait = engine.pause.remainingWait(writes: writes || engine.lua.mayWrite(resolved, request))
        {
            return .park(wait)
        }
        if session.transaction != nil && !resolved.flags.contains(.transactionControl) {
            enqueue(resolved)
            return .queued
        }
        return .run(resolved)
    }

    /// Whether running `spec` writes: a write command, or an EXEC whose queue holds one (as Redis judges EXEC for
    /// CLIENT PAUSE WRITE and for refusing writes).
    private func writes(_ spec: CommandSpec) -> Bool {
        spec.flags.contains(.write) || (spec.flags.contains(.transactionControl) && spec.name == "exec"
            && session.transaction?.containsWrites == true)
    }

    private func refuse(_ spec: CommandSpec?, _ error: CommandError) -> Resolution {
        if let spec { session.statistics.recordRejection(slot: spec.statisticsSlot) }
        // A refused EXEC always aborts, even outside MULTI (Redis's `rejectCommand`).
        if spec?.fullName == "exec" {
            session.transaction = nil
            session.unwatchAll()
            let reason = error.text.hasPrefix("ERR ") ? error.text.dropFirst(4) : Substring(error.text)
            session.replyError(CommandError("EXECABORT Transaction discarded because of: \(reason)"))
            return .refused
        }
        session.transaction?.failed = true
        session.replyError(error)
        return .refused
    }

    private func enqueue(_ spec: CommandSpec) {
        session.transaction?.append(spec, request: session.request)
        let queue = session.transaction!
        session.handle.queuedCommands.store(queue.commands.count, ordering: .relaxed)
        session.handle.queuedBytes.store(queue.queuedBytes, ordering: .relaxed)
        if queue.queuedBytes > engine.settings.clientQueryBufferLimit.load(ordering: .relaxed) {
            engine.logger.warning(
                "closing client whose MULTI queue reached client-query-buffer-limit",
                metadata: ["client": "\(session.address)"])
            session.closeAfterReply = true
        }
        session.reply.simpleString("QUEUED")
    }

    private func argumentText(_ index: Int) -> String {
        session.request.withArgument(index) { String(decoding: $0, as: UTF8.self) }
    }

    /// Redis's text: `unknown command 'foo', with args beginning with: 'a' 'b' `, arguments cut at 128 bytes.
    private func unknownCommandText() -> String {
        let request = session.request
        var arguments = ""
        var index = 1
        while index < request.count && arguments.utf8.count < 128 {
            let room = 128 - arguments.utf8.count
            let text = request.withArgument(index) { String(decoding: $0.prefix(room), as: UTF8.self) }
            arguments += "'\(text)' "
            index += 1
        }
        let name = request.withArgument(0) { String(decoding: $0.prefix(128), as: UTF8.self) }
        return "ERR unknown command '\(name)', with args beginning with: \(arguments)"
    }
}
