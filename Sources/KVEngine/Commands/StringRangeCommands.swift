import KVStore
import Logging
import NIOCore
import RESP
import Synchronization

/// APPEND, STRLEN, GETRANGE, SETRANGE: commands on part of a string value. Writes keep the key's expiry, and no
/// value may grow past `proto-max-bulk-len`.
struct StringRangeCommands: CommandFamily {
    /// `proto-max-bulk-len` bounds the strings APPEND and SETRANGE make, as in Redis.
    let settings: RuntimeSettings

    var commands: [CommandSpec] {
        let settings = self.settings
        return [
            CommandSpec(.append) { try Self.append($0, limit: settings.maxStringLength) },
            CommandSpec(.strlen, handler: Self.strlen),
            CommandSpec(.getrange, handler: Self.getrange),
            CommandSpec(.setrange) { try Self.setrange($0, limit: settings.maxStringLength) },
        ]
    }

    static let tooLong = CommandError("ERR string exceeds maximum allowed size (proto-max-bulk-len)")

    static func append(_ ctx: CommandContext, limit: Int) throws {
        let keyspace = ctx.keyspace
        let key = ctx.argument(1)
        let suffix = ctx.argument(2)
        let existing = try keyspace.readForWrite(key) { value, expireAt throws in
            guard value.count + suffix.readableBytes <= limit else { throw tooLong }
            var joined = ByteBuffer()
            joined.reserveCapacity(value.count + suffix.readableBytes)
            joined.writeBytes(value)
            joined.writeImmutableBuffer(suffix)
            return (joined, expireAt)
        }
        let value = existing?.0 ?? suffix
        // Appending to a value changes it in place (`raw` for OBJECT ENCODING); a new key is stored as SET would.
        try keyspace.set(
            key, value: value, expireAt: existing?.1 ?? 0, previousExpiry: existing?.1, rawEncoding: existing != nil)
        ctx.notify(.string, "append", key: key)
        ctx.reply.integer(value.readableBytes)
    }

    static func strlen(_ ctx: CommandContext) throws {
        ctx.reply.integer(try ctx.keyspace.read(ctx.argument(1)) { value, _ in value.count } ?? 0)
    }

    /// `GETRANGE key start end`: inclusive offsets, negative ones counting from the end, clamped to the value.
    static func getrange(_ ctx: CommandContext) throws {
        var start = try ctx.integerArgument(2)
        var end = try ctx.integerArgument(3)
        let found: Void? = try ctx.keyspace.read(ctx.argument(1)) { value, _ in
            let length = value.count
            if start < 0 && end < 0 && start > end { return ctx.reply.bulk("") }
            if start < 0 { start = max(length + start, 0) }
            if end < 0 { end = max(length + end, 0) }
            end = min(end, length - 1)
            guard start <= end, length > 0 else { return ctx.reply.bulk("") }
            ctx.reply.bulk(UnsafeRawBufferPointer(rebasing: value[start...end]))
        }
        if found == nil { ctx.reply.bulk("") }
    }

    /// `SETRANGE key offset value`: overwrites from `offset`, padding with zero bytes; replies the new length.
    static func setrange(_ ctx: CommandContext, limit: Int) throws {
        let offset = try ctx.integerArgument(2)
        guard offset >= 0 else { throw CommandError("ERR offset is out of range") }
        let keyspace = ctx.keyspace
        let key = ctx.argument(1)
        let patch = ctx.argument(3)
        let (end, overflow) = offset.addingReportingOverflow(patch.readableBytes)
        let exceedsLimit = overflow || end > limit
        let existing = try keyspace.readForWrite(key) { value, expireAt throws in
            // Nothing to write leaves the value as it is.
            guard patch.readableBytes > 0 else { return (updated: ByteBuffer?.none, length: value.count, expireAt: expireAt) }
            guard !exceedsLimit else { throw tooLong }
            var updated = ByteBuffer()
            updated.reserveCapacity(max(value.count, end))
            updated.writeBytes(UnsafeRawBufferPointer(rebasing: value[..<min(offset, value.count)]))
            if value.count < offset { updated.writeRepeatingByte(0, count: offset - value.count) }
            updated.writeImmutableBuffer(patch)
            if value.count > end { updated.writeBytes(UnsafeRawBufferPointer(rebasing: value[end...])) }
            return (updated: Optional(updated), length: updated.readableBytes, expireAt: expireAt)
        }
        if let existing {
            if let updated = existing.updated {
                try keyspace.set(
                    key, value: updated, expireAt: existing.expireAt, previousExpiry: existing.expireAt,
                    rawEncoding: true)
                ctx.notify(.string, "setrange", key: key)
            }
            return ctx.reply.integer(existing.length)
        }
        // A missing key is created only when there is something to write.
        guard patch.readableBytes > 0 else { return ctx.reply.integer(0) }
        guard !exceedsLimit else { throw tooLong }
        var created = ByteBuffer()
        created.reserveCapacity(end)
        created.writeRepeatingByte(0, count: offset)
        created.writeImmutableBuffer(patch)
        try keyspace.set(key, value: created, expireAt: 0, previousExpiry: nil, rawEncoding: true)
        ctx.notify(.string, "setrange", key: key)
        ctx.reply.integer(end)
    }
}
