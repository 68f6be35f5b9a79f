#!/usr/bin/env bash
# Appends/s and latency of one `urne serve` on RocksDB and on PostgreSQL, then proofs/s
# from PostgreSQL, in one run on this machine (BENCHMARKS.md, "PostgreSQL").
#
#   cargo build --release && bash scripts/bench_postgres.sh [BALLOTS] [PROOFS]
#
# PostgreSQL is started here, in a temporary directory on a free port (initdb and
# pg_ctl from /usr/lib/postgresql/*/bin, as the `postgres` user when run as root),
# with its defaults (fsync on, synchronous_commit on), and stopped at the end. After each
# load it prints the CPU seconds the log process and the PostgreSQL cluster used during it
# (from /proc: the machine is shared, so CPU time says more than wall time).
set -euo pipefail
ballots=${1:-30000}
proofs=${2:-100000}
B=${URNE_BIN:-${CARGO_TARGET_DIR:-target}/release/urne}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
tmp=$(mktemp -d)
as=()
if [ "$(id -u)" -eq 0 ]; then
  chown postgres "$tmp"
  as=(runuser -u postgres --)
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  "${as[@]}" "$PGBIN/pg_ctl" stop -m immediate -D "$tmp/pg" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
"${as[@]}" "$PGBIN/initdb" -U postgres --auth=trust -D "$tmp/pg" >/dev/null
"${as[@]}" "$PGBIN/pg_ctl" start -w -D "$tmp/pg" -l "$tmp/pg.log" \
  -o "-p $port -k $tmp -c listen_addresses=127.0.0.1" >/dev/null
"${as[@]}" "$PGBIN/createdb" -h 127.0.0.1 -p "$port" -U postgres urne
# shellcheck disable=SC2207
board=($($B demo --print-board-key | sed 's/^/--allow-board /'))

serve() { # name, extra args...: starts a log, sets $url once it serves and leads
  local name=$1; shift
  local out="$tmp/$name.out"
  "$B" serve --listen 127.0.0.1:0 --data "$tmp/$name" "${board[@]}" "$@" >"$out" 2>"$tmp/$name.err" &
  pids+=($!)
  serve_pid=$!
  for _ in $(seq 1 3000); do
    grep -q 'serving on' "$out" 2>/dev/null && break
    sleep 0.1
  done
  url=$(sed -n 's/.*serving on: *\(http[^ ]*\)\/ .*/\1/p' "$out")
  [ -n "$url" ] || { cat "$out" "$tmp/$name.err" >&2; exit 1; }
  # A log on PostgreSQL appends once its instance leads (the first lease).
  for _ in $(seq 1 3000); do
    curl -fs "$url/v1/log" | grep -q '"leading":true' && break
    sleep 0.1
  done
}

tck=$(getconf CLK_TCK)
cpu_self() { # pid: its CPU seconds (user + system, all threads)
  awk -v t="$tck" '{ printf "%.1f", ($14 + $15) / t }' "/proc/$1/stat"
}
cpu_pg() { # the PostgreSQL cluster's CPU seconds: the postmaster, its reaped children, its live ones
  local pm; pm=$(head -1 "$tmp/pg/postmaster.pid")
  { cat "/proc/$pm/stat"; for c in $(pgrep -P "$pm"); do cat "/proc/$c/stat" 2>/dev/null; done; } |
    awk -v t="$tck" -v pm="$pm" '{ s += $14 + $15; if ($1 == pm) s += $16 + $17 } END { printf "%.1f", s / t }'
}
cpu_report() { # what: the CPU seconds the log and PostgreSQL used since the marks
  echo "== CPU during $1: urne serve $(awk -v a="$(cpu_self "$serve_pid")" -v b="$mark_serve" 'BEGIN{printf "%.1f", a-b}') s, PostgreSQL $(awk -v a="$(cpu_pg)" -v b="$mark_pg" 'BEGIN{printf "%.1f", a-b}') s"
}
cpu_mark() { mark_serve=$(cpu_self "$serve_pid"); mark_pg=$(cpu_pg); }

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2), load $(cut -d' ' -f1-3 /proc/loadavg)"
serve rocks
rocks=$url
echo "== RocksDB: $ballots ballots, 256 in flight"
cpu_mark
$B load --log "$rocks" --ballots "$ballots" --concurrency 256
cpu_report "the RocksDB load (setup included)"
kill "${pids[0]}"
serve pg --database "postgres://postgres@127.0.0.1:$port/urne"
pg=$url
echo "== PostgreSQL: $ballots ballots, 256 in flight"
cpu_mark
$B load --log "$pg" --ballots "$ballots" --concurrency 256
cpu_report "the PostgreSQL load (setup included)"
echo "== PostgreSQL: $proofs inclusion proofs, 128 in flight"
cpu_mark
$B load --log "$pg" --proofs "$proofs" --concurrency 128
cpu_report "the proofs"
echo "== PostgreSQL database size: $("${as[@]}" "$PGBIN/psql" -h 127.0.0.1 -p "$port" -U postgres -At -d urne -c "SELECT pg_size_pretty(pg_database_size('urne'))")"
