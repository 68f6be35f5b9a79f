#!/usr/bin/env bash
# The union monitor's catch-up over a kept log, thread by thread (BENCHMARKS.md, "The
# monitor at ten million entries, measured again"): a release `urne serve` on the
# data directory of KEEP (filled before, e.g. by scripts/bench-1m.sh), then
# `urne-client monitor --once` from an empty state directory, timed by /usr/bin/time
# (CPU seconds, peak RSS). Every 20 s a line of OUT/NAME.threads: seconds since the
# start, entries audited (the resume point of `monitor.state`), resident memory, the
# state directory's size, the load average, and the CPU of each thread of the
# monitor in clock ticks (`comm:ticks`: the auditor and the signature checker are
# `urne-client…`, fjall's are `flusher` and `compactor`); every 2 s a line of
# OUT/NAME.hwm: seconds, peak and current resident memory (kB), to see when the
# peak happens. A run longer than LIMIT seconds is stopped.
#
#   KEEP=/work/scale/10m URNE_BIN=…/release/urne OUT=/tmp/runs LIMIT=900 \
#     bash scripts/bench-monitor-threads.sh NAME …/release/urne-client
set -uo pipefail
# shellcheck source=scripts/start-log.sh
. "$(dirname "${BASH_SOURCE[0]}")/start-log.sh"
NAME=${1:?name}
BIN=${2:?urne-client binary}
W=${KEEP:?KEEP: a directory holding a filled log in data/}
SRV=${URNE_BIN:-${CARGO_TARGET_DIR:-target}/release/urne}
OUT=${OUT:-$PWD}
LIMIT=${LIMIT:-3600}
mkdir -p "$OUT"
STATE=$OUT/mon-$NAME
SERVE=
MON=
cleanup() {
  [ -n "$MON" ] && kill "$MON" 2>/dev/null
  [ -n "$SERVE" ] && kill "$SERVE" 2>/dev/null && wait "$SERVE" 2>/dev/null
}
trap cleanup EXIT
cd "$W"
start_log
[ -n "$K" ] || { echo "the log did not start: see $W/serve.err" >&2; exit 1; }
rm -rf "$STATE"
/usr/bin/time -v "$BIN" monitor --log "$L" --key "$K" --state "$STATE" --once --quiet \
  >"$OUT/$NAME.out" 2>"$OUT/$NAME.time" &
TIMED=$!
for _ in $(seq 100); do MON=$(pgrep -P $TIMED | head -1) && [ -n "$MON" ] && break; sleep 0.1; done
start=$(date +%s)
: >"$OUT/$NAME.threads"
: >"$OUT/$NAME.hwm"
(
  while kill -0 "$MON" 2>/dev/null; do
    echo "$(($(date +%s) - start)) $(awk '/VmHWM|VmRSS/{printf "%s ", $2}' /proc/$MON/status 2>/dev/null)" >>"$OUT/$NAME.hwm"
    sleep 2
  done
) &
audited() {
  python3 -c "import json,sys;b=open(sys.argv[1],'rb').read();n=int.from_bytes(b[:8],'big');print(json.loads(b[8:8+n])['compact']['size'])" \
    "$STATE/monitor.state" 2>/dev/null
}
while kill -0 "$MON" 2>/dev/null && [ $(($(date +%s) - start)) -lt "$LIMIT" ]; do
  sleep 20
  threads=$(for d in /proc/$MON/task/*; do
    # A thread may end between the listing and the reads: nothing printed for it.
    { printf "%s:%s " "$(tr ' ' _ <"$d/comm")" "$(awk '{print $14+$15}' "$d/stat")"; } 2>/dev/null
  done)
  echo "$(($(date +%s) - start)) done=$(audited) rss_kb=$(awk '/VmRSS/{print $2}' /proc/$MON/status 2>/dev/null) du_mb=$(du -sm "$STATE" 2>/dev/null | cut -f1) load=$(cut -d' ' -f1 /proc/loadavg) $threads" >>"$OUT/$NAME.threads"
done
kill "$MON" 2>/dev/null
wait $TIMED
MON=
python3 - "$OUT/$NAME.time" "$(audited)" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
def f(label):
    m = re.search(re.escape(label) + r":\s*(\S+)", t)
    return m.group(1) if m else "0"
parts = [float(p) for p in f("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":")]
wall = sum(p * 60 ** (len(parts) - 1 - i) for i, p in enumerate(parts))
cpu = float(f("User time (seconds)")) + float(f("System time (seconds)"))
n = int(sys.argv[2] or 0)
peak = int(f("Maximum resident set size (kbytes)"))
if n:
    print(f"{n} entries in {wall:.1f} s: {n / wall:,.0f}/s; CPU {cpu:.1f} s: {cpu / n * 1e6:.1f} µs per entry; peak RSS {peak / 1024:.0f} MiB")
PY
