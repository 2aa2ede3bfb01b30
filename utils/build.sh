#!/usr/bin/env bash
# Configures (once) and builds keyloom in ./build (release by default).
# Extra arguments go to `meson setup`, e.g. -Db_sanitize=address,undefined.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${BUILD_DIR:-build}"
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  # Release unless the arguments choose a build type (meson refuses both
  # --buildtype and -Dbuildtype).
  case " $* " in
    *" -Dbuildtype="* | *" --buildtype"*) meson setup "$BUILD_DIR" "$@" ;;
    *) meson setup "$BUILD_DIR" --buildtype=release "$@" ;;
  esac
fi
ninja -C "$BUILD_DIR"
