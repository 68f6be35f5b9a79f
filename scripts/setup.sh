#!/usr/bin/env bash
# Installs what building and testing urne needs on a fresh Debian machine:
# - libclang and clang (the RocksDB bindings are generated and compiled from source);
# - clippy (scripts/test.sh lints with it);
# - Chromium, Node.js and npm (the web page's end-to-end tests drive Debian's Chromium
#   with playwright-core; no browser is downloaded by npm);
# - the web tests' npm packages (web/package-lock.json, `npm ci`);
# - Python 3 with `cryptography` (Debian's python3-cryptography), for the integration
#   guide's example (docs/examples/submit_ballot.py, run by client/tests/docs.rs).
# Idempotent: does nothing when everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
dpkg -s libclang-dev >/dev/null 2>&1 || need+=(libclang-dev)
dpkg -s clang >/dev/null 2>&1 || need+=(clang)
command -v python3 >/dev/null 2>&1 || need+=(python3)
python3 -c 'import cryptography' >/dev/null 2>&1 || need+=(python3-cryptography)
if [ "${URNE_SKIP_WEB:-0}" != 1 ]; then
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
  command -v node >/dev/null 2>&1 || need+=(nodejs)
  command -v npm >/dev/null 2>&1 || need+=(npm)
fi
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

if [ "${URNE_SKIP_WEB:-0}" != 1 ]; then
  # Reinstall only when the lockfile changed since the last install.
  if [ ! -f web/node_modules/.package-lock.json ] || ! cmp -s web/package-lock.json web/node_modules/.urne-lock; then
    echo "setup: npm ci in web/" >&2
    (cd web && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    cp web/package-lock.json web/node_modules/.urne-lock
  fi
fi
