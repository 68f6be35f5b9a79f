#!/usr/bin/env bash
# The log's appends against the signature bound (BENCHMARKS.md, "The log near the
# signature bound"): each build given as BINARY=LABEL serves a fresh data directory
# and is loaded by `urne load` (one election, N credentials then N pre-signed ballots,
# C in flight, every answer's inclusion proof checked by the generator), ROUNDS times,
# alternating the builds. Per run: appends/s of the ballot phase, p50/p99, and the CPU
# seconds of the server and of the load generator per entry (user + system, from
# /proc and /usr/bin/time): on a machine shared with other work the wall-clock rate
# moves with the load, the CPU per entry much less. The signature bound of the same
# run is measured by `cargo bench --bench tree -- ed25519/verify` (run it next to
# this script; BOUND_US=<µs per verification> prints each run's share of it).
#
#   scripts/bench-appends.sh [N] [C] [ROUNDS] /tmp/urne-old=old /tmp/urne-new=new
#   perf: PERF=1 records the server of each build's first run (perf.<label>.data)
set -euo pipefail
N=${1:-30000}
C=${2:-256}
ROUNDS=${3:-2}
shift 3
[ $# -ge 1 ] || { echo "usage: $0 N C ROUNDS BINARY=LABEL [BINARY=LABEL ...]" >&2; exit 2; }
W=$(mktemp -d)
SERVE=
cleanup() {
  [ -n "$SERVE" ] && kill "$SERVE" 2>/dev/null && wait "$SERVE" 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT
TCK=$(getconf CLK_TCK)
cpu() { awk -v t="$TCK" '{ printf "%.3f", ($14 + $15) / t }' "/proc/$1/stat"; }
echo "N=$N C=$C; $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2); $(date -u +%H:%M:%S) UTC; load $(cut -d' ' -f1-3 /proc/loadavg)"
run() { # $1 = server binary, $2 = label, $3 = round
  local bin=$1 label=$2 round=$3
  rm -rf "$W/data" "$W/serve.out"
  local port=18$((RANDOM % 900 + 100))
  # shellcheck disable=SC2046
  "$bin" serve --data "$W/data" --listen "127.0.0.1:$port" --time-tolerance 86400 \
    $("$bin" demo --print-board-key | sed 's/^/--allow-board /') >"$W/serve.out" 2>"$W/serve.err" &
  SERVE=$!
  for _ in $(seq 600); do grep -q "serving on" "$W/serve.out" 2>/dev/null && break; sleep 0.1; done
  local perf=
  if [ -n "${PERF:-}" ] && [ "$round" = 1 ]; then
    perf record -F 499 -g -o "perf.$label.data" -p "$SERVE" 2>/dev/null &
    perf=$!
  fi
  local c0 c1
  c0=$(cpu "$SERVE")
  /usr/bin/time -f "%U %S" -o "$W/load.time" "$bin" load --log "http://127.0.0.1:$port" \
    --ballots "$N" --concurrency "$C" --tolerance 86400 --json >"$W/load.json" 2>"$W/load.err" \
    || { echo "$label: load failed:"; grep -v "^ " "$W/load.err" | head -5; tail -3 "$W/serve.err"; exit 1; }
  c1=$(cpu "$SERVE")
  [ -n "$perf" ] && kill -INT "$perf" && wait "$perf" 2>/dev/null || true
  python3 - "$label" "$round" "$N" "$c0" "$c1" "$W/load.json" "$W/load.time" "${BOUND_US:-}" \
    "$(cut -d' ' -f1 /proc/loadavg)" <<'PY'
import json, sys
label, rnd, n, c0, c1, lj, lt, bound, load = sys.argv[1:]
n, c0, c1 = int(n), float(c0), float(c1)
r = json.load(open(lj))
u, s = (float(x) for x in open(lt).read().split()[-2:])
entries = 2 * n + 2  # the election, its opening, N credentials, N ballots
srv = (c1 - c0) / entries * 1e6
gen = (u + s) / entries * 1e6
line = (f"{label} round {rnd}: ballots {r['per_second']:,.0f}/s p50 {r['p50_ms']:.1f} ms "
        f"p99 {r['p99_ms']:.1f} ms; CPU per entry: server {srv:.1f} µs, load generator "
        f"{gen:.1f} µs; load {load}")
if bound:
    b = float(bound)
    line += (f"; server alone {srv / b:.2f} verifications per entry "
             f"({100 * b / srv:.0f} % of the bound)")
print(line)
PY
  kill "$SERVE"; wait "$SERVE" 2>/dev/null || true
  SERVE=
}
for round in $(seq "$ROUNDS"); do
  for pair in "$@"; do run "${pair%%=*}" "${pair##*=}" "$round"; done
done
