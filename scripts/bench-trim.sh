#!/usr/bin/env bash
# A/B of two server builds on the verification storm's memory (BENCHMARKS.md, "Ten
# million entries in one run": the log's periodic trim): over a log kept by
# scripts/bench-1m.sh (KEEP=dir, with its receipts.txt), each build is started in
# turn, serves RECEIPTS receipt lookups (128 in flight), and its /metrics memory is
# read 12 s later; ROUNDS alternates the builds. Each line gives the server's CPU per
# receipt (user + system, /proc), the figure the machine's load inflates least.
#
#   KEEP=/work/scale/10m ROUNDS=2 bash scripts/bench-trim.sh 100000 before=/tmp/urne-a after=/tmp/urne-b
set -u
RECEIPTS=${1:?receipts}
shift
cd "${KEEP:?the directory of scripts/bench-1m.sh (data, receipts.txt)}"
TCK=$(getconf CLK_TCK)
cpu() { awk -v t="$TCK" '{ printf "%.3f", ($14 + $15) / t }' "/proc/$1/stat"; }
for round in $(seq "${ROUNDS:-1}"); do
  for spec in "$@"; do
    name=${spec%%=*}
    bin=${spec#*=}
    PORT=18$((RANDOM % 900 + 100)); L=http://127.0.0.1:$PORT
    : >ab.out
    "$bin" serve --data data --listen 127.0.0.1:$PORT --time-tolerance 86400 $("$bin" demo --print-board-key | sed 's/^/--allow-board /') >ab.out 2>ab.err &
    S=$!
    for _ in $(seq 600); do grep -q "serving on" ab.out 2>/dev/null && break; sleep 0.1; done
    c0=$(cpu $S)
    r=$("$bin" load --log $L --receipts "$RECEIPTS" --receipts-from receipts.txt --concurrency 128 --json)
    c1=$(cpu $S)
    sleep 12
    echo "$name (round $round): $r; server CPU per receipt $(python3 -c "print(f'{($c1 - $c0) / $RECEIPTS * 1e6:.1f} µs')"); 12 s after: $(curl -s $L/metrics | grep '^urne_memory_bytes' | awk '{split($0,a,"\""); split($0,v," "); printf "%s=%.0f ", a[2], v[2]/1048576}'); load $(cut -d' ' -f1-3 /proc/loadavg)"
    kill $S; wait $S
  done
done
