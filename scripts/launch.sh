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
exec "$root/scripts/node" "$bin" "$@"
