#!/usr/bin/env bash
# Every set-up step for a fresh Debian 12 machine, idempotent and quick when nothing changed:
# Debian build packages, npm dependencies, libbpf (fetched from Debian's source package and
# built static), BPF objects, the native addon, the TypeScript build.
# `npm start` and `npm test` run this first.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { echo "setup: $*" >&2; }
newer() { # newer TARGET SOURCES...: true when TARGET is missing or older than any source
  local t=$1; shift
  [ -e "$t" ] || return 0
  [ -n "$(find "$@" -newer "$t" -print -quit 2>/dev/null)" ]
}

# 1. Debian packages needed to build (and, for the tests, real clients and servers).
# qemu-system-x86, busybox-static, cpio and liburing-dev serve the kernel matrix (npm run test:kernels);
# haproxy (splicing proxy) and caddy (Go file server) serve the sendfile/splice tests.
PKGS=(clang llvm libelf-dev zlib1g-dev pkg-config make g++ dpkg-dev python3 curl bpftool
      qemu-system-x86 busybox-static cpio liburing-dev file nginx-light nghttp2-client haproxy caddy)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    say "missing Debian packages: ${missing[*]} — run 'sudo npm run setup' once, or install them"
    exit 1
  fi
  say "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 2. npm dependencies, exactly as locked.
if newer node_modules/.package-lock.json package-lock.json package.json; then
  say "installing npm dependencies"
  # --ignore-scripts: npm would otherwise run node-gyp on binding.gyp before libbpf exists.
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null
fi

# 3. libbpf, static and position-independent, from Debian's source package.
bash scripts/fetch-libbpf.sh

# 4. BPF objects.
make -s -f bpf/Makefile

# 5. The native addon (libbpf linked in statically).
ADDON=build/Release/tcpsniff.node
if newer "$ADDON" native binding.gyp .cache/libbpf/out/libbpf.a bpf/include/record.h; then
  say "building the native addon"
  # --nodedir: node-gyp would otherwise try to download Node's headers.
  npx --no-install node-gyp rebuild --nodedir="$(dirname "$(dirname "$(command -v node)")")" --loglevel=error >/dev/null
  touch "$ADDON"
fi

# 6. TypeScript.
if newer dist/.tsbuild-stamp src test bench tsconfig.json package-lock.json; then
  say "compiling TypeScript"
  npx --no-install tsc -p tsconfig.json
  touch dist/.tsbuild-stamp
fi
