import KVStore
import Synchronization
import LevelDB

/// The fields of each INFO section, named as Redis names them so tools that parse INFO find them.
enum InfoSections {
    @Sendable static func server(_ context: InfoContext) -> [(String, String)] {
        let server = context.server
        let nowMicros = WallClock.microseconds()
        let uptime = (nowMicros / 1000 - server.startTime) / 1000
        #if os(Linux)
        let multiplexing = "epoll"
        #else
        let multiplexing = "kqueue"
        #endif
        return [
            ("redis_version", ServerInfo.redisVersion),
            ("redis_git_sha1", "00000000"),
            ("redis_git_dirty", "0"),
            ("redis_build_id", "0"),
            ("redis_mode", "standalone"),
            ("os", ProcessMetrics.operatingSystem),
            ("arch_bits", String(Int.bitWidth)),
            ("monotonic_clock", "POSIX clock_gettime"),
            ("multiplexing_api", multiplexing),
            ("atomicvar_api", "c11-builtin"),
            ("gcc_version", "0.0.0"),
            ("process_id", String(ProcessMetrics.processID)),
            ("process_supervised", "no"),
            ("run_id", server.runID),
            ("tcp_port", String(server.configuration.port)),
            ("server_time_usec", String(nowMicros)),
            ("uptime_in_seconds", String(uptime)),
            ("uptime_in_days", String(uptime / 86400)),
            ("hz", "10"),
            ("configured_hz", "10"),
            ("lru_clock", String((nowMicros / 1_000_000) & ((1 << 24) - 1))),
            ("executable", ProcessMetrics.executable),
            ("config_file", ""),
            ("io_threads_active", "0"),
            ("kvnode_version", ServerInfo.kvnodeVersion),
        ]
    }

    @Sendable static func clients(_ context: InfoContext) -> [(String, String)] {
        [
            ("connected_clients", String(context.server.clients.count)),
            ("cluster_connections", "0"),
            ("maxclients", String(context.server.settings.maxClients.load(ordering: .relaxed))),
            ("client_recent_max_input_buffer", "0"),
            ("client_recent_max_output_buffer", "0"),
            ("blocked_clients", String(context.server.clients.all.filter { $0.isPostponed.load(ordering: .relaxed) }.count)),
            ("tracking_clients", "0"),
            ("clients_in_timeout_table", "0"),
        ]
    }

    @Sendable static func memory(_ context: InfoContext) -> [(String, String)] {
        let used = ProcessMetrics.allocatedBytes()
        let peak = context.server.metrics.recordMemoryPeak(used)
        let rss = ProcessMetrics.residentBytes()
        let system = ProcessMetrics.totalSystemMemory()
        let levelDB = context.keyspace.databaseProperty("leveldb.approximate-memory-usage") ?? "0"
        let lua = context.server.lua.memoryBytes
        return [
            ("used_memory", String(used)),
            ("used_memory_human", MemoryAmount.human(used)),
            ("used_memory_rss", String(rss)),
            ("used_memory_rss_human", MemoryAmount.human(rss)),
            ("used_memory_peak", String(peak)),
            ("used_memory_peak_human", MemoryAmount.human(peak)),
            ("used_memory_peak_perc", DecimalText.format(peak > 0 ? Double(used) * 100 / Double(peak) : 0,
                                                         fractionDigits: 2) + "%"),
            ("total_system_memory", String(system)),
            ("total_system_memory_human", MemoryAmount.human(system)),
            ("used_memory_lua", String(lua)),
            ("used_memory_vm_eval", String(lua)),
            ("used_memory_lua_human", MemoryAmount.human(lua)),
            ("number_of_cached_scripts", String(context.server.lua.cachedScripts)),
            ("maxmemory", "0"),
            ("maxmemory_human", "0B"),
            ("maxmemory_policy", "noeviction"),
            ("mem_fragmentation_ratio", DecimalText.format(used > 0 ? Double(rss) / Double(used) : 0,
                                                           fractionDigits: 2)),
            ("mem_allocator", "libc"),
            ("leveldb_memory_usage", levelDB),
            // Redis's count of values UNLINK and FLUSHDB ASYNC left to free: here, the deleted collections whose
            // elements the background collector has not deleted yet, and those elements (estimated).
            ("lazyfree_pending_objects", String(context.keyspace.garbageCollections)),
            ("lazyfree_pending_elements", String(context.keyspace.garbageElements)),
        ]
    }

