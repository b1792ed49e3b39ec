#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import KVStore
import NIOCore
import RESP

/// AUTH and ACL with its subcommands: authenticating, and managing users, as Redis 7.0 does (see AccessControl/).
struct AclCommands: CommandFamily {
    var commands: [CommandSpec] { Self.all }

    static let all: [CommandSpec] = [
        CommandSpec(.auth, handler: auth),
        CommandSpec(.acl, subcommands: [
            CommandSpec(.aclSetuser, handler: setUser),
            CommandSpec(.aclGetuser, handler: getUser),
            CommandSpec(.aclDeluser, handler: deleteUsers),
            CommandSpec(.aclUsers) { ctx in
                let users = ctx.engine.access.allUsers
                ctx.reply.arrayHeader(users.count)
                for user in users { user.name.withUnsafeBytes { ctx.reply.bulk($0) } }
            },
            CommandSpec(.aclList) { ctx in
                let access = ctx.engine.access
                let users = access.allUsers
                ctx.reply.arrayHeader(users.count)
                for user in users { ACLFile.line(user, index: access.index).withUnsafeBytes { ctx.reply.bulk($0) } }
            },
            CommandSpec(.aclWhoami) { ctx in ctx.session.user.name.withUnsafeBytes { ctx.reply.bulk($0) } },
            CommandSpec(.aclCat, handler: categories),
            CommandSpec(.aclGenpass, handler: generatePassword),
            CommandSpec(.aclLog, handler: log),
            CommandSpec(.aclDryrun, handler: dryRun),
            CommandSpec(.aclSave) { ctx in
                try ctx.engine.access.save()
                ctx.reply.ok()
            },
            CommandSpec(.aclLoad) { ctx in
                let connections = try ctx.engine.access.load()
                ctx.reply.ok()
                for handle in connections { ClientKill.kill(handle, by: ctx) }
            },
            CommandSpec(.aclHelp) { ctx in HelpText.reply(to: ctx, command: "ACL", lines: helpLines) },
        ]),
    ]

    // MARK: AUTH

    /// `AUTH [username] password`.
    static func auth(_ ctx: CommandContext) throws {
        guard ctx.argumentCount <= 3 else { throw CommandError.syntax }
        let access = ctx.engine.access
        let name: [UInt8]
        if ctx.argumentCount == 2 {
            guard !access.defaultUser.rules.isNoPass else {
                throw CommandError(
                    "ERR AUTH <password> called without any password configured for the default user. Are you sure "
                        + "your configuration is correct?")
            }
            name = access.defaultUser.name
        } else {
            name = Array(ctx.argument(1).readableBytesView)
        }
        try authenticate(ctx, name: name, password: Array(ctx.argument(ctx.argumentCount - 1).readableBytesView))
        ctx.reply.ok()
    }

    /// Makes the connection run as `name` when `password` opens it; otherwise logs the failure and refuses.
    static func authenticate(_ ctx: CommandContext, name: [UInt8], password: [UInt8]) throws {
        let access = ctx.engine.access
        guard let user = access.authenticate(name, password) else {
            access.recordFailedAuthentication(ctx.session, username: name)
            throw CommandError("WRONGPASS invalid username-password pair or user is disabled.")
        }
        ctx.session.setUser(user, authenticated: true)
    }

    // MARK: Users

    /// `ACL SETUSER username [rule ...]`.
    static func setUser(_ ctx: CommandContext) throws {
        let rules = (3..<ctx.argumentCount).map { Array(ctx.argument($0).readableBytesView) }
        let connections = try ctx.engine.access.setUser(Array(ctx.argument(2).readableBytesView), rules)
        ctx.reply.ok()
        for handle in connections { ClientKill.kill(handle, by: ctx) }
    }

