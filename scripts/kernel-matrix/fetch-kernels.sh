#!/usr/bin/env bash
# Downloads the Debian kernels of the matrix (the newest package of each line the mirror has)
# and unpacks their vmlinuz into .cache/kernels/<package>/. Cached: a kernel already there is
# not fetched again. Prints one line per kernel: "<label> <path to vmlinuz>".
#   5.10  bullseye  linux-image-5.10.0-N-cloud-amd64
#   6.1   bookworm  linux-image-6.1.0-N-cloud-amd64
#   6.12  bookworm  linux-image-6.12.N+deb12-cloud-amd64(-unsigned)
set -euo pipefail
cd "$(dirname "$0")/../.."
CACHE="$PWD/.cache/kernels"
mkdir -p "$CACHE"
say() { echo "kernel-matrix: $*" >&2; }

MIRROR=$(sed -n 's/^URIs: //p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
[ -n "$MIRROR" ] || MIRROR=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null)
[ -n "$MIRROR" ] || { say "cannot find a Debian mirror in /etc/apt"; exit 1; }
SECURITY=$(sed -n 's/^URIs: //p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | grep -m1 security || true)
[ -n "$SECURITY" ] || SECURITY="${MIRROR%/debian}/debian-security"

# A private apt configuration per suite, so the system's sources stay untouched.
apt_for() {
  local suite=$1 dir="$CACHE/apt-$1"
  mkdir -p "$dir/lists/partial"
  local key=/usr/share/keyrings/debian-archive-keyring.gpg
  {
    echo "deb [signed-by=$key] $MIRROR $suite main"
    echo "deb [signed-by=$key] $MIRROR $suite-updates main"
    echo "deb [signed-by=$key] $SECURITY $suite-security main"
  } > "$dir/sources.list.new"
  APT=(-o "Dir::Etc::SourceList=$dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
       -o "Dir::State::Lists=$dir/lists" -o APT::Sandbox::User=root -qq)
  # Refresh the index when the sources changed or at most daily.
  if ! cmp -s "$dir/sources.list.new" "$dir/sources.list" || [ -z "$(find "$dir/updated" -mtime -1 2>/dev/null)" ]; then
    mv "$dir/sources.list.new" "$dir/sources.list"
    apt-get "${APT[@]}" update
    touch "$dir/updated"
  fi
  rm -f "$dir/sources.list.new"
}

newest() { # newest package name matching a regexp, from the current APT config
  apt-cache "${APT[@]}" search --names-only "$1" | awk '{print $1}' | { grep -E "$1" || true; } | sort -V | tail -1
}

fetch() { # fetch LABEL SUITE REGEXP
  local label=$1 suite=$2 re=$3 pkg dir
  apt_for "$suite"
  pkg=$(newest "$re")
  [ -n "$pkg" ] || { say "no package matches $re in $suite"; return 1; }
  dir="$CACHE/$pkg"
  if ! ls "$dir"/boot/vmlinuz-* >/dev/null 2>&1; then
    say "downloading $pkg ($label)"
    rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
    (cd "$dir.tmp" && apt-get "${APT[@]}" download "$pkg" && dpkg-deb -x ./*.deb unpacked)
    mkdir -p "$dir/boot"
    cp "$dir.tmp"/unpacked/boot/vmlinuz-* "$dir/boot/"
    rm -rf "$dir.tmp"
  fi
  echo "$label $(ls "$dir"/boot/vmlinuz-* | head -1)"
}

want=${KERNELS:-"5.10 6.1 6.12"}
for k in $want; do
  case $k in
    5.10) fetch 5.10 bullseye '^linux-image-5\.10\.0-[0-9]+-cloud-amd64$' ;;
    6.1) fetch 6.1 bookworm '^linux-image-6\.1\.0-[0-9]+-cloud-amd64$' ;;
    6.12) fetch 6.12 bookworm '^linux-image-6\.12\.[0-9]+\+deb12-cloud-amd64(-unsigned)?$' ;;
    *) say "unknown kernel line $k (known: 5.10 6.1 6.12)"; exit 2 ;;
  esac
done
