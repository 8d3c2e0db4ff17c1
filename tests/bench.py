#!/usr/bin/env python3
"""make bench: the cost of VM exits, as emulator path lengths under Bochs.

Boots build/tests/iso/bench.iso (tests/iso/bench.cfg; the Makefile builds it) in
Bochs. The hypervisor first runs the host-side baseline (option bench_host=N,
kernel/bench.c: the loops with no VM exit), then the bench guest (guest/bench)
runs the same loops under VT-x. This script waits for both, prints a table of
ticks per operation and the exit overhead (guest minus host; for VMCALL, which
has no host equivalent, guest VMCALL minus the guest's empty loop), and writes
the raw numbers to build/bench/results.txt.

The ticks are RDTSC differences inside Bochs with `clock: sync=none`: the TSC
follows emulated instructions, so the figures are deterministic emulator path
lengths, identical from run to run, and NOT real-hardware cycles.

Exit status 0 on success; 1 with a `bench: ...` message when the emulator fails
or a line is missing. Python 3 standard library only.
"""

import argparse
import concurrent.futures
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import emu  # noqa: E402
from scenario import complete_log, wait_line, wait_next  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ISO = ROOT / "build" / "tests" / "iso" / "bench.iso"
DEFAULT_ISO = ROOT / "build" / "anfitrion.iso"          # iso/grub.cfg: alpha, beta, gamma
MANY_ISOS = {n: ROOT / "build" / "tests" / "iso" / f"bench_many{n}.iso" for n in (16, 32)}
RESULTS = ROOT / "build" / "bench" / "results.txt"

BOOT_WAIT = 120          # power-on to the end of the host baseline
GUEST_WAIT = 600         # then to the guest's `bench: done`

# "NAME ITERS TOTAL PER_OP"; the guest writes n/a for an operation it could not run.
_ROW = r"(\S+)\s+(\d+)\s+(\d+|n/a)\s+(\d+|n/a)"
HOST_RE = re.compile(rf"^hv: bench: host {_ROW}\s*$", re.M)
GUEST_RE = re.compile(rf"^\[bench\] bench: {_ROW}.*$", re.M)
IRQLAT_RE = re.compile(r"^\[bench\] bench: irq_latency (\d+) samples: min (\d+) avg (\d+) max (\d+) ticks", re.M)
PVLAT_RE = re.compile(r"^\[bench\] bench: pv_latency (\d+) samples: min (\d+) avg (\d+) max (\d+) ticks", re.M)
HOST_DONE = r"^hv: bench: host done$"
GUEST_DONE = r"^\[bench\] bench: done$"

# Table rows: label, guest benchmark name, host benchmark name (None: no host equivalent).
ROWS = (
    ("empty loop", "empty_loop", "empty_loop"),
    ("CPUID", "cpuid_0", "cpuid_0"),
    ("VMCALL (nop)", "vmcall_0", None),
    ("UART scratch write", "outb_scratch", "mem_scratch"),
)


# `stats`: "guest NAME: N exits, CPU share X.Y% of guest time, ..."; `mem`: "  guest NAME RAM
# N KiB, overhead N KiB (...)"; `cpus`: "  timer HZ Hz, ticks=N, uptime S.MMM s, ...".
STATS_RE = re.compile(r"^guest (\S+): (\d+) exits, CPU share (\d+\.\d)% of guest time", re.M)
MEM_RE = re.compile(r"^  guest (\S+)\s+RAM\s+(\d+) KiB, overhead\s+(\d+) KiB", re.M)
CPUS_RE = re.compile(r"ticks=(\d+), uptime (\d+)\.(\d+) s")

DEFAULT_GUESTS = ("alpha", "beta", "gamma")
TICK_FIRST, TICK_LAST, ALPHA_HZ = 300, 600, 100     # alpha: hz=100 in iso/grub.cfg
MANY_TICKS = 2000                                   # host timer ticks (1000 Hz) to let them run


class BenchError(Exception):
    pass


def parse(rx, text):
    """{name: (iters, total, per_op)} from the lines RX matches; n/a becomes None."""
    out = {}
    for name, iters, total, per_op in rx.findall(text):
        if name == "name":
            continue                    # the header line
        out[name] = (int(iters), None if total == "n/a" else int(total),
                     None if per_op == "n/a" else int(per_op))
    return out


