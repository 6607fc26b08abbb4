#!/usr/bin/env bash
# Install (once, Debian's redis-server package) and start a private Redis for the benchmark
# on localhost:$REDIS_PORT (default 6390), data and log under var/redis/, no persistence.
# Idempotent: exits 0 at once when it already answers PING. Needs root for the install.
# Env: REDIS_PORT, REDIS_UP_TIMEOUT (s, default 30).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

mkdir -p "$VAR_DIR"

# shellcheck source-path=SCRIPTDIR source=../lib/apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/apt.sh"

install_server() {
  installed || apt_install redis "$VAR_DIR" redis-server || exit 1
}

install_server
if pong; then
  log "already running on localhost:$REDIS_PORT"
  exit 0
fi
if port_open; then
  err "port $REDIS_PORT is taken by something that does not answer PING like Redis"
  exit 1
fi
log "starting on localhost:$REDIS_PORT (data: $VAR_DIR)"
# In-memory only (no RDB/AOF): the benchmark measures the sorted-set work, and a leaderboard
# kept in Redis is usually run this way, rebuilt from the event log on loss.
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$VAR_DIR" \
  --save '' --appendonly no --daemonize yes \
  --pidfile "$VAR_DIR/redis.pid" --logfile "$VAR_DIR/redis.log"
t0=$SECONDS
until pong; do
  if ((SECONDS - t0 >= REDIS_UP_TIMEOUT)); then
    err "no PONG on localhost:$REDIS_PORT after ${REDIS_UP_TIMEOUT}s"
    tail -n 20 "$VAR_DIR/redis.log" >&2 || true
    exit 1
  fi
  sleep 0.2
done
log "ready on localhost:$REDIS_PORT after $((SECONDS - t0))s"
