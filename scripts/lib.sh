#!/usr/bin/env bash
# Shared helpers for scripts/*. Source it: . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# Sets REPO_ROOT so callers work from any cwd.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export REPO_ROOT

# CI runs with no stdin and no TTY: never let apt or pip prompt.
export DEBIAN_FRONTEND=noninteractive PIP_NO_INPUT=1 PIP_DISABLE_PIP_VERSION_CHECK=1

# Debian packages the Swift build links against: CLevelDB -> libleveldb, CZlib (snapshots' gzip) -> zlib,
# CXXHash (DIGEST and SET IFDEQ/IFDNE's XXH3) -> libxxhash, CLua (scripts) -> Lua 5.1 with cjson and bit.
BUILD_PACKAGES=(libleveldb-dev zlib1g-dev libxxhash-dev liblua5.1-0-dev lua-cjson-dev lua-bitop-dev)

log() { printf '==> %s\n' "$*" >&2; }

# Run as root directly; fall back to sudo for non-root developers.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo env DEBIAN_FRONTEND=noninteractive "$@"; fi
}

# ensure_apt PKG... : install only the missing Debian packages; `apt-get update`
# runs once per shell, and only when something is actually missing (keeps warm runs fast).
_APT_UPDATED=${_APT_UPDATED:-}
ensure_apt() {
    local missing=() p
    for p in "$@"; do
        [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" = 'install ok installed' ] || missing+=("$p")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    log "installing missing Debian packages: ${missing[*]}"
    if [ -z "$_APT_UPDATED" ]; then
        as_root apt-get update -qq || return 1
        _APT_UPDATED=1
    fi
    as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# free_port : print a TCP port that is free on 127.0.0.1 right now (the kernel picks it).
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_for_port PORT [TIMEOUT_SECONDS=30] [PID] : poll with PING until PONG.
# Bounded so a server that never comes up fails the caller instead of hanging CI;
# with PID, gives up at once if that process has died.
wait_for_port() {
    local port=$1 timeout=${2:-30} pid=${3:-} i
    for ((i = 0; i < timeout * 10; i++)); do  # >= 0.1 s per try
        if [ "$(timeout 2 redis-cli -p "$port" ping 2>/dev/null)" = "PONG" ]; then
            return 0
        fi
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
            log "process $pid exited before port $port answered PING"
            return 1
        fi
        sleep 0.1
    done
    log "port $port did not answer PING within ${timeout}s"
    return 1
}

# ensure_venv : $REPO_ROOT/.venv with the Python test dependencies; exports VENV_PY.
# pip runs only when a requirement is missing, so repeated runs stay offline and fast.
ensure_venv() {
    local venv="$REPO_ROOT/.venv"
    # A half-created venv (interrupted run) has no working interpreter: rebuild it.
    if ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
        # Debian's python3 ships venv/ensurepip separately, in python3-venv.
        if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
            ensure_apt python3-venv || return 1
        fi
        log "creating $venv"
        rm -rf "$venv"
        python3 -m venv "$venv" || return 1
    fi
    VENV_PY="$venv/bin/python"
    export VENV_PY
    if ! "$VENV_PY" - >/dev/null 2>&1 <<'PY'
from importlib.metadata import version
assert int(version("redis").split(".")[0]) >= 8
for pkg in ("hiredis", "pytest", "pytest-timeout", "celery", "kombu", "limits"):
    version(pkg)
PY
    then
        log "installing Python test dependencies into $venv"
        # celery and kombu: Tests/python/test_celery.py runs a real worker against the server; limits: the rate
        # limiter behind Flask-Limiter and slowapi, an unchanged application of Lua scripts.
        "$VENV_PY" -m pip install -q 'redis>=8' hiredis pytest pytest-timeout celery kombu limits >&2
    fi
}
