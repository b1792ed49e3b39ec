#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import KVStore

/// The ACL file (`aclfile`): one `user <name> <rules...>` line per user, in Redis's format, so a file works with both
/// servers. Reading and writing follow Redis 7.0 (`ACLLoadFromFile`, `ACLSaveToFile`), with its error texts: lines are
/// split on single spaces (no quoting), a file with any error changes nothing, and saving writes a temporary file
/// then renames it over the old one. Passwords are only ever written as `#<sha256>`.
enum ACLFile {
    /// The users a file defines, in file order.
    typealias Users = [(name: [UInt8], rules: UserRules)]

    /// Reads and parses `path`; the error is the text Redis replies or logs.
    static func load(_ path: String, rules: ACLRules) -> Result<Users, ACLFileError> {
        let text: [UInt8]
        switch read(path) {
        case .success(let bytes): text = bytes
        case .failure(let error): return .failure(error)
        }
        return parse(text, fileName: path, rules: rules)
    }

    /// Parses the text of an ACL file named `fileName` (errors name it and the line).
    static func parse(_ text: [UInt8], fileName: String, rules: ACLRules) -> Result<Users, ACLFileError> {
        var users: Users = []
        var errors = ""
        for (position, rawLine) in text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            let line = trim(Array(rawLine), " \t\r\n")
            let lineNumber = position + 1
            if line.isEmpty { continue }
            let arguments = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false).map { Array($0) }
            guard arguments.count >= 2, arguments[0] == Array("user".utf8) else {
                errors += "\(fileName):\(lineNumber) should start with user keyword followed by the username. "
                continue
            }
            let name = arguments[1]
            let nameText = String(decoding: name, as: UTF8.self)
            guard !ACLRules.hasSpaces(name) else {
                errors += "'\(fileName):\(lineNumber): username '\(nameText)' contains invalid characters. "
                continue
            }
            guard !users.contains(where: { $0.name == name }) else {
                errors += "WARNING: Duplicate user '\(nameText)' found on line \(lineNumber). "
                continue
            }
            var user = rules.newUser()
            switch ACLRules.mergeSelectorArguments(Array(arguments[2...])) {
            case .failure:
                errors += "\(fileName):\(lineNumber): Unmatched parenthesis in selector definition."
            case .success(let merged):
                for rule in merged {
                    let rule = trim(rule, "\t\r\n")
                    do throws(ACLRuleError) {
                        try rules.apply(rule, to: &user)
                    } catch .unknownCommand {
                        // Redis names the rule only for unknown commands: other rules may hold a password.
                        errors += "\(fileName):\(lineNumber): Error in applying operation '\(String(decoding: rule, as: UTF8.self))': "
                            + "\(ACLRuleError.unknownCommand.message). "
                    } catch {
                        errors += "\(fileName):\(lineNumber): \(error.message). "
                    }
                }
            }
            users.append((name, user))
        }
        guard errors.isEmpty else {
            return .failure(ACLFileError(
                errors + "WARNING: ACL errors detected, no change to the previously active ACL rules was performed"))
        }
        return .success(users)
    }

    /// The file's text for `users`, sorted by name as Redis writes them.
    static func render(_ users: [ACLUser], index: ACLCommandIndex) -> [UInt8] {
        var text: [UInt8] = []
        for user in users.sorted(by: { $0.name.lexicographicallyPrecedes($1.name) }) {
            text += line(user, index: index) + [UInt8(ascii: "\n")]
        }
        return text
    }

    /// `user <name> <rules>`: ACL LIST's entry and the file's line.
    static func line(_ user: ACLUser, index: ACLCommandIndex) -> [UInt8] {
        Array("user ".utf8) + user.name + [UInt8(ascii: " ")] + ACLDescription.user(user.rules, index: index)
    }

    // MARK: Files

    private static func read(_ path: String) -> Result<[UInt8], ACLFileError> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            return .failure(ACLFileError("Error loading ACLs, opening file '\(path)': \(String(cString: strerror(errno)))"))
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count == 0 { return .success(bytes) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failure(ACLFileError("Error loading ACLs, reading file '\(path)': \(String(cString: strerror(errno)))"))
            }
            bytes += chunk[..<count]
        }
    }

    /// Writes `text` to `path` through a temporary file renamed over it; the error says which step failed.
    static func write(_ text: [UInt8], to path: String) -> Result<Void, ACLFileError> {
        let temporary = "\(path).tmp-\(getpid())-\(WallClock.milliseconds())"
        // A new file, never one already there (a symlink planted under this name would redirect the write).
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return .failure(.system("Opening temp ACL file for ACL SAVE")) }
        var offset = 0
        while offset < text.count {
            let written = text.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                let error = ACLFileError.system("Writing ACL file for ACL SAVE")
                close(fd)
                unlink(temporary)
                return .failure(error)
            }
            offset += written
        }
        // Redis does not fsync; kvnode does, so a saved file survives a crash as its data does.
        if fsync(fd) != 0 || close(fd) != 0 {
            let error = ACLFileError.system("Writing ACL file for ACL SAVE")
            unlink(temporary)
            return .failure(error)
        }
        guard rename(temporary, path) == 0 else {
            let error = ACLFileError.system("Renaming ACL file for ACL SAVE")
            unlink(temporary)
            return .failure(error)
        }
        return .success(())
    }

    private static func trim(_ bytes: [UInt8], _ characters: String) -> [UInt8] {
        let set = Set(characters.utf8)
        guard let start = bytes.firstIndex(where: { !set.contains($0) }) else { return [] }
        let end = bytes.lastIndex(where: { !set.contains($0) })!
        return Array(bytes[start...end])
    }
}

/// An ACL file could not be read, parsed or written, or users given at start-up are wrong; `message` is Redis's text.
public struct ACLFileError: Error, Sendable, CustomStringConvertible {
    public let message: String

    public var description: String { message }

    init(_ message: String) {
        self.message = message
    }

    static func system(_ action: String) -> ACLFileError {
        ACLFileError("\(action): \(String(cString: strerror(errno)))")
    }
}
