#!/usr/bin/env python3
"""Writes a gzip'd initramfs (cpio "newc") for the Linux guest, without root:
busybox-static as /bin/busybox with a link per applet, /init -> busybox (busybox init),
the files of guest/linux/rootfs/, and the device nodes the kernel needs before devtmpfs.

Usage: mkinitramfs.py BUSYBOX ROOTFS_DIR OUT.cpio.gz
"""
import gzip
import os
import stat
import subprocess
import sys

# Applets linked in /bin: the shell, init and what the scripts and a user need.
APPLETS = """sh ash cat chmod cp date dd df dmesg echo env free grep halt head hostname
init kill ln ls mkdir mknod mount mv poweroff ps pwd reboot rm rmdir seq sleep sync
tail test true false umount uname uptime vi wc which yes""".split()


class Cpio:
    def __init__(self):
        self.out = bytearray()
        self.ino = 1

    def add(self, name, mode, data=b"", rdev=(0, 0)):
        namez = name.encode() + b"\0"
        fields = [self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(namez), 0]
        self.ino += 1
        self.out += b"070701" + b"".join(b"%08X" % f for f in fields) + namez
        self.out += b"\0" * (-len(self.out) % 4)
        self.out += data
        self.out += b"\0" * (-len(self.out) % 4)

    def dir(self, name):
        self.add(name, stat.S_IFDIR | 0o755)

    def file(self, name, data, perm=0o644):
        self.add(name, stat.S_IFREG | perm, data)

    def link(self, name, target):
        self.add(name, stat.S_IFLNK | 0o777, target.encode())

    def chardev(self, name, major, minor, perm=0o600):
        self.add(name, stat.S_IFCHR | perm, rdev=(major, minor))

    def finish(self):
        self.add("TRAILER!!!", 0)
        return bytes(self.out)


def main():
    busybox, rootfs, out = sys.argv[1:4]
    c = Cpio()
    for d in ("bin", "sbin", "dev", "proc", "sys", "tmp", "root", "etc"):
        c.dir(d)
    c.chardev("dev/console", 5, 1)
    c.chardev("dev/ttyS0", 4, 64)
    c.chardev("dev/null", 1, 3, 0o666)
    with open(busybox, "rb") as f:
        c.file("bin/busybox", f.read(), 0o755)
    for a in APPLETS:
        c.link("bin/" + a, "busybox")
    c.link("sbin/init", "../bin/busybox")
    c.link("init", "bin/busybox")
    for top, dirs, files in sorted(os.walk(rootfs)):
        rel = os.path.relpath(top, rootfs)
        for d in sorted(dirs):
            p = os.path.normpath(os.path.join(rel, d))
            if p not in ("etc",):
                c.dir(p)
        for fn in sorted(files):
            src = os.path.join(top, fn)
            with open(src, "rb") as f:
                perm = 0o755 if os.access(src, os.X_OK) else 0o644
                c.file(os.path.normpath(os.path.join(rel, fn)), f.read(), perm)
    with gzip.open(out, "wb", compresslevel=9) as f:
        f.write(c.finish())


if __name__ == "__main__":
    main()
