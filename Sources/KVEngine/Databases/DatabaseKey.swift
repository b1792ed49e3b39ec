import NIOCore

/// A key of one logical database (SELECT): what WATCH, blocked clients and waiting commands are registered under,
/// since the same key names different values in different databases.
struct DatabaseKey: Hashable, Sendable {
    let database: UInt32
    let key: ByteBuffer

    init(_ database: UInt32, _ key: ByteBuffer) {
        self.database = database
        self.key = key
    }
}
