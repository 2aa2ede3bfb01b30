#!/usr/bin/env bash
# One command for the whole test suite (and what CI runs): install what is
# missing, check formatting, build with warnings as errors, run the unit,
# stress and integration tests, then the fuzzers for a bounded time.
set -euo pipefail
cd "$(dirname "$0")/.."
./utils/install-deps.sh
./utils/check-format.sh
./utils/build.sh -Dwerror=true
meson test -C build --print-errorlogs --num-processes 2 --no-suite fuzz

# libFuzzer targets need clang; they run in their own build directory.
FUZZ_SECONDS="${FUZZ_SECONDS:-30}"
if [ ! -f build-fuzz/build.ninja ]; then
  CC=clang meson setup build-fuzz --buildtype=debugoptimized -Dfuzz=true -Dwerror=true \
    -Dfuzz_seconds="$FUZZ_SECONDS" >/dev/null
else
  meson configure build-fuzz -Dwerror=true -Dfuzz_seconds="$FUZZ_SECONDS" >/dev/null
fi
ninja -C build-fuzz >/dev/null
meson test -C build-fuzz --print-errorlogs --suite fuzz

# ThreadSanitizer smoke run (CI's bounded subset of ./utils/run-sanitizers.sh
# tsan): the ring stress program and the integration tests where clients move
# between the executor and the I/O threads (connections, half-close, pub/sub
# pushes, blocking, MULTI), TLS with io-threads 4. The full TSan run is
# documented in the README.
if [ "${KEYLOOM_SKIP_TSAN_SMOKE:-0}" != 1 ]; then
  ./utils/run-sanitizers.sh tsan-smoke
fi
