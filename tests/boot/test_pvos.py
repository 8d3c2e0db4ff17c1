"""Boot test of pvos, the paravirtual tinyos (guest/pvos, docs/hypercalls.md), under Bochs.

tests/iso/pvos.cfg: tinyos `alpha` and pvos `pv` tick side by side; `pv` prints tinyos's
status line, its tick from the one-shot timer hypercall and its clock the guest time, and
`stats pv` shows not one port I/O exit (nor HLT): its console, timer, idle and interrupt
masking are hypercalls and shared memory. pvos `ping` and `pong` (peers= naming each other)
ping-pong five events; `lonely` pings pong, whose peers= does not name it, and is refused
with EPERM, which it reports. `console pv` and `console ping` reach pvos's shell through the
console hypercalls, and Ctrl-] comes back.
"""

import re
from pathlib import Path

import emu
from scenario import assert_no_panic, assert_rising, complete_log, wait_line, wait_ticks

ROOT = Path(__file__).resolve().parents[2]
ISO = ROOT / "build" / "tests" / "iso" / "pvos.iso"

TIMEOUT = 300            # per test, enforced by tests/run.py
BOOT_WAIT = 120          # power-on to the guests' banners
STEP_WAIT = 60           # a reply, a few status lines, a ping-pong
PINGS = 5                # pingpong= of guest ping

BANNER = (r"pvos: paravirtual tinyos on anfitrion ABI 1, features 0x3f "
          r"\(console time events timer peers machine\)")
STATUS = re.compile(r"^\[pv\] tick (\d+): tasks \d+ \d+ rtc (\d\d):(\d\d):(\d\d)$", re.M)
EXIT_LINE = re.compile(r"^  exit (.+?)\s+(\d+)$")
CALLS = re.compile(r"^  hypercalls (\d+) \((\d+) refused\), upcalls (\d+)$")
VECTOR = re.compile(r"^  interrupt vector 0x(\w\w) injected\s+(\d+)$")
NOT_ANFITRION = (r"^pvos: (?:no hypervisor \(CPUID\.1:ECX bit 31 clear\)|CPUID 0x40000000 says \"[^\"]*\", "
                 r"not \"anfitrion\"); pvos runs only on anfitrion, halting$")


def line_start(m):
    """Offset where the line being written now starts (where a search for `^...` may begin)."""
    log = m.log
    return log.rfind("\n") + 1


def stats(m, name):
    """`stats NAME`: {exit reason: count, "hypercalls"/"refused"/"upcalls": count,
    "vector XX": injections}."""
    start = line_start(m)
    m.send(f"stats {name}\r")
    echo = wait_line(m, rf"^hv> stats {name}$", STEP_WAIT, start)
    prompt = wait_line(m, r"^hv> ", STEP_WAIT, echo.end() + 1, partial=True)
    lines = m.log[echo.end() + 1:prompt.start()].splitlines()
    assert lines and lines[0].startswith(f"guest {name}: "), f"stats {name}: {lines!r}"
    got = {}
    for line in lines[1:]:
        if (x := EXIT_LINE.match(line)):
            got[x.group(1)] = int(x.group(2))
        elif (x := CALLS.match(line)):
            got.update(hypercalls=int(x.group(1)), refused=int(x.group(2)), upcalls=int(x.group(3)))
        elif (x := VECTOR.match(line)):
            got[f"vector {x.group(1)}"] = int(x.group(2))
    return got


def type_line(m, text, reply, start):
    """While attached: type TEXT and Enter, wait for the raw line REPLY; return its match."""
    m.send(text + "\r")
    return wait_line(m, reply, STEP_WAIT, start)


def attach(m, name):
    start = line_start(m)
    m.send(f"console {name}\r")
    return wait_line(m, rf"^hv: console: attached to {name}; Ctrl-\] detaches$", STEP_WAIT, start).end()


def detach(m, name):
    start = line_start(m)
    m.send(b"\x1d")
    detached = wait_line(m, rf"^hv: console: detached from {name}$", STEP_WAIT, start)
    return wait_line(m, r"^hv> ", STEP_WAIT, detached.end(), partial=True).start()


def check_ping_pong(m):
    done = wait_line(m, rf"^\[ping\] pvos: pingpong done: {PINGS}/{PINGS} pongs from pong$", BOOT_WAIT)
    log = complete_log(m)[:done.start()]
    got = [int(k) for k in re.findall(rf"^\[ping\] pvos: pong (\d+)/{PINGS} from pong "
                                       r"\(round trip \d+ us\)$", log, re.M)]
    assert got == list(range(1, PINGS + 1)), f"ping's pong lines: {got}"
    refused = wait_line(m, r"^\[lonely\] pvos: ping to pong refused \(EPERM\): "
                           r"pong's peers= does not name lonely$", STEP_WAIT)
    wait_line(m, r"^\[lonely\] pvos: pingpong stopped: 0/1 pongs from pong$", STEP_WAIT, refused.end())
    lonely = stats(m, "lonely")
    assert lonely.get("refused") == 1, f"lonely's one refused send is not counted: {lonely}"
    # Every ping pong saw was ping's: lonely's never reached it.
    answered = re.findall(r"^\[pong\] pvos: ping from peer, pong sent to ping$", complete_log(m), re.M)
    assert len(answered) == PINGS, f"pong answered {len(answered)} pings, ping sent {PINGS}"


