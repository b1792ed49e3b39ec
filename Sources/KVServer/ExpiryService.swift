import KVEngine
import KVStore
import Logging
import ServiceLifecycle

/// Runs the store's `ExpirySweeper` as a `Service`: it starts with the server (its first pass removes keys that
/// expired while the server was down) and stops at graceful shutdown.
public struct ExpiryService: Service {
    let sweeper: ExpirySweeper
    let logger: Logger

    public init(store: Store, configuration: ServerConfiguration, logger: Logger) {
        sweeper = ExpirySweeper(
            store: store, interval: configuration.expirySweepInterval, chunkSize: configuration.expirySweepChunk)
        self.logger = logger
    }

    public func run() async throws {
        let (sweeper, logger) = (self.sweeper, self.logger)
        await cancelWhenGracefulShutdown {
            await sweeper.run { error in
                logger.error("expiry sweep failed", metadata: ["error": "\(error)"])
            }
        }
    }
}