def wait_for(m, pattern, timeout, what):
    """The next line matching PATTERN (scenario.wait_next: in order, failing fast on a
    hypervisor panic), or BenchError saying what never came."""
    try:
        return wait_next(m, pattern, timeout)
    except emu.EmuError as e:
        raise BenchError(f"{what} never came: {e}")


def command(m, cmd, last, timeout=30):
    """Send CMD at the shell; return the log text it printed, up to the line LAST matches."""
    start = len(m.log)
    m.send(cmd + "\r")
    wait_for(m, last, timeout, f"the output of `{cmd}`")
    return m.log[start:]


def host_clock(m):
    """(ticks, uptime in ms) from `cpus`."""
    out = command(m, "cpus", r"ticks=\d+, uptime .*$")
    t, sec, ms = CPUS_RE.search(out).groups()
    return int(t), int(sec) * 1000 + int(ms)


def run_default():
    """Exits per guest over TICK_FIRST..TICK_LAST of alpha's ticks in the default scenario:
    {name: (exits_first, exits_last)}, the host uptime between the two `stats` in ms."""
    if not DEFAULT_ISO.is_file():
        raise BenchError(f"{DEFAULT_ISO.relative_to(ROOT)} does not exist: `make bench` builds it")
    snaps, clocks = [], []
    try:
        with emu.Machine("bochs", iso=DEFAULT_ISO, mem_mb=256, name="bench-default") as m:
            for tick in (TICK_FIRST, TICK_LAST):
                wait_for(m, rf"^\[alpha\] tick {tick}:", 180, f"alpha's `tick {tick}:`")
                out = command(m, "stats", rf"^guest {DEFAULT_GUESTS[-1]}: .*$")
                clocks.append(host_clock(m))
                snaps.append({n: int(e) for n, e, _ in STATS_RE.findall(out)})
    except emu.EmuError as e:
        raise BenchError(f"the emulator failed (default scenario): {e}")
    missing = [n for n in DEFAULT_GUESTS if n not in snaps[0] or n not in snaps[1]]
    if missing:
        raise BenchError(f"default scenario: no stats line for {', '.join(missing)} "
                         "(see build/tests/runs/bench-default/serial.log)")
    return {n: (snaps[0][n], snaps[1][n]) for n in DEFAULT_GUESTS}, clocks[1][1] - clocks[0][1]


def run_many(n):
    """N spinning guests at once: {name: (ram_kib, overhead_kib, share)} from `mem` and `stats`
    once all have started and the host timer has ticked MANY_TICKS more times."""
    iso = MANY_ISOS[n]
    if not iso.is_file():
        raise BenchError(f"{iso.relative_to(ROOT)} does not exist: `make bench` builds it")
    names = [f"g{i:02d}" for i in range(1, n + 1)]
    try:
        with emu.Machine("bochs", iso=iso, mem_mb=256, name=f"bench-many{n}") as m:
            for name in names:
                wait_for(m, rf"^hv: guest {name}: started", 240, f"`guest {name}: started`")
            t0, _ = host_clock(m)
            deadline = time.monotonic() + 240
            while host_clock(m)[0] < t0 + MANY_TICKS:
                if time.monotonic() > deadline:
                    raise BenchError(f"{n} guests: the host timer did not advance {MANY_TICKS} ticks")
                time.sleep(1)
            mem = command(m, "mem", rf"^  guest {names[-1]} .*$")
            stats = command(m, "stats", rf"^guest {names[-1]}: .*$")
    except emu.EmuError as e:
        raise BenchError(f"the emulator failed ({n} guests): {e}")
    ram = {g: (int(r), int(o)) for g, r, o in MEM_RE.findall(mem)}
    share = {g: float(sh) for g, _, sh in STATS_RE.findall(stats)}
    missing = [g for g in names if g not in ram or g not in share]
    if missing:
        raise BenchError(f"{n} guests: no mem/stats line for {', '.join(missing)} "
                         f"(see build/tests/runs/bench-many{n}/serial.log)")
    return {g: ram[g] + (share[g],) for g in names}


