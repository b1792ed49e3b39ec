import KVStore
import Logging
import ServiceLifecycle

/// Background upkeep of the store as a `Service`: with `medium` durability, fsyncs the write-ahead log once a second.
/// It is the last service to stop, so the store is synced after the last connection closes.
public struct StoreMaintenance: Service {
    let store: Store
    let logger: Logger

    public init(store: Store, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            // Woken by graceful shutdown too, so SIGTERM does not wait out the second.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) }
            if store.durability == .medium { syncLogged() }
        }
        syncLogged()
    }

    private func syncLogged() {
        do { try store.syncIfNeeded() } catch {
            logger.error("fsync failed", metadata: ["error": "\(error)"])
        }
    }
}
