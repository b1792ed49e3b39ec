#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The few POSIX file operations snapshots need, with errors that name the path. Plain system calls keep Foundation
/// out of the server.
public enum FileSystem {
    /// Opens `path` for reading.
    public static func openForReading(_ path: String) throws(SnapshotError) -> Int32 {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .system("cannot open", path: path) }
        return fd
    }

    /// Creates (or truncates) `path` for writing.
    /// - Parameter followSymlink: false for the server's own files: a symlink found at `path` (planted in the data
    ///   directory) fails the call instead of redirecting the write outside.
    public static func createForWriting(
        _ path: String, mode: mode_t = 0o644, followSymlink: Bool = true
    ) throws(SnapshotError) -> Int32 {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | (followSymlink ? 0 : O_NOFOLLOW), mode)
        guard fd >= 0 else { throw .system("cannot create", path: path) }
        return fd
    }

    /// Writes all of `bytes` to `fd`, retrying short writes and interrupted calls.
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws(SnapshotError) {
        var offset = 0
        while offset < bytes.count {
            let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw .system("cannot write", path: path)
            }
            offset += written
        }
    }

    /// Writes all of `bytes` to `fd`.
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws(SnapshotError) {
        var failure: SnapshotError?
        bytes.withUnsafeBytes { raw in
            do throws(SnapshotError) { try writeAll(fd, raw, path: path) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Reads a whole small file (at most `limit` bytes).
    public static func readSmallFile(_ path: String, limit: Int = 1 << 20) throws(SnapshotError) -> [UInt8] {
        let fd = try openForReading(path)
        defer { close(fd) }
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)
        defer { chunk.deallocate() }
        var bytes: [UInt8] = []
        while true {
            let count = try readChunk(fd, into: chunk, path: path)
            if count == 0 { return bytes }
            bytes += chunk[..<count]
            guard bytes.count <= limit else { throw SnapshotError(.corrupt, "\(path) is larger than \(limit) bytes") }
        }
    }

    /// Reads up to `buffer.count` bytes; 0 means end of file.
    public static func readChunk(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, path: String) throws(SnapshotError) -> Int {
        while true {
            let count = read(fd, buffer.baseAddress, buffer.count)
            if count >= 0 { return count }
            if errno != EINTR { throw .system("cannot read", path: path) }
        }
    }

    /// Flushes `fd`'s data to the disk.
    public static func sync(_ fd: Int32, path: String) throws(SnapshotError) {
        guard fsync(fd) == 0 else { throw .system("cannot fsync", path: path) }
    }

    /// Flushes a directory entry (a rename or a new file) to the disk.
    public static func syncDirectory(_ path: String) throws(SnapshotError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .system("cannot open", path: path) }
        defer { close(fd) }
        try sync(fd, path: path)
    }

    /// Closes `fd`, reporting a failure (which can be a delayed write error).
    public static func closeFile(_ fd: Int32, path: String) throws(SnapshotError) {
        guard close(fd) == 0 else { throw .system("cannot close", path: path) }
    }

    /// Creates directory `path`; an existing directory is fine when `existingIsFine` — a real one: a symlink to a
    /// directory is refused, so the server never writes through a link to somewhere else.
    public static func makeDirectory(_ path: String, existingIsFine: Bool = false) throws(SnapshotError) {
        if mkdir(path, 0o755) == 0 { return }
        let error = errno
        if error == EEXIST && existingIsFine && isRealDirectory(path) { return }
        errno = error
        if error == EEXIST && isSymbolicLink(path) {
            throw SnapshotError(.io, "\(path) is a symbolic link; the server writes only into real directories")
        }
        throw .system("cannot create directory", path: path)
    }

    /// Whether `path` itself is a directory (not a symlink to one).
    public static func isRealDirectory(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// Whether `path` itself is a symbolic link.
    public static func isSymbolicLink(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFLNK
    }

    /// Renames `source` to `destination` (atomic within one file system).
    public static func move(_ source: String, to destination: String) throws(SnapshotError) {
        guard rename(source, destination) == 0 else { throw .system("cannot rename \(source) to", path: destination) }
    }

    /// Whether `path` exists and is a directory (following symlinks).
    public static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// Whether anything exists at `path`.
    public static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    /// The names in directory `path`, without `.` and `..`.
    public static func contents(ofDirectory path: String) throws(SnapshotError) -> [String] {
        guard let directory = opendir(path) else { throw .system("cannot list", path: path) }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Removes directory `path` and the files in it (snapshot directories hold files only). Symbolic links are
    /// removed, never followed: a link planted in the data directory cannot make the server delete files elsewhere.
    public static func removeDirectory(_ path: String) throws(SnapshotError) {
        if isSymbolicLink(path) {
            guard unlink(path) == 0 || errno == ENOENT else { throw .system("cannot remove", path: path) }
            return
        }
        for name in try contents(ofDirectory: path) {
            let child = path + "/" + name
            if isRealDirectory(child) {
                try removeDirectory(child)
            } else if unlink(child) != 0 && errno != ENOENT {
                throw .system("cannot remove", path: child)
            }
        }
        guard rmdir(path) == 0 || errno == ENOENT else { throw .system("cannot remove", path: path) }
    }

    /// The absolute, symlink-free form of an existing `path`, or `path` itself when it cannot be resolved.
    public static func absolutePath(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// The size of the file at `path` in bytes.
    public static func size(of path: String) throws(SnapshotError) -> Int {
        var info = stat()
        guard stat(path, &info) == 0 else { throw .system("cannot stat", path: path) }
        return Int(info.st_size)
    }
}
