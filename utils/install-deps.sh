#!/usr/bin/env bash
# Installs every Debian package keyloom needs to build, test and benchmark.
# Safe to run repeatedly: it only calls apt-get when something is missing.
set -euo pipefail

PKGS=(
  build-essential meson ninja-build pkg-config clang clang-format libclang-rt-14-dev
  libuv1-dev libssl-dev openssl libjemalloc-dev libcriterion-dev
  python3 python3-redis python3-pytest
  redis-server redis-tools
  gnuplot-nox
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian starts redis-server as a service on install; keyloom's tests start
# their own reference servers on free ports, so the packaged one is not needed.
if command -v service >/dev/null 2>&1 && pgrep -x redis-server >/dev/null 2>&1; then
  service redis-server stop >/dev/null 2>&1 || true
fi
