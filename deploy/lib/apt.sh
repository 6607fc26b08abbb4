# apt_install TAG LOG_DIR PACKAGE...: install Debian packages once, for the scripts that
# start local services (RabbitMQ, Redis) or tools (Chromium). Sourced, not run.
#   - needs root; says so (and which packages) otherwise
#   - runs `apt-get update` only when a package has no install candidate yet
#   - forbids service starts during the install (policy-rc.d), unless the machine already
#     has a policy: there is no init system to keep a service, and the caller starts its
#     own instance (a package's own service would also take the default port)
# Output goes to LOG_DIR/apt.log; on failure its tail is printed.
# shellcheck shell=bash

apt_install() {
  local tag="$1" log_dir="$2"
  shift 2
  local pkgs=("$@") policy_rc=/usr/sbin/policy-rc.d placed_policy=0 t0=$SECONDS
  if [[ $EUID -ne 0 ]]; then
    echo "$tag: ERROR: ${pkgs[*]} not installed, and installing needs root (apt-get install ${pkgs[*]})" >&2
    return 1
  fi
  mkdir -p "$log_dir"
  export DEBIAN_FRONTEND=noninteractive
  local policy
  policy="$(apt-cache policy "${pkgs[@]}" 2>/dev/null || true)"
  if [[ "$(grep -c 'Candidate: [0-9]' <<<"$policy")" -lt ${#pkgs[@]} ]]; then
    echo "$tag: apt-get update"
    if ! apt-get update -q -o DPkg::Lock::Timeout=300 >>"$log_dir/apt.log" 2>&1; then
      echo "$tag: ERROR: apt-get update failed (log: $log_dir/apt.log)" >&2
      tail -n 20 "$log_dir/apt.log" >&2
      return 1
    fi
  fi
  if [[ ! -e "$policy_rc" ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy_rc"
    chmod 755 "$policy_rc"
    placed_policy=1
  fi
  echo "$tag: installing ${pkgs[*]} (apt-get)"
  local rc=0
  apt-get install -y -q -o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0 --no-install-recommends \
    "${pkgs[@]}" >>"$log_dir/apt.log" 2>&1 </dev/null || rc=$?
  if ((placed_policy)); then
    rm -f "$policy_rc"
  fi
  if ((rc != 0)); then
    echo "$tag: ERROR: apt-get install ${pkgs[*]} failed (log: $log_dir/apt.log)" >&2
    tail -n 30 "$log_dir/apt.log" >&2
    return 1
  fi
  echo "$tag: installed ${pkgs[*]} in $((SECONDS - t0))s"
}
