#!/usr/bin/env bash
# Builds the Linux guest from Debian's own packages, under the build directory only:
#   OUT/vmlinuz           the kernel of package linux-image-amd64 (its bzImage, unmodified)
#   OUT/rootfs.cpio.gz    an initramfs: busybox-static, an init that mounts /proc, /sys and
#                         /dev, prints a banner with `uname -r`, and a shell on ttyS0
# Usage: guest/linux/build.sh OUT_DIR WORK_DIR
# Needs apt-get (with package lists) and dpkg-deb; nothing is installed on the host.
set -euo pipefail

OUT=${1:?usage: build.sh OUT_DIR WORK_DIR}
WORK=${2:?usage: build.sh OUT_DIR WORK_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUT" "$WORK/debs"
OUT=$(cd "$OUT" && pwd)
WORK=$(cd "$WORK" && pwd)

die() { echo "linux guest: $*" >&2; exit 1; }

# linux-image-amd64 is a metapackage: the kernel is in the versioned package it depends on.
kernel_package() {
    apt-cache depends linux-image-amd64 2>/dev/null |
        awk '/Depends: linux-image-[0-9]/ { print $2; exit }'
}
kpkg=$(kernel_package) || true
if [[ -z $kpkg && $(id -u) == 0 ]]; then
    echo "linux guest: apt-get update (no package lists yet)"
    apt-get update -qq >&2 || true
    kpkg=$(kernel_package) || true
fi
[[ -n $kpkg ]] || die "apt-cache knows no linux-image-amd64 (run apt-get update as root)"

fetch() {   # fetch PACKAGE: the .deb into WORK/debs, once
    local pkg=$1
    if ! ls "$WORK/debs/${pkg}_"*.deb >/dev/null 2>&1; then
        echo "linux guest: downloading $pkg"
        (cd "$WORK/debs" && apt-get download "$pkg" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2) ||
            die "apt-get download $pkg failed"
        ls "$WORK/debs/${pkg}_"*.deb >/dev/null 2>&1 || die "apt-get download $pkg produced no .deb"
    fi
}
fetch "$kpkg"
fetch busybox-static

rm -rf "$WORK/kernel" "$WORK/busybox"
dpkg-deb -x "$WORK/debs/${kpkg}_"*.deb "$WORK/kernel"
dpkg-deb -x "$WORK/debs/busybox-static_"*.deb "$WORK/busybox"
vmlinuz=$(ls "$WORK/kernel/boot/vmlinuz-"* | head -n1)
[[ -f $vmlinuz ]] || die "no vmlinuz in $kpkg"
cp "$vmlinuz" "$OUT/vmlinuz"
echo "$kpkg" >"$OUT/vmlinuz.version"

python3 "$HERE/mkinitramfs.py" "$WORK/busybox/bin/busybox" "$HERE/rootfs" "$OUT/rootfs.cpio.gz"
echo "linux guest: $OUT/vmlinuz ($kpkg), $OUT/rootfs.cpio.gz"
