#!/usr/bin/env bash
# The image's entrypoint: kvnode-server on every interface with protected mode on, the default user's password
# taken from a secret file or the environment, and any arguments given to the container appended (e.g. TLS options).
#   KVNODE_REQUIREPASS_FILE  a file whose first line is the password (a Docker/Kubernetes secret); preferred
#   KVNODE_REQUIREPASS       the password itself; removed from the environment before the server starts
#   KVNODE_DATA              the data directory (/data)
# Without a password, protected mode refuses every connection that is not from inside the container.
# The password never reaches the server's command line (visible in ps) or environment: it is read from the secret
# file, or from standard input for the environment variable.
set -euo pipefail

args=(--bind 0.0.0.0 --port 6379 --protected-mode yes --data "${KVNODE_DATA:-/data}")
if [[ -n ${KVNODE_REQUIREPASS_FILE:-} ]]; then
    [[ -r $KVNODE_REQUIREPASS_FILE ]] || { echo "kvnode: cannot read KVNODE_REQUIREPASS_FILE=$KVNODE_REQUIREPASS_FILE" >&2; exit 1; }
    unset KVNODE_REQUIREPASS
    exec kvnode-server "${args[@]}" --requirepass-file "$KVNODE_REQUIREPASS_FILE" "$@"
elif [[ -n ${KVNODE_REQUIREPASS:-} ]]; then
    password=$KVNODE_REQUIREPASS
    unset KVNODE_REQUIREPASS
    exec kvnode-server "${args[@]}" --requirepass-file /dev/stdin "$@" <<<"$password"
else
    echo "kvnode: no KVNODE_REQUIREPASS_FILE or KVNODE_REQUIREPASS: protected mode will refuse connections from" \
        "outside the container" >&2
    exec kvnode-server "${args[@]}" "$@"
fi
