import NIOCore

// Entry points for the micro-benchmarks in Benchmarks/ (built only with KVNODE_BENCHMARKS set). `package` access
// keeps them out of the library's public API; each forwards to the hot path unchanged, so what the benchmarks
// measure is exactly what a connection runs.

extension CommandTable {
    /// The table every server uses (`ServerState.commands`), without starting one.
    package static var standardTable: CommandTable { .standard }

    /// Looks a command up by the bytes of its name (any case), as the connection handler does for every request.
    package func lookup(bytes name: UnsafeRawBufferPointer) -> CommandSpec? {
        lookup(name)
    }
}

extension ServerState {
    /// A new connection handler serving this server: add it to a channel (an `EmbeddedChannel` in the benchmarks) to
    /// run the whole request path (decode, dispatch, command, keyspace, reply) without a socket.
    package func makeConnectionHandler() -> any ChannelInboundHandler {
        ConnectionHandler(server: self)
    }
}
