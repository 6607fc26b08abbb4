#!/usr/bin/env bash
# Start the local single-node Kafka (KRaft broker+controller) on localhost:9092 and wait
# until it answers. Idempotent: exits 0 at once when a broker already answers there.
#   - fetches the jars once into deploy/kafka/lib/ (mvn, keyed by a hash of pom.xml)
#   - formats var/kafka/data once (kafka.tools.StorageTool)
#   - starts kafka.Kafka in the background; pid in var/kafka/kafka.pid, logs in var/kafka/logs/
# Env: KAFKA_UP_TIMEOUT (s, default 90), KAFKA_HEAP_OPTS (default "-Xms256m -Xmx1g");
# KAFKA_PORT, KAFKA_CONTROLLER_PORT, KAFKA_VAR_DIR for a private broker (see common.sh).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

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
  sed -e "s|@DATA_DIR@|$DATA_DIR|g" -e "s|@PORT@|$KAFKA_PORT|g" \
    -e "s|@CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" "$KAFKA_DIR/server.properties" >"$CONFIG_FILE.tmp"
  mv "$CONFIG_FILE.tmp" "$CONFIG_FILE"
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
  kafka_tool kafka.tools.StorageTool format --ignore-formatted \
    -t "$(cat "$CLUSTER_ID_FILE")" -c "$CONFIG_FILE" >>"$LOG_DIR/format.log" 2>&1 || {
    err "formatting the storage failed"; tail -n 30 "$LOG_DIR/format.log" >&2; exit 1; }
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
    log "already running on $KAFKA_BOOTSTRAP${pid:+ (pid $pid)}"
    exit 0
  fi
  if [[ -z "$pid" ]]; then
    err "port $KAFKA_PORT is taken by a process that does not answer as a Kafka broker"
    (ss -ltnp "sport = :$KAFKA_PORT" 2>/dev/null || true) >&2
    exit 1
  fi
  log "pid $pid is still starting; waiting"
  wait_ready
  exit 0
fi
if [[ -n "$pid" ]]; then
  log "pid $pid is still starting; waiting"
  wait_ready
  exit 0
fi

check_java
fetch_jars
render_config
format_storage
start_broker
wait_ready
