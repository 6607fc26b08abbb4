#!/usr/bin/env bash
# Stop the local RabbitMQ node (rabbitmqctl shutdown: waits until the Erlang VM exits).
# Idempotent: exits 0 when it is not installed or not running. Data is kept.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

if ! installed; then
  log "not installed"
  exit 0
fi
if ! node_answers; then
  log "not running"
  exit 0
fi
log "stopping"
t0=$SECONDS
if ! timeout "$RABBITMQ_DOWN_TIMEOUT" rabbitmqctl -q shutdown >/dev/null 2>&1; then
  timeout "$RABBITMQ_DOWN_TIMEOUT" rabbitmqctl -q stop >/dev/null 2>&1 || true
fi
if node_answers; then
  err "still running after ${RABBITMQ_DOWN_TIMEOUT}s"
  exit 1
fi
log "stopped after $((SECONDS - t0))s"
