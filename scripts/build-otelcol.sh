#!/usr/bin/env bash
# Builds a small, real OpenTelemetry Collector (OTLP receiver; file and OTLP exporters) with the
# Collector's own builder (ocb): for the tests that check what our otlp_grpc exporter sends (file
# exporter) and for the sidecar shape tcpsniff-collector → Collector → Jaeger (otlp exporter).
# Idempotent: a binary built from the same manifest is reused. Prints progress on stderr and
# the binary's path as the last line of stdout.
#
#   scripts/build-otelcol.sh            # → .cache/otelcol/v0.130.0/otelcol-tcpsniff-test
#
# Needs Go and the Go module proxy; first build ~2-4 minutes (module downloads), then instant.
set -euo pipefail

VERSION="${OTELCOL_VERSION:-v0.130.0}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${TCPSNIFF_OTELCOL_DIR:-$ROOT/.cache/otelcol}/$VERSION"
BIN="$OUT/otelcol-tcpsniff-test"
TOOL=otelcol
source "$ROOT/scripts/lib/go-build.sh"
go_build_prelude

mkdir -p "$OUT"
MANIFEST="$OUT/manifest.yaml"
cat > "$MANIFEST.new" <<YAML
dist:
  name: otelcol-tcpsniff-test
  description: OTLP receiver, file and OTLP exporters, for tcpsniff-collector's tests
  output_path: $OUT/src
receivers:
  - gomod: go.opentelemetry.io/collector/receiver/otlpreceiver $VERSION
exporters:
  - gomod: github.com/open-telemetry/opentelemetry-collector-contrib/exporter/fileexporter $VERSION
  - gomod: go.opentelemetry.io/collector/exporter/otlpexporter $VERSION
processors:
  - gomod: go.opentelemetry.io/collector/processor/batchprocessor $VERSION
YAML

if [[ -x "$BIN" && -f "$MANIFEST" ]] && cmp -s "$MANIFEST" "$MANIFEST.new"; then
  rm -f "$MANIFEST.new"
  log "up to date: $BIN"
  echo "$BIN"
  exit 0
fi
mv "$MANIFEST.new" "$MANIFEST"
rm -f "$BIN"

if [[ ! -x "$OUT/bin/builder" ]]; then
  log "installing the Collector builder (ocb) $VERSION..."
  GOBIN="$OUT/bin" go install "go.opentelemetry.io/collector/cmd/builder@$VERSION"
fi

log "building the Collector $VERSION (otlp receiver, batch processor, file and otlp exporters); the first build takes a few minutes..."
go_build_run "$OUT/build.log" "$OUT/bin/builder" --config "$MANIFEST"
mv "$OUT/src/otelcol-tcpsniff-test" "$BIN"
echo "$BIN"
