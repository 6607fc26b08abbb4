#!/usr/bin/env bash
# Install (once, Debian's rabbitmq-server package), start and wait for a local RabbitMQ
# on localhost:5672 (guest/guest works from loopback). Idempotent: exits 0 at once when
# the node already answers. Needs root for the install step.
# Env: RABBITMQ_UP_TIMEOUT (s, default 120).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

mkdir -p "$VAR_DIR"

# shellcheck source-path=SCRIPTDIR source=../lib/apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/apt.sh"

install_server() {
  installed || apt_install rabbitmq "$VAR_DIR" rabbitmq-server || exit 1
}

start_server() {
  log "starting"
  echo "=== $(date -u +%FT%TZ) start ===" >>"$VAR_DIR/rabbitmq-server.out"
  # Foreground server in its own session, detached from this shell; the package's
  # wrapper drops to the rabbitmq user by itself.
  (setsid nohup rabbitmq-server >>"$VAR_DIR/rabbitmq-server.out" 2>&1 </dev/null &)
}

wait_ready() {
  local t0=$SECONDS
  while :; do
    if node_ready; then
      log "ready on localhost:$RABBIT_PORT after $((SECONDS - t0))s"
      return 0
    fi
    if ((SECONDS - t0 >= RABBITMQ_UP_TIMEOUT)); then
      err "not ready on localhost:$RABBIT_PORT after ${RABBITMQ_UP_TIMEOUT}s"
      tail_logs
      exit 1
    fi
    if ((SECONDS - t0 >= 10)) && ! pgrep -u rabbitmq -x beam.smp >/dev/null 2>&1; then
      err "the server process exited during startup"
      tail_logs
      exit 1
    fi
    sleep 1
  done
}

install_server
if node_answers; then
  if node_ready; then
    log "already running on localhost:$RABBIT_PORT"
    exit 0
  fi
  log "node is up but not ready yet; waiting"
  wait_ready
  exit 0
fi
if port_open; then
  err "port $RABBIT_PORT is taken by a process that is not this machine's RabbitMQ node"
  (ss -ltnp "sport = :$RABBIT_PORT" 2>/dev/null || true) >&2
  exit 1
fi
start_server
wait_ready
