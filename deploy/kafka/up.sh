#!/usr/bin/env bash
# Start the local single-node Kafka (KRaft broker+controller) on localhost:9092 and wait
# until it answers. Idempotent: exits 0 at once when a broker already answers there.
#   - fetches the jars once into deploy/kafka/lib/ (mvn, keyed by a hash of pom.xml)
#   - formats var/kafka/data once (kafka.tools.StorageTool)
#   - starts kafka.Kafka in the background; pid in var/kafka/kafka.pid, logs in var/kafka/logs/
#   - the shared broker also listens with SASL_SSL (SCRAM-SHA-512) on :9094 and mutual TLS
#     on :9095: certificates in var/kafka/tls/ (deploy/lib/tls.sh), the SCRAM user
#     "rankstream" with the password in var/kafka/sasl/rankstream.password, both made once;
#     a broker running without those listeners is restarted once to add them
# Env: KAFKA_UP_TIMEOUT (s, default 90), KAFKA_HEAP_OPTS (default "-Xms256m -Xmx1g");
# KAFKA_PORT, KAFKA_CONTROLLER_PORT, KAFKA_VAR_DIR for a private broker, KAFKA_SECURED
# (see common.sh).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/tls.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/tls.sh"

command -v "$JAVA" >/dev/null || { err "java not found (Java 17+ is needed)"; exit 1; }

