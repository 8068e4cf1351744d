#!/usr/bin/env bash
# Builds the kernel-matrix VM's root file system as an initramfs: busybox, node, curl, nginx (with
# their shared libraries, libssl included), a TLS certificate, the built project (dist/, the addon, node_modules) and an io_uring
# HTTP client. Output: .cache/kernel-matrix/initramfs.cpio.gz (rebuilt when an input changed).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=.cache/kernel-matrix
IMG=$OUT/initramfs.cpio.gz
mkdir -p "$OUT"
say() { echo "kernel-matrix: $*" >&2; }

for tool in busybox cpio cc; do command -v $tool >/dev/null || { say "$tool is missing (npm run setup installs it)"; exit 1; }; done
BUSYBOX=$(command -v busybox)
file "$BUSYBOX" 2>/dev/null | grep -q "statically linked" || BUSYBOX=/bin/busybox

# The Node scripts/setup.sh chose (>= 22), as the collector runs on this machine.
NODE=.cache/node/bin/node
[ -x "$NODE" ] || { say "$NODE is missing (npm run setup chooses it)"; exit 1; }

if [ -f "$IMG" ] && [ -z "$(find dist build/Release/tcpsniff.node test/fixtures scripts/kernel-matrix package-lock.json "$NODE" -newer "$IMG" -print -quit)" ]; then
  exit 0
fi
say "building the VM root file system"
ROOTFS=$OUT/rootfs
rm -rf "$ROOTFS"
mkdir -p "$ROOTFS"/{bin,sbin,etc,proc,sys,dev,tmp,run,usr/bin,opt/tcpsniff/build/Release}

cp "$BUSYBOX" "$ROOTFS/bin/busybox"
for app in sh mount mkdir ip poweroff cat echo sleep ls ln uname dmesg; do ln -sf busybox "$ROOTFS/bin/$app"; done

# A program and every shared library it loads (ldd), at the same paths.
copy_with_libs() {
  local bin=$1 dest=$2
  cp -L "$bin" "$ROOTFS$dest"
  ldd "$bin" 2>/dev/null | grep -oE '/[^ ]+' | while read -r lib; do
    [ -f "$lib" ] || continue
    mkdir -p "$ROOTFS$(dirname "$lib")"
    cp -L "$lib" "$ROOTFS$lib"
  done
}
copy_with_libs "$(readlink -f "$NODE")" /usr/bin/node
copy_with_libs "$(command -v curl)" /usr/bin/curl
copy_with_libs "$(command -v nginx)" /usr/bin/nginx
mkdir -p "$ROOTFS"/var/lib/nginx "$ROOTFS"/var/log/nginx # its compiled-in temp and log directories
copy_with_libs build/Release/tcpsniff.node /opt/tcpsniff/build/Release/tcpsniff.node

cp -r dist package.json node_modules "$ROOTFS/opt/tcpsniff/"
mkdir -p "$ROOTFS/opt/tcpsniff/test"
cp -r test/fixtures "$ROOTFS/opt/tcpsniff/test/"
cc -O2 -static -o "$ROOTFS/opt/tcpsniff/uring-http" test/fixtures/uring-http.c -luring
cc -O2 -static -o "$ROOTFS/opt/tcpsniff/sendfile-http" test/fixtures/sendfile-http.c
# The TLS servers' self-signed certificate (the VM has no openssl CLI).
mkdir -p "$ROOTFS/opt/tcpsniff/tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 -subj /CN=localhost \
  -keyout "$ROOTFS/opt/tcpsniff/tls/key.pem" -out "$ROOTFS/opt/tcpsniff/tls/cert.pem" 2>/dev/null

printf '127.0.0.1 localhost\n::1 localhost\n' > "$ROOTFS/etc/hosts"
echo 'root:x:0:0:root:/:/bin/sh' > "$ROOTFS/etc/passwd"
echo 'root:x:0:' > "$ROOTFS/etc/group"
cat > "$ROOTFS/init" <<'INIT'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs dev /dev
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
ip link set lo up
export PATH=/usr/bin:/bin HOME=/tmp
echo "MATRIX-BOOT $(uname -r)"
arg() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
cd /opt/tcpsniff && MATRIX_BACKENDS="$(arg matrix_backends)" MATRIX_DEBUG="$(arg matrix_debug)" node dist/test/kernel-matrix/in-vm.js
echo "MATRIX-DONE"
poweroff -f
INIT
chmod +x "$ROOTFS/init"
(cd "$ROOTFS" && find . | cpio -o -H newc --quiet | gzip -1) > "$IMG.tmp"
mv "$IMG.tmp" "$IMG"
rm -rf "$ROOTFS"
say "root file system: $(du -h "$IMG" | cut -f1)"
