import KVEngine
import ServiceLifecycle

/// Takes a snapshot by itself when a `save` point is reached, as Redis's serverCron does: ten times a second (Redis's
/// default `hz`) it asks the engine whether a save point is due (`Engine.saveIfDue`).
public struct SavePointService: Service {
    let engine: Engine
    /// How often the save points are checked.
    static let checkInterval = Duration.milliseconds(100)

    public init(engine: Engine) {
        self.engine = engine
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            // Woken by graceful shutdown too, so SIGTERM does not wait out the interval.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: Self.checkInterval) }
            if Task.isShuttingDownGracefully || Task.isCancelled { break }
            engine.saveIfDue()
        }
    }
}