    /// `ACL DELUSER username [username ...]`: the users' connections are closed.
    static func deleteUsers(_ ctx: CommandContext) throws {
        let names = (2..<ctx.argumentCount).map { Array(ctx.argument($0).readableBytesView) }
        let (deleted, connections) = try ctx.engine.access.deleteUsers(names)
        ctx.reply.integer(deleted)
        for handle in connections { ClientKill.kill(handle, by: ctx) }
    }

    /// `ACL GETUSER username`: flags, password hashes, and each selector's commands, keys and channels.
    static func getUser(_ ctx: CommandContext) throws {
        let access = ctx.engine.access
        guard let user = access.user(named: Array(ctx.argument(2).readableBytesView)) else { return ctx.reply.null() }
        let rules = user.rules
        ctx.reply.mapHeader(6)
        ctx.reply.bulk("flags")
        let flags = rules.flags.names
        ctx.reply.setHeader(flags.count)
        for flag in flags { ctx.reply.bulk(flag) }
        ctx.reply.bulk("passwords")
        ctx.reply.arrayHeader(rules.passwords.count)
        for hash in rules.passwords { ctx.reply.bulk(hash) }
        describe(rules.root, ctx, access.index)
        ctx.reply.bulk("selectors")
        ctx.reply.arrayHeader(rules.selectors.count - 1)
        for selector in rules.selectors.dropFirst() {
            ctx.reply.mapHeader(3)
            describe(selector, ctx, access.index)
        }
    }

    private static func describe(_ selector: ACLSelector, _ ctx: CommandContext, _ index: ACLCommandIndex) {
        ctx.reply.bulk("commands")
        ctx.reply.bulk(ACLDescription.commands(selector, index: index))
        ctx.reply.bulk("keys")
        ACLDescription.keys(selector).withUnsafeBytes { ctx.reply.bulk($0) }
        ctx.reply.bulk("channels")
        ACLDescription.channels(selector).withUnsafeBytes { ctx.reply.bulk($0) }
    }

    // MARK: Introspection

    /// `ACL CAT [category]`: the categories, or the commands of one.
    static func categories(_ ctx: CommandContext) throws {
        guard ctx.argumentCount <= 3 else { throw wrongUsage(ctx) }
        if ctx.argumentCount == 2 {
            ctx.reply.arrayHeader(ACLCategories.named.count)
            for (_, name) in ACLCategories.named { ctx.reply.bulk(name) }
            return
        }
        let name = ctx.argumentText(2)
        guard let category = ACLCategories(name: name) else {
            throw CommandError("ERR Unknown category '\(name.prefix(128))'")
        }
        let rows = ctx.engine.access.index.rows(in: category)
        ctx.reply.arrayHeader(rows.count)
        for row in rows { ctx.reply.bulk(row.fullName) }
    }

    /// `ACL GENPASS [bits]`: a random password of `bits` bits (256 by default), in hex.
    static func generatePassword(_ ctx: CommandContext) throws {
        guard ctx.argumentCount <= 3 else { throw wrongUsage(ctx) }
        let maximumBits = 4096
        let bits = ctx.argumentCount == 3 ? try ctx.integerArgument(2) : 256
        guard bits > 0 && bits <= maximumBits else {
            throw CommandError(
                "ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up "
                    + "to \(maximumBits)")
        }
        var generator = SystemRandomNumberGenerator()
        let digits = Array("0123456789abcdef".utf8)
        let password = (0..<(bits + 3) / 4).map { _ in digits[Int.random(in: 0..<16, using: &generator)] }
        password.withUnsafeBytes { ctx.reply.bulk($0) }
    }

