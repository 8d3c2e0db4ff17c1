"""The boot tests' shared harness on a hypervisor's serial log (tests/boot/*.py, built on
tests/emu.py's Machine): waiting for lines and tinyos status lines with an early failure
when the hypervisor panicked or the emulator ended (so a broken run fails in seconds with
its diagnostics), and assert_no_panic, the check every boot test ends with."""

import re
import time

import emu

PANIC_LINE = re.compile(r"^PANIC: .*$", re.M)
TICK_WAIT = 120          # for a run of tinyos status lines (each is 1 s of guest time)


def complete_log(m):
    """The log up to its last complete line."""
    log = m.log
    return log[:log.rfind("\n") + 1]


def fail_if_gone(m, what, expect_panic=False):
    """Raise EmuError if the hypervisor panicked (unless EXPECT_PANIC) or the emulator ended."""
    panic = None if expect_panic else PANIC_LINE.search(complete_log(m))
    if panic:
        # Let the whole report (registers, backtrace) reach the log for the diagnostics.
        deadline = time.monotonic() + 3
        while "\nbacktrace:" not in m.log[panic.start():] and time.monotonic() < deadline:
            time.sleep(0.2)
        raise emu.EmuError(f"the hypervisor panicked while waiting for {what}: "
                           f"{panic.group(0)!r}\n{m.diagnostics(tail=40)}")
    if not m.alive():
        raise emu.EmuError(f"{m.emu} ended (status {m.proc.poll()}) while waiting for "
                           f"{what}\n{m.diagnostics(tail=40)}")


def wait_line(m, pattern, timeout, start=0, partial=False, expect_panic=False):
    """The first line at or after offset START matching PATTERN (regex, re.M).

    Only complete lines unless PARTIAL (for the prompt, which no newline follows).
    Fails early on a host panic (unless EXPECT_PANIC: the panic tests wait for one) or
    when the emulator ends."""
    rx = re.compile(pattern, re.M)
    deadline = time.monotonic() + timeout
    while True:
        text = m.log if partial else complete_log(m)
        found = rx.search(text, start)
        # An empty match at the very end is not a line yet: the log is still arriving.
        if found and not (found.start() == found.end() == len(text)):
            return found
        fail_if_gone(m, f"/{pattern}/", expect_panic)
        if time.monotonic() > deadline:
            raise emu.EmuError(f"/{pattern}/ did not appear within {timeout} s\n"
                               f"{m.diagnostics(tail=40)}")
        time.sleep(0.1)


def wait_next(m, pattern, timeout, partial=False, expect_panic=False):
    """wait_line() after the last line wait_next() found on M: for checking lines in the order
    the hypervisor prints them (the boot report, a command and its answer)."""
    found = wait_line(m, pattern, timeout, getattr(m, "next_offset", 0), partial, expect_panic)
    m.next_offset = found.end()
    return found


def status_lines(m, guest, start=0, end=None, prefixed=True):
    """[(offset, tick)] of tinyos status lines `[GUEST] tick N: tasks ...` (or, attached
    to its console, the raw `tick N: tasks ...`)."""
    log = complete_log(m)
    head = rf"\[{re.escape(guest)}\] " if prefixed else ""
    rx = re.compile(rf"^{head}tick (\d+): tasks.*$", re.M)
    return [(x.start(), int(x.group(1)))
            for x in rx.finditer(log, start, len(log) if end is None else end)]


def wait_ticks(m, guest, count, start=0, timeout=TICK_WAIT, prefixed=True):
    """Wait for COUNT status lines of GUEST after offset START; return [(offset, tick)]."""
    deadline = time.monotonic() + timeout
    while True:
        got = status_lines(m, guest, start, prefixed=prefixed)
        if len(got) >= count:
            return got
        fail_if_gone(m, f"{count} status lines of {guest} (have {len(got)})")
        if time.monotonic() > deadline:
            raise emu.EmuError(f"only {len(got)} of {count} status lines of {guest} "
                               f"within {timeout} s\n{m.diagnostics(tail=40)}")
        time.sleep(0.2)


def ticks_of(lines):
    return [t for _, t in lines]


def assert_rising(guest, lines, what=""):
    values = ticks_of(lines)
    assert all(a < b for a, b in zip(values, values[1:])), \
        f"{guest}'s tick counter does not rise{what}: {values}"


def assert_no_panic(m):
    """The one check every boot test ends with: no `PANIC: ` anywhere in the log."""
    at = m.log.find("PANIC: ")
    assert at < 0, f"the hypervisor panicked: {m.log[at:].splitlines()[0]!r}"
