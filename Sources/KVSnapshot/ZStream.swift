import CZlib

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A z_stream on the heap, started by `start` (deflate or inflate init). zlib keeps a pointer back to its z_stream
/// and checks it, so the struct must stay at one address for its whole life.
/// - Throws: an `io` error saying `what` could not start; `fd` is closed then, as the caller will not own it.
func makeZStream(_ start: (z_streamp) -> Int32, closingOnFailure fd: Int32, what: @autoclosure () -> String) throws(SnapshotError)
    -> UnsafeMutablePointer<z_stream>
{
    let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
    stream.initialize(to: z_stream())
    guard start(stream) == Z_OK else {
        close(fd)
        stream.deallocate()
        throw SnapshotError(.io, "cannot start \(what())")
    }
    return stream
}
