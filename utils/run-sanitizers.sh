#!/usr/bin/env bash
# The sanitizer runs of the test suite, one command each:
#
#   ./utils/run-sanitizers.sh asan    ASan+UBSan debug build (build-asan): every suite but fuzz
#   ./utils/run-sanitizers.sh tsan    ThreadSanitizer build (build-tsan, clang): the stress
#                                     suite and the integration suite in the threaded modes
#                                     (io-threads 4, plain and TLS), where I/O threads and
#                                     the executor run concurrently
#   ./utils/run-sanitizers.sh tsan-smoke
#                                     the TSan build on a bounded subset (CI runs this)
#
# The integration harness fails a test when the server's output holds any
# sanitizer report (tests/integration/klserver.py), so a clean run means no
# report at all. Extra arguments go to `meson test`.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-}"
shift || true
./utils/install-deps.sh
case "$mode" in
asan)
  BUILD_DIR=build-asan ./utils/build.sh -Db_sanitize=address,undefined -Dbuildtype=debug
  meson test -C build-asan --print-errorlogs --num-processes 2 --no-suite fuzz "$@"
  ;;
tsan | tsan-smoke)
  # Built with clang, as the README's TSan build; a report does not stop the
  # server (halt_on_error=0): the harness finds it in the server's output.
  CC=clang BUILD_DIR=build-tsan ./utils/build.sh -Db_sanitize=thread -Dbuildtype=debugoptimized
  export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=0 second_deadlock_stack=1}"
  # The stress programs (rings, channels, fair turns, outbound links) are
  # plain programs in TSan builds: Criterion cannot start under TSan.
  meson test -C build-tsan --print-errorlogs --num-processes 2 --suite stress
  if [ "$mode" = tsan ]; then
    meson test -C build-tsan --print-errorlogs --num-processes 2 \
      integration-plain-io4 integration-tls-io4 "$@"
  else
    # Connection handling, half-close, pub/sub pushes and their limits,
    # blocking and MULTI across threads: the paths where the executor and the
    # I/O threads hand clients over.
    PYTEST_ADDOPTS="${PYTEST_ADDOPTS:-} -k 'connection or halfclose or push or pubsub or blocking or multi'" \
      KEYLOOM_TEST_SLOW=0 \
      meson test -C build-tsan --print-errorlogs --num-processes 1 integration-tls-io4 "$@"
  fi
  ;;
*)
  echo "usage: $0 asan|tsan|tsan-smoke [meson test args]" >&2
  exit 2
  ;;
esac
