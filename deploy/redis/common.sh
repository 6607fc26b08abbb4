# Shared settings and helpers for deploy/redis/{up,down}.sh. Sourced, not run.
# shellcheck shell=bash disable=SC2034  # variables are used by the scripts that source this

REDIS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$REDIS_DIR/../.." && pwd)"
VAR_DIR="$REPO_ROOT/var/redis"
# A private port, so that a Redis the machine may already run on 6379 is left alone.
REDIS_PORT="${REDIS_PORT:-6390}"
REDIS_UP_TIMEOUT="${REDIS_UP_TIMEOUT:-30}"

log() { echo "redis: $*"; }
err() { echo "redis: ERROR: $*" >&2; }

installed() {
  command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1
}

# 0 when a Redis answers PING on localhost:$REDIS_PORT.
pong() {
  [[ "$(timeout 5 redis-cli -p "$REDIS_PORT" ping 2>/dev/null || true)" == "PONG" ]]
}

# 0 when something accepts TCP connections on localhost:$REDIS_PORT.
port_open() {
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$REDIS_PORT" 2>/dev/null
}