def bochs_version(m):
    """"Bochs 2.7" from the run's bochs.log, or plain "Bochs"."""
    try:
        text = (m.workdir / "bochs.log").read_text("latin-1")
    except OSError:
        return "Bochs"
    v = re.search(r"Bochs x86 Emulator (\d+(?:\.\d+)+)", text)
    return f"Bochs {v.group(1)}" if v else "Bochs"


def run():
    if not ISO.is_file():
        raise BenchError(f"{ISO.relative_to(ROOT)} does not exist: run `make bench`, which builds it")
    try:
        with emu.Machine("bochs", iso=ISO, mem_mb=256, name="bench") as m:
            wait_for(m, HOST_DONE, BOOT_WAIT,
                     "the host baseline (`hv: bench: host done`; bench_host= in tests/iso/bench.cfg?)")
            wait_for(m, GUEST_DONE, GUEST_WAIT, "the bench guest's `[bench] bench: done`")
            log = m.log
            version = bochs_version(m)
    except emu.EmuError as e:
        raise BenchError(f"the emulator failed: {e}")
    lat = [rx.search(log) for rx in (IRQLAT_RE, PVLAT_RE)]
    return parse(HOST_RE, log), parse(GUEST_RE, log), version, \
        [tuple(int(x) for x in m.groups()) if m else None for m in lat]


def fmt(v):
    return "n/a" if v is None else str(v)


def table(host, guest, version):
    missing = [g for _, g, _ in ROWS if g not in guest] + [h for _, _, h in ROWS if h and h not in host]
    if missing:
        raise BenchError(f"missing benchmark lines: {', '.join(missing)} (see build/tests/runs/bench/serial.log)")
    lines = [f"anfitrion benchmark: emulator path lengths ({version}, clock sync=none; "
             "TSC ticks, not real-hardware cycles)",
             f"{'operation':<20} {'iters':>6} {'guest ticks/op':>16} {'host ticks/op':>15} "
             f"{'exit overhead/op':>18}"]
    guest_empty = guest["empty_loop"][2]
    for label, g, h in ROWS:
        iters, _, g_op = guest[g]
        h_op = host[h][2] if h else None
        base = h_op if h else guest_empty
        over = g_op - base if g_op is not None and base is not None else None
        lines.append(f"{label:<20} {iters:>6} {fmt(g_op):>16} {fmt(h_op):>15} {fmt(over):>18}")
    lines.append("exit overhead = guest minus host; VMCALL (no host equivalent): "
                 "guest VMCALL minus the guest's empty loop")
    if "compute" in guest and "compute" in host and guest["compute"][1] and host["compute"][1]:
        it, g_tot, _ = guest["compute"]
        h_tot = host["compute"][1]
        lines += ["", "CPU-bound loop (xorshift32, no I/O, no CPUID; same instructions on both sides)",
                  f"{'':<20} {'iters':>8} {'total ticks':>14} {'ticks/op':>10}",
                  f"{'guest':<20} {it:>8} {g_tot:>14} {g_tot / it:>10.3f}",
                  f"{'host':<20} {host['compute'][0]:>8} {h_tot:>14} {h_tot / host['compute'][0]:>10.3f}",
                  f"guest/host ratio {g_tot / h_tot:.5f} (guest figure includes the host timer "
                  "exits, 1000 Hz, that hit the loop)"]
    return lines


def irqlat_table(lat):
    """The timer's way into the guest, through the 8259 and through a paravirtual upcall."""
    irqlat, pvlat = lat
    lines = ["", "Timer-interrupt latency into a guest (bench guest alone, idle, 100 Hz): host timer "
             "interrupt (TSC at the host's interrupt dispatch) to the guest handler's first "
             "instruction (RDTSC), through the scheduler, the device update, the injection and "
             "VM entry; ticks delivered after another host interrupt (the console's) woke the host "
             "are left out",
             f"{"path":<48} {"samples":>8} {'min':>8} {'avg':>8} {'max':>8}  (TSC ticks)"]
    for label, r in (("PIT IRQ 0 through the 8259, HLT (full virt.)", irqlat),
                     ("one-shot timer event upcall, ANF_HC_BLOCK (pv)", pvlat)):
        if r is None:
            lines.append(f"{label:<48} n/a (no line from the bench guest)")
        else:
            n, lo, avg, hi = r
            lines.append(f"{label:<48} {n:>8} {lo:>8} {avg:>8} {hi:>8}")
    return lines



