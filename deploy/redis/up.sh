#!/usr/bin/env bash
# Install (once, Debian's redis-server package) and start a private Redis for the benchmark
# on localhost:$REDIS_PORT (default 6390), data and log under var/redis/, no persistence.
# Idempotent: exits 0 at once when it already answers PING. Needs root for the install.
# Env: REDIS_PORT, REDIS_UP_TIMEOUT (s, default 30).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

mkdir -p "$VAR_DIR"

POLICY_RC=/usr/sbin/policy-rc.d
remove_policy_rc() { rm -f "$POLICY_RC"; }

install_server() {
  if installed; then
    return 0
  fi
  if [[ $EUID -ne 0 ]]; then
    err "redis-server is not installed and installing it needs root (apt-get)"
    exit 1
  fi
  local t0=$SECONDS
  export DEBIAN_FRONTEND=noninteractive
  local policy
  policy="$(apt-cache policy redis-server 2>/dev/null || true)"
  if [[ ! "$policy" =~ Candidate:\ [0-9] ]]; then
    log "apt-get update"
    apt-get update -q -o DPkg::Lock::Timeout=300 >>"$VAR_DIR/apt.log" 2>&1 || {
      err "apt-get update failed (log: $VAR_DIR/apt.log)"; tail -n 20 "$VAR_DIR/apt.log" >&2; exit 1; }
  fi
  # The package would start its own service on 6379 (invoke-rc.d): forbid service starts
  # during the install unless the machine already has a policy.
  if [[ ! -e "$POLICY_RC" ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$POLICY_RC"
    chmod 755 "$POLICY_RC"
    trap remove_policy_rc EXIT
  fi
  log "installing redis-server (apt-get)"
  apt-get install -y -q -o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0 --no-install-recommends \
      redis-server >>"$VAR_DIR/apt.log" 2>&1 </dev/null || {
    err "apt-get install redis-server failed (log: $VAR_DIR/apt.log)"
    tail -n 30 "$VAR_DIR/apt.log" >&2
    exit 1
  }
  if [[ "$(trap -p EXIT)" == *remove_policy_rc* ]]; then
    remove_policy_rc
    trap - EXIT
  fi
  log "installed $(dpkg-query -W -f='${Version}' redis-server) in $((SECONDS - t0))s"
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
