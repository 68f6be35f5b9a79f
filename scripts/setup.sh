#!/usr/bin/env bash
# Installs what building and testing urne needs on a fresh Debian machine:
# libclang and clang (the RocksDB bindings are generated and compiled from source),
# and clippy (scripts/test.sh lints with it).
# Idempotent: does nothing when everything is there.
set -euo pipefail

need=()
dpkg -s libclang-dev >/dev/null 2>&1 || need+=(libclang-dev)
dpkg -s clang >/dev/null 2>&1 || need+=(clang)
if [ "${#need[@]}" -gt 0 ]; then
  echo "setup: installing ${need[*]}" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
# scripts/test.sh lints with clippy before testing.
if ! cargo clippy --version >/dev/null 2>&1; then
  echo "setup: installing the clippy component" >&2
  rustup component add clippy
fi
