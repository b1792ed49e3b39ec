import KVStore
import NIOCore
import RESP
import Synchronization
import Logging

/// Running one request: find the command, refuse it with Redis's error if it cannot run, wait out a CLIENT PAUSE,
/// queue it inside MULTI, or run it and count it for INFO.
extension Client {
    enum DispatchResult {
        case done
        /// A CLIENT PAUSE holds the command back for this many milliseconds; dispatch the same request again later.
        case postponed(milliseconds: Int64)
    }

    /// Dispatches `request`.
    func dispatch() -> DispatchResult {
        guard let spec = resolveCommand() else { return .done }
        handle.lastCommandSlot.store(spec.statisticsSlot, ordering: .relaxed)
        if server.pause.mayBeActive, let wait = server.pause.remainingWait(writes: writes(spec)) {
            return .postponed(milliseconds: wait)
        }
        if transaction != nil && !TransactionCommands.runsInsideTransaction(spec) {
            enqueue(spec)
        } else {
            execute(spec)
        }
        return .done
    }

    /// Whether running `spec` writes, as CLIENT PAUSE WRITE sees it: a write command, or an EXEC whose queue
    /// holds one.
    private func writes(_ spec: CommandSpec) -> Bool {
        spec.flags.contains(.write) || (spec.fullName == "exec" && transaction?.containsWrites == true)
    }

    /// Runs `spec` on the current request, replying with the command's error if it throws, and records the call.
    ///
    /// A command's time runs from `commandClock` (the end of the previous command, or the start of the read) to its
    /// end, which becomes the next command's start: one clock read per command.
    func execute(_ spec: CommandSpec) {
        let start = commandClock
        var failed = false
        do {
            try spec.handler(self)
        } catch {
            failed = true
            replyError(error)
        }
        let end = MonotonicClock.nanoseconds()
        statistics.recordCall(slot: spec.statisticsSlot, nanoseconds: end &- start, failed: failed)
        commandClock = end
    }

    /// Writes the error reply for `error` and counts it.
    func replyError(_ error: any Error) {
        let text = (error as? CommandError)?.text ?? "ERR \(error)"
        server.metrics.countError(text)
        reply.error(text)
    }

    // MARK: Resolution

    /// The command (or subcommand) the request names, once its arity and context allow it to run; otherwise replies
    /// with the refusal and returns nil.
    private func resolveCommand() -> CommandSpec? {
        guard let spec = request.withArgument(0, { server.commands.lookup($0) }) else {
            reject(nil, CommandError(unknownCommandText()))
            return nil
        }
        guard spec.accepts(argumentCount: argumentCount) else {
            reject(spec, .wrongArity(spec.fullName))
            return nil
        }
        if isSubscribed && reply.version == .resp2 && !PubSubCommands.allowedWhileSubscribed(spec) {
            reject(spec, .notAllowedWhileSubscribed(spec.fullName))
            return nil
        }
        var resolved = spec
        if !spec.subcommands.isEmpty && spec.arity < 0 && argumentCount >= 2 {
            guard let sub = request.withArgument(1, { CommandTable.subcommand(of: spec, named: $0) }) else {
                reject(spec, .unknownSubcommand(argumentText(1), of: spec.name))
                return nil
            }
            guard sub.accepts(argumentCount: argumentCount) else {
                reject(sub, .wrongArity(sub.fullName))
                return nil
            }
            resolved = sub
        }
        if transaction != nil && resolved.flags.contains(.noMulti) {
            reject(resolved, CommandError("ERR Command not allowed inside a transaction"))
            return nil
        }
        return resolved
    }

    /// Refuses a command before it runs. Inside MULTI the refusal dooms the transaction; a refused EXEC ends it.
    private func reject(_ spec: CommandSpec?, _ error: CommandError) {
        if let spec { statistics.recordRejection(slot: spec.statisticsSlot) }
        if transaction != nil {
            if spec?.fullName == "exec" {
                transaction = nil
                unwatchAll()
                let reason = error.text.hasPrefix("ERR ") ? error.text.dropFirst(4) : Substring(error.text)
                replyError(CommandError("EXECABORT Transaction discarded because of: \(reason)"))
                return
            }
            transaction?.failed = true
        }
        replyError(error)
    }

    /// Redis's text: `unknown command 'foo', with args beginning with: 'a' 'b' `, arguments cut at 128 bytes.
    private func unknownCommandText() -> String {
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

    // MARK: Transactions

    private func enqueue(_ spec: CommandSpec) {
        transaction?.append(spec, request: request)
        let queue = transaction!
        handle.queuedCommands.store(queue.commands.count, ordering: .relaxed)
        handle.queuedBytes.store(queue.queuedBytes, ordering: .relaxed)
        if queue.queuedBytes > server.settings.clientQueryBufferLimit.load(ordering: .relaxed) {
            server.logger.warning("closing client whose MULTI queue reached client-query-buffer-limit",
                                  metadata: ["client": "\(address)"])
            closeAfterReply = true
        }
        reply.simpleString("QUEUED")
    }

    /// Stops watching every key (UNWATCH, and after EXEC or DISCARD).
    func unwatchAll() {
        guard !watch.isEmpty else { return }
        _ = keyspace  // the watch registry is guarded by the store's lock
        watch.removeAll(registry: server.storeObserver.watches)
    }
}
