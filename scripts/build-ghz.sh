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
TOOL=ghz
source "$ROOT/scripts/lib/go-build.sh"

if [[ -x "$BIN" ]]; then
  echo "$BIN"
  exit 0
fi
go_build_prelude
mkdir -p "$OUT"
log "building github.com/bojand/ghz/cmd/ghz@$VERSION from the module proxy (first time: a minute or two)..."
export GOFLAGS="$GOFLAGS -mod=mod" GOBIN="$OUT"
go_build_run "$OUT/build.log" go install -trimpath -ldflags="-s -w" "github.com/bojand/ghz/cmd/ghz@$VERSION"
echo "$BIN"