PVOS_ISO = ROOT / "build" / "tests" / "iso" / "bench_pvos.iso"
PVOS_GUESTS = ("tiny", "pv")                        # tests/iso/bench_pvos.cfg
PVOS_TICKS = (200, 500)                             # status lines: one a second at 100 Hz
EXIT_LINE_RE = re.compile(r"^  exit (.+?)\s+(\d+)\s*$")


def stats_sections(text):
    """{guest: {exit reason: count}} from `stats` output."""
    out, cur = {}, None
    for line in text.splitlines():
        line = line.rsplit("\r", 1)[-1]
        head = STATS_RE.match(line)
        if head:
            cur = out.setdefault(head.group(1), {})
            continue
        x = EXIT_LINE_RE.match(line)
        if x and cur is not None:
            cur[x.group(1)] = int(x.group(2))
    return out


def run_pvos():
    """tinyos and pvos side by side: at two status lines of each, `stats` and the counting
    tasks' counters. {guest: (exits by reason over the window, counter growth)}, window ms."""
    if not PVOS_ISO.is_file():
        raise BenchError(f"{PVOS_ISO.relative_to(ROOT)} does not exist: `make bench` builds it")
    snaps, clocks, work = [], [], {g: [] for g in PVOS_GUESTS}
    try:
        with emu.Machine("bochs", iso=PVOS_ISO, mem_mb=256, name="bench-pvos") as m:
            for tick in PVOS_TICKS:
                for g in PVOS_GUESTS:           # in whichever order the two print them
                    line = wait_line(m, rf"^\[{g}\] tick {tick}: tasks ([\d ]+) rtc", 300)
                    work[g].append(sum(int(c) for c in line.group(1).split()))
                start = len(m.log)
                m.send("stats\r")
                clocks.append(host_clock(m))        # after stats's output: the shell is in order
                snaps.append(stats_sections(m.log[start:]))
    except emu.EmuError as e:
        raise BenchError(f"the emulator failed (tinyos beside pvos): {e}")
    res = {}
    for g in PVOS_GUESTS:
        if g not in snaps[0] or g not in snaps[1]:
            raise BenchError(f"tinyos beside pvos: no stats for {g} "
                             "(see build/tests/runs/bench-pvos/serial.log)")
        a, b = snaps[0][g], snaps[1][g]
        res[g] = ({r: b.get(r, 0) - a.get(r, 0) for r in set(a) | set(b)}, work[g][1] - work[g][0])
    return res, clocks[1][1] - clocks[0][1]


def pvos_table(res, window_ms):
    """Exits per second by reason, and the counting tasks' work, tinyos beside pvos."""
    sec = window_ms / 1000 or 1
    tiny, pv = res["tiny"], res["pv"]
    reasons = sorted((r for r in set(tiny[0]) | set(pv[0]) if tiny[0].get(r, 0) or pv[0].get(r, 0)),
                     key=lambda r: -(tiny[0].get(r, 0) + pv[0].get(r, 0)))
    lines = ["", f"tinyos beside pvos, the same work (tests/iso/bench_pvos.cfg: two counting tasks, "
             f"100 Hz, side by side; {PVOS_TICKS[1] - PVOS_TICKS[0]} ticks of each, {sec:.2f} s of "
             "host time): full virtualization (PIC, PIT, UART) against paravirtualization "
             "(hypercalls, events, the mask byte); exits per second by reason",
             f"  {'exit reason':<34} {'tinyos':>10} {'pvos':>10}"]
    for r in reasons:
        lines.append(f"  {r:<34} {tiny[0].get(r, 0) / sec:>10.1f} {pv[0].get(r, 0) / sec:>10.1f}")
    lines.append(f"  {'total':<34} {sum(tiny[0].values()) / sec:>10.1f} {sum(pv[0].values()) / sec:>10.1f}")
    ratio = pv[1] / tiny[1] if tiny[1] else float("nan")
    lines.append(f"Counting tasks' work over the same guest ticks (CPU-bound loop): tinyos {tiny[1]}, "
                 f"pvos {pv[1]}, ratio pvos/tinyos {ratio:.3f}")
    return lines

