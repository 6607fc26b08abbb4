#!/usr/bin/env bash
# Install (once: Debian's docker.io, debootstrap and docker-compose) and start a Docker
# daemon, then wait until it answers. Idempotent: exits 0 at once when a daemon answers.
#   - no init system here: dockerd runs in the background in its own session;
#     pid in /var/run/docker.pid (dockerd's own), log in var/docker/dockerd.log
#   - --bridge=none --iptables=false: no docker0 bridge and no NAT rules on this machine;
#     containers run with --network host (tests talk to loopback only)
# Env: DOCKER_UP_TIMEOUT (s, default 60). Needs root for the install and the daemon.
set -euo pipefail
LOG_TAG=docker
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/apt.sh"

mkdir -p "$VAR_DIR"
exec 9>"$VAR_DIR/.up.lock"
flock -w $((DOCKER_UP_TIMEOUT + 600)) 9 || { err "another docker-up.sh holds $VAR_DIR/.up.lock"; exit 1; }

missing=()
[[ -x "$DOCKER" && -x "$DOCKERD" ]] || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
if ((${#missing[@]})); then
  apt_install docker "$VAR_DIR" "${missing[@]}" || exit 1
fi

if daemon_answers; then
  log "daemon already answers ($("$DOCKER" version -f '{{.Server.Version}}' 2>/dev/null))"
  exit 0
fi

if [[ -S /var/run/docker.sock ]] && pgrep -x dockerd >/dev/null 2>&1; then
  log "dockerd is running but does not answer yet; waiting"
else
  log "starting dockerd (--bridge=none --iptables=false; log: ${VAR_DIR#"$REPO_ROOT"/}/dockerd.log)"
  echo "=== $(date -u +%FT%TZ) start ===" >>"$VAR_DIR/dockerd.log"
  # 9>&-: the daemon must not inherit (and so keep holding) the lock.
  (exec 9>&-; exec setsid nohup "$DOCKERD" --bridge=none --iptables=false --ip-masq=false \
      >>"$VAR_DIR/dockerd.log" 2>&1 </dev/null) &
fi

t0=$SECONDS
until daemon_answers; do
  if ((SECONDS - t0 >= DOCKER_UP_TIMEOUT)); then
    err "the daemon did not answer after ${DOCKER_UP_TIMEOUT}s"
    tail -n 30 "$VAR_DIR/dockerd.log" >&2
    exit 1
  fi
  if ((SECONDS - t0 >= 5)) && ! pgrep -x dockerd >/dev/null 2>&1; then
    err "dockerd exited during startup"
    tail -n 30 "$VAR_DIR/dockerd.log" >&2
    exit 1
  fi
  sleep 1
done
log "ready after $((SECONDS - t0))s (server $("$DOCKER" version -f '{{.Server.Version}}'))"
