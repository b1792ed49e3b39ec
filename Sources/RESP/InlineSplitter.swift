import NIOCore

/// Splits an inline command line into arguments exactly as Redis's `sdssplitargs` does.
///
/// Arguments are separated by white space. `"..."` understands `\n \r \t \b \a \\ \"` and `\xHH`; `'...'` understands
/// only `\'`. A closing quote must be followed by white space or the end of the line, otherwise the request is
/// rejected with `unbalanced quotes in request`.
package enum InlineSplitter {
    /// Splits `text` as `sdssplitargs` does (ACL selectors, `--user` rules): the arguments, none for a blank line,
    /// nil for unbalanced quotes.
    package static func arguments(_ text: [UInt8]) -> [[UInt8]]? {
        do {
            guard let request = try text.withUnsafeBytes({ bytes throws(ProtocolError) in try split(bytes) }) else {
                return []
            }
            return (0..<request.count).map { index in request.withArgument(index) { Array($0) } }
        } catch {
            return nil
        }
    }

    /// - Returns: the arguments as one request, or nil for a blank line.
    static func split(_ line: UnsafeRawBufferPointer) throws(ProtocolError) -> Request? {
        var frame = ByteBuffer()
        frame.reserveCapacity(line.count)
        var spans: [ArgumentSpan] = []
        var index = 0
        // sdssplitargs works on a C string, so a NUL byte ends the line.
        let end = line.firstIndex(of: 0) ?? line.count

        @inline(__always) func byte(_ i: Int) -> UInt8 { i < end ? line[i] : 0 }

        while true {
            while index < end && isSpace(line[index]) { index += 1 }
            if index >= end { break }
            let start = frame.writerIndex
            var inDoubleQuotes = false
            var inSingleQuotes = false
            var done = false
            while !done {
                let current = byte(index)
                if inDoubleQuotes {
                    if current == UInt8(ascii: "\\") && byte(index + 1) == UInt8(ascii: "x")
                        && isHexDigit(byte(index + 2)) && isHexDigit(byte(index + 3))
                    {
                        frame.writeInteger(hexValue(byte(index + 2)) << 4 | hexValue(byte(index + 3)))
                        index += 3
                    } else if current == UInt8(ascii: "\\") && byte(index + 1) != 0 {
                        index += 1
                        let escaped = byte(index)
                        switch escaped {
                        case UInt8(ascii: "n"): frame.writeInteger(UInt8(ascii: "\n"))
                        case UInt8(ascii: "r"): frame.writeInteger(UInt8(ascii: "\r"))
                        case UInt8(ascii: "t"): frame.writeInteger(UInt8(ascii: "\t"))
                        case UInt8(ascii: "b"): frame.writeInteger(UInt8(8))
                        case UInt8(ascii: "a"): frame.writeInteger(UInt8(7))
                        default: frame.writeInteger(escaped)
                        }
                    } else if current == UInt8(ascii: "\"") {
                        if byte(index + 1) != 0 && !isSpace(byte(index + 1)) { throw .unbalancedQuotes }
                        done = true
                    } else if current == 0 {
                        throw .unbalancedQuotes
                    } else {
                        frame.writeInteger(current)
                    }
                } else if inSingleQuotes {
                    if current == UInt8(ascii: "\\") && byte(index + 1) == UInt8(ascii: "'") {
                        index += 1
                        frame.writeInteger(UInt8(ascii: "'"))
                    } else if current == UInt8(ascii: "'") {
                        if byte(index + 1) != 0 && !isSpace(byte(index + 1)) { throw .unbalancedQuotes }
                        done = true
                    } else if current == 0 {
                        throw .unbalancedQuotes
                    } else {
                        frame.writeInteger(current)
                    }
                } else {
                    switch current {
                    case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"), 0:
                        done = true
                    case UInt8(ascii: "\""): inDoubleQuotes = true
                    case UInt8(ascii: "'"): inSingleQuotes = true
                    default: frame.writeInteger(current)
                    }
                }
                if index < end { index += 1 }
            }
            spans.append(ArgumentSpan(offset: start, length: frame.writerIndex - start))
        }
        return spans.isEmpty ? nil : Request(frame: frame, spans: spans)
    }

    @inline(__always) private static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (byte >= 0x09 && byte <= 0x0D)
    }

    @inline(__always) private static func isHexDigit(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x66)
    }

    @inline(__always) private static func hexValue(_ byte: UInt8) -> UInt8 {
        byte <= 0x39 ? byte - 0x30 : (byte | 0x20) - 0x61 + 10
    }
}
