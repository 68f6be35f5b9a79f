#!/usr/bin/env bash
# Installs what urne needs on a fresh Debian machine, and nothing more.
#
#   bash scripts/setup.sh          # to build and run a log (README command 1)
#   bash scripts/setup.sh --test   # to run every test too (scripts/test.sh calls this)
#
# Always: Debian libclang-dev and clang (the RocksDB bindings are generated with
# libclang, and RocksDB's C++ is compiled from source with clang++: .cargo/config.toml).
# With --test, also:
# - clippy (scripts/test.sh lints with it);
# - systemd-analyze (Debian systemd; tests/dist.rs checks the units in dist/systemd);
# - Chromium, Node.js and npm (the web page's end-to-end tests drive Debian's Chromium
#   with playwright-core; no browser is downloaded by npm) and the web tests' npm
#   packages (web/package-lock.json, `npm ci`); URNE_SKIP_WEB=1 leaves these out;
# - Python 3 with `cryptography` (Debian's python3-cryptography), for the integration
#   guide's example (docs/examples/submit_ballot.py, run by client/tests/docs.rs);
# - PostgreSQL (Debian's postgresql: tests/storage.rs, takeover.rs and db_failover.rs
#   start their own servers with initdb and pg_ctl; the machine's service is not used).
# - Debian's belenios-tool: a real Belenios election anchored whole in urne
#   (client/tests/cli.rs, `a_belenios_archive_is_anchored_whole`).
# Idempotent: does nothing when everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."

test=0
case "${1:-}" in
  "") ;;
  --test) test=1 ;;
  *) echo "usage: $0 [--test]" >&2; exit 2 ;;
esac
web=0
[ "$test" = 1 ] && [ "${URNE_SKIP_WEB:-0}" != 1 ] && web=1

need=()
dpkg -s libclang-dev >/dev/null 2>&1 || need+=(libclang-dev)
dpkg -s clang >/dev/null 2>&1 || need+=(clang)
if [ "$test" = 1 ]; then
  command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
  command -v python3 >/dev/null 2>&1 || need+=(python3)
  python3 -c 'import cryptography' >/dev/null 2>&1 || need+=(python3-cryptography)
  # PostgreSQL's binaries (initdb, pg_ctl, pg_basebackup, psql): the storage, takeover
  # and database failover tests start their own servers in temporary directories.
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
  command -v belenios-tool >/dev/null 2>&1 || need+=(belenios-tool)
fi
if [ "$web" = 1 ]; then
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
[ "$test" = 1 ] || exit 0

# The `python3` first on PATH may not be Debian's (pyenv, a virtualenv): if Debian's
# python3-cryptography did not reach it, install the package into it from PyPI.
if ! python3 -c 'import cryptography' >/dev/null 2>&1; then
  echo "setup: pip install cryptography (for docs/examples/submit_ballot.py)" >&2
  python3 -m pip install --quiet cryptography
fi

# scripts/test.sh lints with clippy before testing.
if ! cargo clippy --version >/dev/null 2>&1; then
  echo "setup: installing the clippy component" >&2
  rustup component add clippy
fi

if [ "$web" = 1 ]; then
  # Reinstall only when the lockfile changed since the last install.
  if [ ! -f web/node_modules/.package-lock.json ] || ! cmp -s web/package-lock.json web/node_modules/.urne-lock; then
    echo "setup: npm ci in web/" >&2
    (cd web && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    cp web/package-lock.json web/node_modules/.urne-lock
  fi
fi
