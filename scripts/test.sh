#!/usr/bin/env bash
# Runs every test of urne: installs what is missing (scripts/setup.sh --test), lints
# the whole workspace with clippy (warnings are errors), then the Rust tests of the
# workspace (unit, property, integration, crash, the operator files in dist/; the API
# and crash tests a second time on PostgreSQL) and the
# web page's tests (unit tests of the in-browser verifier, end-to-end tests in
# headless Chromium against real `urne` processes). Everything builds in the dev
# profile, into the same CARGO_TARGET_DIR as scripts/demo.sh (README command 1): the
# RocksDB build (the longest step, see BENCHMARKS.md "First contact") is made once and
# kept between runs.
# Ends with one line `N passed, N failed` over every test run, where each failed lint
# step (clippy, `cargo fmt --check`, `cargo doc` with warnings as errors, the module
# layering of scripts/layers.py) counts as one
# failure; the exit status is non-zero if anything failed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/urne-target}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

status=0
lint_failed=0
# Lint first: a warning anywhere (library, binaries, tests, benches) fails the run.
cargo clippy --workspace --all-targets --locked -- -D warnings 2>&1 | tee -a "$log" || {
  status=$?
  lint_failed=1
  echo "clippy: FAILED (warnings are errors)" >&2
}
# The habits: formatted code, and documentation that builds without a warning (broken
# intra-doc links, unclosed HTML in doc comments). Each failure counts as one.
cargo fmt --all --check 2>&1 | tee -a "$log" || {
  status=1
  lint_failed=$((lint_failed + 1))
  echo "cargo fmt --check: FAILED (run cargo fmt --all)" >&2
}
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked 2>&1 | tee -a "$log" || {
  status=1
  lint_failed=$((lint_failed + 1))
  echo "cargo doc: FAILED (warnings are errors)" >&2
}
# The layering: no import circle between modules, no module using one listed after it
# in its crate's `# Layout` (scripts/layers.py, no build needed).
python3 scripts/layers.py 2>&1 | tee -a "$log" || {
  status=1
  lint_failed=$((lint_failed + 1))
  echo "scripts/layers.py: FAILED (a module circle or an upward use)" >&2
}
cargo build --workspace --bins --locked 2>&1 | tee -a "$log" || status=$?
cargo test --workspace --locked "$@" 2>&1 | tee -a "$log" || status=$?
# The API and crash tests again with the log on PostgreSQL (each test binary starts
# its own cluster in a temporary directory, one database per log: tests/common/backend.rs).
URNE_TEST_BACKEND=postgres cargo test --locked -p urne --test api --test crash "$@" 2>&1 | tee -a "$log" || status=$?

# The web page: Node's test runner, with the binary just built.
if [ "${URNE_SKIP_WEB:-0}" != 1 ]; then
  (cd web && URNE_BIN="$CARGO_TARGET_DIR/debug/urne" node --test --test-reporter=spec tests/) 2>&1 | tee -a "$log" || status=$?
fi

passed=$(grep -Eo 'test result: [A-Za-z]+\. [0-9]+ passed; [0-9]+ failed' "$log" | awk '{p+=$4} END {print p+0}')
failed=$(grep -Eo 'test result: [A-Za-z]+\. [0-9]+ passed; [0-9]+ failed' "$log" | awk '{f+=$6} END {print f+0}')
# Node's spec reporter ends with `ℹ pass N` and `ℹ fail N`.
wpassed=$(grep -Eo '^ℹ pass [0-9]+' "$log" | awk '{p+=$3} END {print p+0}')
wfailed=$(grep -Eo '^ℹ fail [0-9]+' "$log" | awk '{f+=$3} END {print f+0}')
passed=$((passed + wpassed))
failed=$((failed + wfailed + lint_failed))
echo
if [ "$lint_failed" -ne 0 ]; then
  echo "lint steps failed: $lint_failed (clippy, fmt, doc, layers; each counted as 1 failure)"
fi
echo "${passed} passed, ${failed} failed"
exit "$status"
