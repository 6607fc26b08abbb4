#!/usr/bin/env bash
# Build images with BuildKit, from the repository root as context:
#   build.sh                  the rankstream image (tag $RANKSTREAM_IMAGE, default rankstream:dev)
#                             from dist/rankstream-*.whl (`make wheel`; `make image` runs it)
#   build.sh kafka rabbitmq   the compose file's Kafka and RabbitMQ (rankstream-kafka:dev,
#                             rankstream-rabbitmq:dev); kafka needs deploy/kafka/lib
#                             (`make kafka-up` fetches it once)
# Starts the daemon and builds the base image first when needed (both idempotent). Layers
# are cached: a rebuild with unchanged sources takes seconds. Each Dockerfile has its own
# <name>.dockerignore beside it, so only the files it copies are sent.
#   --network host: the build reaches the package registries the way this machine does
#   --secret id=ca: this machine's CA bundle for TLS downloads, mounted only into the RUN
#     steps that download (never stored in a layer); skipped when the file is absent
# Env: RANKSTREAM_IMAGE, CA_BUNDLE (default /etc/ssl/certs/ca-certificates.crt).
set -euo pipefail
LOG_TAG=image
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

bash "$CONTAINER_DIR/base-image.sh"

secret=()
if [[ -s "$CA_BUNDLE" ]]; then
  secret=(--secret "id=ca,src=$CA_BUNDLE")
fi
mkdir -p "$VAR_DIR"

build() {
  local name="$1" dockerfile="$2" tag="$3" t0=$SECONDS size
  log "building $tag (log: ${VAR_DIR#"$REPO_ROOT"/}/build-$name.log)"
  if ! DOCKER_BUILDKIT=1 "$DOCKER" build --network host --progress plain "${secret[@]}" \
      -f "$CONTAINER_DIR/$dockerfile" -t "$tag" "$REPO_ROOT" >"$VAR_DIR/build-$name.log" 2>&1; then
    err "docker build of $tag failed"
    tail -n 40 "$VAR_DIR/build-$name.log" >&2
    exit 1
  fi
  size="$("$DOCKER" image inspect -f '{{.Size}}' "$tag")"
  log "built $tag in $((SECONDS - t0))s: $((size / 1000000)) MB ($((size / 1048576)) MiB)"
}

(($#)) || set -- rankstream
for name in "$@"; do
  case "$name" in
    rankstream)
      # The image installs the wheel `make wheel` built (the engine core is compiled on the
      # host): exactly one, for the image's CPython 3.11 (Debian bookworm's python3).
      wheels=("$REPO_ROOT"/dist/rankstream-*.whl)
      if [[ ${#wheels[@]} -ne 1 || ! -f "${wheels[0]}" ]]; then
        err "need exactly one dist/rankstream-*.whl: run \`make image\` (it runs \`make wheel\`)"
        exit 1
      fi
      [[ "${wheels[0]}" == *-cp311-cp311-linux_x86_64.whl ]] || {
        err "${wheels[0]#"$REPO_ROOT"/} is not for CPython 3.11 on linux x86_64, the image's python3"
        exit 1
      }
      # An image of older sources than the tree's would test the wrong code.
      sources=(pyproject.toml rust-toolchain.toml streams schemas rust/Cargo.toml rust/Cargo.lock rust/src)
      newer="$(find "${sources[@]/#/$REPO_ROOT/}" -type f -newer "${wheels[0]}" \
        ! -name '*.pyc' ! -name '*.so' -print -quit)"
      if [[ -n "$newer" ]]; then
        err "${newer#"$REPO_ROOT"/} is newer than ${wheels[0]#"$REPO_ROOT"/}: run \`make wheel\` (\`make image\` does)"
        exit 1
      fi
      build rankstream Dockerfile "$IMAGE" ;;
    kafka)
      compgen -G "$REPO_ROOT/deploy/kafka/lib/kafka_2.13-*.jar" >/dev/null || {
        err "deploy/kafka/lib has no Kafka jars: run \`make kafka-up\` once (it fetches them)"
        exit 1
      }
      build kafka kafka.Dockerfile rankstream-kafka:dev ;;
    rabbitmq) build rabbitmq rabbitmq.Dockerfile rankstream-rabbitmq:dev ;;
    *) err "unknown image $name (rankstream, kafka, rabbitmq)"; exit 2 ;;
  esac
done
