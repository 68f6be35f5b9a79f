#!/usr/bin/env bash
# The registrar's batch throughput (BENCHMARKS.md, "Authorities' batch"): a release
# `urne serve` on a fresh data directory, one election per run, N first credentials
# signed and submitted by `urne-client statement batch` at several concurrencies,
# while /v1/stats is sampled every second (the server's appends/s in the same run);
# then `urne load` (pre-signed ballots, 256 in flight) on the same log for the server's
# own capacity. Prints one line per run.
#
#   CARGO_TARGET_DIR=… cargo build --release --bins && bash scripts/bench-batch.sh [N] [CONCURRENCIES…]
#   URNE_BIN=…/debug/urne bash scripts/bench-batch.sh 20000 32 128
set -euo pipefail
N=${1:-30000}
shift || true
[ $# -gt 0 ] || set -- 32 128 256
CONC=("$@")
R=${CARGO_TARGET_DIR:-target}/release
# URNE_BIN / URNE_CLIENT_BIN pick other builds (e.g. a debug server).
SRV=${URNE_BIN:-$R/urne}
CLI=${URNE_CLIENT_BIN:-$R/urne-client}
W=$(mktemp -d)
trap 'kill $SERVE 2>/dev/null; wait $SERVE 2>/dev/null; rm -rf "$W"' EXIT
cd "$W"
"$CLI" keygen --name board.bench --out board.key >/dev/null 2>&1
"$CLI" keygen --name registrar.bench --out registrar.key >/dev/null 2>&1
PORT=18$((RANDOM % 900 + 100))
"$SRV" serve --data data --listen 127.0.0.1:$PORT --origin bench.test/log \
  --allow-board "$(cat board.key.pub)" $("$SRV" demo --print-board-key | sed 's/^/--allow-board /') \
  >serve.out 2>serve.err &
SERVE=$!
for _ in $(seq 100); do grep -q "serving on" serve.out 2>/dev/null && break; sleep 0.1; done
L=http://127.0.0.1:$PORT
K=$(sed -n 's/.*verifier key: *//p' serve.out)
size() { curl -s "$L/v1/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["tree_size"])'; }
at() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }
echo "N=$N; $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
for c in "${CONC[@]}"; do
  e="bench-c$c"
  "$CLI" statement new election --election "$e" --title "Bench" --scrutin s1 \
    --authority "board $(cat board.key.pub)" --authority "registrar $(cat registrar.key.pub)" \
    --quorum 1 --tolerance 300 --opens "$(at '-1 min')" --closes "$(at '+1 day')" \
    --key board.key --out "$e.txt"
  "$CLI" statement submit --log "$L" --key "$K" "$e.txt" >/dev/null
  python3 - "$e" "$N" >"$e.jsonl" <<'PY'
import hashlib, json, sys
e, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    h = lambda s: hashlib.sha256(f"{e} {s} {i}".encode()).hexdigest()
    print(json.dumps({"type": "credential", "election": e, "voter": h("voter"),
                      "credential": h("credential"), "channel": "mail", "reason": "initial"}))
PY
  # The server's side of the same run: its tree size every second.
  (while true; do echo "$(date +%s.%N) $(size)"; sleep 1; done) >"$e.samples" 2>/dev/null &
  SAMPLER=$!
  out=$("$CLI" statement batch --log "$L" --key "$K" --sign-key registrar.key \
    --input "$e.jsonl" --concurrency "$c")
  kill $SAMPLER; wait $SAMPLER 2>/dev/null || true
  # Server appends/s: the steepest 5-second window and the mean over the batch.
  srv=$(python3 - "$e.samples" <<'PY'
import sys
s = [tuple(map(float, l.split())) for l in open(sys.argv[1]) if len(l.split()) == 2]
peak = max(((b[1] - a[1]) / (b[0] - a[0]) for a, b in zip(s, s[5:])), default=0)
mean = (s[-1][1] - s[0][1]) / (s[-1][0] - s[0][0]) if len(s) > 1 else 0
print(f"server appends/s: mean {mean:.0f}, best 5 s {peak:.0f}")
PY
)
  echo "concurrency $c: $out"
  echo "  $srv"
done
echo "urne load on the same log (pre-signed ballots, 256 in flight):"
"$SRV" load --log "$L" --ballots "$N" --concurrency 256 2>&1 | tail -4