LINUX_ISO = ROOT / "build" / "tests" / "iso" / "bench_linux.iso"
LINUX_PVOFF_ISO = ROOT / "build" / "tests" / "iso" / "bench_linux_pvoff.iso"
LINUX_DIRECT_ISO = ROOT / "build" / "tests" / "iso" / "bench_linux_direct.iso"
LINUX_BANNER_RE = re.compile(r"\*\*\* anfitrion Linux guest: Linux (\S+) on linux \(up ([\d.]+) s\) \*\*\*")
LINUX_WAIT = 900
EXIT_ROW_RE = re.compile(r"^  exit (.+?)\s+(\d+)$", re.M)
KVM_INFO_RE = re.compile(r"^  kvm: clock (\S+), PV EOI (\S+) \((\d+) EOIs in memory\), "
                         r"steal time (\S+) \((\d+) ms\)", re.M)
# The boots: under anfitrion with KVM's paravirtual interface (pv=on, the default) and
# without it (pv=off), and by GRUB directly.
LINUX_RUNS = (("guest", LINUX_ISO), ("pvoff", LINUX_PVOFF_ISO), ("direct", LINUX_DIRECT_ISO))


def run_linux_one(label, iso):
    """(release, uptime at the banner, {exit reason: count} or None, PV EOIs or None)."""
    if not iso.is_file():
        raise BenchError(f"{iso.relative_to(ROOT)} does not exist: `make bench` builds it")
    try:
        with emu.Machine("bochs", iso=iso, mem_mb=256, name=f"bench-linux-{label}") as m:
            wait_for(m, LINUX_BANNER_RE.pattern, LINUX_WAIT, f"the Linux banner ({label})")
            banner = LINUX_BANNER_RE.search(m.log)
            exits = eois = None
            if label != "direct":
                # The exit rows come before the interrupt rows; the guest's own lines
                # (each after a redrawn prompt) may interleave, the regex skips them.
                out = command(m, "stats linux", r"^  interrupt vector .*$")
                exits = {k: int(v) for k, v in EXIT_ROW_RE.findall(out)}
            if label == "guest":
                out = command(m, "info linux", KVM_INFO_RE.pattern)
                eois = int(KVM_INFO_RE.search(out).group(3))
            return banner.group(1), float(banner.group(2)), exits, eois
    except emu.EmuError as e:
        raise BenchError(f"the emulator failed ({label}): {e}")


def run_linux():
    """Linux to its init banner: under anfitrion with pv=on and pv=off (uptime, exits per
    reason) and directly. The three boots run side by side (emulated time: sharing the
    host's cores changes the wall time only)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(LINUX_RUNS)) as pool:
        jobs = {label: pool.submit(run_linux_one, label, iso) for label, iso in LINUX_RUNS}
        return {label: job.result() for label, job in jobs.items()}


def linux_table(res):
    release, up_g, exits, _ = res["guest"]
    _, up_d, _, _ = res["direct"]
    lines = ["", f"Linux {release} boot to its init banner (the kernel's /proc/uptime when init "
             "prints it; Bochs emulated time, same kernel, initramfs, command line and 128 MiB; "
             "the direct boot is also told the emulator's TSC rate, tsc_early_khz=200000, since "
             "Bochs's CPUID claims 3.5 GHz)",
             f"{'booted':<22} {'uptime s':>9}",
             f"{'by GRUB, directly':<22} {up_d:>9.2f}",
             f"{'in an anfitrion guest':<22} {up_g:>9.2f}",
             f"guest/direct ratio {up_g / up_d:.3f}", "",
             "Exits per reason during that boot (`stats linux` at the banner)"]
    total = sum(exits.values()) if exits else 0
    for reason, n in sorted((exits or {}).items(), key=lambda kv: -kv[1]):
        lines.append(f"  {reason:<34} {n:>9} {100 * n / total:>6.1f}%")
    lines.append(f"  {'total':<34} {total:>9}")
    return lines


def pv_table(res):
    """pv=on beside pv=off: the same boot with and without KVM's paravirtual interface."""
    release, up_on, on, eois = res["guest"]
    _, up_off, off, _ = res["pvoff"]
    on, off = on or {}, off or {}
    tot_on, tot_off = sum(on.values()), sum(off.values())
    lines = ["", f"Linux {release} boot to its init banner with KVM's paravirtual interface (pv=on, "
             "the default: kvm-clock, PV EOI, steal time, x2APIC) and without it (pv=off); same "
             "kernel, initramfs, command line and 128 MiB, alone under anfitrion. Uptime: the "
             "kernel's /proc/uptime when init prints its banner, Bochs emulated seconds",
             f"{'':<34} {'pv=on':>10} {'pv=off':>10} {'on/off':>8}",
             f"{'uptime at the banner (s)':<34} {up_on:>10.2f} {up_off:>10.2f} {up_on / up_off:>8.3f}",
             f"{'exits, all reasons':<34} {tot_on:>10} {tot_off:>10} "
             f"{(tot_on / tot_off if tot_off else 0):>8.3f}",
             "Exits per reason during that boot (`stats linux` at the banner)"]
    for reason in sorted(set(on) | set(off), key=lambda r: -max(on.get(r, 0), off.get(r, 0))):
        a, b = on.get(reason, 0), off.get(reason, 0)
        lines.append(f"  {reason:<32} {a:>10} {b:>10} {b - a:>+9}")
    lines.append(f"(last column: pv=off minus pv=on; EOIs the pv=on guest made in memory through "
                 f"PV EOI, each an exit saved: {eois if eois is not None else 'n/a'})")
    return lines


