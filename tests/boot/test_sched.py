"""Boot test of the scheduler under Bochs: CPU-bound guests get equal CPU shares.

Three guests that never idle (two tinyos whose tasks spin, one guest spinning with
interrupts off) run for a few seconds of guest time; `stats` must show each with a share
within 10% of an equal third (the issue's "equal shares within 10%").
"""

import re
from pathlib import Path

import emu
from scenario import wait_line

ROOT = Path(__file__).resolve().parents[2]
ISO = ROOT / "build" / "tests" / "iso" / "shares.iso"
TIMEOUT = 180

SHARE = re.compile(r"^guest (\w+): \d+ exits, CPU share ([\d.]+)% of guest time", re.M)


def test_cpu_bound_guests_get_equal_shares():
    with emu.Machine("bochs", iso=ISO, mem_mb=256, name="sched-shares") as m:
        wait_line(m, r"^hv: guest three: started$", 90)
        wait_line(m, r"^\[three\] crash: now", 60)
        # Let them compete for a while: five status lines of each tinyos.
        for name in ("one", "two"):
            wait_line(m, rf"^\[{name}\] tick 500:", 120)
        start = len(m.log)
        m.send("stats\r")
        wait_line(m, r"^guest three: .*$", 30, start)
        shares = {name: float(v) for name, v in SHARE.findall(m.log[start:])}
        assert set(shares) == {"one", "two", "three"}, f"stats lines: {shares}"
        mean = sum(shares.values()) / 3
        assert 30 <= mean <= 34, f"the three shares should add up to ~100%: {shares}"
        for name, share in shares.items():
            assert abs(share - mean) <= 0.10 * mean, \
                f"guest {name} got {share}% against an equal share of {mean:.1f}%: {shares}"