def check_ticks(m):
    """pv and alpha both tick; pv's line is tinyos's, its clock the guest time at hz=100."""
    at = line_start(m)
    wait_ticks(m, "alpha", 3, at, timeout=STEP_WAIT * 2)
    pv = wait_ticks(m, "pv", 3, at, timeout=STEP_WAIT * 2)
    assert_rising("pv", pv)
    for x in STATUS.finditer(complete_log(m), at):
        tick, clock = int(x.group(1)), int(x.group(2)) * 3600 + int(x.group(3)) * 60 + int(x.group(4))
        assert abs(clock - tick / 100) <= 1, \
            f"pv's tick {tick} at guest time {clock} s: the hz=100 tick drifts ({x.group(0)!r})"


def check_no_port_io(m):
    pv = stats(m, "pv")
    alpha = stats(m, "alpha")
    assert alpha.get("I/O instruction", 0) > 0, f"tinyos alpha shows no port I/O exits: {alpha}"
    assert "I/O instruction" not in pv, f"pvos made port I/O exits: {pv}"
    assert "HLT" not in pv, f"pvos executed HLT: {pv}"
    assert pv.get("VMCALL", 0) > 0 and pv.get("hypercalls", 0) > 0, f"pvos made no hypercalls: {pv}"
    assert pv.get("refused") == 0, f"a hypercall of pvos failed: {pv}"
    assert pv.get("upcalls", 0) > 0 and pv.get("vector 40", 0) > 0, \
        f"no upcall was delivered to pv (vector 0x40): {pv}"
    return pv


def check_console(m):
    """console pv: its shell by hypercall, raw status lines, Ctrl-] back; ping's `ping 2`."""
    at = attach(m, "pv")
    hi = type_line(m, "echo hi from pvos", r"^hi from pvos$", at)
    typed = re.sub(r"tick \d+: tasks[^\n]*\n", "", complete_log(m)[at:hi.start()])
    assert "echo hi from pvos\n" in typed, f"pvos did not echo the typed line: {typed!r}"
    type_line(m, "ticks", r"^ticks \d+ \(\d+ s at 100 Hz\)$", hi.end())
    type_line(m, "date", r"^guest time \d\d:\d\d:\d\d\.\d{3} since start \(pvos reads no RTC\)$", hi.end())
    type_line(m, "info", r"^guest time \d+ ns \(time page\), \d+ ns by ANF_HC_TIME$", hi.end())
    type_line(m, "ping", r"^pvos: ping: no peer \(start pvos with peer=NAME\)$", hi.end())
    type_line(m, "bogus", r"^unknown command: bogus$", hi.end())
    wait_ticks(m, "pv", 1, at, timeout=STEP_WAIT, prefixed=False)
    window = complete_log(m)[at:]
    assert not re.search(r"^\[\w+\] ", window, re.M), f"guest lines shown while attached to pv:\n{window}"
    end = detach(m, "pv")
    wait_ticks(m, "pv", 1, end, timeout=STEP_WAIT)

    at = attach(m, "ping")
    done = type_line(m, "ping 2", r"^pvos: pingpong done: 2/2 pongs from pong$", at)
    assert re.search(r"^pvos: pong 2/2 from pong \(round trip \d+ us\)$", complete_log(m)[at:done.start()],
                     re.M), f"ping 2 without its progress lines:\n{complete_log(m)[at:]}"
    detach(m, "ping")


def check_exception(m):
    """An exception in pvos is reported through the console hypercall, and pvos idles."""
    start = line_start(m)
    m.send("inject pv ud\r")
    wait_line(m, r"^hv: inject pv: #UD at its next entry$", STEP_WAIT, start)
    report = wait_line(m, r"^\[pv\] pvos: unexpected exception 6 \(#UD\) at EIP=0x[0-9a-f]{8} err=0x0; halted$",
                       STEP_WAIT, start)
    wait_ticks(m, "alpha", 2, report.end(), timeout=STEP_WAIT)
    pv = stats(m, "pv")
    assert "I/O instruction" not in pv and "HLT" not in pv, f"pvos halted with port I/O or HLT: {pv}"
    assert not re.search(r"^\[pv\] pvos: unexpected exception", complete_log(m)[:start], re.M), \
        "pvos took an unexpected exception before the injected one"


def test_pvos():
    with emu.Machine("bochs", iso=ISO, name="pvos") as m:
        banner = wait_line(m, rf"^\[pv\] {BANNER}$", BOOT_WAIT)
        wait_line(m, r"^\[pv\] pvos: guest pv \(id \d+, 4 MiB\)$", STEP_WAIT, banner.end())
        wait_line(m, r"^\[pv\] pvos: hz=100 tasks=2$", STEP_WAIT, banner.end())
        check_ping_pong(m)
        check_ticks(m)
        check_no_port_io(m)
        check_console(m)
        check_no_port_io(m)             # the console's input and output were hypercalls too
        check_exception(m)
        assert not re.search(r"^hv: guest \w+: (crashed|exited|stopped)", m.log, re.M), \
            "a guest ended"
        assert_no_panic(m)


def test_pvos_needs_anfitrion():
    """Booted without anfitrion (QEMU's -kernel: TCG's or KVM's leaf), pvos says so and halts."""
    kernel = ROOT / "build" / "guests" / "pvos.elf"
    with emu.Machine("qemu", kernel=kernel, append="hz=100", name="pvos-qemu") as m:
        wait_line(m, NOT_ANFITRION, 30)
test_pvos_needs_anfitrion.timeout = 60
