#!/usr/bin/env bash
# A/B of glibc's arena cap on the log (BENCHMARKS.md, "The log's freed memory: capping
# glibc's arenas"): a log filled by scripts/bench-monitor.sh (KEEP=/tmp/i21-mon), restarted
# with and without MALLOC_ARENA_MAX=2, 50,000 receipts, then one monitor catch-up,
# /metrics 12 s after each. ROUNDS (default 1) alternates the two ROUNDS times;
# MONITOR=0 skips the catch-up. Each receipt run also gives the server's CPU per
# receipt (user + system, /proc), the figure the machine's load inflates least.
#
#   KEEP=/tmp/i21-mon URNE_BIN=…/release/urne URNE_CLIENT_BIN=…/release/urne-client \
#     bash scripts/bench-arena.sh
set -u
SRV=${URNE_BIN:-${CARGO_TARGET_DIR:-target}/release/urne}
CLI=${URNE_CLIENT_BIN:-${CARGO_TARGET_DIR:-target}/release/urne-client}
cd "${KEEP:?the directory of scripts/bench-monitor.sh (data, receipts.txt)}"
TCK=$(getconf CLK_TCK)
cpu() { awk -v t="$TCK" '{ printf "%.3f", ($14 + $15) / t }' "/proc/$1/stat"; }
for round in $(seq "${ROUNDS:-1}"); do
for arena in default 2; do
  PORT=18$((RANDOM % 900 + 100)); L=http://127.0.0.1:$PORT
  if [ "$arena" = default ]; then env=(); else env=(MALLOC_ARENA_MAX=$arena); fi
  env "${env[@]}" "$SRV" serve --data data --listen 127.0.0.1:$PORT --time-tolerance 86400 $("$SRV" demo --print-board-key | sed 's/^/--allow-board /') >ab.out 2>ab.err &
  S=$!
  for _ in $(seq 600); do grep -q "serving on" ab.out 2>/dev/null && break; sleep 0.1; done
  sleep 1
  echo "MALLOC_ARENA_MAX=$arena: after start: $(awk '/^VmRSS/{print $2/1024}' /proc/$S/status) MiB; load $(cut -d' ' -f1-3 /proc/loadavg)"
  c0=$(cpu $S)
  "$SRV" load --log $L --receipts 50000 --receipts-from receipts.txt --concurrency 128 --json
  c1=$(cpu $S)
  echo "MALLOC_ARENA_MAX=$arena (round $round): server CPU per receipt $(python3 -c "print(f'{($c1 - $c0) / 50000 * 1e6:.1f} µs')")"
  sleep 12
  echo "MALLOC_ARENA_MAX=$arena: after 50,000 receipts and 12 s: $(curl -s $L/metrics | grep '^urne_memory_bytes' | awk '{split($0,a,"\""); split($0,v," "); printf "%s=%.0f ", a[2], v[2]/1048576}'); load $(cut -d' ' -f1-3 /proc/loadavg)"
  if [ "${MONITOR:-1}" = 0 ]; then kill $S; wait $S; continue; fi
  K=$(sed -n 's/.*verifier key: *//p' ab.out)
  rm -rf mon-arena
  "$CLI" monitor --log $L --key "$K" --state mon-arena --once --quiet >/dev/null 2>&1
  sleep 12
  echo "MALLOC_ARENA_MAX=$arena: after serving a monitor's catch-up and 12 s: $(curl -s $L/metrics | grep '^urne_memory_bytes' | awk '{split($0,a,"\""); split($0,v," "); printf "%s=%.0f ", a[2], v[2]/1048576}'); load $(cut -d' ' -f1-3 /proc/loadavg)"
  kill $S; wait $S
done
done
