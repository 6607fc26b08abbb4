#!/usr/bin/env bash
# Entry point of the compose Kafka image (kafka.Dockerfile): writes a one-node KRaft config,
# formats the data volume once, then runs the broker in the foreground (logs in
# /var/lib/kafka/logs). Env: KAFKA_PORT, KAFKA_CONTROLLER_PORT, KAFKA_ADVERTISED_HOST,
# KAFKA_HEAP_OPTS.
set -euo pipefail
home=/var/lib/kafka
data="$home/data"
conf="$home/server.properties"
java_cp=(-cp '/opt/kafka/lib/*')
mkdir -p "$data" "$home/logs"
cat >"$conf" <<CONF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@localhost:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://:$KAFKA_PORT,CONTROLLER://localhost:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$KAFKA_ADVERTISED_HOST:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$data
metadata.log.dir=$data
auto.create.topics.enable=true
num.partitions=4
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
transaction.abort.timed.out.transaction.cleanup.interval.ms=10000
CONF
tool() {
  java -Xmx256m -XX:+UseSerialGC -Dlog4j2.configurationFile=/opt/kafka/tools-log4j2.xml \
    "${java_cp[@]}" "$@"
}
if [[ ! -f "$data/meta.properties" ]]; then
  echo "kafka: formatting $data"
  tool kafka.tools.StorageTool format -t "$(tool kafka.tools.StorageTool random-uuid)" -c "$conf"
fi
echo "kafka: starting on :$KAFKA_PORT (controller :$KAFKA_CONTROLLER_PORT)"
# shellcheck disable=SC2086  # KAFKA_HEAP_OPTS holds several options
exec java $KAFKA_HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
  -Dkafka.logs.dir="$home/logs" -Dlog4j2.configurationFile=/opt/kafka/log4j2.xml \
  "${java_cp[@]}" kafka.Kafka "$conf"
