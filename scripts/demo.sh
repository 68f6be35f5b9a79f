#!/usr/bin/env bash
# README command 1: installs what running a log needs (scripts/setup.sh, no test
# tools), builds urne and runs `urne demo` with the arguments given (`--help` lists
# them): a log in ./urne-data filled by a simulated election, kept serving.
#
# It builds in the dev profile, into the target directory scripts/test.sh uses
# (CARGO_TARGET_DIR, default ~/.cache/urne-target). Dependencies are optimised and
# built without debug information in that profile (Cargo.toml,
# [profile.dev.package."*"]; RocksDB's C++ unoptimised with clang++, code that runs only at build time
# at opt-level 0), so the demo runs at full speed where it counts, and command 2 (scripts/test.sh) reuses this build instead of compiling
# RocksDB a second time. A server runs a release build (docs/operations.md).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/urne-target}"
exec cargo run --locked --bin urne -- demo "$@"
