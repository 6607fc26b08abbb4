# Shared settings and helpers for deploy/rabbitmq/{up,down}.sh. Sourced, not run.
# shellcheck shell=bash disable=SC2034  # variables are used by the scripts that source this

RABBIT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$RABBIT_DIR/../.." && pwd)"
VAR_DIR="$REPO_ROOT/var/rabbitmq"
RABBIT_PORT=5672
# TLS listener (amqps://localhost:5671) with certificates of a local CA (deploy/lib/tls.sh):
# clients trust var/rabbitmq/tls/ca.pem; client.pem/.key for mutual TLS (optional).
RABBIT_TLS_PORT=5671
TLS_DIR="$VAR_DIR/tls"
RABBIT_CONFIG="$VAR_DIR/rabbitmq.conf" # rendered from deploy/rabbitmq/rabbitmq.conf
RABBITMQ_UP_TIMEOUT="${RABBITMQ_UP_TIMEOUT:-120}"
RABBITMQ_DOWN_TIMEOUT="${RABBITMQ_DOWN_TIMEOUT:-60}"

log() { echo "rabbitmq: $*"; }
err() { echo "rabbitmq: ERROR: $*" >&2; }

installed() {
  command -v rabbitmqctl >/dev/null 2>&1 && command -v rabbitmq-server >/dev/null 2>&1 &&
    [[ "$(dpkg-query -W -f='${Status}' rabbitmq-server 2>/dev/null || true)" == *"ok installed"* ]]
}

# 0 when something accepts TCP connections on localhost:${1:-5672}.
port_open() {
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/${1:-$RABBIT_PORT}" 2>/dev/null
}

# 0 when the local RabbitMQ node answers (Erlang distribution is up).
node_answers() {
  timeout 20 rabbitmq-diagnostics -q ping >/dev/null 2>&1
}

# 0 when the node is fully booted and its AMQP listeners (plain and TLS) accept connections.
node_ready() {
  port_open && port_open "$RABBIT_TLS_PORT" &&
    timeout 30 rabbitmq-diagnostics -q check_running >/dev/null 2>&1 &&
    timeout 30 rabbitmq-diagnostics -q check_port_connectivity >/dev/null 2>&1
}

tail_logs() {
  local f
  for f in "$VAR_DIR/rabbitmq-server.out" /var/log/rabbitmq/rabbit@*.log; do
    if [[ -s "$f" ]]; then
      echo "----- last lines of $f -----" >&2
      tail -n 30 "$f" >&2
    fi
  done
}
