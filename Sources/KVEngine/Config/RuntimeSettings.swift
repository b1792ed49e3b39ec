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
    /// `client-output-buffer-limit`. Read under the lock only by a subscriber whose output has backed up (its channel
    /// is not writable), once per message, so the hot path never touches it.
    let outputBufferLimits: NIOLockedValueBox<OutputBufferLimits>
    /// `tls-*`: the files CONFIG SET last installed (the TLS layer has its own copy, as a built context).
    let tls: NIOLockedValueBox<TLSSettings>
    /// The server's TLS layer, which CONFIG SET of a `tls-*` setting reloads; nil without a TLS port.
    let tlsReloader = NIOLockedValueBox<(any TLSReloading)?>(nil)

    /// The longest string a command may build (`proto-max-bulk-len`).
    var maxStringLength: Int { protoMaxBulkLength.load(ordering: .relaxed) }

    init(_ configuration: ServerConfiguration) {
        maxClients = Synchronization.Atomic(configuration.maxClients)
        protoMaxBulkLength = Synchronization.Atomic(configuration.decoderLimits.maxBulkLength)
        clientQueryBufferLimit = Synchronization.Atomic(configuration.clientQueryBufferLimit)
        outputBufferLimits = NIOLockedValueBox(OutputBufferLimits(pubsub: configuration.pubsubOutputLimit))
        save = NIOLockedValueBox(configuration.savePoints)
        tls = NIOLockedValueBox(configuration.tls)
    }
}
