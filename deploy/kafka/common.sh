# Shared settings and helpers for deploy/kafka/{up,down,reset}.sh. Sourced, not run.
# shellcheck shell=bash disable=SC2034  # variables are used by the scripts that source this

KAFKA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$KAFKA_DIR/../.." && pwd)"
LIB_DIR="$KAFKA_DIR/lib"
# Env (all optional; the defaults are the shared local broker): KAFKA_VAR_DIR, KAFKA_PORT,
# KAFKA_CONTROLLER_PORT. Another value of each starts a private broker next to it (the
# bridge's "Kafka stopped" test does), with the same jars in deploy/kafka/lib.
VAR_DIR="${KAFKA_VAR_DIR:-$REPO_ROOT/var/kafka}"
DATA_DIR="$VAR_DIR/data"
LOG_DIR="$VAR_DIR/logs"
PID_FILE="$VAR_DIR/kafka.pid"
CONFIG_FILE="$VAR_DIR/server.properties"
CLUSTER_ID_FILE="$VAR_DIR/cluster.id"
TOOLS_CONFIG="$VAR_DIR/tools.properties"

KAFKA_HOST=localhost
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_BOOTSTRAP="$KAFKA_HOST:$KAFKA_PORT"
# Secured listeners (deploy/kafka/secured.properties, docs/security.md): on by default for
# the shared broker on 9092 only, so private brokers of tests keep to their own ports.
# KAFKA_SECURED=1|0, KAFKA_SASL_SSL_PORT (9094), KAFKA_SSL_PORT (9095).
if [[ "$KAFKA_PORT" == 9092 ]]; then KAFKA_SECURED="${KAFKA_SECURED:-1}"; else KAFKA_SECURED="${KAFKA_SECURED:-0}"; fi
KAFKA_SASL_SSL_PORT="${KAFKA_SASL_SSL_PORT:-9094}"
KAFKA_SSL_PORT="${KAFKA_SSL_PORT:-9095}"
TLS_DIR="$VAR_DIR/tls"               # ca.pem (trust this), client.pem/.key (mutual TLS)
SASL_DIR="$VAR_DIR/sasl"
SCRAM_USER=rankstream
SCRAM_PASSWORD_FILE="$SASL_DIR/$SCRAM_USER.password" # generated once, 0600
SCRAM_STAMP="$VAR_DIR/.scram-user"   # which user/password/data dir the user was made for
KEYSTORE_PASSWORD=rankstream-local   # of the broker's own PKCS12 keystore (local CA only)
KAFKA_UP_TIMEOUT="${KAFKA_UP_TIMEOUT:-90}"
KAFKA_DOWN_TIMEOUT="${KAFKA_DOWN_TIMEOUT:-30}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx1g}"
JAVA="${JAVA:-java}"

log() { echo "kafka: $*"; }
err() { echo "kafka: ERROR: $*" >&2; }

# JVM command line for Kafka's command-line tool classes (small heap, quick start).
kafka_tool_cmd() {
  TOOL_CMD=("$JAVA" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true
    -Dlog4j2.configurationFile="$KAFKA_DIR/tools-log4j2.xml" -cp "$LIB_DIR/*")
}

# Run a Kafka tool class on the broker's class path: kafka_tool CLASS ARGS...
kafka_tool() {
  kafka_tool_cmd
  "${TOOL_CMD[@]}" "$@"
}

# 0 when something accepts TCP connections on localhost:${1:-$KAFKA_PORT}.
port_open() {
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/${1:-$KAFKA_PORT}" 2>/dev/null
}

# 0 when a Kafka broker answers admin requests on localhost:$KAFKA_PORT (lists topics).
broker_answers() {
  mkdir -p "$VAR_DIR"
  if [[ ! -f "$TOOLS_CONFIG" ]]; then
    printf '%s\n' 'request.timeout.ms=5000' 'default.api.timeout.ms=8000' \
      'socket.connection.setup.timeout.ms=2000' >"$TOOLS_CONFIG"
  fi
  kafka_tool_cmd
  timeout 20 "${TOOL_CMD[@]}" \
    org.apache.kafka.tools.TopicCommand --bootstrap-server "$KAFKA_BOOTSTRAP" \
    --command-config "$TOOLS_CONFIG" --list >/dev/null 2>&1
}

# PID of the broker this repo started, if it is still running (else empty).
running_pid() {
  local pid cmdline
  [[ -f "$PID_FILE" ]] || return 0
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  pid_alive "$pid" || return 0
  cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
  if [[ "$cmdline" == *" kafka.Kafka "* ]]; then
    echo "$pid"
  fi
}

# 0 while process $1 exists and is not a zombie.
pid_alive() {
  local state
  state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || true)"
  [[ -n "$state" && "$state" != Z ]]
}

jars_present() {
  [[ -f "$LIB_DIR/.stamp" ]] && [[ "$(cat "$LIB_DIR/.stamp")" == "$(pom_hash)" ]] \
    && compgen -G "$LIB_DIR/kafka_2.13-*.jar" >/dev/null
}

pom_hash() { sha256sum "$KAFKA_DIR/pom.xml" | cut -d' ' -f1; }

tail_logs() {
  local f
  for f in "$LOG_DIR/server.log" "$LOG_DIR/stdout.log"; do
    if [[ -s "$f" ]]; then
      echo "----- last lines of $f -----" >&2
      tail -n 40 "$f" >&2
    fi
  done
}