def only_linux():
    """--only linux: the Linux boots alone (results.txt is left as it is)."""
    started = time.monotonic()
    try:
        res = run_linux()
    except BenchError as e:
        print(f"bench: {e}", file=sys.stderr)
        return 1
    print("\n".join(linux_table(res)[1:] + pv_table(res)))
    print(f"bench: {time.monotonic() - started:.0f} s in the emulator")
    return 0


def default_table(exits, uptime_ms):
    secs = (TICK_LAST - TICK_FIRST) / ALPHA_HZ
    lines = ["", f"Exits per second, default scenario (iso/grub.cfg), between alpha's tick "
             f"{TICK_FIRST} and tick {TICK_LAST} ({secs:g} s of guest time at {ALPHA_HZ} Hz; "
             f"host uptime between the two `stats`: {uptime_ms / 1000:.3f} s)",
             f"{'guest':<8} {'exits@' + str(TICK_FIRST):>12} {'exits@' + str(TICK_LAST):>12} "
             f"{'delta':>8} {'exits/s':>9} {'exits/s (host uptime)':>22}"]
    for name, (a, b) in exits.items():
        d = b - a
        per_host = f"{d * 1000 / uptime_ms:.0f}" if uptime_ms > 0 else "n/a"
        lines.append(f"{name:<8} {a:>12} {b:>12} {d:>8} {d / secs:>9.0f} {per_host:>22}")
    lines.append("(a negative delta means the guest restarted in between: its counters start over)")
    return lines


def many_table(results):
    lines = ["", f"Many small guests at once (crash.elf mode=spin, mem=2M, interrupts off), "
             f"after all started + {MANY_TICKS} host timer ticks",
             f"{'guests':>6} {'RAM KiB':>8} {'overhead KiB min/max/mean':>26} "
             f"{'CPU share % min/max/mean':>25} {'spread':>7}"]
    for n, rows in results.items():
        if isinstance(rows, str):
            lines.append(f"{n:>6} n/a: {rows}")
            continue
        over = [o for _, o, _ in rows.values()]
        shares = [sh for _, _, sh in rows.values()]
        mean_sh = sum(shares) / len(shares)
        rams = sorted({r for r, _, _ in rows.values()})
        lines.append(f"{n:>6} {'/'.join(map(str, rams)):>8} "
                     f"{f'{min(over)}/{max(over)}/{sum(over) / len(over):.1f}':>26} "
                     f"{f'{min(shares):.1f}/{max(shares):.1f}/{mean_sh:.2f}':>25} "
                     f"{(max(shares) - min(shares)) / mean_sh:>7.3f}")
    lines.append("overhead = `mem`'s per-guest overhead beyond its RAM (EPT, VMCS, state); "
                 "spread = (max - min) / mean of `stats`' CPU share (cumulative since boot)")
    return lines


