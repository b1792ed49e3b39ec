/// meta.json: what a snapshot directory holds, so a reader can check state.bin before trusting it.
/// ```json
/// {"id": "1763712522000-1", "created_at_ms": 1763712522000, "format_version": 1, "key_count": 200000,
///  "size": 12345678, "uncompressed_size": 45678901, "checksum": "crc32:0a1b2c3d", "revision": 4711}
/// ```
/// `revision` is the store revision the view holds exactly: the snapshot plus the change log from `revision + 1`
/// rebuild any later state. It is absent (read as 0) in snapshots written before revisions were kept.
public struct SnapshotMetadata: Sendable, Equatable {
    /// The snapshot directory's name.
    public var id: String
    /// Unix milliseconds the keyspace view was taken at.
    public var createdAt: Int64
    public var formatVersion: Int
    /// Number of records (keys) in state.bin.
    public var keyCount: Int
    /// Size of state.bin in bytes.
    public var size: Int
    /// Size of the record stream inside the gzip stream.
    public var uncompressedSize: Int
    /// CRC-32 (zlib's, as in gzip) of the whole state.bin file.
    public var crc32: UInt32
    /// The store revision the snapshot holds (0 when unknown).
    public var revision: UInt64

    public init(
        id: String, createdAt: Int64, formatVersion: Int, keyCount: Int, size: Int, uncompressedSize: Int, crc32: UInt32,
        revision: UInt64 = 0
    ) {
        self.id = id
        self.createdAt = createdAt
        self.formatVersion = formatVersion
        self.keyCount = keyCount
        self.size = size
        self.uncompressedSize = uncompressedSize
        self.crc32 = crc32
        self.revision = revision
    }

    /// The checksum as meta.json spells it: `crc32:` and 8 lower-case hex digits.
    public var checksumText: String {
        let hex = String(crc32, radix: 16)
        return "crc32:" + String(repeating: "0", count: 8 - hex.count) + hex
    }

    /// The JSON text, one field per line.
    public var json: String {
        """
        {
          "id": "\(JSONText.escape(id))",
          "created_at_ms": \(createdAt),
          "format_version": \(formatVersion),
          "key_count": \(keyCount),
          "size": \(size),
          "uncompressed_size": \(uncompressedSize),
          "checksum": "\(checksumText)",
          "revision": \(revision)
        }

        """
    }

    /// Parses meta.json text.
    /// - Throws: a `corrupt` `SnapshotError` naming `path` when a field is missing or malformed.
    public init(json text: String, path: String) throws(SnapshotError) {
        guard let fields = JSONText.parseFlatObject(text) else {
            throw SnapshotError(.corrupt, "\(path) is not valid JSON")
        }
        func integer(_ name: String) throws(SnapshotError) -> Int64 {
            guard case .integer(let value)? = fields[name] else {
                throw SnapshotError(.corrupt, "\(path) has no integer \"\(name)\"")
            }
            return value
        }
        func string(_ name: String) throws(SnapshotError) -> String {
            guard case .string(let value)? = fields[name] else {
                throw SnapshotError(.corrupt, "\(path) has no string \"\(name)\"")
            }
            return value
        }
        let checksum = try string("checksum")
        guard checksum.hasPrefix("crc32:"), let crc = UInt32(checksum.dropFirst(6), radix: 16) else {
            throw SnapshotError(.corrupt, "\(path) has an unknown checksum \"\(checksum)\" (expected crc32:XXXXXXXX)")
        }
        self.init(
            id: try string("id"), createdAt: try integer("created_at_ms"), formatVersion: Int(try integer("format_version")),
            keyCount: Int(try integer("key_count")), size: Int(try integer("size")),
            uncompressedSize: Int(try integer("uncompressed_size")), crc32: crc,
            revision: fields["revision"].flatMap { if case .integer(let value) = $0 { UInt64(value) } else { nil } } ?? 0)
    }
}

/// Just enough JSON for meta.json: one flat object of string and integer fields.
enum JSONText {
    enum Value: Equatable { case string(String), integer(Int64) }

    static func escape(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20: out += "\\u00" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// The fields of a `{"name": value, ...}` object whose values are strings or integers; nil when it is anything else.
    static func parseFlatObject(_ text: String) -> [String: Value]? {
        var bytes = Array(text.utf8)[...]
        func skipSpace() { while let b = bytes.first, b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { bytes.removeFirst() } }
        func take(_ byte: UInt8) -> Bool {
            skipSpace()
            guard bytes.first == byte else { return false }
            bytes.removeFirst()
            return true
        }
        func string() -> String? {
            guard take(UInt8(ascii: "\"")) else { return nil }
            var out: [UInt8] = []
            while let b = bytes.popFirst() {
                switch b {
                case UInt8(ascii: "\""): return String(decoding: out, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard let escaped = bytes.popFirst() else { return nil }
                    switch escaped {
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "u"):
                        guard bytes.count >= 4, let code = UInt32(String(decoding: bytes.prefix(4), as: UTF8.self), radix: 16),
                            let scalar = Unicode.Scalar(code)
                        else { return nil }
                        bytes.removeFirst(4)
                        out.append(contentsOf: Array(String(Character(scalar)).utf8))
                    default: out.append(escaped)
                    }
                default: out.append(b)
                }
            }
            return nil
        }
        func integer() -> Int64? {
            skipSpace()
            var digits = ""
            while let b = bytes.first, b == UInt8(ascii: "-") || (0x30...0x39).contains(b) {
                digits.unicodeScalars.append(Unicode.Scalar(b))
                bytes.removeFirst()
            }
            return Int64(digits)
        }

        guard take(UInt8(ascii: "{")) else { return nil }
        var fields: [String: Value] = [:]
        if take(UInt8(ascii: "}")) { return fields }
        repeat {
            guard let name = string(), take(UInt8(ascii: ":")) else { return nil }
            skipSpace()
            if bytes.first == UInt8(ascii: "\"") {
                guard let value = string() else { return nil }
                fields[name] = .string(value)
            } else {
                guard let value = integer() else { return nil }
                fields[name] = .integer(value)
            }
        } while take(UInt8(ascii: ","))
        guard take(UInt8(ascii: "}")) else { return nil }
        skipSpace()
        return bytes.isEmpty ? fields : nil
    }
}
