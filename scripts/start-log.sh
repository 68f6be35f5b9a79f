# Sourced by the bench scripts: `start_log` starts `$SRV serve` on `data/` of the
# current directory (created if absent), on a random port of 127.0.0.1, trusting the
# demo board key and a day of clock tolerance (the load generator's pre-signed
# statements), and waits until it serves. It sets SERVE (its pid), PORT, L (its
# URL) and K (its verifier key, empty if it did not start: see serve.err). Extra
# arguments go to `urne serve`.
start_log() {
  PORT=18$((RANDOM % 900 + 100))
  L=http://127.0.0.1:$PORT
  # Emptied first: the server truncates it only once started, and a kept directory
  # holds the last run's, whose "serving on" the loop below would take for this one's.
  : >serve.out
  "$SRV" serve --data data --listen 127.0.0.1:$PORT --time-tolerance 86400 \
    $("$SRV" demo --print-board-key | sed 's/^/--allow-board /') "$@" >serve.out 2>serve.err &
  SERVE=$!
  for _ in $(seq 600); do grep -q "serving on" serve.out 2>/dev/null && break; sleep 0.1; done
  K=$(sed -n 's/.*verifier key: *//p' serve.out)
}
