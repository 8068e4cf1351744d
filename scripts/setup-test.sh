#!/usr/bin/env bash
# What only the tests need, on top of scripts/setup.sh (which builds and runs the collector):
# Debian packages of real peers and tools, and the Python programs the integration tests use as
# real peers, in a virtualenv of their own (.cache/pyvenv, from test/requirements.txt). Idempotent
# and quick when nothing changed. `npm test`, `npm run test:kernels` and the benchmarks run this
# after setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { echo "setup-test: $*" >&2; }
. scripts/lib/debian-packages.sh

# 1. Debian packages only the tests, the kernel matrix, the benchmarks and the linters use (real
# peers and tools): curl and nghttp2-client (clients), nginx-light, haproxy (a splicing proxy) and
# caddy (a Go file server) as servers, bpftool (which programs are loaded), python3-venv (the peers'
# virtualenv), openssl (the TLS tests' certificates); qemu-system-x86, busybox-static, cpio, file and liburing-dev (an io_uring client)
# for the kernel matrix; clang-format for npm run lint (bpf/ and native/).
TEST_PKGS=(curl nghttp2-client nginx-light haproxy caddy bpftool python3-venv openssl
           qemu-system-x86 busybox-static cpio file liburing-dev clang-format)
install_missing "sudo npm test" "${TEST_PKGS[@]}"

# 2. Python peers, in a virtualenv of their own.
VENV=.cache/pyvenv
STAMP=$VENV/.requirements-stamp
if [ ! -e "$STAMP" ] || [ test/requirements.txt -nt "$STAMP" ]; then
  if [ ! -x "$VENV/bin/python3" ]; then
    say "creating the Python virtualenv for test peers ($VENV)"
    python3 -m venv "$VENV"
  fi
  say "installing Python test peers from test/requirements.txt"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r test/requirements.txt
  touch "$STAMP"
fi
