#!/usr/bin/env bash
# One command for a new user: install what is missing, build, and run
# keyloom-server in the foreground with the default config.
set -euo pipefail
cd "$(dirname "$0")/.."
./utils/build.sh   # installs what is missing first
exec ./build/server/keyloom-server conf/keyloom.conf "$@"
