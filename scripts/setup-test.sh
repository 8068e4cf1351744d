#!/usr/bin/env bash
# What only the tests need, on top of scripts/setup.sh (which builds and runs the collector):
# the Python programs the integration tests use as real peers, in a virtualenv of their own
# (.cache/pyvenv, from test/requirements.txt). Idempotent and quick when nothing changed.
# `npm test` runs this after setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { echo "setup-test: $*" >&2; }

# 1. Debian packages only the tests use (real peers and tools), installed as root.
TEST_PKGS=(nghttp2-client)  # h2load, nghttp: HTTP/2 clients
missing=()
for p in "${TEST_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    say "missing Debian packages for the tests: ${missing[*]} — run 'sudo npm test' once, or install them"
    exit 1
  fi
  say "installing Debian packages for the tests: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 2. Python peers, in a virtualenv of their own.
VENV=.cache/pyvenv
STAMP=$VENV/.requirements-stamp
if [ ! -e "$STAMP" ] || [ test/requirements.txt -nt "$STAMP" ]; then
  if [ ! -x "$VENV/bin/python3" ]; then
    say "creating the Python virtualenv for test peers ($VENV)"
    python3 -m venv "$VENV" || { say "python3 -m venv failed: install python3-venv"; exit 1; }
  fi
  say "installing Python test peers from test/requirements.txt"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r test/requirements.txt
  touch "$STAMP"
fi
