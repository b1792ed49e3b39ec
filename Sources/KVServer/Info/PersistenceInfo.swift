import KVStore

/// INFO's Persistence section. kvnode writes every change to LevelDB as it happens, so there is no RDB save or AOF
/// rewrite in progress, ever; the fields are Redis's, with the values that say so.
enum PersistenceInfo {
    @Sendable static func fields(_ context: InfoContext) -> [(String, String)] {
        [
            ("loading", "0"),
            ("async_loading", "0"),
            ("rdb_changes_since_last_save", "0"),
            ("rdb_bgsave_in_progress", "0"),
            ("rdb_last_save_time", String(context.server.startTime / 1000)),
            ("rdb_last_bgsave_status", "ok"),
            ("rdb_last_bgsave_time_sec", "-1"),
            ("rdb_current_bgsave_time_sec", "-1"),
            ("aof_enabled", "0"),
            ("aof_rewrite_in_progress", "0"),
            ("aof_rewrite_scheduled", "0"),
            ("aof_last_rewrite_time_sec", "-1"),
            ("aof_current_rewrite_time_sec", "-1"),
            ("aof_last_bgrewrite_status", "ok"),
            ("aof_last_write_status", "ok"),
            ("kvnode_durability", "\(context.server.store.durability)"),
        ]
    }
}
