#!/usr/bin/env bash
# Installs what is missing (utils/install-deps.sh, Debian 12), configures
# (once) and builds keyloom in ./build (release by default).
# Extra arguments go to `meson setup`, e.g. -Db_sanitize=address,undefined;
# on a build directory that exists already they go to `meson configure`, so
# an option asked for (such as -Dwerror=true) is always in force.
set -euo pipefail
cd "$(dirname "$0")/.."
./utils/install-deps.sh
BUILD_DIR="${BUILD_DIR:-build}"
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  # Release unless the caller names a build type (-Dbuildtype=debug ...).
  default=(--buildtype=release)
  for a in "$@"; do
    case "$a" in -Dbuildtype=* | --buildtype=* | --buildtype) default=() ;; esac
  done
  meson setup "$BUILD_DIR" "${default[@]}" "$@"
elif [ "$#" -gt 0 ]; then
  meson configure "$BUILD_DIR" "$@"
fi
ninja -C "$BUILD_DIR"
