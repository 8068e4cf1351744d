#!/bin/sh
# bin/tcpsniff-collector's shell side: on a checkout not yet built, builds what this user can use,
# then runs the CLI on the Node scripts/setup.sh chose.
#   root: everything (scripts/setup.sh), as `npm start` would;
#   anyone else: only what validate, help, doctor and version run on (setup.sh --js-only), which
#   installs no Debian package and never asks for root (capturing needs root anyway).
# Set-up output goes to stderr: stdout stays the command's.
bin=$1
shift
root=$(dirname "$(readlink -f "$0")")/..
if [ "$(id -u)" = 0 ]; then
  [ -e "$root/dist/src/cli.js" ] && [ -e "$root/build/Release/tcpsniff.node" ] || bash "$root/scripts/setup.sh" >&2 || exit 1
else
  [ -e "$root/dist/src/cli.js" ] || bash "$root/scripts/setup.sh" --js-only >&2 || exit 1
fi
# V8's young generation for a long-running daemon: Node 24 lets each semi-space grow to 64 MiB
# (128 MiB of young generation, which a busy collector reaches and holds). 4 MiB took 118-126 MiB
# off the collector's PSS (nginx-1k, nginx-1k-c10k) and no CPU: the pipeline microbenchmark spent
# 12.0 ms per 1,000 spans against 13.2 with 64 MiB (bench/micro.ts --only pipeline, 5 runs each;
# the end-to-end rounds, +1% to +13%, were within that day's noise). See the commit adding this.
# TCPSNIFF_NODE_FLAGS (even empty) replaces the flags.
flags=${TCPSNIFF_NODE_FLAGS-"--max-semi-space-size=4"}
# shellcheck disable=SC2086 # one word per flag
exec "$root/scripts/node" $flags "$bin" "$@"
