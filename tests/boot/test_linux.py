"""Linux guests in Bochs (tests/iso/linux.cfg): Debian's own kernel with the busybox
initramfs of `make linux`, two of them (web, 128M; db, 96M) beside tinyos alpha.

One boot of the ISO carries the whole scenario, since Linux takes a minute or two of
emulated time to reach its init banner in Bochs:
  1. both Linux guests reach their banner; alpha keeps ticking meanwhile;
  2. `console web`, `uname -a` answers with web's host name and Debian's release;
  3. `poweroff` in db: `hv: guest db: powered off`, and the console session with db ends
     by itself; web answers and alpha ticks after it;
  4. `reboot` in web: `hv: guest web: rebooted` (the console stays attached), and web
     boots to its banner again, while db stays off.
"""

import re

import emu
from scenario import assert_no_panic, complete_log, wait_line, wait_ticks, status_lines

from test_guests import iso

TIMEOUT = 1500           # per test, enforced by tests/run.py
BOOT_WAIT = 900          # two Linux boots side by side in Bochs
CMD_WAIT = 60

BANNER = r"\*\*\* anfitrion Linux guest: Linux (\S+) on {name} \(up [\d.]+ s\) \*\*\*"


def banner(name, prefixed=True):
    head = rf"\[{name}\] " if prefixed else ""
    return "^" + head + BANNER.format(name=name) + "$"


def attach(m, name):
    start = len(m.log)
    m.send(f"console {name}\r")
    wait_line(m, rf"^hv: console: attached to {name}; Ctrl-\] detaches$", CMD_WAIT, start)
    return len(m.log)


def detach(m, name):
    start = len(m.log)
    m.send(b"\x1d")
    wait_line(m, rf"^hv: console: detached from {name}$", CMD_WAIT, start)


def shell(m, name, cmd, expect, timeout=CMD_WAIT):
    """Type CMD into the attached shell of NAME; the first line matching EXPECT after it."""
    start = len(m.log)
    m.send("\r")                         # a fresh prompt first: whatever was typed is gone
    wait_line(m, rf"{name}:/# ", timeout, start, partial=True)
    start = len(m.log)
    m.send(cmd + "\r")
    return wait_line(m, expect, timeout, start)


def test_linux_guests():
    """Two Linux guests and tinyos at once; poweroff and reboot touch only their guest."""
    with emu.Machine("bochs", iso=iso("linux"), mem_mb=512) as m:
        wait_line(m, r"^hv: guest web: loaded \(Linux, 128 MiB RAM, 1 module,", 120)
        wait_line(m, r"^hv: guest db: loaded \(Linux, 96 MiB RAM, 1 module,", 120)
        web = wait_line(m, banner("web"), BOOT_WAIT)
        release = web.group(1)
        assert re.fullmatch(r"6\.\d+\.\d+-\d+-amd64", release), f"unexpected release {release!r}"
        wait_line(m, banner("db"), BOOT_WAIT)
        wait_line(m, r"^hv> ", 30, partial=True)
        ticks = status_lines(m, "alpha")
        assert len(ticks) >= 5, f"alpha printed only {len(ticks)} status lines during the Linux boots"

        # 2. uname -a through the console.
        attach(m, "web")
        got = shell(m, "web", "uname -a", r"^Linux web 6\.\S+ .* x86_64.*$")
        assert release in got.group(0), f"uname -a: {got.group(0)!r} does not name {release}"
        shell(m, "web", "cat /proc/cpuinfo | grep -c ^processor", r"^1\s*$")
        detach(m, "web")
        start = len(m.log)
        m.send("info web\r")
        wait_line(m, r"^  image: Linux bzImage, \d+ KiB, 1 module \(\d+ KiB\)$", CMD_WAIT, start)
        wait_line(m, r"^  vlapic: xAPIC, svr 1ff .*$", CMD_WAIT, start)

        # 3. poweroff in db stops db only.
        attach(m, "db")
        start = len(m.log)
        m.send("\r")
        wait_line(m, r"db:/# ", CMD_WAIT, start, partial=True)
        m.send("poweroff\r")
        off = wait_line(m, r"^hv: guest db: powered off$", 180, start)
        # The session ends with its guest; the shell has the console again.
        wait_line(m, r"^hv: console: detached from db \(it is stopped\)$", CMD_WAIT, start)
        wait_ticks(m, "alpha", 3, start=off.end())
        attach(m, "web")
        shell(m, "web", "echo still-$((6*7))", r"^still-42\s*$")

        # 4. reboot in web brings web back, db stays off.
        start = len(m.log)
        m.send("reboot\r")
        back = wait_line(m, r"^hv: guest web: rebooted$", 180, start)
        detach(m, "web")
        wait_line(m, banner("web"), BOOT_WAIT, back.end())
        wait_ticks(m, "alpha", 3, start=back.end())
        log = complete_log(m)
        assert not re.search(r"^hv: guest db: (started|rebooted)", log[off.end():], re.M), \
            "db came back after its poweroff"
        assert not re.search(r"^hv: guest \S+: crashed", log, re.M), "a guest crashed"
        assert_no_panic(m)
