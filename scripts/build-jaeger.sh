#!/usr/bin/env bash
# Builds Jaeger v2 (the all-in-one `jaeger` binary: OTLP receiver, in-memory storage, query API)
# from the Go module proxy, for the end-to-end tests. Idempotent: a binary built from the same
# module version is reused. Prints progress on stderr and the binary's path as the last line of
# stdout.
#
#   scripts/build-jaeger.sh            # → .cache/jaeger/v1.76.0/jaeger
#
# Jaeger's Go module is tagged v1.x (v1.76.0 is the v2.13 release line: cmd/jaeger is the v2
# binary). Its go.mod has replace directives, which `go install pkg@version` refuses, so the
# module is downloaded into the module cache and built inside a writable copy.
# First build: ~5-10 minutes on 2 cores (module downloads + compile), then instant.
set -euo pipefail

VERSION="${JAEGER_VERSION:-v1.76.0}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${TCPSNIFF_JAEGER_DIR:-$ROOT/.cache/jaeger}/$VERSION"
BIN="$OUT/jaeger"
TOOL=jaeger
source "$ROOT/scripts/lib/go-build.sh"

if [[ -x "$BIN" ]]; then
  log "up to date: $BIN"
  echo "$BIN"
  exit 0
fi
go_build_prelude
export GOFLAGS="$GOFLAGS -mod=mod"
mkdir -p "$OUT"

log "downloading github.com/jaegertracing/jaeger@$VERSION from the module proxy..."
DIR=$(go mod download -json "github.com/jaegertracing/jaeger@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
if [[ -z "$DIR" || ! -d "$DIR" ]]; then
  log "module download failed"
  exit 1
fi
rm -rf "$OUT/src"
cp -r "$DIR" "$OUT/src"
chmod -R u+w "$OUT/src"

log "building Jaeger $VERSION (cmd/jaeger); the first build downloads ~300 modules and compiles for several minutes..."
go_build_run "$OUT/build.log" go -C "$OUT/src" build -trimpath -ldflags="-s -w" -o "$BIN.new" ./cmd/jaeger
mv "$BIN.new" "$BIN"
rm -rf "$OUT/src"
echo "$BIN"
