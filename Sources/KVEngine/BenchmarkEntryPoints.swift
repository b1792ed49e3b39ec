// Entry points for the micro-benchmarks in Benchmarks/ (built only with KVNODE_BENCHMARKS set). `package` access
// keeps them out of the library's public API; each forwards to the hot path unchanged.

extension Engine {
    /// The engine's command table, as the executor looks commands up in it.
    package var commandTable: CommandTable { commands }
}

extension CommandTable {
    /// Looks a command up by the bytes of its name (any case), as the executor does for every request.
    package func lookup(bytes name: UnsafeRawBufferPointer) -> CommandSpec? {
        lookup(name)
    }
}