REBOOT_ISO = ROOT / "build" / "tests" / "iso" / "bench_rebootloop.iso"
COUNT_RE = re.compile(r"^\[counter\] rebootloop: count: ticks (\d+) tsc (\d+) work (\d+)$", re.M)
TSC_RE = re.compile(r"^hv: tsc: (\d+) kHz", re.M)
REBOOTS = 5              # the looper's reboots in the window (anfitrion stops it at the 6th)
ALONE_LINES = 60         # counter lines (every 20 ticks, or 50 ms) to measure it alone


def count_rate(log, start, end, khz):
    """(ticks/s, work/s, emulated seconds) of the counter between log offsets START and END,
    from its first and last count lines there; None with fewer than two."""
    rows = [tuple(map(int, x.groups())) for x in COUNT_RE.finditer(log, start, end)]
    if len(rows) < 2:
        return None
    (t0, c0, w0), (t1, c1, w1) = rows[0], rows[-1]
    secs = (c1 - c0) / (khz * 1000)
    return (t1 - t0) / secs, (w1 - w0) / secs, secs


def run_rebootloop(iso=REBOOT_ISO):
    """The counter alone (looper stopped), then while looper (128 MiB) reboots itself in a
    loop: {"alone": rate, "loop": rate, "reboots": n, "end": the line that ended the window}."""
    if not iso.is_file():
        raise BenchError(f"{iso} does not exist: `make bench` builds it")
    try:
        with emu.Machine("bochs", iso=iso, mem_mb=256, name="bench-rebootloop") as m:
            wait_for(m, r"^hv: guest looper: started$", BOOT_WAIT, "`guest looper: started`")
            wait_line(m, r"^hv> ", BOOT_WAIT, partial=True)
            start = len(m.log)
            m.send("stop looper\r")
            stopped = wait_line(m, r"^(hv: guest looper: (stopped|rebooted; stopped .*)|error: .*)$", 120, start)
            alone_from = stopped.end()
            deadline = time.monotonic() + 300
            while len(COUNT_RE.findall(m.log, alone_from)) < ALONE_LINES:
                if time.monotonic() > deadline:
                    raise BenchError("the counter printed too few lines alone")
                time.sleep(1)
            alone_to = len(m.log)
            m.send("start looper\r")
            first = wait_line(m, r"^hv: guest looper: started$", 600, alone_to)
            loop_from = wait_line(m, COUNT_RE.pattern, 120, first.end()).start()
            pos, reboots = first.end(), 0
            end = None
            while reboots < REBOOTS:
                end = wait_line(m, r"^hv: guest looper: (rebooted|rebooted; stopped .*|reboot failed: .*)$",
                                600, pos)
                pos = end.end()
                if end.group(0) != "hv: guest looper: rebooted":
                    break
                reboots += 1
            loop_to = wait_line(m, COUNT_RE.pattern, 120, end.end()).end()
            log = complete_log(m)
    except emu.EmuError as e:
        raise BenchError(f"the emulator failed (reboot loop): {e}")
    khz = TSC_RE.search(log)
    if not khz:
        raise BenchError("no `hv: tsc:` line (see build/tests/runs/bench-rebootloop/serial.log)")
    khz = int(khz.group(1))
    alone = count_rate(log, alone_from, alone_to, khz)
    loop = count_rate(log, loop_from, loop_to, khz)
    if alone is None or loop is None:
        raise BenchError("too few counter lines to measure (see build/tests/runs/bench-rebootloop/serial.log)")
    return {"alone": alone, "loop": loop, "reboots": reboots, "end": end.group(0)}


def rebootloop_table(r, label=""):
    (a_t, a_w, a_s), (l_t, l_w, l_s) = r["alone"], r["loop"]
    return ["", f"A 128 MiB guest rebooting itself in a loop (tests/iso/bench_rebootloop.cfg{label}): "
            "`counter` (4 MiB, PIT at 100 Hz, counting with interrupts on) alone (looper stopped), "
            f"then from its first line after looper's `started` to its first after looper's "
            f"{r['reboots']}th reboot (looper resets itself through port 0xCF9 as soon as it has "
            "checked its RAM). Bochs emulated time (TSC), not real-hardware time",
            f"{'counter':<28} {'seconds':>8} {'ticks/s':>8} {'work/s':>12} {'work % of alone':>16}",
            f"{'alone':<28} {a_s:>8.2f} {a_t:>8.1f} {a_w:>12.0f} {100.0:>16.1f}",
            f"{'beside the reboot loop':<28} {l_s:>8.2f} {l_t:>8.1f} {l_w:>12.0f} {100 * l_w / a_w:>16.1f}",
            f"(a fair share beside one busy guest is 50%; the window ended at `{r['end']}`)"]


