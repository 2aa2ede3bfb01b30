#!/usr/bin/env bash
# Fails when any git-tracked C source or header differs from what clang-format
# (with the repository's .clang-format) would write. Fix with:
#   git ls-files '*.c' '*.h' | xargs clang-format -i
set -euo pipefail
cd "$(dirname "$0")/.."
CLANG_FORMAT="${CLANG_FORMAT:-clang-format}"
if ! command -v "$CLANG_FORMAT" >/dev/null 2>&1; then
  echo "check-format: $CLANG_FORMAT not found (./utils/install-deps.sh installs it)" >&2
  exit 1
fi
files=()
while IFS= read -r -d '' f; do files+=("$f"); done < <(git ls-files -z -- '*.c' '*.h')
if [ "${#files[@]}" -eq 0 ]; then
  echo "check-format: no C files tracked" >&2
  exit 1
fi
if ! "$CLANG_FORMAT" --dry-run --Werror "${files[@]}"; then
  echo "check-format: the files above are not clang-formatted" >&2
  exit 1
fi
echo "check-format: ${#files[@]} files clean"
