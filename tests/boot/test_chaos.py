"""Boot test of the adversarial guest beside a neighbour (tests/iso/chaos.cfg).

chaos (tests/guests/chaos.c) throws MSRs, ports, control registers, device memory and
random CPL 3 code at the hypervisor for a fixed seed; pvabi (tests/guests/pvabi.c) throws
every hypercall number 0-1023 with garbage arguments and checks each answer. The hypervisor
must not panic, must not stop chaos (every answer is the hardware's, so chaos reaches
`Test result: PASS` itself), pvabi passes and ends itself (ANF_HC_SHUTDOWN(3): `exited:
status 3`, nothing else), and tinyos alpha's tick counter must keep rising while chaos runs
and after it.
"""

import re
from pathlib import Path

import emu
from scenario import (assert_no_panic, assert_rising, complete_log, status_lines, wait_line,
                      wait_ticks)

ROOT = Path(__file__).resolve().parents[2]
ISO = ROOT / "build" / "tests" / "iso" / "chaos.iso"

TIMEOUT = 300            # per test, enforced by tests/run.py
BOOT_WAIT = 90           # power-on to the guests' `started` lines
CHAOS_WAIT = 180         # chaos's title to its verdict, sharing the CPU with alpha


def test_chaos_beside_tinyos():
    """chaos reaches PASS; alpha ticks during the run and after it; nobody is stopped."""
    with emu.Machine("bochs", iso=ISO) as m:
        for name in ("alpha", "chaos"):
            wait_line(m, rf"^hv: guest {name}: started$", BOOT_WAIT)
        title = wait_line(m, r"^\[chaos\] Test: chaos: .*$", 60)
        verdict = wait_line(m, r"^\[chaos\] Test result: \w+$"
                               r"|^hv: guest chaos: (crashed|stopped|exited|powered off|rebooted).*$",
                            CHAOS_WAIT, title.end())
        log = complete_log(m)
        fails = re.findall(r"^\[chaos\] (?:FAIL: .*|  step: .*)$", log, re.M)
        assert verdict.group(0) == "[chaos] Test result: PASS", \
            f"chaos ended with {verdict.group(0)!r}" + "".join(f"\n  {f}" for f in fails[:12])

        # alpha went on while chaos ran, and goes on after it.
        during = status_lines(m, "alpha", title.end(), verdict.end())
        assert len(during) >= 3, \
            f"alpha printed {len(during)} status lines while chaos ran (want 3 or more)"
        later = wait_ticks(m, "alpha", 3, verdict.end())
        assert_rising("alpha", status_lines(m, "alpha", 0, title.end()) + during + later,
                      " across the chaos run")

        log = complete_log(m)
        pv = re.findall(r"^\[pvabi\] (Test result: \w+|FAIL: .*)$", log, re.M)
        assert pv and pv[-1] == "Test result: PASS", f"pvabi: {pv}"
        assert re.search(r"^hv: guest pvabi: exited: status 3$", log, re.M), \
            "pvabi did not end itself with ANF_HC_SHUTDOWN(3)"
        stopped = re.search(r"^hv: guest (?!pvabi: exited: status 3$)\S+: "
                            r"(crashed|stopped|powered off|rebooted|exited).*$", log, re.M)
        assert not stopped, f"a guest was stopped: {stopped.group(0)!r}"
        assert_no_panic(m)
