#!/usr/bin/env bash
# Build the base image debian:bookworm-slim locally, only when the daemon lacks it: no
# container registry is reachable from these machines, so the Dockerfile's FROM must find
# the image here. `debootstrap --variant=minbase bookworm` (~30 s) from the Debian mirror
# this machine's apt already uses, trimmed like Debian's own slim image (no docs, man
# pages or locales), then `tar | docker import`.
# The mirror is read at build time from the host's apt sources, so no repository file names
# a registry host; the host's Debian sources files are copied into the image, so `apt-get`
# in the Dockerfile reaches the same mirror (and the security suite) as the host.
# Env: BASE_IMAGE (default debian:bookworm-slim), DEBIAN_MIRROR (default: from apt sources).
set -euo pipefail
LOG_TAG=base-image
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

bash "$CONTAINER_DIR/docker-up.sh" >/dev/null

mkdir -p "$VAR_DIR"
exec 8>"$VAR_DIR/.base.lock"
flock -w 900 8 || { err "another base-image.sh holds $VAR_DIR/.base.lock"; exit 1; }

if image_present "$BASE_IMAGE"; then
  log "$BASE_IMAGE already present"
  exit 0
fi

# The host's Debian sources: deb822 files and one-line lists, those naming bookworm.
debian_sources() {
  grep -lE '^(Suites:.*\bbookworm\b|deb .*\sbookworm\s)' \
    /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list /etc/apt/sources.list \
    2>/dev/null || true
}

# The first mirror URI serving the plain bookworm suite.
host_mirror() {
  local f
  for f in $(debian_sources); do
    if [[ "$f" == *.sources ]]; then
      awk '/^URIs:/ {uri=$2} /^Suites:/ {for (i=2; i<=NF; i++) if ($i=="bookworm") {print uri; exit}}
           /^$/ {uri=""}' "$f"
    else
      awk '$1=="deb" && $3=="bookworm" {print $2; exit}' "$f"
    fi
  done | head -n1
}

mirror="${DEBIAN_MIRROR:-$(host_mirror)}"
if [[ -z "$mirror" ]]; then
  err "no Debian mirror for bookworm in /etc/apt/sources.list{,.d/*} (set DEBIAN_MIRROR)"
  exit 1
fi
command -v debootstrap >/dev/null || { err "debootstrap missing (deploy/container/docker-up.sh installs it)"; exit 1; }

root="$VAR_DIR/rootfs"
rm -rf "$root"
mkdir -p "$root"
t0=$SECONDS
log "debootstrap --variant=minbase bookworm (log: ${VAR_DIR#"$REPO_ROOT"/}/debootstrap.log)"
if ! debootstrap --variant=minbase bookworm "$root" "$mirror" >"$VAR_DIR/debootstrap.log" 2>&1; then
  err "debootstrap failed"
  tail -n 30 "$VAR_DIR/debootstrap.log" >&2
  tail -n 30 "$root/debootstrap/debootstrap.log" >&2 2>/dev/null || true
  exit 1
fi

# Slim it the way Debian's docker images are: dpkg skips docs from now on, and apt cleans
# its caches after every install.
cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
CFG
cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'CFG'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CFG
printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
  >"$root/etc/apt/apt.conf.d/docker-no-recommends"
find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$root"/usr/share/{man,groff,info,lintian,linda,locale}/* \
  "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/var/log/*.log \
  "$root"/var/log/apt/* "$root/debootstrap"
# apt in the image uses the host's sources (same mirror, plus updates and security).
rm -f "$root/etc/apt/sources.list"
for f in $(debian_sources); do
  cp "$f" "$root/etc/apt/sources.list.d/"
done

log "importing as $BASE_IMAGE"
tar --numeric-owner -C "$root" -c . |
  "$DOCKER" import --change 'CMD ["bash"]' - "$BASE_IMAGE" >/dev/null
rm -rf "$root"
log "built $BASE_IMAGE in $((SECONDS - t0))s ($("$DOCKER" image inspect -f '{{.Size}}' "$BASE_IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))"
