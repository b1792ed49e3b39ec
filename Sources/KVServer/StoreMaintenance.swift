import KVStore
import Logging
import NIOPosix
import ServiceLifecycle

/// Background upkeep of the store as a `Service`, on a thread of its own so no event loop or task waits for the
/// disk: with `medium` durability it flushes the write-ahead log once a second (as Redis's background fsync thread
/// does for `appendfsync everysec`) and at once when watch events wait for durability (`syncRequests`), trims the change log to its retention, and while the store cannot persist it
/// tries to recover once a second. It is the last service to stop, so the log is flushed after the last connection
/// closes.
public struct StoreMaintenance: Service {
    let store: Store
    let retention: ChangeLogRetention
    let syncRequests: AsyncStream<Void>?
    let logger: Logger

    /// - Parameter syncRequests: prompt fsyncs asked for between the periodic ones (`Engine.syncRequests`).
    public init(store: Store, retention: ChangeLogRetention, syncRequests: AsyncStream<Void>? = nil, logger: Logger) {
        self.store = store
        self.retention = retention
        self.syncRequests = syncRequests
        self.logger = logger
    }

    public func run() async throws {
        let thread = NIOThreadPool(numberOfThreads: 1)
        thread.start()
        await withTaskGroup(of: Void.self) { group in
            if let syncRequests {
                group.addTask {
                    for await _ in syncRequests {
                        try? await thread.runIfActive { self.syncLogged() }
                    }
                }
            }
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                // Woken by graceful shutdown too, so SIGTERM does not wait out the second.
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) }
                try? await thread.runIfActive { self.tick() }
            }
            group.cancelAll()
        }
        try? await thread.runIfActive { self.syncLogged() }
        try? await thread.shutdownGracefully()
    }

    private func tick() {
        if store.health.isFailing {
            if store.recover() {
                logger.notice("writes are accepted again: the data directory was reopened")
            } else if let reason = store.health.report.lastRecoveryError {
                logger.debug("cannot recover yet", metadata: ["reason": "\(reason)"])
            }
            return
        }
        // With `high` every reply waits for its own fsync; this one covers writes no client waits for (the expiry
        // sweeper's), so that what they owe watchers goes out within a second too.
        if store.durability != .low { syncLogged() }
        do { try store.trimChangeLog(retention) } catch {
            logger.error("change log trim failed", metadata: ["error": "\(error)"])
        }
    }

    private func syncLogged() {
        do { try store.syncIfNeeded() } catch {
            logger.error("fsync failed; writes are refused until the data directory can be reopened", metadata: ["error": "\(error)"])
        }
    }
}
