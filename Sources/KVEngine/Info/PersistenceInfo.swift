import KVStore

/// INFO's Persistence section. kvnode writes every change to LevelDB as it happens; the `rdb_` fields describe its
/// snapshots (SAVE, BGSAVE, SNAPSHOT and the `save` points), and there is no AOF.
enum PersistenceInfo {
    @Sendable static func fields(_ context: InfoContext) -> [(String, String)] {
        let snapshots = context.server.snapshots.status
        return [
            ("loading", "0"),
            ("async_loading", "0"),
            ("rdb_changes_since_last_save", String(context.server.keyChangesSinceLastSave(snapshots))),
            ("rdb_bgsave_in_progress", snapshots.isRunning ? "1" : "0"),
            ("rdb_last_save_time", String(snapshots.lastSave)),
            ("rdb_last_bgsave_status", snapshots.lastSucceeded ? "ok" : "err"),
            ("rdb_last_bgsave_time_sec", String(snapshots.lastDuration)),
            ("rdb_current_bgsave_time_sec", String(snapshots.currentDuration)),
            ("rdb_saves", String(snapshots.started)),
            ("aof_enabled", "0"),
            ("aof_rewrite_in_progress", "0"),
            ("aof_rewrite_scheduled", "0"),
            ("aof_last_rewrite_time_sec", "-1"),
            ("aof_current_rewrite_time_sec", "-1"),
            ("aof_last_bgrewrite_status", "ok"),
            ("aof_last_write_status", "ok"),
            ("kvnode_durability", "\(context.server.store.durability)"),
        ] + writeHealth(context.server.store.health.report)
    }

    /// Whether writes reach the disk: after a failed write or fsync, writes are refused (`-MISCONF`) until the data
    /// directory has been reopened on a disk with room.
    private static func writeHealth(_ report: PersistenceHealth.Report) -> [(String, String)] {
        [
            ("kvnode_write_status", report.failure == nil ? "ok" : "err"),
            ("kvnode_write_error", report.failure.map(singleLine) ?? ""),
            ("kvnode_write_failing_since", String(report.failingSince / 1000)),
            ("kvnode_write_failures", String(report.failures)),
            ("kvnode_write_recoveries", String(report.recoveries)),
            ("kvnode_write_last_recovery_error", report.lastRecoveryError.map(singleLine) ?? ""),
        ]
    }

    /// INFO is one `field:value` per line: an error text keeps to one.
    private static func singleLine(_ text: String) -> String {
        String(text.map { $0 == "\r" || $0 == "\n" ? " " : $0 })
    }
}
