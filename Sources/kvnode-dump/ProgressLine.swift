import KVSnapshot
import KVStore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A one-line progress report on a terminal's stderr: keys read, bytes written, rates. Redrawn at most five times a
/// second, so it costs nothing next to the dump itself.
final class ProgressLine {
    private let start = WallClock.microseconds()
    private var lastDrawn: Int64 = 0
    private var keysRead = 0

    func update(keys: Int, writer: CommandStreamWriter) {
        keysRead = keys
        let now = WallClock.microseconds()
        guard now - lastDrawn >= 200_000 else { return }
        lastDrawn = now
        draw(writer: writer, now: now, final: false)
    }

    func finish(writer: CommandStreamWriter) {
        draw(writer: writer, now: WallClock.microseconds(), final: true)
    }

    private func draw(writer: CommandStreamWriter, now: Int64, final: Bool) {
        let seconds = max(Double(now - start) / 1_000_000, 0.001)
        let megabytes = Double(writer.byteCount) / 1_048_576
        var line = "\r\u{1B}[K\(keysRead) keys read, \(writer.commandCount) written, \(format(megabytes)) MB, "
            + "\(Int(Double(keysRead) / seconds)) keys/s, \(format(megabytes / seconds)) MB/s"
        if final { line += " (\(format(seconds)) s)\n" }
        line.withUTF8 { _ = write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }

    private func format(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }
}
