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
# shellcheck source-path=SCRIPTDIR source=../lib/apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/apt.sh"
apt_install browser "$log_dir" chromium chromium-driver || exit 1
command -v chromium >/dev/null && command -v chromedriver >/dev/null || {
  err "installed, but chromium or chromedriver is still not on PATH"; exit 1; }
log "$(chromium --version 2>/dev/null | head -1)"
