#!/usr/bin/env bash
# Builds ghz (a gRPC load generator, github.com/bojand/ghz) from the Go module proxy for the
# gRPC benchmark workloads. Idempotent: a binary of the same version is reused. Progress on
# stderr, the binary's path as the last line of stdout.
#
#   scripts/build-ghz.sh            # → .cache/ghz/v0.93.0/ghz
#
# v0.93.0 is the version the module proxy serves here. First build: ~1-2 minutes on 2 cores.
set -euo pipefail

VERSION="${GHZ_VERSION:-v0.93.0}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/.cache/ghz/$VERSION"
BIN="$OUT/ghz"
log() { echo "build-ghz: $*" >&2; }

if [[ -x "$BIN" ]]; then
  echo "$BIN"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  log "go is not installed; cannot build ghz"
  exit 3
fi
export GOSUMDB="${GOSUMDB:-off}"
export GOFLAGS="${GOFLAGS:--buildvcs=false} -mod=mod"
mkdir -p "$OUT"
log "building github.com/bojand/ghz/cmd/ghz@$VERSION from the module proxy (first time: a minute or two)..."
start=$(date +%s)
GOBIN="$OUT" go install -trimpath -ldflags="-s -w" "github.com/bojand/ghz/cmd/ghz@$VERSION" > "$OUT/build.log" 2>&1 || {
  log "build failed; last lines of $OUT/build.log:"
  tail -20 "$OUT/build.log" >&2
  exit 1
}
log "built $BIN in $(( $(date +%s) - start ))s"
echo "$BIN"
