# syntax=docker/dockerfile:1
# kvnode-server image. Build: docker build -t kvnode .   Run: docker compose up -d

# --- build -------------------------------------------------------------------------------------
# The Debian 12 variant of the Swift 6.3 image, so the binary's glibc matches the bookworm runtime
# (the default swift:6.3 tag is Ubuntu 24.04, whose newer glibc would not load on bookworm).
FROM swift:6.3-bookworm AS builder
RUN apt-get update \
 && apt-get install -y --no-install-recommends libleveldb-dev zlib1g-dev libxxhash-dev \
    liblua5.1-0-dev lua-cjson-dev lua-bitop-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Resolve packages in their own layer: source edits then don't refetch dependencies.
COPY Package.swift ./
RUN swift package resolve
# Tests/ too: Package.swift declares the test targets, and SwiftPM wants their folders present.
COPY Sources ./Sources
COPY Tests ./Tests
# Static Swift stdlib: the runtime image needs no Swift toolchain libraries.
RUN swift build -c release --static-swift-stdlib --product kvnode-server \
 && swift build -c release --static-swift-stdlib --product kvnode-dump \
 && install -D -m 0755 "$(swift build -c release --show-bin-path)/kvnode-server" /out/kvnode-server \
 && install -D -m 0755 "$(swift build -c release --show-bin-path)/kvnode-dump" /out/kvnode-dump

# --- runtime -----------------------------------------------------------------------------------
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libleveldb1d libstdc++6 zlib1g libxxhash0 \
    liblua5.1-0 lua-cjson lua-bitop \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /data --no-create-home kvnode \
 && mkdir -p /data && chown kvnode:kvnode /data
COPY --from=builder /out/kvnode-server /out/kvnode-dump /usr/local/bin/
COPY docker/entrypoint.sh /usr/local/bin/kvnode-entrypoint
# A new named volume copies /data's owner from the image, so the unprivileged user can write it.
USER kvnode
VOLUME /data
# 6379: RESP; 6380 by convention for the TLS port, when TLS options are given (README).
EXPOSE 6379 6380
# PING over bash's /dev/tcp: the slim image has no redis-cli. A server with a password answers -NOAUTH, which says it
# is up just as well; the loopback connection passes protected mode.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/6379 && printf 'PING\\r\\n' >&3 && IFS= read -r -t 2 reply <&3 && [[ $reply == +PONG* || $reply == -NOAUTH* ]]"]
# Every interface, protected mode on, the password from KVNODE_REQUIREPASS_FILE or KVNODE_REQUIREPASS (see
# docker/entrypoint.sh); arguments given to the container are appended.
ENTRYPOINT ["kvnode-entrypoint"]
CMD []