check_java() {
  local v
  v="$("$JAVA" -version 2>&1 | head -n1 || true)"
  if [[ ! "$v" =~ version\ \"(1[7-9]|[2-9][0-9])[.\"] ]]; then
    err "Kafka 4.x needs Java 17 or newer; $JAVA says: $v"
    exit 1
  fi
}
mkdir -p "$VAR_DIR" "$LOG_DIR"

# One up.sh at a time (e.g. parallel make targets).
exec 9>"$VAR_DIR/.up.lock"
flock -w $((KAFKA_UP_TIMEOUT + 300)) 9 || { err "another deploy/kafka/up.sh holds $VAR_DIR/.up.lock"; exit 1; }

fetch_jars() {
  if jars_present; then
    return 0
  fi
  command -v mvn >/dev/null || { err "mvn not found: needed once to fetch the Kafka jars"; exit 1; }
  log "fetching jars with mvn (once; see deploy/kafka/pom.xml)"
  local t0=$SECONDS tmp="$VAR_DIR/lib.tmp" # under git-ignored var/
  rm -rf "$tmp"
  if ! (cd "$KAFKA_DIR" && mvn -B -ntp -Dstyle.color=never -f pom.xml \
      dependency:copy-dependencies -DoutputDirectory="$tmp" </dev/null >"$LOG_DIR/mvn-fetch.log" 2>&1); then
    rm -rf "$tmp"
    err "mvn could not fetch the Kafka jars (log: $LOG_DIR/mvn-fetch.log)"
    tail -n 40 "$LOG_DIR/mvn-fetch.log" >&2
    exit 1
  fi
  pom_hash >"$tmp/.stamp"
  rm -rf "$LIB_DIR"
  mv "$tmp" "$LIB_DIR"
  log "fetched $(find "$LIB_DIR" -name '*.jar' | wc -l) jars in $((SECONDS - t0))s"
}

render_config() {
  local files=("$KAFKA_DIR/server.properties")
  [[ "$KAFKA_SECURED" == 1 ]] && files+=("$KAFKA_DIR/secured.properties")
  cat "${files[@]}" | sed -e "s|@DATA_DIR@|$DATA_DIR|g" -e "s|@PORT@|$KAFKA_PORT|g" \
    -e "s|@CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" -e "s|@TLS_DIR@|$TLS_DIR|g" \
    -e "s|@SASL_SSL_PORT@|$KAFKA_SASL_SSL_PORT|g" -e "s|@SSL_PORT@|$KAFKA_SSL_PORT|g" \
    -e "s|@KEYSTORE_PASSWORD@|$KEYSTORE_PASSWORD|g" >"$CONFIG_FILE.tmp"
  mv "$CONFIG_FILE.tmp" "$CONFIG_FILE"
}

# The certificates, the broker's keystore and the SCRAM password, each made once.
ensure_secrets() {
  [[ "$KAFKA_SECURED" == 1 ]] || return 0
  tls_ensure "$TLS_DIR" "rankstream kafka"
  if [[ ! -s "$TLS_DIR/server.p12" || "$TLS_DIR/server.pem" -nt "$TLS_DIR/server.p12" ]]; then
    openssl pkcs12 -export -in "$TLS_DIR/server.pem" -inkey "$TLS_DIR/server.key" \
      -certfile "$TLS_DIR/ca.pem" -name localhost -passout "pass:$KEYSTORE_PASSWORD" \
      -out "$TLS_DIR/server.p12.tmp"
    mv "$TLS_DIR/server.p12.tmp" "$TLS_DIR/server.p12"
  fi
  if [[ ! -s "$SCRAM_PASSWORD_FILE" ]]; then
    mkdir -p "$SASL_DIR"
    chmod 700 "$SASL_DIR"
    (umask 077 && openssl rand -hex 24 >"$SCRAM_PASSWORD_FILE.tmp")
    mv "$SCRAM_PASSWORD_FILE.tmp" "$SCRAM_PASSWORD_FILE"
  fi
}

# What SCRAM_STAMP holds once the user exists: the user, its password and the data dir's
# own id (a re-formatted data dir has no users).
scram_want() {
  { echo "$SCRAM_USER"; cat "$SCRAM_PASSWORD_FILE"; grep '^directory.id=' "$DATA_DIR/meta.properties" 2>/dev/null; } |
    sha256sum | cut -d' ' -f1
}

# Create (or re-set) the SCRAM user on a running broker, unless the stamp says it is there.
ensure_scram_user() {
  [[ "$KAFKA_SECURED" == 1 ]] || return 0
  local want
  want="$(scram_want)"
  [[ -f "$SCRAM_STAMP" && "$(cat "$SCRAM_STAMP")" == "$want" ]] && return 0
  log "creating the SCRAM-SHA-512 user $SCRAM_USER"
  broker_answers # writes $TOOLS_CONFIG
  kafka_tool org.apache.kafka.tools.ConfigCommand --bootstrap-server "$KAFKA_BOOTSTRAP" \
    --command-config "$TOOLS_CONFIG" --alter --entity-type users --entity-name "$SCRAM_USER" \
    --add-config "SCRAM-SHA-512=[iterations=4096,password=$(cat "$SCRAM_PASSWORD_FILE")]" \
    >>"$LOG_DIR/scram.log" 2>&1 || { err "creating the SCRAM user failed"; tail -n 20 "$LOG_DIR/scram.log" >&2; exit 1; }
  echo "$want" >"$SCRAM_STAMP"
}

format_storage() {
  if [[ -f "$DATA_DIR/meta.properties" ]]; then
    return 0
  fi
  mkdir -p "$DATA_DIR"
  if [[ ! -s "$CLUSTER_ID_FILE" ]]; then
    kafka_tool kafka.tools.StorageTool random-uuid >"$CLUSTER_ID_FILE.tmp"
    mv "$CLUSTER_ID_FILE.tmp" "$CLUSTER_ID_FILE"
  fi
  log "formatting $DATA_DIR (cluster id $(cat "$CLUSTER_ID_FILE"))"
  local scram=()
  if [[ "$KAFKA_SECURED" == 1 ]]; then # the SCRAM user from the start (else: ensure_scram_user)
    scram=(--add-scram "SCRAM-SHA-512=[name=$SCRAM_USER,iterations=4096,password=$(cat "$SCRAM_PASSWORD_FILE")]")
  fi
  kafka_tool kafka.tools.StorageTool format --ignore-formatted "${scram[@]}" \
    -t "$(cat "$CLUSTER_ID_FILE")" -c "$CONFIG_FILE" >>"$LOG_DIR/format.log" 2>&1 || {
    err "formatting the storage failed"; tail -n 30 "$LOG_DIR/format.log" >&2; exit 1; }
  if [[ "$KAFKA_SECURED" == 1 ]]; then
    scram_want >"$SCRAM_STAMP"
  fi
}

start_broker() {
  log "starting (heap: $KAFKA_HEAP_OPTS, logs: ${LOG_DIR#"$REPO_ROOT"/})"
  echo "=== $(date -u +%FT%TZ) start ===" >>"$LOG_DIR/stdout.log"
  # shellcheck disable=SC2086  # KAFKA_HEAP_OPTS holds several options
  # 9>&-: the broker must not inherit (and so keep holding) the up.sh lock.
  (exec 9>&-; cd "$VAR_DIR" && exec setsid nohup "$JAVA" $KAFKA_HEAP_OPTS \
      -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
      -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true \
      -Dkafka.logs.dir="$LOG_DIR" -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.xml" \
      -cp "$LIB_DIR/*" kafka.Kafka "$CONFIG_FILE" \
      >>"$LOG_DIR/stdout.log" 2>&1 </dev/null) &
  echo $! >"$PID_FILE"
}

wait_ready() {
  local t0=$SECONDS pid started
  started="$(cat "$PID_FILE" 2>/dev/null || true)"
  while :; do
    pid="$(running_pid)"
    if [[ -z "$pid" && "$started" =~ ^[0-9]+$ ]] && pid_alive "$started"; then
      pid="$started" # forked but not yet exec'd into java: its command line is still bash's
    fi
    if [[ -z "$pid" ]]; then
      err "the broker process exited during startup"
      tail_logs
      exit 1
    fi
    if port_open && broker_answers; then
      log "ready on $KAFKA_BOOTSTRAP after $((SECONDS - t0))s (pid $pid)"
      return 0
    fi
    if ((SECONDS - t0 >= KAFKA_UP_TIMEOUT)); then
      err "not ready on $KAFKA_BOOTSTRAP after ${KAFKA_UP_TIMEOUT}s (pid $pid still running; stop it with deploy/kafka/down.sh)"
      tail_logs
      local folders
      folders=$(find "$DATA_DIR" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | wc -l)
      err "the broker loads $folders partition folders from $DATA_DIR at start; with many, give it longer (KAFKA_UP_TIMEOUT=600) or stop it and delete that folder (a fresh broker starts empty)"
      exit 1
    fi
    sleep 1
  done
}

pid="$(running_pid)"
if port_open; then
  fetch_jars # the probe runs Kafka's own admin tool
  if broker_answers; then
    if [[ "$KAFKA_SECURED" != 1 ]] || port_open "$KAFKA_SASL_SSL_PORT"; then
      ensure_secrets # a broker another checkout started: this one's password file
      ensure_scram_user
      log "already running on $KAFKA_BOOTSTRAP${pid:+ (pid $pid)}"
      exit 0
    fi
    if [[ -z "$pid" ]]; then
      err "the broker on $KAFKA_BOOTSTRAP has no secured listener on :$KAFKA_SASL_SSL_PORT and was not started by this repo; stop it, then run deploy/kafka/up.sh"
      exit 1
    fi
    log "restarting once to open the secured listeners (SASL_SSL :$KAFKA_SASL_SSL_PORT, SSL :$KAFKA_SSL_PORT)"
    bash "$KAFKA_DIR/down.sh"
    pid=""
  elif [[ -z "$pid" ]]; then
    err "port $KAFKA_PORT is taken by a process that does not answer as a Kafka broker"
    (ss -ltnp "sport = :$KAFKA_PORT" 2>/dev/null || true) >&2
    exit 1
  else
    log "pid $pid is still starting; waiting"
    wait_ready
    ensure_scram_user
    exit 0
  fi
fi
if [[ -n "$pid" ]]; then
  log "pid $pid is still starting; waiting"
  wait_ready
  ensure_scram_user
  exit 0
fi

check_java
fetch_jars
ensure_secrets
render_config
format_storage
start_broker
wait_ready
ensure_scram_user
