#!/usr/bin/env bash
# A/B of urne builds over HTTP (BENCHMARKS.md, "Is the gap the machine or the code?").
#
#   scripts/bench-ab.sh /tmp/urne-old=old /tmp/urne-new=new
#
# Two rounds, alternating the builds, each on a fresh log on 127.0.0.1:18090: two runs
# of 30,000 ballots (256 in flight), then two of 100,000 inclusion proofs (128 in
# flight). Each build is loaded by its own load generator, unless LOAD names one
# binary for all. Prints one line per build and round: appends/s and proofs/s.
set -u
[ $# -ge 1 ] || { echo "usage: $0 BINARY=LABEL [BINARY=LABEL ...]" >&2; exit 2; }
DATA=$(mktemp -d)
trap 'rm -rf "$DATA"' EXIT
run() { # $1 = server binary, $2 = label
  local load=${LOAD:-$1} url=http://127.0.0.1:18090
  rm -rf "$DATA/log"
  # shellcheck disable=SC2046
  "$1" serve --data "$DATA/log" --listen 127.0.0.1:18090 \
    $("$load" demo --print-board-key | sed 's/^/--allow-board /') > "$DATA/serve.log" 2>&1 &
  local s=$!
  sleep 1.5
  rate() { "$load" load --log "$url" "$@" | grep -oE "[0-9]+/s" | head -1; }
  local a b p q
  a=$(rate --ballots 30000 --concurrency 256)
  b=$(rate --ballots 30000 --concurrency 256)
  p=$(rate --proofs 100000 --concurrency 128)
  q=$(rate --proofs 100000 --concurrency 128)
  echo "$2 appends $a $b proofs $p $q"
  kill "$s"; wait "$s" 2>/dev/null
}
for _ in 1 2; do
  for pair in "$@"; do run "${pair%%=*}" "${pair##*=}"; done
done
