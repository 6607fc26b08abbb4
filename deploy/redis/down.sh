#!/usr/bin/env bash
# Stop the benchmark's private Redis (SHUTDOWN NOSAVE). Idempotent: exits 0 when it is not
# installed or not running.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

if ! installed; then
  log "not installed"
  exit 0
fi
if ! pong; then
  log "not running on localhost:$REDIS_PORT"
  exit 0
fi
redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
t0=$SECONDS
while pong; do
  if ((SECONDS - t0 >= 10)); then
    err "still answering after 10s"
    exit 1
  fi
  sleep 0.2
done
log "stopped"
