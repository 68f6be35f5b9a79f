#!/usr/bin/env bash
# Runs every test of urne: installs what is missing, checks the tree is lint-clean,
# then the Rust tests of the workspace (unit, property, integration, crash) and the
# web page's tests (unit tests of the in-browser verifier, end-to-end tests in
# headless Chromium against real `urne` processes). A persistent CARGO_TARGET_DIR
# keeps the RocksDB build (about 12 minutes on 2 cores) between runs.
# Ends with one line `N passed, N failed` over every test run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/urne-target}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

status=0
cargo build --workspace --bins --locked 2>&1 | tee -a "$log" || status=$?
cargo test --workspace --locked "$@" 2>&1 | tee -a "$log" || status=$?

# The web page: Node's test runner, with the binary just built.
if [ "${URNE_SKIP_WEB:-0}" != 1 ]; then
  (cd web && URNE_BIN="$CARGO_TARGET_DIR/debug/urne" node --test --test-reporter=spec tests/) 2>&1 | tee -a "$log" || status=$?
fi

passed=$(grep -Eo 'test result: [A-Za-z]+\. [0-9]+ passed; [0-9]+ failed' "$log" | awk '{p+=$4} END {print p+0}')
failed=$(grep -Eo 'test result: [A-Za-z]+\. [0-9]+ passed; [0-9]+ failed' "$log" | awk '{f+=$6} END {print f+0}')
# Node's spec reporter ends with `ℹ pass N` and `ℹ fail N`.
wpassed=$(grep -Eo '^ℹ pass [0-9]+' "$log" | awk '{p+=$3} END {print p+0}')
wfailed=$(grep -Eo '^ℹ fail [0-9]+' "$log" | awk '{f+=$3} END {print f+0}')
echo
echo "$((passed + wpassed)) passed, $((failed + wfailed)) failed"
exit "$status"
