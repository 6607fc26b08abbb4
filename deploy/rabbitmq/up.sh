#!/usr/bin/env bash
# Install (once, Debian's rabbitmq-server package), start and wait for a local RabbitMQ
# on localhost:5672 (guest/guest works from loopback). Idempotent: exits 0 at once when
# the node already answers. Needs root for the install step.
# Env: RABBITMQ_UP_TIMEOUT (s, default 120).
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
    err "rabbitmq-server is not installed and installing it needs root (apt-get)"
    exit 1
  fi
  local t0=$SECONDS
  export DEBIAN_FRONTEND=noninteractive
  local apt_opts=(-y -q -o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0)
  local policy
  policy="$(apt-cache policy rabbitmq-server 2>/dev/null || true)"
  if [[ ! "$policy" =~ Candidate:\ [0-9] ]]; then
    log "apt-get update"
    apt-get update -q -o DPkg::Lock::Timeout=300 >>"$VAR_DIR/apt.log" 2>&1 || {
      err "apt-get update failed (log: $VAR_DIR/apt.log)"; tail -n 20 "$VAR_DIR/apt.log" >&2; exit 1; }
  fi
  # The package would start the service itself (invoke-rc.d). There is no init system
  # to keep it, and we start it below anyway: forbid service starts during the install
  # unless the machine already has a policy (Debian container images ship one).
  if [[ ! -e "$POLICY_RC" ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$POLICY_RC"
    chmod 755 "$POLICY_RC"
    trap remove_policy_rc EXIT
  fi
  log "installing rabbitmq-server (apt-get)"
  apt-get install "${apt_opts[@]}" --no-install-recommends rabbitmq-server \
      >>"$VAR_DIR/apt.log" 2>&1 </dev/null || {
    err "apt-get install rabbitmq-server failed (log: $VAR_DIR/apt.log)"
    tail -n 30 "$VAR_DIR/apt.log" >&2
    exit 1
  }
  if [[ "$(trap -p EXIT)" == *remove_policy_rc* ]]; then
    remove_policy_rc
    trap - EXIT
  fi
  log "installed $(dpkg-query -W -f='${Version}' rabbitmq-server) in $((SECONDS - t0))s"
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