    /// `ACL LOG [count | RESET]`: the newest refusals (10 by default), or clears the log.
    static func log(_ ctx: CommandContext) throws {
        guard ctx.argumentCount <= 3 else { throw wrongUsage(ctx) }
        let access = ctx.engine.access
        var count = 10
        if ctx.argumentCount == 3 {
            if ctx.argument(2, is: "reset") {
                access.log.reset()
                return ctx.reply.ok()
            }
            count = max(try ctx.integerArgument(2), 0)
        }
        let entries = access.log.newest(count)
        let now = WallClock.milliseconds()
        ctx.reply.arrayHeader(entries.count)
        for entry in entries {
            ctx.reply.mapHeader(7)
            ctx.reply.bulk("count")
            ctx.reply.integer(entry.count)
            ctx.reply.bulk("reason")
            ctx.reply.bulk(entry.reason)
            ctx.reply.bulk("context")
            ctx.reply.bulk(entry.context)
            ctx.reply.bulk("object")
            entry.object.withUnsafeBytes { ctx.reply.bulk($0) }
            ctx.reply.bulk("username")
            entry.username.withUnsafeBytes { ctx.reply.bulk($0) }
            ctx.reply.bulk("age-seconds")
            ctx.reply.double(formatted: formatDouble(Double(now - entry.time) / 1000))
            ctx.reply.bulk("client-info")
            ctx.reply.bulk(entry.clientInfo)
        }
    }

    /// `ACL DRYRUN username command [arg ...]`: whether the user could run the command, without running it.
    static func dryRun(_ ctx: CommandContext) throws {
        let access = ctx.engine.access
        guard let user = access.user(named: Array(ctx.argument(2).readableBytesView)) else {
            throw CommandError("ERR User '\(ctx.argumentText(2))' not found")
        }
        let arguments = CommandArguments(ctx.request, from: 3)
        guard let spec = ctx.engine.commands.lookup(arguments) else {
            throw CommandError("ERR Command '\(ctx.argumentText(3))' not found")
        }
        guard spec.accepts(argumentCount: arguments.count) else { throw CommandError.wrongArity(spec.fullName) }
        guard let denial = ACLPermissionCheck.check(user.rules, spec, arguments) else { return ctx.reply.ok() }
        let message: String
        switch denial {
        case .command:
            message = "This user has no permissions to run the '\(spec.fullName)' command"
        case .key(let position):
            message = "This user has no permissions to access the '\(ctx.argumentText(3 + position))' key"
        case .channel(let position):
            message = "This user has no permissions to access the '\(ctx.argumentText(3 + position))' channel"
        }
        ctx.reply.bulk(message)
    }

    /// Redis's reply to a subcommand given the wrong number of arguments.
    private static func wrongUsage(_ ctx: CommandContext) -> CommandError {
        CommandError(
            "ERR unknown subcommand or wrong number of arguments for '\(ctx.argumentText(1).prefix(128))'. Try "
                + "\(ctx.argumentText(0).uppercased()) HELP.")
    }

    /// `%.17g`, as Redis 7.0's `addReplyDouble`.
    private static func formatDouble(_ value: Double) -> String {
        var buffer = [CChar](repeating: 0, count: 64)
        let length = withVaList([value]) { vsnprintf(&buffer, buffer.count, "%.17g", $0) }
        return String(decoding: buffer[0..<Int(length)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static let helpLines = [
        "CAT [<category>]",
        "    List all commands that belong to <category>, or all command categories",
        "    when no category is specified.",
        "DELUSER <username> [<username> ...]",
        "    Delete a list of users.",
        "DRYRUN <username> <command> [<arg> ...]",
        "    Returns whether the user can execute the given command without executing the command.",
        "GETUSER <username>",
        "    Get the user's details.",
        "GENPASS [<bits>]",
        "    Generate a secure 256-bit user password. The optional `bits` argument can",
        "    be used to specify a different size.",
        "LIST",
        "    Show users details in config file format.",
        "LOAD",
        "    Reload users from the ACL file.",
        "LOG [<count> | RESET]",
        "    Show the ACL log entries.",
        "SAVE",
        "    Save the current config to the ACL file.",
        "SETUSER <username> <attribute> [<attribute> ...]",
        "    Create or modify a user with the specified attributes.",
        "USERS",
        "    List all the registered usernames.",
        "WHOAMI",
        "    Return the current connection username.",
    ]
}
