#!/usr/bin/env bash
# Headless Chromium and its WebDriver for the browser test (tests/e2e), from Debian's
# packages `chromium` and `chromium-driver`. Idempotent: does nothing when both are there.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
log_dir="$root/var/browser"
mkdir -p "$log_dir"

log() { echo "browser: $*"; }
err() { echo "browser: ERROR: $*" >&2; }

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi
if [[ $EUID -ne 0 ]]; then
  err "chromium/chromium-driver are missing and installing them needs root (apt-get install chromium chromium-driver)"
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt_opts=(-y -q -o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0)
policy="$(apt-cache policy chromium-driver 2>/dev/null || true)"
if [[ ! "$policy" =~ Candidate:\ [0-9] ]]; then
  log "apt-get update"
  apt-get update -q -o DPkg::Lock::Timeout=300 >>"$log_dir/apt.log" 2>&1 || {
    err "apt-get update failed (log: $log_dir/apt.log)"; tail -n 20 "$log_dir/apt.log" >&2; exit 1; }
fi
t0=$SECONDS
log "installing chromium and chromium-driver (apt-get; a few minutes the first time)"
apt-get install "${apt_opts[@]}" --no-install-recommends chromium chromium-driver \
    >>"$log_dir/apt.log" 2>&1 </dev/null || {
  err "apt-get install chromium chromium-driver failed (log: $log_dir/apt.log)"
  tail -n 30 "$log_dir/apt.log" >&2
  exit 1
}
command -v chromium >/dev/null && command -v chromedriver >/dev/null || {
  err "installed, but chromium or chromedriver is still not on PATH"; exit 1; }
log "installed in $((SECONDS - t0)) s: $(chromium --version 2>/dev/null | head -1)"
