#!/usr/bin/env bash
# Runs every test of urne: installs what is missing, then the Rust tests of the
# workspace (unit, property, integration, crash). A persistent CARGO_TARGET_DIR keeps
# the RocksDB build (about 12 minutes on 2 cores) between runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/urne-target}"
cargo test --workspace --locked "$@"
