import KVStore
import RESP
import Synchronization

/// Where access control meets the executor: the check before a command runs or is queued (`-NOAUTH`, `-NOPERM`), the
/// check again at EXEC, and the ACL LOG entries both leave. Only connections whose access gate does not allow
/// everything get here.
extension AccessControl {
    /// The refusal of `spec` for `session`'s current request, or nil to let it run. A refusal by the rules is logged.
    func authorize(_ spec: CommandSpec, _ session: Session) -> CommandError? {
        if !session.authenticated && requiresAuthentication && !spec.flags.contains(.noAuth) {
            return CommandError("NOAUTH Authentication required.")
        }
        let user = session.user
        if user.isDeleted {
            // Its connections are being closed (ACL DELUSER, ACL LOAD): nothing more runs.
            session.closeAfterReply = true
            return CommandError("NOPERM this user has no permissions to run the '\(spec.fullName)' command")
        }
        let rules = user.rules(cachedIn: &session.rulesCache)
        guard let denial = ACLPermissionCheck.check(rules, spec, CommandArguments(session.request)) else { return nil }
        record(denial, spec, session.request, session)
        switch denial {
        case .command:
            return CommandError("NOPERM this user has no permissions to run the '\(spec.fullName)' command")
        case .key:
            return CommandError("NOPERM this user has no permissions to access one of the keys used as arguments")
        case .channel:
            return CommandError("NOPERM this user has no permissions to access one of the channels used as arguments")
        }
    }

    /// EXEC checks each queued command again, as Redis does, in case the rules changed since it was queued.
    func reauthorizeQueued(_ spec: CommandSpec, _ request: Request, _ session: Session) -> CommandError? {
        let rules = session.user.rules(cachedIn: &session.rulesCache)
        guard let denial = ACLPermissionCheck.check(rules, spec, CommandArguments(request)) else {
            return nil
        }
        record(denial, spec, request, session)
        let reason = switch denial {
        case .command: "no permission to execute the command or subcommand"
        case .key: "no permission to touch the specified keys"
        case .channel: "no permission to access one of the channels used as arguments"
        }
        return CommandError(
            "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This "
                + "command is no longer allowed for the following reason: \(reason)")
    }

    /// A script's `redis.call` is checked against the caller's user too, with Redis's script texts (without the
    /// error code: the script reports them as `ERR`).
    func authorizeFromScript(_ spec: CommandSpec, _ request: Request, _ session: Session) -> String? {
        let rules = session.user.rules(cachedIn: &session.rulesCache)
        guard let denial = ACLPermissionCheck.check(rules, spec, CommandArguments(request)) else { return nil }
        record(denial, spec, request, session)
        return switch denial {
        case .command: "The user executing the script can't run this command or subcommand"
        case .key: "The user executing the script can't access at least one of the keys mentioned in the command arguments"
        case .channel: "The user executing the script can't publish to the channel mentioned in the command"
        }
    }

    /// Logs a failed AUTH or HELLO AUTH: reason `auth`, the command as typed, the user name tried.
    func recordFailedAuthentication(_ session: Session, username: [UInt8]) {
        let command = session.request.withArgument(0) { Array($0) }
        add(reason: "auth", object: command, username: username, session)
    }

    private func record(_ denial: ACLDenial, _ spec: CommandSpec, _ request: Request, _ session: Session) {
        let object = switch denial {
        case .command: Array(spec.fullName.utf8)
        case .key(let position), .channel(let position): request.withArgument(position) { Array($0) }
        }
        add(reason: denial.reason, object: object, username: session.user.name, session)
    }

    private func add(reason: String, object: [UInt8], username: [UInt8], _ session: Session) {
        let inTransaction = session.transaction != nil || session.isRunningTransaction
        var clientInfo = ClientListFormat.line(for: session.handle, commandsBySlot: session.engine.commandsBySlot)
        if clientInfo.hasSuffix("\n") { clientInfo.removeLast() }
        log.add(
            ACLLog.Entry(
                count: 1, reason: reason, context: inTransaction ? "multi" : "toplevel", object: object,
                username: username, time: WallClock.milliseconds(), clientInfo: clientInfo),
            maximumLength: logMaxLength.load(ordering: .relaxed))
    }
}
