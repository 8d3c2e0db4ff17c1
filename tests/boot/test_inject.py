"""Boot test of the shell's fault injection under Bochs (tests/iso/inject.cfg).

The guest `target` (tests/guests/inject.c) says what it waits for; the test types the
command (`inject target nmi|ud|gp|pf ADDR|irq 5`, `corrupt target GPA 0`), checks the
shell's line for it, and the guest checks that the event arrived as the CPU would deliver
it, ending with `Test result: PASS`. Bad commands print one `error: ` line and change
nothing: the guest still sees each event exactly once.
"""

import re
from pathlib import Path

import emu
from scenario import assert_no_panic, complete_log, wait_line

ROOT = Path(__file__).resolve().parents[2]
ISO = ROOT / "build" / "tests" / "iso" / "inject.iso"

TIMEOUT = 180            # per test, enforced by tests/run.py
BOOT_WAIT = 90
STEP_WAIT = 40

BAD = (
    ("inject nosuch nmi", r'^error: no guest named "nosuch" \(see list\)$'),
    ("inject target bogus", r"^error: inject needs NAME nmi\|irq N\|gp\|ud\|pf ADDR$"),
    ("inject target irq 2", r"^error: guest target has no ISA IRQ line by that number \(0-15, not 2\)$"),
    ("inject target pf", r"^error: inject target pf needs a number \(decimal or 0x\.\.\.\)$"),
    ("corrupt target 0xfff00000 0", r"^error: guest target has no RAM at that guest-physical address$"),
    ("corrupt target 0x1000 9", r"^error: guest target needs a bit number 0-7$"),
)


def command(m, cmd, reply, pos):
    """Types CMD and waits for the line REPLY after offset POS; returns the offset after it."""
    m.send(cmd + "\r")
    return wait_line(m, reply, STEP_WAIT, pos).end()


def test_inject_and_corrupt():
    with emu.Machine("bochs", iso=ISO) as m:
        pos = wait_line(m, r"^\[target\] inject: waiting for nmi$", BOOT_WAIT).end()
        for cmd, reply in BAD:
            pos = command(m, cmd, reply, pos)
        pos = command(m, "inject target nmi", r"^hv: inject target: an NMI through LINT1$", pos)
        for kind, what in (("ud", r"#UD"), ("gp", r"#GP\(0\)")):
            pos = wait_line(m, rf"^\[target\] inject: waiting for {kind}$", STEP_WAIT, pos).end()
            pos = command(m, f"inject target {kind}", rf"^hv: inject target: {what} at its next entry$", pos)
        addr = wait_line(m, r"^\[target\] inject: pf address (0x[0-9a-f]+)$", STEP_WAIT, pos)
        pos = wait_line(m, r"^\[target\] inject: waiting for pf$", STEP_WAIT, addr.end()).end()
        pos = command(m, f"inject target pf {addr.group(1)}",
                      rf"^hv: inject target: #PF \(error 0\) at its next entry, CR2 = {addr.group(1)}$", pos)
        pos = wait_line(m, r"^\[target\] inject: waiting for irq 5$", STEP_WAIT, pos).end()
        pos = command(m, "inject target irq 5", r"^hv: inject target: an edge on ISA IRQ 5$", pos)
        gpa = wait_line(m, r"^\[target\] inject: corrupt (0x[0-9a-f]+) bit 0$", STEP_WAIT, pos)
        pos = command(m, f"corrupt target {gpa.group(1)} 0",
                      rf"^hv: corrupt target: bit 0 of guest-physical {gpa.group(1)}: 0x55 -> 0x54$",
                      gpa.end())
        result = wait_line(m, r"^\[target\] Test result: (PASS|FAIL)$", STEP_WAIT, pos)
        log = complete_log(m)
        fails = re.findall(r"^\[target\] FAIL: .*$", log, re.M)
        assert result.group(1) == "PASS", f"the guest saw: {fails}"
        assert not re.search(r"^hv: guest target: crashed", log, re.M), "the guest was stopped"
        assert_no_panic(m)
