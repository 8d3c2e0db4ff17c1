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

import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import emu  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ISO = ROOT / "build" / "tests" / "iso" / "bench.iso"
RESULTS = ROOT / "build" / "bench" / "results.txt"

BOOT_WAIT = 120          # power-on to the end of the host baseline
GUEST_WAIT = 600         # then to the guest's `bench: done`

# "NAME ITERS TOTAL PER_OP"; the guest writes n/a for an operation it could not run.
_ROW = r"(\S+)\s+(\d+)\s+(\d+|n/a)\s+(\d+|n/a)"
HOST_RE = re.compile(rf"^hv: bench: host {_ROW}\s*$", re.M)
GUEST_RE = re.compile(rf"^\[bench\] bench: {_ROW}.*$", re.M)
HOST_DONE = r"^hv: bench: host done$"
GUEST_DONE = r"^\[bench\] bench: done$"

# Table rows: label, guest benchmark name, host benchmark name (None: no host equivalent).
ROWS = (
    ("empty loop", "empty_loop", "empty_loop"),
    ("CPUID", "cpuid_0", "cpuid_0"),
    ("VMCALL (nop)", "vmcall_0", None),
    ("UART scratch write", "outb_scratch", "mem_scratch"),
)


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
    """expect_line(PATTERN) that fails fast on a hypervisor panic, with a clear message."""
    rx = re.compile(f"(?:{pattern})|(?:{emu.PANIC_RE})", re.M)
    try:
        got = m.expect_line(rx, timeout)
    except emu.EmuError as e:
        raise BenchError(f"{what} never came: {e}")
    if got.group(0).startswith("PANIC: "):
        time.sleep(1)
        raise BenchError(f"the hypervisor panicked while waiting for {what}\n{m.diagnostics()}")
    return got


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
    return parse(HOST_RE, log), parse(GUEST_RE, log), version


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
    return lines


def raw_lines(host, guest, version):
    out = [f"# anfitrion make bench: {version}, clock sync=none; emulator path lengths in TSC ticks, "
           "not real-hardware cycles", "# side name iters total_ticks ticks_per_op"]
    for side, rows in (("host", host), ("guest", guest)):
        for name, (iters, total, per_op) in rows.items():
            out.append(f"{side} {name} {iters} {fmt(total)} {fmt(per_op)}")
    return out


def main():
    started = time.monotonic()
    try:
        host, guest, version = run()
        lines = table(host, guest, version)
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
