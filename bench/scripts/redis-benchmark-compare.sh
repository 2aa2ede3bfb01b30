#!/usr/bin/env bash
# The core issue's benchmark: redis-benchmark against keyloom (io-threads 1
# and 2) and Debian's redis-server, same machine, same run, interleaved.
#
#   bench/scripts/redis-benchmark-compare.sh [REPEATS] [REQUESTS]
#
# TESTS (default set,get) picks redis-benchmark's -t tests, e.g.
# TESTS=lpush,lpop,sadd,hset,spop,zadd,zpopmin,lrange_100; SERVERS (default
# "keyloom-io1 keyloom-io2 redis-7.0") which servers to start.
#
# Prints one line per (server, pipeline, test, repeat) and a median summary.
# Servers listen on free loopback ports and are stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPEATS="${1:-3}"
N="${2:-200000}"
KEYLOOM="${KEYLOOM:-./build/server/keyloom-server}"
REDIS="${REDIS:-/usr/bin/redis-server}"
OUT="${OUT:-bench/results/redis-benchmark-$(date +%Y%m%d-%H%M%S).csv}"
mkdir -p "$(dirname "$OUT")"

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

pids=()
cleanup() { for p in "${pids[@]:-}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

servers=()
start() { # name binary extra-args... (appends "name port" to servers)
  local name=$1 bin=$2; shift 2
  local port; port=$(free_port)
  "$bin" --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
    --logfile /dev/null "$@" </dev/null >/dev/null 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  servers+=("$name $port")
}

TESTS="${TESTS:-set,get}"
SERVERS="${SERVERS:-keyloom-io1 keyloom-io2 redis-7.0}"
for s in $SERVERS; do
  case $s in
    keyloom-io1) start keyloom-io1 "$KEYLOOM" --io-threads 1 ;;
    keyloom-io2) start keyloom-io2 "$KEYLOOM" --io-threads 2 ;;
    redis-7.0) start redis-7.0 "$REDIS" ;;
    *) echo "unknown server $s" >&2; exit 2 ;;
  esac
done

echo "server,pipeline,test,repeat,rps" > "$OUT"
for r in $(seq "$REPEATS"); do
  for P in 1 16; do
    for s in "${servers[@]}"; do
      set -- $s
      name=$1 port=$2
      redis-benchmark -p "$port" -q -t "$TESTS" -c 50 -P "$P" -n "$N" --csv 2>/dev/null |
        tail -n +2 | tr -d '"' | while IFS=, read -r test rps _; do
          echo "$name,$P,$test,$r,$rps" | tee -a "$OUT"
        done
    done
  done
done

echo
echo "median requests/s over $REPEATS runs ($N requests, 50 clients, 3-byte values):"
/usr/bin/python3 - "$OUT" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
keys = sorted({(r["pipeline"], r["test"]) for r in rows}, key=lambda k: (int(k[0]), k[1]))
servers = []
for r in rows:
    if r["server"] not in servers: servers.append(r["server"])
print("| test | -P | " + " | ".join(servers) + " |")
print("|---|---|" + "---|" * len(servers))
for p, t in keys:
    cells = []
    for s in servers:
        v = [float(r["rps"]) for r in rows if r["server"] == s and r["pipeline"] == p and r["test"] == t]
        cells.append(f"{statistics.median(v):,.0f}" if v else "-")
    print(f"| {t} | {p} | " + " | ".join(cells) + " |")
PY
