import NIOCore

/// One decoded command: its arguments as spans of a single frame buffer, so no argument is copied.
public struct Request: Sendable {
    /// The bytes the argument spans point into.
    public var frame: ByteBuffer
    /// Offset (from `frame`'s reader index) and length of each argument.
    public var spans: [ArgumentSpan]

    public init(frame: ByteBuffer, spans: [ArgumentSpan]) {
        self.frame = frame
        self.spans = spans
    }

    /// Number of arguments, the command name included.
    @inlinable public var count: Int { spans.count }

    /// Argument `index` as a slice sharing the frame's storage (no copy).
    @inlinable public subscript(index: Int) -> ByteBuffer {
        let span = spans[index]
        return frame.getSlice(at: frame.readerIndex + Int(span.offset), length: Int(span.length))!
    }

    /// Calls `body` with the raw bytes of argument `index`, without retaining or copying anything.
    @inlinable
    public func withArgument<R>(_ index: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let span = spans[index]
        return try frame.withUnsafeReadableBytes { all in
            try body(UnsafeRawBufferPointer(rebasing: all[Int(span.offset)..<Int(span.offset) + Int(span.length)]))
        }
    }

    /// Length in bytes of argument `index`.
    @inlinable public func length(of index: Int) -> Int { Int(spans[index].length) }
}

/// Where one argument lies in a request's frame.
public struct ArgumentSpan: Sendable, Equatable {
    public var offset: UInt32
    public var length: UInt32

    @inlinable public init(offset: Int, length: Int) {
        self.offset = UInt32(truncatingIfNeeded: offset)
        self.length = UInt32(truncatingIfNeeded: length)
    }
}
