#!/usr/bin/env bash
# What only the tests need, on top of scripts/setup.sh (which builds and runs the collector):
# the Python programs the integration tests use as real peers, in a virtualenv of their own
# (.cache/pyvenv, from test/requirements.txt). Idempotent and quick when nothing changed.
# `npm test` runs this after setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { echo "setup-test: $*" >&2; }

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
