import KVEngine
import KVStore
import Logging
import ServiceLifecycle

/// Runs the store's `GarbageCollector` as a `Service`: the elements of deleted collections (DEL, UNLINK, FLUSHDB,
/// expiry, overwrites of a hash or set of any size) are deleted in the background, a chunk per lease, after the
/// command that dropped them answered in O(1). Its first pass at start-up finishes what a previous run left.
public struct GarbageCollectionService: Service {
    let collector: GarbageCollector
    let logger: Logger

    public init(store: Store, configuration: ServerConfiguration, logger: Logger) {
        collector = GarbageCollector(store: store, interval: configuration.expirySweepInterval)
        self.logger = logger
    }

    public func run() async throws {
        let (collector, logger) = (self.collector, self.logger)
        await cancelWhenGracefulShutdown {
            await collector.run { error in
                logger.error("collecting deleted collections failed", metadata: ["error": "\(error)"])
            }
        }
    }
}
