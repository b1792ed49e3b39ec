# shellcheck shell=bash
# Measurements of scripts/bench that start (or restart) servers of their own: durability, memory, restart.
# Sourced by scripts/bench after its helpers; not a script of its own. Each function records rows like the rest.

DURABLE_N=${DURABLE_N:-20000}
SETTLE_SECONDS=${SETTLE_SECONDS:-30}

# rss_mib PID [FIELD=VmRSS] : resident memory of a process in MiB, one decimal. RssAnon is its heap; RssFile counts
# mapped file pages, such as the LevelDB tables LevelDB reads through mmap (page cache the kernel can drop).
rss_mib() { awk -v f="${2:-VmRSS}:" '$1 == f { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

# rss_detail PID : "VmRSS MiB (anon A, file F)" for the log.
rss_detail() { echo "$(rss_mib "$1") MiB (anon $(rss_mib "$1" RssAnon), file $(rss_mib "$1" RssFile))"; }

# disk_mib DIR : space DIR takes on disk in MiB.
disk_mib() { du -sk "$1" | awk '{ printf "%.1f", $1 / 1024 }'; }

# wait_settled PID DIR : after a load, wait until kvnode's RSS and data directory stop changing (LevelDB's
# background flushes and compactions done): same figures for 2 s in a row, at most SETTLE_SECONDS.
wait_settled() {
    local pid=$1 dir=$2 last="" now="" stable=0 i
    for ((i = 0; i < SETTLE_SECONDS * 2; i++)); do
        now="$(rss_mib "$pid") $(disk_mib "$dir")"
        if [ "$now" = "$last" ]; then
            stable=$((stable + 1))
            [ "$stable" -ge 4 ] && { log "  settled after $((i / 2)) s (RSS MiB, disk MiB: $now)"; return 0; }
        else
            stable=0
        fi
        last=$now
        sleep 0.5
    done
    log "  still changing after ${SETTLE_SECONDS} s (RSS MiB, disk MiB: $now); measuring anyway"
}

# durability_high: SET throughput of a kvnode started with --durability high (an fsync before each read's replies)
# next to a Redis with --appendonly yes --appendfsync always, both fresh instances, DURABLE_N requests per run.
measure_durability_high() {
    local kv_port redis_port kv_pid redis_pid pipeline kv redis
    kv_port=$(free_port)
    start_kvnode kvnode-high "$kv_port" "$WORK/kvnode-high" --durability high
    kv_pid=$STARTED_PID
    redis_port=$(free_port)
    start_redis redis-aof "$redis_port" "$WORK/redis-aof" --save '' --appendonly yes --appendfsync always
    redis_pid=$STARTED_PID
    for pipeline in 16 1; do
        log "durability high: redis-benchmark -P $pipeline -t set (N=$DURABLE_N, clients=$CLIENTS)"
        kv=$(N=$DURABLE_N rb "$kv_port" -P "$pipeline" -t set) || log "kvnode run failed"
        redis=$(N=$DURABLE_N rb "$redis_port" -P "$pipeline" -t set) || log "redis run failed"
        record "SET fsync" "$pipeline" "$(csv_field "$kv" SET 2)" "$(csv_field "$redis" SET 2)"
    done
    stop_server "$kv_pid"
    stop_server "$redis_pid"
}

# memory: RSS after loading MASS_KEYS keys with 100-byte values into a fresh kvnode (default settings) and a fresh
# Redis (ratio target <= 0.5); then a kvnode with an 8 MiB block cache and a 4 MiB write buffer holding the same
# data (several times the cache on disk: the values are random, so Snappy cannot shrink them) serves random GETs
# from disk, and its RSS stays bounded.
measure_memory() {
    local file kv_port redis_port kv_pid redis_pid kv redis before after anon_before out rps value
    file=$(set_commands_file "$MASS_KEYS" 100 random)
    kv_port=$(free_port)
    start_kvnode kvnode-mem "$kv_port" "$WORK/kvnode-mem"
    kv_pid=$STARTED_PID
    redis_port=$(free_port)
    start_redis redis-mem "$redis_port" "$WORK/redis-mem" --save '' --appendonly no
    redis_pid=$STARTED_PID
    log "memory: loading $MASS_KEYS keys with 100-byte values into each (RSS before: kvnode $(rss_mib "$kv_pid")" \
        "MiB, redis $(rss_mib "$redis_pid") MiB)"
    if ! pipe_seconds "$kv_port" "$file" >/dev/null || ! pipe_seconds "$redis_port" "$file" >/dev/null; then
        log "cannot load the servers"; return 1
    fi
    wait_settled "$kv_pid" "$WORK/kvnode-mem"
    kv=$(rss_mib "$kv_pid")
    redis=$(rss_mib "$redis_pid")
    log "  RSS: kvnode $(rss_detail "$kv_pid"), data on disk $(disk_mib "$WORK/kvnode-mem") MiB;" \
        "redis $(rss_detail "$redis_pid"), used_memory" \
        "$(redis-cli -p "$redis_port" info memory | awk -F: '/^used_memory_human/ { print $2 }' | tr -d '\r')"
    record "RSS loaded 100B" "-" "$kv" "$redis" MiB
    record "RssAnon loaded" "-" "$(rss_mib "$kv_pid" RssAnon)" "$(rss_mib "$redis_pid" RssAnon)" MiB
    stop_server "$kv_pid"
    stop_server "$redis_pid"

    kv_port=$(free_port)
    start_kvnode kvnode-small "$kv_port" "$WORK/kvnode-small" --block-cache-mb 8 --write-buffer-mb 4
    kv_pid=$STARTED_PID
    log "memory, small cache (--block-cache-mb 8 --write-buffer-mb 4): loading the same $MASS_KEYS keys"
    pipe_seconds "$kv_port" "$file" >/dev/null || { log "cannot load kvnode"; return 1; }
    wait_settled "$kv_pid" "$WORK/kvnode-small"
    before=$(rss_mib "$kv_pid")
    anon_before=$(rss_mib "$kv_pid" RssAnon)
    log "  data on disk $(disk_mib "$WORK/kvnode-small") MiB, RSS before GETs $(rss_detail "$kv_pid");" \
        "redis-benchmark -t get -r $MASS_KEYS (N=$N, clients=$CLIENTS)"
    out=$(KEYSPACE=$MASS_KEYS rb "$kv_port" -P 1 -t get) || log "kvnode run failed"
    rps=$(csv_field "$out" GET 2)
    after=$(rss_mib "$kv_pid")
    value=$(redis-cli -p "$kv_port" get "key:$(printf '%012d' $((MASS_KEYS / 2)))" | tr -d '\n' | wc -c)
    log "  GET: $rps ops/s; RSS after $(rss_detail "$kv_pid"); a loaded key's value has $value bytes (100 expected)"
    record "GET 8MiB cache" 1 "$rps" "n/a"
    record "RSS 8MiB before" "-" "$before" "n/a" MiB
    record "RSS 8MiB after" "-" "$after" "n/a" MiB
    record "RssAnon 8MiB before" "-" "$anon_before" "n/a" MiB
    record "RssAnon 8MiB after" "-" "$(rss_mib "$kv_pid" RssAnon)" "n/a" MiB
    stop_server "$kv_pid"
}

# restart_kvnode : SIGTERM the bench's kvnode and start it again with the same command; sets RESTART_SECONDS (exec
# to the first PONG, polled with redis-cli every ~5 ms; start_server's poll sleeps 0.1 s) and KV_PID.
restart_kvnode() {
    local start stopped up pid i
    start=$(now_seconds)
    stop_server "$KV_PID"
    stopped=$(now_seconds)
    # shellcheck disable=SC2086
    "$BIN" --addr "127.0.0.1:$KV_PORT" --data "$WORK/kvnode-data" ${KVNODE_ARGS:-} >>"$WORK/kvnode.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    for ((i = 0; i < 6000; i++)); do  # 30 s at most
        [ "$(redis-cli -p "$KV_PORT" ping 2>/dev/null)" = "PONG" ] && break
        kill -0 "$pid" 2>/dev/null || { log "kvnode exited during restart; log:"; tail -n 20 "$WORK/kvnode.log" >&2; return 1; }
        sleep 0.005
    done
    up=$(now_seconds)
    KV_PID=$pid
    RESTART_SECONDS=$(awk -v s="$stopped" -v e="$up" 'BEGIN { printf "%.3f", e - s }')
    log "  SIGTERM to exit: $(awk -v s="$start" -v e="$stopped" 'BEGIN { printf "%.3f", e - s }') s;" \
        "exec to PONG: $RESTART_SECONDS s; dbsize after: $(redis-cli -p "$KV_PORT" dbsize)"
}

# restart: kvnode restarted with MASS_KEYS keys on disk (target: PONG < 1 s after exec), twice: the first start
# replays the write-ahead log the load left (LevelDB does not flush its memtable on close); the second finds it empty.
measure_restart() {
    local file
    if [ "$(redis-cli -p "$KV_PORT" dbsize)" -lt "$MASS_KEYS" ]; then
        file=$(mass_insert_file)
        log "restart: loading $MASS_KEYS keys into kvnode"
        pipe_seconds "$KV_PORT" "$file" >/dev/null || { log "cannot load kvnode"; return 1; }
    fi
    log "restart: kvnode with $(redis-cli -p "$KV_PORT" dbsize) keys, $(disk_mib "$WORK/kvnode-data") MiB on disk" \
        "($(find "$WORK/kvnode-data" -maxdepth 1 -name '*.log' -printf '%s\n' | awk '{ s += $1 } END { printf "%.1f", s / 1048576 }')" \
        "MiB of write-ahead log)"
    restart_kvnode || return 1
    record "restart to PONG" "-" "$RESTART_SECONDS" "n/a" s
    restart_kvnode || return 1
    record "restart again" "-" "$RESTART_SECONDS" "n/a" s
}
