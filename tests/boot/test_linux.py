"""Linux guests in Bochs (tests/iso/linux.cfg): Debian's own kernel with the busybox
initramfs of `make linux`, two of them (web, 128M, pv=on by default; db, 96M, pv=off)
beside tinyos alpha.

One boot of the ISO carries the whole scenario, since Linux takes a minute or two of
emulated time to reach its init banner in Bochs:
  1. both Linux guests reach their banner; alpha keeps ticking meanwhile;
  2. `console web`, `uname -a` answers with web's host name and Debian's release;
     KVM's paravirtual interface (docs/hypercalls.md, "What Linux already knows"): web's
     clocksource is kvm-clock (its log says it switched to it), its /proc/stat counts
     steal time, and `info web` shows its kvm-clock, PV EOI (with EOIs made in memory)
     and steal time areas; db (pv=off) uses another clocksource and counts no steal;
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


CLOCKSOURCE = "cat /sys/devices/system/clocksource/clocksource0/current_clocksource"
STEAL = "head -1 /proc/stat"        # cpu user nice system idle iowait irq softirq steal ...
KVM_INFO = (r"^  kvm: clock (0x[0-9a-f]+), PV EOI (0x[0-9a-f]+) \((\d+) EOIs in memory\), "
            r"steal time (0x[0-9a-f]+) \((\d+) ms\), (\d+) yields$")


def clocksource(m, name):
    return shell(m, name, CLOCKSOURCE, r"^([a-z][a-z0-9_-]*)\s*$").group(1)


def steal_ticks(m, name):
    """The steal column of /proc/stat's cpu line (USER_HZ ticks)."""
    return int(shell(m, name, STEAL, r"^cpu\s+(?:\d+\s+){7}(\d+)").group(1))


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
        # KVM's interface (pv=on): kvm-clock, and steal time while db and alpha ran.
        source = clocksource(m, "web")
        assert source == "kvm-clock", f"web's clocksource is {source!r}, not kvm-clock"
        got = shell(m, "web", "dmesg | grep -i -e kvm -e steal; echo grep-done", r"^grep-done\s*$")
        kvm_log = complete_log(m)[:got.start()]
        kvm_log = kvm_log[kvm_log.rfind("echo grep-done"):]
        for line in ("Hypervisor detected: KVM", "kvm-clock: Using msrs 4b564d01 and 4b564d00",
                     "clocksource: Switched to clocksource kvm-clock"):
            assert line in kvm_log, f"web's dmesg has no {line!r}:\n{kvm_log}"
        steal = steal_ticks(m, "web")
        assert steal > 0, "web's /proc/stat counts no steal time beside db and alpha"
        detach(m, "web")
        start = len(m.log)
        m.send("info web\r")
        wait_line(m, r"^  image: Linux bzImage, \d+ KiB, 1 module \(\d+ KiB\)$", CMD_WAIT, start)
        # Under KVM, Linux takes x2APIC mode without interrupt remapping (its x2apic_available).
        wait_line(m, r"^  vlapic: x2APIC, svr 1ff .*$", CMD_WAIT, start)
        kvm = wait_line(m, KVM_INFO, CMD_WAIT, start)
        assert int(kvm.group(3)) > 0, f"web made no EOI through PV EOI: {kvm.group(0)!r}"
        assert int(kvm.group(5)) > 0, f"no steal time counted for web: {kvm.group(0)!r}"
        start = len(m.log)
        m.send("info db\r")
        vlapic = wait_line(m, r"^  vlapic: xAPIC, svr 1ff .*$", CMD_WAIT, start)
        prompt = wait_line(m, r"^hv> ", CMD_WAIT, vlapic.end(), partial=True)
        assert not re.search(r"^  kvm: ", m.log[start:prompt.start()], re.M), \
            "db (pv=off) shows KVM's interface"

        # 3. poweroff in db stops db only. First: pv=off, no kvm-clock and no steal time.
        attach(m, "db")
        source = clocksource(m, "db")
        assert source != "kvm-clock", "db (pv=off) uses kvm-clock"
        assert steal_ticks(m, "db") == 0, "db (pv=off) counts steal time"
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
