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
log() { echo "build-jaeger: $*" >&2; }

if [[ -x "$BIN" ]]; then
  log "up to date: $BIN"
  echo "$BIN"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  log "go is not installed; cannot build Jaeger"
  exit 3
fi

export GOSUMDB="${GOSUMDB:-off}"
export GOFLAGS="${GOFLAGS:--buildvcs=false} -mod=mod"
mkdir -p "$OUT"
start=$(date +%s)

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
(
  cd "$OUT/src"
  # Print a heartbeat while go works, so a CI log shows progress.
  ( while sleep 30; do echo "build-jaeger: still building ($(( $(date +%s) - start ))s)..." >&2; done ) &
  hb=$!
  trap 'kill $hb 2>/dev/null || true' EXIT
  go build -trimpath -ldflags="-s -w" -o "$BIN.new" ./cmd/jaeger > "$OUT/build.log" 2>&1
) || {
  log "build failed; last lines of $OUT/build.log:"
  tail -20 "$OUT/build.log" >&2
  exit 1
}
mv "$BIN.new" "$BIN"
rm -rf "$OUT/src"
log "built $BIN in $(( $(date +%s) - start ))s"
echo "$BIN"
