"""Boot test of the reboot-loop limit under Bochs (tests/iso/rebootloop.cfg).

`looper` (tests/guests/rebootloop.c, role=reboot, 48 MiB) checks at every boot that its
RAM was reloaded zeroed, dirties it and resets itself through port 0xCF9 at once. The
hypervisor reloads it piecewise (listed as `loading` meanwhile) and counts its reboots
with its crash restarts: after 5 within 10 s the next one stops it with
`hv: guest looper: rebooted; stopped (reboot loop: 5 restarts within 10 s)`. tinyos
`alpha` beside it keeps ticking. A `start` from the shell begins a new count.
"""

import re
from pathlib import Path

import emu
from scenario import (TICK_WAIT, assert_no_panic, assert_rising, complete_log, status_lines,
                      wait_line, wait_ticks)

ROOT = Path(__file__).resolve().parents[2]
ISO = ROOT / "build" / "tests" / "iso" / "rebootloop.iso"

TIMEOUT = 240            # per test, enforced by tests/run.py
BOOT_WAIT = 90           # power-on to the guests' `started` lines

STOP_LINE = r"^hv: guest looper: rebooted; stopped \(reboot loop: 5 restarts within 10 s\)$"
BOOT_LINE = re.compile(r"^\[looper\] rebootloop: boot: (RAM zero|RAM NOT zero.*)", re.M)


def assert_keeps_ticking(m, guest, after, count):
    """COUNT more status lines of GUEST after offset AFTER, each larger than any before it."""
    before = status_lines(m, guest, 0, after)
    later = wait_ticks(m, guest, count, after, TICK_WAIT)
    assert_rising(guest, before + later, " across the reboot loop")


def loop_until_stopped(m, pos):
    """Five `rebooted` lines after offset POS, then the stop line; returns the stop match."""
    for _ in range(5):
        pos = wait_line(m, r"^hv: guest looper: rebooted$", 120, pos).end()
    stop = wait_line(m, r"^hv: guest looper: (rebooted|rebooted; stopped .*)$", 120, pos)
    assert re.fullmatch(STOP_LINE, stop.group(0)), f"6th reboot: got {stop.group(0)!r}"
    return stop


def test_reboot_loop_stopped():
    """Five reboots reload looper (zeroed RAM each time), the sixth stops it; alpha ticks on;
    `start looper` gives it a new count of five."""
    with emu.Machine("bochs", iso=ISO) as m:
        started = 0
        for name in ("alpha", "looper"):
            loaded = wait_line(m, rf"^hv: guest {name}: loaded \(.*\)$", BOOT_WAIT)
            started = max(started, wait_line(m, rf"^hv: guest {name}: started$", 30, loaded.end()).end())
        stop = loop_until_stopped(m, started)
        assert_keeps_ticking(m, "alpha", stop.end(), 2)
        tail = complete_log(m)[stop.end():]
        assert not re.search(r"^hv: guest looper: (started|rebooted)", tail, re.M), \
            "looper was reloaded after the reboot-loop stop"

        m.send("start looper\r")
        again = wait_line(m, r"^hv: guest looper: started$", 60, stop.end())
        stop2 = loop_until_stopped(m, again.end())
        assert_keeps_ticking(m, "alpha", stop2.end(), 1)

        log = complete_log(m)
        boots = BOOT_LINE.findall(log)
        assert len(boots) == 12, f"expected 12 boots of looper (2 x (1 + 5 reboots)), got {len(boots)}"
        assert all(b == "RAM zero" for b in boots), f"a reboot found its RAM not zeroed: {boots}"
        assert len(re.findall(STOP_LINE, log, re.M)) == 2, "expected two reboot-loop stops"
        assert "hv: guest alpha: " not in log.split("hv: guest alpha: started", 1)[1], \
            "alpha had lifecycle lines after it started"
        assert_no_panic(m)
