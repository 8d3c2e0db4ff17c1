"""Boot tests of many guests at once under Bochs: time sharing and crash confinement.

Each test boots an ISO with several guests and asserts on the COM1 log
(docs: /work/shared/PRODUCT.md): the guests start, their `[NAME] ...` lines
interleave, tinyos tick counters keep rising while a neighbour crashes, hangs
or storms, crash policies (stop, restart, crash-loop limit) hold, and modules
that cannot be used are refused by name while the good ones run.

ISOs: build/anfitrion.iso (iso/grub.cfg) and build/tests/iso/NAME.iso from
tests/iso/NAME.cfg (crash_MODE, crash_hang, crash_loop, bad_modules).

Every wait is for a log line with a generous timeout; a `PANIC: ` line ends
any wait at once (the hypervisor is gone, nothing more will come).
"""

import re
from pathlib import Path

import emu
from scenario import (TICK_WAIT, assert_no_panic, assert_rising, complete_log,
                      status_lines, wait_line, wait_ticks)

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ISO = ROOT / "build" / "anfitrion.iso"
TEST_ISO_DIR = ROOT / "build" / "tests" / "iso"

TIMEOUT = 180            # per test, enforced by tests/run.py
BOOT_WAIT = 90           # power-on to the guests' `started` lines (Bochs: GRUB ~2 s)



def iso(name):
    return TEST_ISO_DIR / f"{name}.iso"


# ---- waiting on the log ----------------------------------------------------------

def assert_keeps_ticking(m, guest, after, count, timeout=TICK_WAIT):
    """COUNT more status lines of GUEST after offset AFTER, each larger than any before it."""
    before = status_lines(m, guest, 0, after)
    later = wait_ticks(m, guest, count, after, timeout)
    assert_rising(guest, before + later, " across the event")
    return before, later


def expect_started(m, *names):
    """Each guest's `loaded` then `started` line; return the end offset of the last."""
    end = 0
    for name in names:
        n = re.escape(name)
        loaded = wait_line(m, rf"^hv: guest {n}: loaded \(.*\)$", BOOT_WAIT)
        started = wait_line(m, rf"^hv: guest {n}: started$", 30, loaded.end())
        end = max(end, started.end())
    return end


# ---- the default scenario ----------------------------------------------------------

def test_default_scenario_three_guests_interleave():
    """iso/grub.cfg: alpha and beta tick side by side; gamma triple-faults and restarts."""
    with emu.Machine("bochs", iso=DEFAULT_ISO) as m:
        expect_started(m, "alpha", "beta", "gamma")
        wait_line(m, r"^\[gamma\] crash: mode=triple in 3s$", 60)

        crash = wait_line(m, r"^hv: guest gamma: crashed: triple fault at RIP=0x[0-9a-f]+; "
                             r"restarting \(1/5\)$", 120)
        again = wait_line(m, r"^hv: guest gamma: started$", 30, crash.end())
        wait_line(m, r"^\[gamma\] crash: mode=triple in 3s$", 30, again.end())

        # After the crash: alpha and beta go on, past the values they had before it.
        alpha_before, alpha_after = assert_keeps_ticking(m, "alpha", crash.end(), 2)
        beta_before, beta_after = assert_keeps_ticking(m, "beta", crash.end(), 1)
        alpha = alpha_before + alpha_after
        beta = beta_before + beta_after
        if len(beta) < 3:
            beta = wait_ticks(m, "beta", 3)
            alpha = status_lines(m, "alpha")
        assert len(alpha) >= 3, f"alpha printed only {len(alpha)} status lines"
        assert_rising("alpha", alpha)
        assert_rising("beta", beta)

        # Interleaving: in log order, some beta line sits between two alpha lines
        # and some alpha line between two beta lines.
        order = "".join(g for _, g in sorted([(o, "a") for o, _ in alpha] +
                                             [(o, "b") for o, _ in beta]))
        assert re.search(r"ab+a", order), \
            f"no beta status line between two alpha lines (order {order})"
        assert re.search(r"ba+b", order), \
            f"no alpha status line between two beta lines (order {order})"
        assert "hv: guest alpha: crashed" not in m.log and \
            "hv: guest beta: crashed" not in m.log, "alpha or beta crashed too"
        assert_no_panic(m)


# ---- one crash mode beside a tinyos ------------------------------------------------

