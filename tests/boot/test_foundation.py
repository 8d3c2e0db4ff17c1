"""Boot tests of the foundation: banner, CPU and memory report, timer, shell, panic.

Each test boots an ISO (or QEMU -kernel) and asserts on the COM1 log, in the
order the hypervisor prints it (docs: /work/shared/PRODUCT.md). ISOs come from
tests/iso/NAME.cfg, built by the Makefile as build/tests/iso/NAME.iso.
"""

import re
import time
from pathlib import Path

import emu
from scenario import assert_no_panic, wait_next

ROOT = Path(__file__).resolve().parents[2]
BOOT_ISO = ROOT / "build" / "tests" / "iso" / "boot.iso"
PANIC_ISO = ROOT / "build" / "tests" / "iso" / "panic.iso"
HV_ELF = ROOT / "build" / "anfitrion.elf"

TIMEOUT = 180            # per test, enforced by tests/run.py
BOOT_WAIT = 90           # seconds from power-on to the prompt (Bochs: GRUB ~2 s)
VTX_FEATURES = ("vmx", "ept", "ug", "vpid", "preempt")
PANIC_REGS = ("RAX", "RBX", "RCX", "RDX", "RSI", "RDI", "RBP", "RSP",
              "R8", "R9", "R10", "R11", "R12", "R13", "R14", "R15",
              "RIP", "RFLAGS", "CR0", "CR2", "CR3", "CR4")


# ---- checks shared by the tests -------------------------------------------------

def expect_banner(m, loader, cmdline):
    """Banner, then the boot line naming LOADER with exactly CMDLINE (a regex)."""
    wait_next(m, r"^hv: anfitrion 0\.1\.\d+\S*$", BOOT_WAIT)
    line = wait_next(m, r"^hv: boot: .*$", 10).group(0)
    # "from LOADER-NAME" (GRUB's or QEMU's boot loader name) may follow the protocol.
    assert re.fullmatch(rf'hv: boot: {loader}(?: from [^,"]*)?, cmdline "{cmdline}"', line), \
        f"boot line {line!r}: expected loader {loader} and cmdline /{cmdline}/"


def expect_cpu(m, vtx):
    """The cpu line: every VT-x feature word present and = VTX ('yes' or 'no' for vmx)."""
    line = wait_next(m, r"^hv: cpu: .*$", 30).group(0)
    words = dict(re.findall(r"\b(\w+)=(yes|no)\b", line))
    missing = [k for k in VTX_FEATURES if k not in words]
    assert not missing, f"cpu line {line!r} lacks {missing}"
    if vtx:
        wrong = [k for k in VTX_FEATURES if words[k] != "yes"]
        assert not wrong, f"cpu line {line!r}: expected yes for {wrong}"
    else:
        assert words["vmx"] == "no", f"cpu line {line!r}: expected vmx=no"
    return words


def expect_memory(m, megs):
    """The memory map (at least one usable range) and `memory: N MiB usable` with N near MEGS."""
    wait_next(m, r"^hv: memory map:$", 30)
    total = wait_next(m, r"^hv: memory: (\d+) MiB usable$", 30)
    block = total.string[total.string.rfind("hv: memory map:", 0, total.start()):total.start()]
    ranges = re.findall(r"^hv:\s+0x([0-9a-f]{16})-0x([0-9a-f]{16}) (\w+)", block, re.M)
    assert ranges, f"no memory map ranges before {total.group(0)!r}"
    for lo, hi, _ in ranges:
        assert int(lo, 16) <= int(hi, 16), f"memory range 0x{lo}-0x{hi} is backwards"
    assert any(kind == "usable" for _, _, kind in ranges), "no usable range in the memory map"
    mib = int(total.group(1))
    assert megs - 8 <= mib <= megs, f"{mib} MiB usable with {megs} MiB configured"


def expect_timer(m):
    """The timer line: the measured rate within 20% of the programmed rate."""
    t = wait_next(m, r"^hv: timer: .*?(\d+) Hz, measured (\d+) Hz.*$", 60)
    hz, measured = int(t.group(1)), int(t.group(2))
    assert hz > 0 and abs(measured - hz) <= 0.2 * hz, \
        f"timer programmed {hz} Hz but measured {measured} Hz: {t.group(0)!r}"


def expect_prompt(m, timeout=60):
    wait_next(m, emu.PROMPT_RE, timeout, partial=True)


def shell(m, command, answer, timeout=20):
    """Type COMMAND at the prompt; return the match of ANSWER (a regex on a whole line)."""
    m.send(command + "\r")
    got = wait_next(m, answer, timeout)
    expect_prompt(m, timeout)
    return got


def cpu_ticks(m):
    return int(shell(m, "cpus", r"ticks=(\d+)").group(1))