    @Sendable static func stats(_ context: InfoContext) -> [(String, String)] {
        let totals = context.totals
        let connections = context.server.metrics.connectionCounts
        let rates = context.server.metrics.rates.current
        let keyspace = context.keyspace
        let errors = context.server.metrics.errorTotals().reduce(0) { $0 + $1.count }
        return [
            ("total_connections_received", String(connections.received)),
            ("total_commands_processed", String(totals.commandsProcessed)),
            ("instantaneous_ops_per_sec", String(rates.operationsPerSecond)),
            ("total_net_input_bytes", String(totals[.netInputBytes])),
            ("total_net_output_bytes", String(totals[.netOutputBytes])),
            ("instantaneous_input_kbps", DecimalText.format(rates.inputKbps, fractionDigits: 2)),
            ("instantaneous_output_kbps", DecimalText.format(rates.outputKbps, fractionDigits: 2)),
            ("rejected_connections", String(connections.rejected)),
            ("sync_full", "0"),
            ("sync_partial_ok", "0"),
            ("sync_partial_err", "0"),
            ("expired_keys", String(context.server.keyspaceEvents.expiredKeys)),
            ("expired_stale_perc", "0.00"),
            ("expired_time_cap_reached_count", "0"),
            ("evicted_keys", "0"),
            ("evicted_clients", "0"),
            ("keyspace_hits", String(UInt64(keyspace.hits) + totals[.keyspaceHits])),
            ("keyspace_misses", String(UInt64(keyspace.misses) + totals[.keyspaceMisses])),
            ("pubsub_channels", String(context.server.pubsub.activeChannels(in: .channels, matching: nil).count)),
            ("pubsub_patterns", String(context.server.pubsub.patternCount)),
            ("pubsubshard_channels",
             String(context.server.pubsub.activeChannels(in: .shardChannels, matching: nil).count)),
            ("latest_fork_usec", "0"),
            ("total_forks", "0"),
            ("migrate_cached_sockets", "0"),
            ("tracking_total_keys", "0"),
            ("tracking_total_items", "0"),
            ("tracking_total_prefixes", "0"),
            ("unexpected_error_replies", "0"),
            ("total_error_replies", String(errors)),
            ("dump_payload_sanitizations", "0"),
            ("total_reads_processed", String(totals[.readsProcessed])),
            ("total_writes_processed", String(totals[.writesProcessed])),
            ("io_threaded_reads_processed", "0"),
            ("io_threaded_writes_processed", "0"),
            ("total_watched_keys", String(context.server.keyspaceEvents.watches.watchedKeyCount)),
        ]
    }

    @Sendable static func replication(_ context: InfoContext) -> [(String, String)] {
        [
            ("role", "master"),
            ("connected_slaves", "0"),
            ("master_failover_state", "no-failover"),
            ("master_replid", context.server.runID),
            ("master_replid2", String(repeating: "0", count: 40)),
            ("master_repl_offset", "0"),
            ("second_repl_offset", "-1"),
            ("repl_backlog_active", "0"),
            ("repl_backlog_size", "1048576"),
            ("repl_backlog_first_byte_offset", "0"),
            ("repl_backlog_histlen", "0"),
        ]
    }

    @Sendable static func cpu(_ context: InfoContext) -> [(String, String)] {
        let own = ProcessMetrics.cpuSeconds()
        let children = ProcessMetrics.cpuSeconds(children: true)
        return [
            ("used_cpu_sys", DecimalText.format(own.system, fractionDigits: 6)),
            ("used_cpu_user", DecimalText.format(own.user, fractionDigits: 6)),
            ("used_cpu_sys_children", DecimalText.format(children.system, fractionDigits: 6)),
            ("used_cpu_user_children", DecimalText.format(children.user, fractionDigits: 6)),
        ]
    }

    /// `cmdstat_<name>:calls=…,usec=…,usec_per_call=…,rejected_calls=…,failed_calls=…` for every command used.
    @Sendable static func commandStats(_ context: InfoContext) -> [(String, String)] {
        var fields: [(String, String)] = []
        for (slot, totals) in context.totals.commands.enumerated() where !totals.isEmpty {
            guard let spec = context.server.commandsBySlot[slot] else { continue }
            let usec = totals.nanoseconds / 1000
            let perCall = totals.calls > 0 ? Double(totals.nanoseconds) / 1000 / Double(totals.calls) : 0
            fields.append((
                "cmdstat_\(spec.fullName)",
                "calls=\(totals.calls),usec=\(usec),usec_per_call=\(DecimalText.format(perCall, fractionDigits: 2))"
                    + ",rejected_calls=\(totals.rejected),failed_calls=\(totals.failed)"
            ))
        }
        return fields
    }

    @Sendable static func errorStats(_ context: InfoContext) -> [(String, String)] {
        context.server.metrics.errorTotals().map { ("errorstat_\($0.code)", "count=\($0.count)") }
    }

    @Sendable static func keyspace(_ context: InfoContext) -> [(String, String)] {
        let keyspace = context.keyspace
        return keyspace.databasesWithKeys.map { database in
            let statistics = keyspace.statistics(ofDatabase: database)
            return (
                "db\(database)",
                "keys=\(statistics.keys),expires=\(statistics.expires),avg_ttl=\(statistics.averageTTL)"
            )
        }
    }
}
