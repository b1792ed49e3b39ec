import KVStore
import NIOCore
import Logging
import RESP
import Synchronization

/// Everything decided about a request before it runs, in Redis's order (`processCommand`): which command it is,
/// whether its arity and the connection's context allow it, whether a plugged-in hook (access control) refuses it,
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
        if session.isSubscribed && session.reply.version == .resp2 && !spec.flags.contains(.allowedWhileSubscribed) {
            return refuse(spec, .notAllowedWhileSubscribed(spec.fullName))
        }
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
        for hook in engine.hooks {
            if let error = hook.authorize(resolved, session: session) { return refuse(resolved, error) }
        }
        let writes = self.writes(resolved)
        if writes && engine.store.health.isFailing { return refuse(resolved, engine.misconfError()) }
        session.handle.lastCommandSlot.store(resolved.statisticsSlot, ordering: .relaxed)
        if engine.pause.mayBeActive, let wait = engine.pause.remainingWait(writes: writes) { return .park(wait) }
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
        if session.transaction != nil {
            if spec?.fullName == "exec" {
                session.transaction = nil
                session.unwatchAll()
                let reason = error.text.hasPrefix("ERR ") ? error.text.dropFirst(4) : Substring(error.text)
                session.replyError(CommandError("EXECABORT Transaction discarded because of: \(reason)"))
                return .refused
            }
            session.transaction?.failed = true
        }
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
