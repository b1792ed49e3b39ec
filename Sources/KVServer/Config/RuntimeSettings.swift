import NIOConcurrencyHelpers
import Synchronization
import RESP

/// The settings CONFIG SET changes while the server runs. Connections read them with relaxed atomic loads (once per
/// read, not per command); `ServerConfiguration` keeps the values the server started with.
final class RuntimeSettings: Sendable {
    /// `maxclients`: connections beyond it are refused.
    let maxClients: Synchronization.Atomic<Int>
    /// `proto-max-bulk-len`: largest bulk string a request may carry.
    let protoMaxBulkLength: Synchronization.Atomic<Int>
    /// `client-query-buffer-limit`: largest pending request (and MULTI queue) per connection.
    let clientQueryBufferLimit: Synchronization.Atomic<Int>
    /// `save`: when `SavePointService` takes a snapshot by itself (kvnode's data is in LevelDB either way).
    let save: NIOLockedValueBox<SavePoints>

    init(_ configuration: ServerConfiguration) {
        maxClients = Synchronization.Atomic(configuration.maxClients)
        protoMaxBulkLength = Synchronization.Atomic(configuration.decoderLimits.maxBulkLength)
        clientQueryBufferLimit = Synchronization.Atomic(configuration.clientQueryBufferLimit)
        save = NIOLockedValueBox(configuration.savePoints)
    }
}
