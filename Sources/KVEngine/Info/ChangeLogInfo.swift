import KVStore

/// INFO's Changelog section: kvnode's revisions and the change log behind KV.WATCH, KV.HISTORY and KV.GET AT.
enum ChangeLogInfo {
    @Sendable static func fields(_ context: InfoContext) -> [(String, String)] {
        let keyspace = context.keyspace
        let retention = context.server.configuration.changeLogRetention
        return [
            ("revision", String(keyspace.revision)),
            ("oldest_revision", String(keyspace.oldestAvailableRevision)),
            ("change_log", keyspace.logsChanges ? "on" : "off"),
            ("change_log_bytes", String(keyspace.logBytes)),
            ("change_log_max_bytes", String(retention.maxBytes)),
            ("change_log_max_age_seconds", String(retention.maxAgeMilliseconds / 1000)),
            ("change_log_max_revisions", String(retention.maxRevisions)),
            ("kv_watchers", String(context.server.watchHub.count)),
        ]
    }
}