def raw_lines(host, guest, version):
    out = [f"# anfitrion make bench: {version}, clock sync=none; emulator path lengths in TSC ticks, "
           "not real-hardware cycles", "# side name iters total_ticks ticks_per_op"]
    for side, rows in (("host", host), ("guest", guest)):
        for name, (iters, total, per_op) in rows.items():
            out.append(f"{side} {name} {iters} {fmt(total)} {fmt(per_op)}")
    return out


def only_rebootloop(iso):
    """--only rebootloop: that scenario alone (optionally on another build's ISO)."""
    started = time.monotonic()
    try:
        r = run_rebootloop(Path(iso).resolve() if iso else REBOOT_ISO)
    except BenchError as e:
        print(f"bench: {e}", file=sys.stderr)
        return 1
    print("\n".join(rebootloop_table(r, f"; ISO {iso}" if iso else "")[1:]))
    print(f"bench: {time.monotonic() - started:.0f} s in the emulator")
    return 0


def main():
    ap = argparse.ArgumentParser(description="make bench: emulator path lengths under Bochs")
    ap.add_argument("--only", choices=["rebootloop", "linux", "pvos"],
                    help="run this scenario alone (results.txt is left as it is)")
    ap.add_argument("--iso", help="with --only rebootloop: boot this ISO instead "
                    "(e.g. one built from an older version, for a before/after figure)")
    args = ap.parse_args()
    if args.only == "rebootloop":
        return only_rebootloop(args.iso)
    if args.only == "linux":
        return only_linux()
    if args.only == "pvos":
        try:
            print("\n".join(pvos_table(*run_pvos())[1:]))
        except BenchError as e:
            print(f"bench: {e}", file=sys.stderr)
            return 1
        return 0
    started = time.monotonic()
    try:
        host, guest, version, irqlat = run()
        lines = table(host, guest, version) + irqlat_table(irqlat)
        # The scenario runs are independent: run them side by side (their figures are in
        # emulated time, so sharing the host's cores changes the wall time only).
        with concurrent.futures.ThreadPoolExecutor(max_workers=4 + len(MANY_ISOS)) as pool:
            default = pool.submit(run_default)
            linux = pool.submit(run_linux)
            rebootloop = pool.submit(run_rebootloop)
            pvos = pool.submit(run_pvos)
            jobs = {n: pool.submit(run_many, n) for n in MANY_ISOS}
            lines += default_table(*default.result())
            many = {}
            for n, job in jobs.items():
                try:
                    many[n] = job.result()
                except BenchError as e:
                    if n == min(MANY_ISOS):
                        raise
                    many[n] = str(e).splitlines()[0]
        lines += many_table(many)
        lines += linux_table(linux.result()) + pv_table(linux.result())
        lines += rebootloop_table(rebootloop.result())
        lines += pvos_table(*pvos.result())
    except BenchError as e:
        print(f"bench: {e}", file=sys.stderr)
        return 1
    raw = raw_lines(host, guest, version)
    previous = RESULTS.read_text().splitlines() if RESULTS.exists() else None
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(raw + [""] + ["# " + l for l in lines]) + "\n")
    print("\n".join(lines))
    if previous is not None:
        same = [l for l in previous if not l.startswith("#")][:len(raw) - 2] == raw[2:]
        print(f"bench: raw numbers {'identical to' if same else 'DIFFERENT from'} the previous "
              f"{RESULTS.relative_to(ROOT)} (differences are expected only after a code change)")
    print(f"bench: raw numbers in {RESULTS.relative_to(ROOT)}; "
          f"{time.monotonic() - started:.0f} s in the emulator")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        emu.close_all()
        sys.exit(130)
