# Shared settings and helpers for deploy/container/*.sh. Sourced, not run.
# shellcheck shell=bash disable=SC2034  # variables are used by the scripts that source this

CONTAINER_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$CONTAINER_DIR/../.." && pwd)"
VAR_DIR="$REPO_ROOT/var/docker"
# Debian's docker.io CLI: it has BuildKit built in (RUN --mount=type=secret). Another
# `docker` earlier on PATH (e.g. /usr/local/bin) may lack buildx, so the path is explicit.
DOCKER="${DOCKER:-/usr/bin/docker}"
DOCKERD="${DOCKERD:-/usr/sbin/dockerd}"
DOCKER_UP_TIMEOUT="${DOCKER_UP_TIMEOUT:-60}"
BASE_IMAGE="${BASE_IMAGE:-debian:bookworm-slim}"
IMAGE="${RANKSTREAM_IMAGE:-rankstream:dev}"
CA_BUNDLE="${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"

log() { echo "${LOG_TAG:-container}: $*"; }
err() { echo "${LOG_TAG:-container}: ERROR: $*" >&2; }

# 0 when the daemon answers Debian's CLI.
daemon_answers() {
  timeout 10 "$DOCKER" info >/dev/null 2>&1
}

# 0 when the image (name:tag) exists in the local daemon.
image_present() {
  "$DOCKER" image inspect "$1" >/dev/null 2>&1
}
