#!/usr/bin/env bash
# One command for the whole test suite: install what is missing, build, run
# the unit, stress and integration tests, then the fuzzers for a bounded time.
set -euo pipefail
cd "$(dirname "$0")/.."
./utils/install-deps.sh
./utils/build.sh
meson test -C build --print-errorlogs --num-processes 2 --no-suite fuzz

# libFuzzer targets need clang; they run in their own build directory.
FUZZ_SECONDS="${FUZZ_SECONDS:-30}"
if [ ! -f build-fuzz/build.ninja ]; then
  CC=clang meson setup build-fuzz --buildtype=debugoptimized -Dfuzz=true \
    -Dfuzz_seconds="$FUZZ_SECONDS" >/dev/null
fi
ninja -C build-fuzz >/dev/null
meson test -C build-fuzz --print-errorlogs --suite fuzz