def check_fatal_crash(mode, reason):
    """tests/iso/crash_MODE.cfg: victim crashes with REASON (regex), is stopped, alpha goes on."""
    with emu.Machine("bochs", iso=iso(f"crash_{mode}")) as m:
        expect_started(m, "alpha", "victim")
        wait_line(m, rf"^\[victim\] crash: mode={mode} in 1s$", 60)
        now = wait_line(m, r"^\[victim\] crash: now$", 120)
        crash = wait_line(m, r"^hv: guest victim: crashed: .*$", 60, now.end())
        line = crash.group(0)
        assert re.fullmatch(rf"hv: guest victim: crashed: (?:{reason}) at RIP=0x[0-9a-f]+; stopped",
                            line), f"crash line {line!r}: expected /{reason}/ and '; stopped'"
        assert_keeps_ticking(m, "alpha", crash.end(), 2)
        tail = complete_log(m)[crash.end():]
        assert not re.search(r"^hv: guest victim: started$", tail, re.M), \
            "victim was restarted although on_crash=stop"
        assert not re.search(r"^\[victim\] ", tail, re.M), "victim printed after it was stopped"
        assert "hv: guest alpha: crashed" not in m.log, "alpha crashed too"
        assert_no_panic(m)


def test_crash_triple_stops_victim_only():
    check_fatal_crash("triple", r"triple fault")


def test_crash_jump_stops_victim_only():
    # A jump to 0x7ff00000 (far outside 4 MiB of RAM): an EPT violation on the fetch,
    # or, if the CPU reads something there, an invalid opcode ending in a triple fault.
    check_fatal_crash("jump", r"instruction fetch outside its RAM at guest-physical 0x7ff00000"
                              r"|triple fault|invalid opcode.*")


def test_crash_write_stops_victim_only():
    check_fatal_crash("write", r"write outside its RAM at guest-physical 0x7ff00000")


def test_crash_mmio_reports_its_bytes():
    # call *(%eax) on the xAPIC page is not emulated: the crash line shows the instruction's
    # first bytes as the guest's memory gave them (FF 10, then two more), nothing else.
    check_fatal_crash("mmio", r"device access at guest-physical 0xfee00000 by an instruction "
                              r"anfitrion does not emulate \(bytes ff 10( [0-9a-f]{2}){2}\)")


def test_crash_vmx_gets_ud_in_guest():
    """VMXON inside a guest: #UD is injected; the guest's own handler reports it."""
    with emu.Machine("bochs", iso=iso("crash_vmx")) as m:
        expect_started(m, "alpha", "victim")
        now = wait_line(m, r"^\[victim\] crash: now$", 120)
        ud = wait_line(m, r"^\[victim\] unexpected exception 6\b.*$", 60, now.end())
        assert_keeps_ticking(m, "alpha", ud.end(), 2)
        assert not re.search(r"^hv: guest \S+: crashed", m.log, re.M), \
            "a guest was reported crashed; VMXON should give the guest #UD only"
        assert_no_panic(m)


def test_crash_hangs_do_not_stop_others():
    """cli;hlt, a spin with interrupts off and an IRQ storm: alpha keeps ticking."""
    with emu.Machine("bochs", iso=iso("crash_hang")) as m:
        expect_started(m, "alpha", "victim1", "victim2", "victim3")
        last = 0
        for victim, mode in (("victim1", "hlt"), ("victim2", "spin"), ("victim3", "storm")):
            wait_line(m, rf"^\[{victim}\] crash: mode={mode} in 1s$", 60)
            now = wait_line(m, rf"^\[{victim}\] crash: now$", 120)
            last = max(last, now.end())
        assert_keeps_ticking(m, "alpha", last, 3)
        assert not re.search(r"^hv: guest \S+: (crashed|stopped)", m.log, re.M), \
            "a hanging guest was reported crashed or stopped"
        assert_no_panic(m)


def test_xsave_state_switched_between_guests():
    """Two xsave test kernels share the CPU with dirty YMM state under a smaller XCR0: the
    host's XSAVE/XRSTOR never fault (it used to panic in fpu_restore) and both pass."""
    with emu.Machine("bochs", iso=iso("xsave_pair")) as m:
        expect_started(m, "xs1", "xs2")
        for name in ("xs1", "xs2"):
            wait_line(m, rf"^\[{name}\] PASS: XMM1 kept across 5 slices: .*$", 120)
            wait_line(m, rf"^\[{name}\] Test result: PASS$", 60)
        assert not re.search(r"^\[xs\d\] FAIL: ", m.log, re.M), "an xsave check failed"
        assert_no_panic(m)


