# Shared by the scripts that build test and benchmark tools from the Go module proxy
# (build-jaeger.sh, build-otelcol.sh, build-ghz.sh). Source it after setting TOOL (a short name
# for messages).

log() { echo "build-$TOOL: $*" >&2; }

# Exits 3 without Go. Modules come from the module proxy; where the checksum database cannot be
# reached, go would refuse them, so verification against it is off unless the caller set GOSUMDB
# (go.sum still records every module's hash).
go_build_prelude() {
  if ! command -v go >/dev/null 2>&1; then
    log "go is not installed; cannot build $TOOL"
    exit 3
  fi
  export GOSUMDB="${GOSUMDB:-off}"
  export GOFLAGS="${GOFLAGS:--buildvcs=false}"
}

# go_build_run LOGFILE COMMAND...: runs the build with its output in LOGFILE and a heartbeat on
# stderr every 30 s (so a CI log shows progress); on failure prints the log's tail and exits 1.
go_build_run() {
  local logfile=$1 start hb
  shift
  start=$(date +%s)
  ( while sleep 30; do log "still building ($(( $(date +%s) - start ))s)..."; done ) &
  hb=$!
  if ! "$@" > "$logfile" 2>&1; then
    kill $hb 2>/dev/null || true
    log "build failed; last lines of $logfile:"
    tail -20 "$logfile" >&2
    exit 1
  fi
  kill $hb 2>/dev/null || true
  log "built in $(( $(date +%s) - start ))s"
}
