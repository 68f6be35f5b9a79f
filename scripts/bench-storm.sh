#!/usr/bin/env bash
# The verification storm and how the read path scales past one machine (BENCHMARKS.md,
# "The verification storm"). Over a log already filled (a data directory kept by
# `KEEP=dir scripts/bench-1m.sh`, with its receipts.txt), a release `urne serve` is
# started on it and measured three ways, each with the CPU seconds the log spent:
#   1. receipts looked up by their code and proved by the log (`GET /v1/receipts/…`,
#      `urne load --receipts`): what needs the log's index, hence the log or a mirror;
#   2. leaves proved from the tiles alone, straight from the log (`urne load
#      --tile-proofs`: each voter with an empty cache, every tile authenticated against
#      the signed checkpoint, every proof verified);
#   3. the same through nginx as an HTTP cache in front of the log (full tiles are
#      `Cache-Control: immutable`; nginx honours it, nothing is configured per path
#      but the cache itself), once to warm it, then measured: the log's CPU during
#      that run is what the cache saved it.
# Needs nginx (Debian: `apt-get install nginx-light`; not needed by the tests).
#
#   KEEP=/work/scale/10m bash scripts/bench-storm.sh [RECEIPTS] [PROOFS] [WARM]
set -euo pipefail
RECEIPTS=${1:-100000}
PROOFS=${2:-100000}
WARM=${3:-200000}
# Voters proving from tiles at once (each fetches its tiles in parallel): with 128, as
# for receipts, requests to a 10 M-entry log serving the tiles itself failed to send.
VOTERS=${VOTERS:-32}
R=${CARGO_TARGET_DIR:-target}/release
SRV=${URNE_BIN:-$R/urne}
W=${KEEP:?KEEP=dir: a data directory filled by scripts/bench-1m.sh}
command -v nginx >/dev/null || { echo "needs nginx: apt-get install nginx-light" >&2; exit 2; }
SERVE=
NGINX=
C=$(mktemp -d)
cleanup() {
  [ -n "$NGINX" ] && kill "$NGINX" 2>/dev/null && wait "$NGINX" 2>/dev/null
  [ -n "$SERVE" ] && kill "$SERVE" 2>/dev/null && wait "$SERVE" 2>/dev/null
  rm -rf "$C"
}
trap cleanup EXIT
cd "$W"
PORT=18$((RANDOM % 900 + 100))
NPORT=19$((RANDOM % 900 + 100))
L=http://127.0.0.1:$PORT
# Emptied first: the server truncates it only once started, and a kept directory
# holds the last run's, whose "serving on" the loop below would take for this one's.
: >storm-serve.out
"$SRV" serve --data data --listen 127.0.0.1:$PORT --time-tolerance 86400 \
  $("$SRV" demo --print-board-key | sed 's/^/--allow-board /') >storm-serve.out 2>storm-serve.err &
SERVE=$!
for _ in $(seq 600); do grep -q "serving on" storm-serve.out 2>/dev/null && break; sleep 0.1; done
K=$(sed -n 's/.*verifier key: *//p' storm-serve.out)
TCK=$(getconf CLK_TCK)
cpu() { awk -v t="$TCK" '{ printf "%.2f", ($14 + $15) / t }' /proc/$1/stat; }
# CPU seconds of nginx's master and workers.
ncpu() { local s=0; for p in $(pgrep -f "nginx: (master|worker)" || true); do s=$(python3 -c "print($s + $(cpu "$p"))"); done; echo "$s"; }
rss() { awk '/^VmRSS/ { printf "%.0f", $2 / 1024 }' /proc/$SERVE/status; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
per() { python3 -c "print(f'{($2 - $1) / $3 * 1e6:.1f} µs')"; }
size=$(curl -s "$L/v1/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["tree_size"])')
echo "storm over $size entries; $(nproc) cores; $(date -u +%H:%M:%S) UTC; load $(load); log VmRSS $(rss) MiB"

c0=$(cpu $SERVE)
"$SRV" load --log "$L" --receipts "$RECEIPTS" --receipts-from receipts.txt --concurrency 128 --json >storm-receipts.json
c1=$(cpu $SERVE)
echo "1. receipts by code, from the log: $(cat storm-receipts.json); log CPU per receipt $(per $c0 $c1 $RECEIPTS); load $(load)"

c0=$(cpu $SERVE)
"$SRV" load --log "$L" --tile-proofs "$PROOFS" --concurrency "$VOTERS" --json >storm-tiles.json
c1=$(cpu $SERVE)
echo "2. leaves proved from tiles, from the log: $(cat storm-tiles.json); log CPU per proof $(per $c0 $c1 $PROOFS); load $(load)"

mkdir -p "$C/cache"
cat >"$C/nginx.conf" <<EOF
user root;
worker_processes auto;
pid $C/nginx.pid;
error_log $C/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  proxy_cache_path $C/cache levels=1:2 keys_zone=tiles:64m max_size=4g inactive=7d use_temp_path=off;
  upstream log { server 127.0.0.1:$PORT; keepalive 64; }
  server {
    listen 127.0.0.1:$NPORT;
    location / {
      proxy_pass http://log;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache tiles;
      proxy_cache_lock on;
    }
  }
}
EOF
nginx -c "$C/nginx.conf" -p "$C" -g 'daemon off;' &
NGINX=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$NPORT/checkpoint" >/dev/null && break; sleep 0.1; done
"$SRV" load --log "http://127.0.0.1:$NPORT" --key "$K" --tile-proofs "$WARM" --concurrency "$VOTERS" --json >storm-warm.json
echo "3a. warming the cache: $(cat storm-warm.json); cache $(du -sm "$C/cache" | cut -f1) MiB; load $(load)"
c0=$(cpu $SERVE)
n0=$(ncpu)
"$SRV" load --log "http://127.0.0.1:$NPORT" --key "$K" --tile-proofs "$PROOFS" --concurrency "$VOTERS" --json >storm-cached.json
c1=$(cpu $SERVE)
n1=$(ncpu)
echo "3b. leaves proved from tiles, through the cache: $(cat storm-cached.json); log CPU per proof $(per $c0 $c1 $PROOFS); nginx CPU per proof $(per $n0 $n1 $PROOFS); load $(load)"
echo "log VmRSS $(rss) MiB"
