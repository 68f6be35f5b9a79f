#!/usr/bin/env bash
# The union monitor's catch-up, before and after a change, on one log in one run
# (BENCHMARKS.md, "The monitor near the signature bound"): a release `urne serve` on a
# data directory filled over HTTP by `urne load` (one election: N credentials, then
# N ballots: 2N+2 entries; skipped when the directory already holds a log), then
# `urne-client monitor --once` from an empty state directory with each client binary
# given, one after the other, each timed by /usr/bin/time (CPU seconds, peak RSS).
# A run longer than LIMIT seconds is stopped (SIGTERM) and measured on what it
# audited (the resume point in its state directory). Each line says the machine's
# load average: other sessions may share the cores, and CPU per entry is the figure
# they inflate least. The signature bound of the same run: with AUDIT_BENCH set to
# the audit bench's binary (`cargo bench -p urne-client --bench audit --no-run`
# prints it), its `ed25519/verify` runs after the monitors, timed the same way (its
# CPU share says how much of a core it had).
#
#   URNE_BIN=…/release/urne KEEP=/tmp/mon-bench LIMIT=600 AUDIT_BENCH=…/release/deps/audit-… \
#     bash scripts/bench-monitor.sh 500000 before=/tmp/urne-client-main after=…/release/urne-client
set -euo pipefail
# shellcheck source=scripts/start-log.sh
. "$(dirname "${BASH_SOURCE[0]}")/start-log.sh"
N=${1:?ballots}
shift
SRV=${URNE_BIN:-${CARGO_TARGET_DIR:-target}/release/urne}
W=${KEEP:-$(mktemp -d)}
LIMIT=${LIMIT:-3600}
mkdir -p "$W"
SERVE=
cleanup() {
  [ -n "$SERVE" ] && kill "$SERVE" 2>/dev/null && wait "$SERVE" 2>/dev/null
  [ -n "${KEEP:-}" ] || rm -rf "$W"
}
trap cleanup EXIT
cd "$W"
fresh=0
[ -d data ] || fresh=1
start_log
load() { cut -d' ' -f1-3 /proc/loadavg; }
echo "$(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2); $(date -u +%H:%M:%S) UTC; load $(load)"
if [ "$fresh" = 1 ]; then
  "$SRV" load --log "$L" --ballots "$N" --concurrency 256 --tolerance 86400 \
    --receipts-out receipts.txt --json >fill.json
  echo "fill: $(cat fill.json); load $(load)"
fi
# The tree size of the log's checkpoint (its second line), once it answers.
size=
for _ in $(seq 600); do
  size=$(curl -sf "$L/checkpoint" | sed -n 2p) && [ -n "$size" ] && break
  sleep 0.1
done
echo "log: $size entries"
for spec in "$@"; do
  name=${spec%%=*}
  bin=${spec#*=}
  rm -rf "mon-$name"
  echo "$name: $bin, start $(date -u +%H:%M:%S) UTC, load $(load)"
  /usr/bin/time -v timeout "$LIMIT" "$bin" monitor --log "$L" --key "$K" --state "mon-$name" \
    --once --quiet >"monitor-$name.out" 2>"monitor-$name.time" || true
  python3 - "$name" "$size" "$(load)" <<'PY'
import json, os, re, sys
name, size, load = sys.argv[1], int(sys.argv[2]), sys.argv[3]
t = open(f"monitor-{name}.time").read()
def f(label):
    m = re.search(re.escape(label) + r":\s*(\S+)", t)
    return m.group(1) if m else "?"
wall = f("Elapsed (wall clock) time (h:mm:ss or m:ss)")
parts = [float(p) for p in wall.split(":")]
secs = sum(p * 60 ** (len(parts) - 1 - i) for i, p in enumerate(parts))
user, sys_ = float(f("User time (seconds)")), float(f("System time (seconds)"))
# What it audited: the resume point it committed (all of the log if it ended).
b = open(f"mon-{name}/monitor.state", "rb").read()
n = int.from_bytes(b[:8], "big")
done = json.loads(b[8:8 + n])["compact"]["size"]
# Every file under the state directory (the store is a directory: monitor.lsm/).
state = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(f"mon-{name}") for f in fs)
print(f"{name}: {done} of {size} entries in {secs:.1f} s, {done / secs:,.0f} entries/s; "
      f"CPU {user:.1f} + {sys_:.1f} s = {(user + sys_) / max(done, 1) * 1e6:.1f} µs per entry; "
      f"peak RSS {int(f('Maximum resident set size (kbytes)')) / 1024:.0f} MiB; "
      f"state directory {state / 1e9:.2f} GB; exit {f('Exit status')}; load {load}")
PY
done
if [ -n "${AUDIT_BENCH:-}" ]; then
  echo "signature bound: start $(date -u +%H:%M:%S) UTC, load $(load)"
  /usr/bin/time -f "ed25519/verify bench: %e s wall, %U + %S s CPU" \
    "$AUDIT_BENCH" --bench ed25519/verify --measurement-time 8 2>&1 |
    grep -E "^ed25519/verify|time:|bench:"
  echo "signature bound: end $(date -u +%H:%M:%S) UTC, load $(load)"
fi
