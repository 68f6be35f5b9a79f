#!/usr/bin/env bash
# National scale in one run (BENCHMARKS.md, "One million entries in one run"): a
# release `urne serve` on a fresh data directory filled over HTTP by `urne load` (one
# election: N credentials, then N pre-signed ballots, 256 in flight: 2N+2 entries),
# its memory sampled from `/metrics` every 5 s; then appends/s at that size (a
# further load of M ballots), receipts proved per second over HTTP (the verification
# storm, `urne load --receipts`), and a release `urne-client monitor --once` catching
# up from an empty state directory. Each figure comes with the machine's load average
# and the CPU seconds it cost (other sessions may share the cores: CPU per entry is
# the figure they inflate least). The signature bound of the same run:
# `cargo bench -p urne-client --bench audit -- ed25519/verify`, run next to it.
#
#   cargo build --release --bins && bash scripts/bench-1m.sh [N] [M] [RECEIPTS]
#   URNE_BIN=… URNE_CLIENT_BIN=… KEEP=/tmp/fill bash scripts/bench-1m.sh 500000
#   MONITOR=0 …: the log's figures only (no monitor catch-up)
set -euo pipefail
# shellcheck source=scripts/start-log.sh
. "$(dirname "${BASH_SOURCE[0]}")/start-log.sh"
N=${1:-500000}
M=${2:-30000}
RECEIPTS=${3:-200000}
R=${CARGO_TARGET_DIR:-target}/release
SRV=${URNE_BIN:-$R/urne}
CLI=${URNE_CLIENT_BIN:-$R/urne-client}
W=${KEEP:-$(mktemp -d)}
mkdir -p "$W"
SERVE=
SAMPLER=
cleanup() {
  [ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null
  [ -n "$SERVE" ] && kill "$SERVE" 2>/dev/null && wait "$SERVE" 2>/dev/null
  [ -n "${KEEP:-}" ] || rm -rf "$W"
}
trap cleanup EXIT
cd "$W"
rm -rf data mon
start_log
TCK=$(getconf CLK_TCK)
# CPU seconds (user + system) of the server so far.
cpu() { awk -v t="$TCK" '{ printf "%.2f", ($14 + $15) / t }' /proc/$SERVE/stat; }
rss() { awk '/^VmRSS/ { printf "%.0f", $2 / 1024 }' /proc/$SERVE/status; }
hwm() { awk '/^VmHWM/ { printf "%.0f", $2 / 1024 }' /proc/$SERVE/status; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
mem() { curl -s "$L/metrics" | awk -F'[{}"]' '/^urne_memory_bytes/ { split($0, a, " "); printf "%s=%.0f ", $3, a[2] / 1048576 } /^urne_tree_size/ { split($0, a, " "); printf "size=%s ", a[2] }'; }
echo "N=$N M=$M; $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2); $(date -u +%H:%M:%S) UTC; load $(load)"
echo "empty log: VmRSS $(rss) MiB; $(mem)(MiB)"
(while true; do echo "$(date +%s) rss=$(rss) hwm=$(hwm) load=$(cut -d" " -f1 /proc/loadavg) $(mem)"; sleep 5; done) >memory.samples 2>/dev/null &
SAMPLER=$!
c0=$(cpu)
"$SRV" load --log "$L" --ballots "$N" --concurrency 256 --tolerance 86400 \
  --receipts-out receipts.txt --json >fill.json
c1=$(cpu)
size=$(curl -s "$L/v1/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["tree_size"])')
echo "fill: $(cat fill.json)"
echo "fill: $size entries; server CPU $(python3 -c "print(f'{($c1 - $c0):.1f} s, {($c1 - $c0) / $size * 1e6:.1f} µs per entry')"); load $(load)"
echo "at $size entries: VmRSS $(rss) MiB (peak $(hwm)); $(mem)(MiB)"
c0=$(cpu)
"$SRV" load --log "$L" --ballots "$M" --concurrency 256 --tolerance 86400 --json >more.json
c1=$(cpu)
echo "appends at $size entries ($M ballots, 256 in flight): $(cat more.json); server CPU per entry $(python3 -c "print(f'{($c1 - $c0) / (2 * $M + 2) * 1e6:.1f} µs')"); load $(load)"
c0=$(cpu)
"$SRV" load --log "$L" --receipts "$RECEIPTS" --receipts-from receipts.txt --concurrency 128 --json >receipts.json
c1=$(cpu)
echo "receipts proved over HTTP (128 in flight): $(cat receipts.json); server CPU per receipt $(python3 -c "print(f'{($c1 - $c0) / $RECEIPTS * 1e6:.1f} µs')"); load $(load)"
echo "after the receipts: VmRSS $(rss) MiB (peak $(hwm)); $(mem)(MiB)"
if [ "${MONITOR:-1}" = 0 ]; then
  echo "monitor: skipped (MONITOR=0)"
  exit 0
fi
size=$(curl -s "$L/v1/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["tree_size"])')
/usr/bin/time -v "$CLI" monitor --log "$L" --key "$K" --state mon --once --quiet >monitor.out 2>monitor.time || true
python3 - "$size" <<'PY'
import re, sys
size = int(sys.argv[1])
t = open("monitor.time").read()
def f(label):
    m = re.search(re.escape(label) + r":\s*(\S+)", t)
    return m.group(1) if m else "?"
wall = f("Elapsed (wall clock) time (h:mm:ss or m:ss)")
parts = [float(p) for p in wall.split(":")]
secs = sum(p * 60 ** (len(parts) - 1 - i) for i, p in enumerate(parts))
user, sys_ = float(f("User time (seconds)")), float(f("System time (seconds)"))
print(f"monitor --once, {size} entries: {secs:.1f} s, {size / secs:,.0f} entries/s; "
      f"CPU {user:.1f} + {sys_:.1f} s = {(user + sys_) / size * 1e6:.1f} µs per entry; "
      f"peak RSS {int(f('Maximum resident set size (kbytes)')) / 1024:.0f} MiB; "
      f"exit {f('Exit status')}")
PY
echo "log after the monitor: VmRSS $(rss) MiB (peak $(hwm)); $(mem)(MiB); load $(load)"
echo "memory samples (unix time, MiB): $W/memory.samples"