# ---- crash-loop limit ----------------------------------------------------------------

def test_crash_loop_protection():
    """Triple fault at once, on_crash=restart: 5 restarts, then stopped as a crash loop."""
    with emu.Machine("bochs", iso=iso("crash_loop")) as m:
        expect_started(m, "alpha", "looper")
        pos = 0
        for k in range(1, 6):
            crash = wait_line(m, rf"^hv: guest looper: crashed: triple fault at RIP=0x[0-9a-f]+; "
                                 rf"restarting \({k}/5\)$", 120, pos)
            pos = wait_line(m, r"^hv: guest looper: started$", 30, crash.end()).end()
        final = wait_line(m, r"^hv: guest looper: crashed: .*$", 60, pos)
        assert re.fullmatch(r"hv: guest looper: crashed: triple fault at RIP=0x[0-9a-f]+; "
                            r"stopped \(crash loop: .*\)", final.group(0)), \
            f"6th crash: expected '; stopped (crash loop: ...)', got {final.group(0)!r}"
        assert_keeps_ticking(m, "alpha", final.end(), 2)
        tail = complete_log(m)[final.end():]
        assert not re.search(r"^hv: guest looper: started$", tail, re.M), \
            "looper restarted after the crash-loop stop"
        assert len(re.findall(r"^hv: guest looper: crashed: ", m.log, re.M)) == 6, \
            "expected exactly 6 crash lines for looper"
        assert_no_panic(m)


# ---- modules that cannot be used ---------------------------------------------------

# (module name as the hypervisor reports it, regex for the reason)
REFUSALS = [
    ("notimg", r".*\b(not a Multiboot image|not an ELF|no header)\b.*"),
    ("badmem", r"bad mem\b.*mem=16Q.*"),
    (r"\S+", r"bad name\b.*name=Bad!.*"),       # no valid name: reported as `module` or the path's
    ("hello", r".*\balready exists\b.*"),
    ("huge", r".*\b(not enough|out of)\b.*memory.*"),
    ("painted", r"unknown option\b.*color=red.*"),
    ("tiny", r"needs at least \d+ MiB of RAM \(mem=\).*"),
    ("forced", r"not a Linux bzImage.*"),
]


def test_bad_modules_refused_good_one_runs():
    """tests/iso/bad_modules.cfg: each bad module refused by name; hello still runs."""
    with emu.Machine("bochs", iso=iso("bad_modules")) as m:
        wait_line(m, r"^hv: guest hello: started$", BOOT_WAIT)
        wait_line(m, r"^\[hello\] hello from a guest$", 120)
        wait_line(m, r"^\[hello\] halting$", 60)
        wait_line(m, r"^hv> ", 30)
        log = complete_log(m)
        refused = re.findall(r"^hv: guest (\S+): refused: (.*)$", log, re.M)
        assert len(refused) == len(REFUSALS), \
            f"expected {len(REFUSALS)} refusals, got {len(refused)}: {refused}"
        for name, why in REFUSALS:
            assert any(re.fullmatch(name, n) and re.fullmatch(why, w) for n, w in refused), \
                f"no refusal of {name} matching /{why}/; refusals: {refused}"
        for bad in ("notimg", "badmem", "huge", "painted", "tiny", "forced"):
            assert not re.search(rf"^hv: guest {bad}: (loaded|started)", log, re.M), \
                f"refused module {bad} was loaded or started"
        assert len(re.findall(r"^hv: guest \S+: started$", log, re.M)) == 1, \
            "a guest other than hello started"
        assert log.count("[hello] hello from a guest") == 1, "hello ran more than once"
        assert re.search(r"^hv: module \d+: refused: for=nosuch names no guest$",
                         log, re.M), "the module for=nosuch was not refused"
        assert re.search(r"^hv: module \d+: refused: a module for=hello takes no other option",
                         log, re.M), "the module for=hello mem=4M was not refused"
        # The good for=hello module is hello's only Multiboot module, bytes and string intact.
        mods = re.findall(r"^\[hello\] module (\d+): (.*)$", log, re.M)
        assert len(mods) == 1 and re.fullmatch(
            r'"(/boot/guests/tinyos\.elf )?two words" at 0x[0-9a-f]+, \d+ bytes, starts 7f 45 4c 46',
            mods[0][1]), f"hello's modules: {mods}"
        assert_no_panic(m)
