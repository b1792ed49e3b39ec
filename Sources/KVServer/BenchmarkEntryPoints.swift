import KVEngine
import KVStore
import NIOCore

// Entry points for the micro-benchmarks in Benchmarks/ (built only with KVNODE_BENCHMARKS set). `package` access
// keeps them out of the library's public API; each forwards to the hot path unchanged, so what the benchmarks
// measure is exactly what a connection runs.

extension Engine {
    /// A new connection handler serving this engine: add it to a channel (an `EmbeddedChannel` in the benchmarks and
    /// in-process tests) to run the whole request path (decode, dispatch, command, keyspace, reply) without a socket.
    package func makeConnectionHandler() -> any ChannelInboundHandler {
        ConnectionHandler(
            engine: self,
            durableReplies: store.durability == .high ? DurableReplyGroups(store: store, logger: logger) : nil)
    }
}
