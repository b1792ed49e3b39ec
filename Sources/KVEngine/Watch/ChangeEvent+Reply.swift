import KVStore
import NIOCore
import RESP

extension ChangeEvent {
    /// Writes what follows the key in a watch frame or a KV.HISTORY entry: the element, for an element operation,
    /// then the value — a string's, a hash field's, a renamed key's source, the time of a `pexpireat` in Unix ms as
    /// decimal digits — or null.
    func writeArguments(into writer: inout ReplyWriter) {
        if let word = operation.wordBeforeElement { writer.bulk(word.description) }
        if operation.hasElement {
            if let element { writer.bulk(element) } else { writer.null() }
        }
        if let value {
            writer.bulk(value)
        } else if operation == .expireAt {
            var digits = ByteBuffer()
            digits.writeDecimal(Int(expireAt))
            writer.bulk(digits)
        } else {
            writer.null()
        }
    }
}
