import CLua
import KVStore
import NIOCore
import RESP

/// One run of a script: the command that runs it (EVAL...), and what `redis.call` needs to run commands inside it.
final class ScriptRun {
    let context: CommandContext
    let sha: String
    /// EVAL_RO, EVALSHA_RO, or a script whose shebang says `no-writes`: write commands are refused.
    let readOnly: Bool
    /// The protocol commands reply in to the script (`redis.setresp`).
    var `protocol` = ProtocolVersion.resp2
    /// Reused for each command's arguments and reply.
    private var frame = ByteBuffer()
    private var replies = ByteBuffer()

    init(context: CommandContext, sha: String, readOnly: Bool) {
        self.context = context
        self.sha = sha
        self.readOnly = readOnly
    }

    enum Arguments {
        case request(Request)
        /// Redis's refusal text, without the error code.
        case refused(String)
    }

    /// The command the arguments on the Lua stack make (consumed), as Redis converts them: strings as they are,
    /// numbers formatted with `%.17g`, anything else refused.
    func request(from L: OpaquePointer) -> Arguments {
        let count = Int(lua_gettop(L))
        guard count > 0 else { return .refused("Please specify at least one argument for this redis lib call") }
        frame.clear()
        var spans: [ArgumentSpan] = []
        spans.reserveCapacity(count)
        for index in 1...count {
            let start = frame.writerIndex
            switch lua_type(L, Int32(index)) {
            case LUA_TNUMBER:
                LuaReplies.writeNumber(lua_tonumber(L, Int32(index)), into: &frame)
            case LUA_TSTRING:
                var length = 0
                let bytes = lua_tolstring(L, Int32(index), &length)
                frame.writeBytes(UnsafeRawBufferPointer(start: bytes, count: length))
            default:
                lua_settop(L, 0)
                return .refused("Lua redis lib command arguments must be strings or integers")
            }
            spans.append(ArgumentSpan(offset: start - frame.readerIndex, length: frame.writerIndex - start))
        }
        lua_settop(L, 0)
        return .request(Request(frame: frame, spans: spans))
    }

    /// Runs `request` as the script's caller, with Redis's checks for commands called from scripts; returns its
    /// reply (or the refusal as an error reply) in `protocol`.
    func execute(_ request: Request) -> ByteBuffer {
        replies.clear()
        var writer = ReplyWriter(buffer: replies, version: `protocol`)
        replies = ByteBuffer()  // one owner while the command writes
        switch check(request) {
        case .failure(let refusal):
            writer.error(refusal.text)
        case .success(let spec):
            let session = context.session
            session.scriptCommand = (session.reply.version, ByteBuffer())
            swap(&session.reply, &writer)
            context.execute(spec, request: request)
            swap(&session.reply, &writer)
            // Pushes to this very connection meanwhile (a script publishing to a channel its RESP3 caller
            // subscribes to) go to it ahead of the script's reply, as in Redis.
            let pushes = session.scriptCommand?.pushes
            session.scriptCommand = nil
            if let pushes, pushes.readableBytes > 0, !session.holdPushDuringCommand(pushes) {
                session.reply.buffer.writeImmutableBuffer(pushes)
            }
        }
        replies = writer.buffer
        return replies
    }

    /// `redis.acl_check_cmd`: whether the caller's user may run `request` (nil: no such command). Logs nothing.
    func permits(_ request: Request) -> Bool? {
        guard let spec = context.engine.commands.lookup(CommandArguments(request)) else { return nil }
        let session = context.session
        if session.accessGate.allowsEverything { return true }
        let rules = session.user.rules(cachedIn: &session.rulesCache)
        return ACLPermissionCheck.check(rules, spec, CommandArguments(request)) == nil
    }

    /// The command `request` runs, or why it may not run from this script (Redis's `scriptCall` checks, in its
    /// order).
    private func check(_ request: Request) -> Result<CommandSpec, CommandError> {
        guard let spec = context.engine.commands.lookup(CommandArguments(request)) else {
            return .failure(CommandError("ERR Unknown Redis command called from script"))
        }
        guard spec.accepts(argumentCount: request.count) else {
            return .failure(CommandError("ERR Wrong number of args calling Redis command from script"))
        }
        if spec.flags.contains(.noscript) {
            return .failure(CommandError("ERR This Redis command is not allowed from script"))
        }
        let session = context.session
        if !session.accessGate.allowsEverything,
            let refusal = context.engine.access.authorizeFromScript(spec, request, session)
        {
            return .failure(CommandError("ERR " + refusal))
        }
        if spec.flags.contains(.write) {
            if readOnly { return .failure(CommandError("ERR Write commands are not allowed from read-only scripts.")) }
            if context.engine.store.health.isFailing { return .failure(context.engine.misconfError()) }
        }
        return .success(spec)
    }
}

/// A script's shebang flags (`#!lua flags=no-writes,allow-stale`).
struct ScriptFlags: OptionSet, Sendable {
    let rawValue: UInt8

    static let noWrites = ScriptFlags(rawValue: 1 << 0)
    static let allowOOM = ScriptFlags(rawValue: 1 << 1)
    static let allowStale = ScriptFlags(rawValue: 1 << 2)
    static let noCluster = ScriptFlags(rawValue: 1 << 3)
    static let allowCrossSlotKeys = ScriptFlags(rawValue: 1 << 4)

    private static let named: [(String, ScriptFlags)] = [
        ("no-writes", .noWrites), ("allow-oom", .allowOOM), ("allow-stale", .allowStale),
        ("no-cluster", .noCluster), ("allow-cross-slot-keys", .allowCrossSlotKeys),
    ]

    /// The flags of `body`'s shebang line and that line's length (without its line feed), as Redis 7.0 reads them;
    /// no flags and 0 without a shebang.
    static func parseShebang(_ body: ByteBuffer) throws(CommandError) -> (ScriptFlags, Int) {
        let bytes = body.readableBytesView
        guard bytes.starts(with: "#!".utf8) else { return ([], 0) }
        guard let end = bytes.firstIndex(of: UInt8(ascii: "\n")) else {
            throw CommandError("ERR Invalid script shebang")
        }
        let line = String(decoding: bytes[bytes.startIndex..<end], as: UTF8.self)
        let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
        guard let engine = parts.first else { throw CommandError("ERR Invalid engine in script shebang") }
        guard engine == "#!lua" else { throw CommandError("ERR Unexpected engine in script shebang: \(engine)") }
        var flags: ScriptFlags = []
        for part in parts.dropFirst() {
            guard part.hasPrefix("flags=") else { throw CommandError("ERR Unknown lua shebang option: \(part)") }
            for name in part.dropFirst(6).split(separator: ",", omittingEmptySubsequences: false) {
                guard let flag = named.first(where: { $0.0 == name })?.1 else {
                    throw CommandError("ERR Unexpected flag in script shebang: \(name)")
                }
                flags.insert(flag)
            }
        }
        return (flags, end - bytes.startIndex)
    }
}