def check_panic_report(m):
    """A PANIC naming the page fault, all registers, a backtrace, then silence."""
    head = wait_next(m, r"^PANIC: .*$", BOOT_WAIT, expect_panic=True)
    assert "page fault" in head.group(0) and "#PF" in head.group(0), \
        f"panic line {head.group(0)!r} does not name the page fault (#PF)"
    bt = wait_next(m, r"^backtrace:.*$", 20, expect_panic=True)
    report = bt.string[head.start():bt.end()]
    missing = [r for r in PANIC_REGS
               if not re.search(rf"\b{r}\s*[=:]\s*(0x)?[0-9a-fA-F]+\b", report)]
    assert not missing, f"panic report lacks registers {missing}:\n{report}"
    assert re.search(r"\b(0x)?[0-9a-fA-F]{6,16}\b", bt.group(0)[len("backtrace:"):]), \
        f"no hex address in {bt.group(0)!r}"
    m.wait_quiet(3)
    after = m.log[bt.end():]
    assert "hv> " not in after, f"prompt after the panic:\n{after}"
    assert not re.search(r"^(hv: |PANIC: )", after, re.M), f"output after the panic:\n{after}"
    assert m.log.count("PANIC: ") == 1, "more than one PANIC"
    assert m.alive(), "the emulator ended after the panic (triple fault?) instead of halting"


# ---- Bochs: VT-x present ---------------------------------------------------

def test_bochs_boot():
    """Full boot report in order under Bochs with VT-x, up to the prompt."""
    with emu.Machine("bochs", iso=BOOT_ISO, mem_mb=256) as m:
        expect_banner(m, "multiboot2", "loglevel=info")
        expect_cpu(m, vtx=True)
        expect_memory(m, 256)
        expect_timer(m)
        expect_prompt(m)
        assert "hv: no VT-x" not in m.log, "Bochs has VT-x but the hypervisor says no VT-x"
        assert_no_panic(m)


def test_bochs_shell_version_and_ticks():
    """The UART receive path answers `version`; `cpus` shows the timer ticking."""
    with emu.Machine("bochs", iso=BOOT_ISO, mem_mb=128) as m:
        expect_banner(m, "multiboot2", "loglevel=info")
        expect_memory(m, 128)
        expect_prompt(m, BOOT_WAIT)
        shell(m, "version", r"^.*anfitrion 0\.1.*$")
        first = cpu_ticks(m)
        time.sleep(3)
        second = cpu_ticks(m)
        assert second > first, f"timer ticks did not grow: {first} then {second}"
        assert_no_panic(m)


def test_bochs_panic():
    with emu.Machine("bochs", iso=PANIC_ISO) as m:
        check_panic_report(m)


# ---- QEMU: no VT-x here (TCG), the hypervisor must stay up ---------------------

def test_qemu_iso_boot():
    """Under QEMU without VT-x: refusal line, and the shell still answers."""
    with emu.Machine("qemu", iso=BOOT_ISO, mem_mb=256) as m:
        expect_banner(m, "multiboot2", "loglevel=info")
        expect_cpu(m, vtx=m.kvm)
        expect_memory(m, 256)
        if not m.kvm:
            wait_next(m, r"^hv: no VT-x: \S.*$", 30)
        expect_prompt(m)
        shell(m, "version", r"^.*anfitrion 0\.1.*$")
        assert_no_panic(m)


def test_qemu_shell_unknown_command():
    """An unknown command prints one `error: ` line and the prompt comes back."""
    with emu.Machine("qemu", iso=BOOT_ISO) as m:
        expect_prompt(m, BOOT_WAIT)
        shell(m, "frobnicate", r"^error: .*$")
        shell(m, "version", r"^.*anfitrion 0\.1.*$")


def test_qemu_kernel_multiboot1():
    """QEMU -kernel (Multiboot 1): command line reported, unknown option ignored.

    QEMU passes "KERNEL-PATH ARGS" as the Multiboot 1 command line; the
    hypervisor may print the path or drop it, but must not take it for an option.
    """
    with emu.Machine("qemu", kernel=HV_ELF, append="loglevel=debug foo=bar") as m:
        expect_banner(m, "multiboot1", r"(?:\S*anfitrion\.elf )?loglevel=debug foo=bar")
        wait_next(m, r'^hv: option "foo=bar": unknown, ignored$', 30)
        expect_prompt(m)
        unknown = re.findall(r'^hv: option "([^"]*)": unknown', m.log, re.M)
        assert unknown == ["foo=bar"], f"unknown options reported: {unknown}"
        assert_no_panic(m)


def test_qemu_panic():
    with emu.Machine("qemu", iso=PANIC_ISO) as m:
        check_panic_report(m)
