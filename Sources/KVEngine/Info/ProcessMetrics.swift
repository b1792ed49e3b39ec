#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What the operating system says about this process, for INFO: memory, CPU time, identity.
enum ProcessMetrics {
    /// Memory the process uses for its own data (INFO `used_memory`): resident pages not shared with other processes
    /// (the second minus the third field of /proc/self/statm). Swift's Glibc module does not expose `mallinfo2`, so
    /// this stands in for Redis's allocator count; it includes LevelDB's caches.
    static func allocatedBytes() -> Int {
        #if os(Linux)
        let pages = statm()
        return max(pages.resident - pages.shared, 0) * pageSize
        #else
        return residentBytes()
        #endif
    }

    /// Resident set size in bytes (INFO `used_memory_rss`).
    static func residentBytes() -> Int {
        #if os(Linux)
        return statm().resident * pageSize
        #else
        var usage = rusage()
        getrusage(RUSAGE_SELF, &usage)
        return Int(usage.ru_maxrss)
        #endif
    }

    private static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    /// Resident and shared pages from /proc/self/statm.
    private static func statm() -> (resident: Int, shared: Int) {
        guard let statm = readFile("/proc/self/statm") else { return (0, 0) }
        let fields = statm.split(separator: " ").compactMap { Int($0) }
        guard fields.count > 2 else { return (0, 0) }
        return (fields[1], fields[2])
    }

    /// Physical memory of the machine in bytes.
    static func totalSystemMemory() -> Int {
        #if os(Linux)
        return Int(sysconf(Int32(_SC_PHYS_PAGES))) * Int(sysconf(Int32(_SC_PAGESIZE)))
        #else
        return 0
        #endif
    }

    /// User and system CPU seconds of this process, or of its finished children.
    static func cpuSeconds(children: Bool = false) -> (user: Double, system: Double) {
        var usage = rusage()
        #if os(Linux)
        let who = (children ? RUSAGE_CHILDREN : RUSAGE_SELF).rawValue  // Glibc imports these as an enum
        #else
        let who = children ? RUSAGE_CHILDREN : RUSAGE_SELF
        #endif
        getrusage(who, &usage)
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1_000_000 }
        return (seconds(usage.ru_utime), seconds(usage.ru_stime))
    }

    /// `uname -s -r -m`, as Redis's `os` field.
    static let operatingSystem: String = {
        var name = utsname()
        guard uname(&name) == 0 else { return "unknown" }
        func text<T>(_ field: T) -> String {
            withUnsafeBytes(of: field) { bytes in
                String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            }
        }
        return "\(text(name.sysname)) \(text(name.release)) \(text(name.machine))"
    }()

    /// The absolute path of the running executable.
    static let executable: String = {
        #if os(Linux)
        var buffer = [CChar](repeating: 0, count: 4096)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        if length > 0 { return String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        #endif
        return CommandLine.arguments.first ?? ""
    }()

    static var processID: Int { Int(getpid()) }

    private static func readFile(_ path: String) -> String? {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = read(descriptor, &buffer, buffer.count)
        guard count > 0 else { return nil }
        return String(decoding: buffer[0..<count], as: UTF8.self).trimmingNewline()
    }
}

extension String {
    fileprivate func trimmingNewline() -> String {
        var text = self
        while text.last == "\n" { text.removeLast() }
        return text
    }
}
