#!/usr/bin/env bash
# Honest clients' latency under each flood of issue 13 (BENCHMARKS.md, "Under attack").
#
#   scripts/bench-floods.sh [URNE_BINARY]
#
# One log (descriptor limit 1,024, as in the issue's attack) on 127.0.0.1:18191 that
# pulls a gossip peer on 127.0.0.1:18192. For each phase, `urne load` appends 5,000
# ballots (32 in flight) from 127.0.0.1 while scripts/flood.py attacks from another
# address: nothing, 1,100 idle sockets, 500 slow bodies (one byte a second), 8 loops
# re-sending an entry with its signature line repeated 99 times, a gossip peer
# answering 100,000 junk checkpoints, then nothing again. Prints one line per phase:
# appends/s, p50 and p99 in ms, statements appended.
set -u
BIN=${1:-${CARGO_TARGET_DIR:-target}/debug/urne}
HERE=$(cd "$(dirname "$0")" && pwd)
DATA=$(mktemp -d)
PORT=18191
URL=http://127.0.0.1:$PORT
cleanup() { kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$DATA"; }
trap cleanup EXIT
# shellcheck disable=SC2046
prlimit --nofile=1024:1024 "$BIN" serve --data "$DATA/log" --listen 127.0.0.1:$PORT \
  --peer http://127.0.0.1:18192 \
  $("$BIN" demo --print-board-key | sed 's/^/--allow-board /') > "$DATA/serve.log" 2>&1 &
sleep 2
load() {
  # A log that lets no honest client in gets 180 s, then the phase says so.
  timeout 180 "$BIN" load --log "$URL" --ballots 5000 --concurrency 32 --json 2>/dev/null |
    python3 -c 'import json,sys; r=json.load(sys.stdin); print("%.0f/s p50 %.1f ms p99 %.1f ms appended %d" % (r["per_second"], r["p50_ms"], r["p99_ms"], r["appended"]))'
}
phase() { # $1 = label, rest = flood.py arguments (none: no flood)
  local label=$1; shift
  local f=
  if [ $# -gt 0 ]; then
    LOG=$URL python3 "$HERE/flood.py" "$@" & f=$!
    sleep 5
  fi
  echo "$label: $(load || echo 'no result within 180 s')"
  [ -n "$f" ] && kill "$f" && wait "$f" 2>/dev/null
  sleep 2
}
phase "no flood"
phase "1,100 idle sockets" idle 127.0.0.1:$PORT 1100 127.0.0.2
phase "500 slow bodies" slow 127.0.0.1:$PORT 500 127.0.0.3
phase "99 repeated signature lines" sigs "$URL" 8
phase "hostile gossip peer" peer 18192
phase "no flood (again)"
grep -c "connection refused: too many" "$DATA/serve.log" >/dev/null || true
