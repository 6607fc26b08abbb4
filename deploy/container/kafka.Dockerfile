# A single-node Kafka (KRaft, broker + controller) for deploy/compose.yaml: the jars that
# deploy/kafka/pom.xml resolves (deploy/kafka/up.sh fetches them into deploy/kafka/lib once),
# on Debian's Java 17. For a laptop trial only: PLAINTEXT, replication factor 1.
# Build: deploy/container/build.sh kafka   (context: the repository root)
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# hadolint ignore=DL3008
RUN --mount=type=secret,id=ca,target=/run/secrets/ca \
    ca=(); if [[ -s /run/secrets/ca ]]; then ca=(-o Acquire::https::CAInfo=/run/secrets/ca); fi; \
    mkdir -p /usr/share/man/man1 && apt-get "${ca[@]}" update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get "${ca[@]}" install -y -q --no-install-recommends openjdk-17-jre-headless \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10002 kafka \
 && useradd --system --uid 10002 --gid 10002 --home-dir /var/lib/kafka --shell /usr/sbin/nologin kafka \
 && install -d -o kafka -g kafka /var/lib/kafka
COPY deploy/kafka/lib/ /opt/kafka/lib/
COPY deploy/kafka/log4j2.xml deploy/kafka/tools-log4j2.xml /opt/kafka/
COPY deploy/container/kafka-start.sh /usr/local/bin/kafka-start
ENV KAFKA_PORT=9092 \
    KAFKA_CONTROLLER_PORT=9093 \
    KAFKA_ADVERTISED_HOST=localhost \
    KAFKA_HEAP_OPTS="-Xms256m -Xmx1g"
VOLUME ["/var/lib/kafka"]
USER 10002:10002
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/$KAFKA_PORT"]
ENTRYPOINT ["/usr/local/bin/kafka-start"]
