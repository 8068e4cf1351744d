#!/usr/bin/env bash
# Fetches libbpf's source from Debian's source package (checksummed by its .dsc), builds it as
# a position-independent static library, and installs its headers — all under .cache/libbpf.
# Nothing third-party is committed. Idempotent: does nothing when the library is already built.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="$PWD/.cache/libbpf"
OUT="$CACHE/out"
[ -f "$OUT/libbpf.a" ] && [ -f "$OUT/include/bpf/bpf_helpers.h" ] && exit 0

echo "setup: fetching libbpf source from Debian's source package"
mkdir -p "$CACHE/apt/lists/partial" "$OUT"
MIRROR=$(sed -n 's/^URIs: //p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
[ -n "$MIRROR" ] || MIRROR=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null)
[ -n "$MIRROR" ] || { echo "setup: cannot find a Debian mirror in /etc/apt" >&2; exit 1; }
SUITE=${LIBBPF_SUITE:-bookworm}
echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR $SUITE main" > "$CACHE/apt/sources.list"
APT=(-o "Dir::Etc::SourceList=$CACHE/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
     -o "Dir::State::Lists=$CACHE/apt/lists" -o APT::Sandbox::User=root -qq)
apt-get "${APT[@]}" update
cd "$CACHE"
rm -rf src-tree ./*.dsc ./*.tar.* 
apt-get "${APT[@]}" source --download-only libbpf
# dpkg-source verifies the tarballs against the checksums in the .dsc before unpacking.
dpkg-source --no-copy -x ./libbpf_*.dsc src-tree >dpkg-source.log 2>&1 || { cat dpkg-source.log >&2; exit 1; }
echo "setup: building libbpf $(sed -n 's/^Version: //p' ./libbpf_*.dsc) (static, -fPIC)"
mkdir -p "$CACHE/obj"
make -s -C src-tree/src BUILD_STATIC_ONLY=1 OBJDIR="$CACHE/obj" DESTDIR="$OUT" PREFIX= LIBDIR=/ \
     EXTRA_CFLAGS="-fPIC -O2 -g" -j"$(nproc)" install >/dev/null
# The install puts libbpf.a in $OUT and headers in $OUT/include/bpf.
ls "$OUT/libbpf.a" "$OUT/include/bpf/bpf_helpers.h" >/dev/null
