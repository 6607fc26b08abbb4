# RabbitMQ for deploy/compose.yaml: Debian's rabbitmq-server package (3.10), no plugins.
# For a laptop trial only (user guest/guest, which RabbitMQ admits from loopback only: the
# compose services share the host's network). Build: deploy/container/build.sh rabbitmq
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# hadolint ignore=DL3008
RUN --mount=type=secret,id=ca,target=/run/secrets/ca \
    ca=(); if [[ -s /run/secrets/ca ]]; then ca=(-o Acquire::https::CAInfo=/run/secrets/ca); fi; \
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d \
 && apt-get "${ca[@]}" update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get "${ca[@]}" install -y -q --no-install-recommends rabbitmq-server \
 && rm -rf /var/lib/apt/lists/* /usr/sbin/policy-rc.d /var/lib/rabbitmq/mnesia
# Ports and node name are settable, so it runs beside another RabbitMQ on the same host.
ENV RABBITMQ_NODE_PORT=5672 \
    RABBITMQ_DIST_PORT=25672 \
    ERL_EPMD_PORT=4369 \
    RABBITMQ_NODENAME=rabbit@localhost
VOLUME ["/var/lib/rabbitmq"]
# The package creates the user with whatever system uid is free: no number to give here.
# hadolint ignore=DL3066
USER rabbitmq
HEALTHCHECK --interval=10s --timeout=10s --start-period=60s --retries=3 \
  CMD ["rabbitmq-diagnostics", "-q", "check_port_connectivity"]
ENTRYPOINT ["/usr/lib/rabbitmq/bin/rabbitmq-server"]
