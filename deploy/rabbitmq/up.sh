#!/usr/bin/env bash
# Install (once, Debian's rabbitmq-server package), start and wait for a local RabbitMQ
# on localhost:5672 (guest/guest works from loopback) and amqps://localhost:5671 (TLS,
# certificates of a local CA in var/rabbitmq/tls/, made once). Idempotent: exits 0 at once
# when the node already answers on both; a node without the TLS listener is restarted once.
# Needs root for the install step.
# Env: RABBITMQ_UP_TIMEOUT (s, default 120).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/tls.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/tls.sh"

mkdir -p "$VAR_DIR"

# shellcheck source-path=SCRIPTDIR source=../lib/apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/apt.sh"

install_server() {
  installed || apt_install rabbitmq "$VAR_DIR" rabbitmq-server || exit 1
}

# The TLS material (readable by the rabbitmq user) and the rendered config file.
ensure_tls() {
  tls_ensure "$TLS_DIR" "rankstream rabbitmq"
  chgrp rabbitmq "$TLS_DIR/server.key" && chmod 640 "$TLS_DIR/server.key"
  sed -e "s|@TLS_DIR@|$TLS_DIR|g" "$RABBIT_DIR/rabbitmq.conf" >"$RABBIT_CONFIG.tmp"
  mv "$RABBIT_CONFIG.tmp" "$RABBIT_CONFIG"
  chmod 644 "$RABBIT_CONFIG"
}

start_server() {
  log "starting"
  echo "=== $(date -u +%FT%TZ) start ===" >>"$VAR_DIR/rabbitmq-server.out"
  # Foreground server in its own session, detached from this shell; the package's
  # wrapper drops to the rabbitmq user by itself (su keeps RABBITMQ_CONFIG_FILE).
  (RABBITMQ_CONFIG_FILE="$RABBIT_CONFIG" setsid nohup rabbitmq-server \
    >>"$VAR_DIR/rabbitmq-server.out" 2>&1 </dev/null &)
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
ensure_tls
if node_answers; then
  if node_ready; then
    log "already running on localhost:$RABBIT_PORT and :$RABBIT_TLS_PORT (TLS)"
    exit 0
  fi
  if port_open && ! port_open "$RABBIT_TLS_PORT" &&
    timeout 30 rabbitmq-diagnostics -q check_running >/dev/null 2>&1; then
    log "restarting once to open the TLS listener on :$RABBIT_TLS_PORT"
    bash "$RABBIT_DIR/down.sh"
  else
    log "node is up but not ready yet; waiting"
    wait_ready
    exit 0
  fi
fi
if port_open; then
  err "port $RABBIT_PORT is taken by a process that is not this machine's RabbitMQ node"
  (ss -ltnp "sport = :$RABBIT_PORT" 2>/dev/null || true) >&2
  exit 1
fi
start_server
wait_ready
