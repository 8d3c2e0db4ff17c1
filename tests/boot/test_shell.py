"""End-to-end tests of the hypervisor shell (`hv> ` on COM1) under Bochs.

Each test boots build/anfitrion.iso (iso/grub.cfg: tinyos `alpha` hz=100 tasks=3,
tinyos `beta` hz=250, crash guest `gamma` restarted every ~3 s), types commands
into the serial port and checks both what each command prints
(docs: /work/shared/PRODUCT.md, kernel/shell/shell_cmds.c, kernel/shell/shell_guest.c) and
what it does to the guests, measured by their `[NAME] tick N:` status lines
(one per second of guest time).

Several checks share one boot where they do not interfere. Every wait is for a
log line with a generous timeout; the only fixed-length windows are those that
show "no progress", and they are measured in status lines of another guest.

How a command's output is found: the shell echoes the typed line, so the log
holds `hv> COMMAND` as a line; the command runs to completion before anything
else reaches the console, and then the prompt `hv> ` is drawn again. The
output is the text between the two. Asynchronous lines (guests, crashes) take
the prompt off first (CR + ESC[K, a line break in the log) and redraw it after.
"""

import re
from pathlib import Path

import emu
from scenario import (assert_no_panic, assert_rising, complete_log,
                      status_lines, ticks_of, wait_line, wait_ticks)

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ISO = ROOT / "build" / "anfitrion.iso"

TIMEOUT = 150            # per test, enforced by tests/run.py
BOOT_WAIT = 90           # power-on to the guests' `started` lines
TICK_WAIT = 60           # for a few tinyos status lines (each is 1 s of guest time)
CMD_WAIT = 30            # a command's echo and the prompt after its output

GUESTS = ("alpha", "beta", "gamma")
ACTIVE = ("running", "idle", "halted", "loading")      # a scheduled guest, whatever its vCPU does
LIST_HEADER = "NAME             STATE      MEMORY RESTARTS     UPTIME        EXITS"
LIST_ROW = re.compile(r"^(\S+)\s+(running|idle|halted|loading|paused|stopped|crashed)\s+(\d+)M\s+"
                      r"(\d+)\s+(-|\d+:\d\d:\d\d)\s+(\d+)$")
TRACE_ON = "hv: trace alpha: on (at most 20 lines a second)"
TRACE_IO = re.compile(r"^hv: trace alpha: I/O instruction rip=0x[0-9a-f]+ qual=0x[0-9a-f]+ "
                      r"(?:in|out) port 0x[0-9a-f]+ size [124] value 0x[0-9a-f]+; resume$")
TRACE_SUPPRESSED = re.compile(r"^hv: trace alpha: (\d+) exits not shown \(more than 20 a second\)$",
                              re.M)


# ---- waiting on the log (as in test_guests.py) -------------------------------------------

def line_start(m):
    """Offset where the line being written now starts (where a search for `^...` may begin)."""
    log = m.log
    return log.rfind("\n") + 1


# ---- driving the shell ---------------------------------------------------------------------

class Output:
    """What one command printed: its lines, and offsets around it in the log."""

    def __init__(self, cmd, lines, start, end):
        self.cmd = cmd
        self.lines = lines
        self.start = start      # just after the echoed command line
        self.end = end          # where the prompt after the output starts

    def __repr__(self):
        return f"output of {self.cmd!r}: {self.lines!r}"


def wait_prompt(m, start, timeout=CMD_WAIT):
    return wait_line(m, r"^hv> ", timeout, start, partial=True)


def output_between(m, cmd, start, timeout=CMD_WAIT):
    """The command's output from offset START (after its echo) up to the next prompt."""
    prompt = wait_prompt(m, start, timeout)
    text = m.log[start:prompt.start()]
    return Output(cmd, text.splitlines(), start, prompt.start())


def run(m, cmd, timeout=CMD_WAIT):
    """Type CMD and Enter; wait for its echo and the prompt after its output."""
    start = line_start(m)
    m.send(cmd + "\r")
    echo = wait_line(m, rf"^hv> {re.escape(cmd)}$", timeout, start)
    return output_between(m, cmd, echo.end() + 1, timeout)


def run_one_line(m, cmd, expected):
    """CMD prints exactly the line EXPECTED (a string, or a compiled regex for fullmatch)."""
    out = run(m, cmd)
    assert len(out.lines) == 1, f"{cmd!r}: expected one line, got {out.lines!r}"
    line = out.lines[0]
    if isinstance(expected, re.Pattern):
        assert expected.fullmatch(line), f"{cmd!r}: {line!r} does not match /{expected.pattern}/"
    else:
        assert line == expected, f"{cmd!r}: expected {expected!r}, got {line!r}"
    return out


def guest_list(m):
    """`list` parsed: {name: (state, mem MiB, restarts, uptime, exits)}."""
    out = run(m, "list")
    assert out.lines, "list printed nothing"
    assert out.lines[0] == LIST_HEADER, f"list header: {out.lines[0]!r}"
    rows = {}
    for line in out.lines[1:]:
        row = LIST_ROW.match(line)
        assert row, f"list: row {line!r} does not parse (all: {out.lines!r})"
        rows[row.group(1)] = (row.group(2), int(row.group(3)), int(row.group(4)),
                              row.group(5), int(row.group(6)))
    assert sorted(rows) == sorted(GUESTS), f"list shows guests {sorted(rows)}: {out.lines!r}"
    return rows


def seconds(uptime):
    h, mi, s = (int(x) for x in uptime.split(":"))
    return h * 3600 + mi * 60 + s


def boot(m):
    """Wait until all three guests run, alpha and beta have ticked, and the prompt is up."""
    for name in GUESTS:
        wait_line(m, rf"^hv: guest {name}: started$", BOOT_WAIT)
    wait_ticks(m, "alpha", 1)
    wait_ticks(m, "beta", 1)
    wait_prompt(m, 0)


def assert_active(rows, *names):
    for name in names:
        assert rows[name][0] in ACTIVE, f"{name} is {rows[name][0]!r}, expected one of {ACTIVE}"


# ---- pause and resume; error lines --------------------------------------------------------

def test_shell_pause_resume():
    """pause stops alpha's ticks while beta goes on; resume starts them again."""
    with emu.Machine("bochs", iso=DEFAULT_ISO) as m:
        boot(m)
        rows = guest_list(m)
        assert_active(rows, "alpha", "beta")

        paused = run_one_line(m, "pause alpha", "hv: guest alpha: paused")
        before = status_lines(m, "alpha", 0, paused.start)
        # No progress: beta prints two status lines (>= 1 s of guest time), alpha none.
        beta = wait_ticks(m, "beta", 2, paused.end)
        window = complete_log(m)[paused.end:beta[1][0]]
        assert not status_lines(m, "alpha", paused.end, beta[1][0] + 1), \
            f"alpha printed a status line while paused:\n{window}"

        rows = guest_list(m)
        assert rows["alpha"][0] == "paused", f"list shows alpha {rows['alpha'][0]!r} after pause"
        assert_active(rows, "beta")
        info = run(m, "info alpha")
        up = re.fullmatch(r"guest alpha: paused, uptime (\d+:\d\d:\d\d), 0 restarts", info.lines[0])
        assert up, f"info alpha while paused: {info.lines[0]!r}"

        # A second pause is refused and leaves alpha paused.
        again = run_one_line(m, "pause alpha", "error: guest alpha is already paused")
        beta = wait_ticks(m, "beta", 2, again.end)
        # Its uptime stands still while it is paused (beta ran >= 1 s in between).
        info = run(m, "info alpha")
        assert info.lines[0].startswith(f"guest alpha: paused, uptime {up.group(1)},"), \
            f"alpha's uptime moved while paused: {up.group(1)} then {info.lines[0]!r}"
        assert not status_lines(m, "alpha", paused.end, beta[0][0] + 1), \
            "alpha printed a status line while paused (after the second pause)"

        resumed = run_one_line(m, "resume alpha", "hv: guest alpha: resumed")
        after = wait_ticks(m, "alpha", 2, resumed.end)
        assert_rising("alpha", before + after, " across pause and resume")
        rows = guest_list(m)
        assert_active(rows, "alpha", "beta")
        assert "hv: guest alpha: crashed" not in m.log, "alpha crashed"
        assert_no_panic(m)


# (command, the one line it must print)
ERRORS = [
    ("resume alpha", "error: guest alpha is not paused"),
    ("start alpha", "error: guest alpha is already running"),
    ("start beta", "error: guest beta is already running"),
    ("pause", "error: pause needs a guest name (see list)"),
    ("resume", "error: resume needs a guest name (see list)"),
    ("stop", "error: stop needs a guest name (see list)"),
    ("start", "error: start needs a guest name (see list)"),
    ("reset", "error: reset needs a guest name (see list)"),
    ("console", "error: console needs a guest name (see list)"),
    ("info", "error: info needs a guest name (see list)"),
    ("trace", "error: trace needs a guest name (see list)"),
    ("pause x", 'error: no guest named "x" (see list)'),
    ("stop nosuch", 'error: no guest named "nosuch" (see list)'),
    ("reset nosuch", 'error: no guest named "nosuch" (see list)'),
    ("console nosuch", 'error: no guest named "nosuch" (see list)'),
    ("stats nosuch", 'error: no guest named "nosuch" (see list)'),
    ("pause ALPHA", 'error: no guest named "ALPHA" (see list)'),
    ("frob", 'error: unknown command "frob" (try help)'),
    ("frob alpha", 'error: unknown command "frob" (try help)'),
    ("help frob", 'error: no command "frob" (try help)'),
    ("trace alpha", "error: usage: trace NAME on|off [REASON...]"),
    ("trace alpha maybe", "error: usage: trace NAME on|off [REASON...]"),
    ("trace alpha on BOGUS", re.compile(r'error: unknown exit reason "BOGUS" .*')),
    ("log loud", re.compile(r'error: unknown log level "loud" .*')),
]


def test_shell_errors_change_nothing():
    """Each refused command prints exactly one `error: ` line and leaves every guest as it was."""
    with emu.Machine("bochs", iso=DEFAULT_ISO) as m:
        boot(m)
        rows_before = guest_list(m)
        assert_active(rows_before, "alpha", "beta")
        first = None
        for cmd, expected in ERRORS:
            out = run_one_line(m, cmd, expected)
            first = first if first is not None else out.start
        last = out.end

        # Nothing changed: no lifecycle or trace line, states and restarts as before.
        window = complete_log(m)[first:last]
        bad = re.findall(r"^hv: (?:guest (?:alpha|beta): .*|trace .*|console: .*)$", window, re.M)
        assert not bad, f"a refused command changed something: {bad}"
        rows = guest_list(m)
        assert_active(rows, "alpha", "beta")
        for name in ("alpha", "beta"):
            assert rows[name][2] == rows_before[name][2], \
                f"{name}'s restarts changed: {rows_before[name][2]} -> {rows[name][2]}"
            assert rows[name][4] >= rows_before[name][4], f"{name}'s exit count went down"

        # `resume alpha` while running left alpha ticking; beta too; no trace lines came.
        before = status_lines(m, "alpha", 0, last)
        alpha = wait_ticks(m, "alpha", 2, last)
        assert_rising("alpha", before + alpha, " after the refused commands")
        wait_ticks(m, "beta", 1, last)
        assert not re.search(r"^hv: trace ", complete_log(m)[first:], re.M), \
            "a refused trace command turned tracing on"
        run_one_line(m, "log", "log level: info")
        assert_no_panic(m)


# ---- stop, start, reset ---------------------------------------------------------------

def test_shell_stop_start_reset():
    """stop silences beta (list: stopped); start boots it again; reset restarts it; alpha goes on."""
    with emu.Machine("bochs", iso=DEFAULT_ISO) as m:
        boot(m)
        wait_ticks(m, "beta", 2)

        stopped = run_one_line(m, "stop beta", "hv: guest beta: stopped")
        last_beta = status_lines(m, "beta", 0, stopped.start)[-1][1]
        alpha = wait_ticks(m, "alpha", 2, stopped.end)
        quiet = complete_log(m)[stopped.end:alpha[1][0]]
        assert not re.search(r"^\[beta\] ", quiet, re.M), f"beta printed after stop:\n{quiet}"

        rows = guest_list(m)
        assert rows["beta"][0] == "stopped", f"list shows beta {rows['beta'][0]!r} after stop"
        assert rows["beta"][3] == "-", f"stopped beta has uptime {rows['beta'][3]!r}"
        assert_active(rows, "alpha")
        info = run(m, "info beta")
        assert info.lines[0] == "guest beta: stopped, uptime -, 0 restarts", \
            f"info beta while stopped: {info.lines[0]!r}"
        assert not any(line.startswith("  RIP=") for line in info.lines), \
            f"info of a stopped guest shows registers: {info.lines!r}"

        for cmd in ("stop beta", "pause beta", "resume beta", "console beta"):
            run_one_line(m, cmd, "error: guest beta is not running")
        rows = guest_list(m)
        assert rows["beta"][0] == "stopped", "a refused command changed stopped beta"
        assert not re.search(r"^\[beta\] ", complete_log(m)[stopped.end:], re.M), \
            "beta printed while stopped"

        # start: the guest boots from its module again (banner, tick counter from 0).
        started = run_one_line(m, "start beta", "hv: guest beta: started")
        wait_line(m, r"^\[beta\] tinyos: hz=250 tasks=\d+$", TICK_WAIT, started.end)
        fresh = wait_ticks(m, "beta", 2, started.end)
        assert fresh[0][1] <= 500 and fresh[0][1] < last_beta, \
            f"beta's ticks after start {ticks_of(fresh)} do not begin afresh (before stop: {last_beta})"
        assert_rising("beta", fresh, " after start")
        rows = guest_list(m)
        assert_active(rows, "alpha", "beta")
        run_one_line(m, "start beta", "error: guest beta is already running")

        # reset: back to the banner and a small tick count, uptime from 0.
        last_beta = status_lines(m, "beta", started.end)[-1][1]
        reset = run_one_line(m, "reset beta", "hv: guest beta: reset")
        wait_line(m, r"^\[beta\] tinyos: hz=250 tasks=\d+$", TICK_WAIT, reset.end)
        fresh = wait_ticks(m, "beta", 1, reset.end)
        assert fresh[0][1] < last_beta, \
            f"beta's tick {fresh[0][1]} after reset is not below {last_beta} from before it"
        rows = guest_list(m)
        assert_active(rows, "alpha", "beta")
        assert seconds(rows["beta"][3]) < seconds(rows["alpha"][3]), \
            f"beta's uptime {rows['beta'][3]} after reset is not below alpha's {rows['alpha'][3]}"

        # alpha was never touched: one rising counter, no lifecycle line after boot.
        alpha = status_lines(m, "alpha")
        assert len(alpha) >= 5, f"alpha printed only {len(alpha)} status lines"
        assert_rising("alpha", alpha)
        assert len(re.findall(r"^hv: guest alpha: ", m.log, re.M)) == 2, \
            "alpha had lifecycle lines beyond loaded and started"
        assert_no_panic(m)


# ---- console and line editing ---------------------------------------------------------

def stats_first_line(m, name):
    out = run(m, f"stats {name}")
    head = re.fullmatch(rf"guest {name}: (\d+) exits, CPU share (\d+)\.(\d)% of guest time, "
                        r"(\d+) console bytes dropped", out.lines[0])
    assert head, f"stats {name}: first line {out.lines[0]!r}"
    return out, head


def test_shell_console_and_line_editing():
    """console alpha: echo hi -> hi, others silent, Ctrl-] back; then the line editor's keys."""
    with emu.Machine("bochs", iso=DEFAULT_ISO) as m:
        boot(m)
        _, head = stats_first_line(m, "beta")
        beta_dropped = int(head.group(4))

        # No prompt follows the attach line: the console belongs to alpha now.
        start = line_start(m)
        m.send("console alpha\r")
        echo = wait_line(m, r"^hv> console alpha$", CMD_WAIT, start)
        attached = wait_line(m, r"^.+$", CMD_WAIT, echo.end() + 1)   # a whole line, not the empty match at the end of a log still arriving
        assert attached.group(0) == "hv: console: attached to alpha; Ctrl-] detaches", \
            f"console alpha: {attached.group(0)!r}"
        at = attached.end() + 1
        m.send("echo hi\r")
        hi = wait_line(m, r"^hi$", CMD_WAIT, at)
        typed = re.sub(r"tick \d+: tasks[^\n]*\n", "", complete_log(m)[at:hi.start()])
        assert "echo hi\n" in typed, f"tinyos did not echo the typed line: {typed!r}"
        # While attached, alpha's lines come raw and the others' not at all.
        raw = wait_ticks(m, "alpha", 2, at, prefixed=False)
        window = complete_log(m)[at:raw[1][0]]
        assert not re.search(r"^\[(?:alpha|beta|gamma)\] ", window, re.M), \
            f"guest lines shown while attached to alpha:\n{window}"
        assert not re.search(r"^hv> ", window, re.M), f"the prompt came back while attached:\n{window}"

        start = line_start(m)
        m.send(b"\x1d")
        detached = wait_line(m, r"^hv: console: detached from alpha$", CMD_WAIT, start)
        wait_prompt(m, detached.end())
        rows = guest_list(m)
        assert_active(rows, "alpha", "beta")
        wait_ticks(m, "beta", 1, detached.end())
        wait_ticks(m, "alpha", 1, detached.end())
        _, head = stats_first_line(m, "beta")
        assert int(head.group(4)) > beta_dropped, \
            f"beta's console bytes dropped did not rise while attached to alpha ({head.group(0)!r})"

        # Backspace (DEL): `lisx` DEL `t` runs list.
        start = line_start(m)
        m.send(b"lisx\x7ft\r")
        header = wait_line(m, rf"^{re.escape(LIST_HEADER)}$", CMD_WAIT, start)
        assert "error: " not in m.log[start:header.start()], \
            f"backspace: {m.log[start:header.start()]!r}"
        wait_prompt(m, header.end())

        # Ctrl-U kills the half-typed line: `xyz` ^U `version` runs version.
        start = line_start(m)
        m.send(b"xyz\x15version\r")
        ver = wait_line(m, r"^anfitrion 0\.1\.0, .*$", CMD_WAIT, start)
        assert "error: " not in m.log[start:ver.start()], f"Ctrl-U: {m.log[start:ver.start()]!r}"
        wait_prompt(m, ver.end())

        # Up arrow recalls the previous command: cpus, then ESC [ A and Enter runs it again.
        out = run(m, "cpus")
        first = re.search(r"ticks=(\d+)", "\n".join(out.lines))
        assert first, f"cpus: no ticks=N in {out.lines!r}"
        start = line_start(m)
        m.send(b"\x1b[A\r")
        again = wait_line(m, r"^  timer \d+ Hz, ticks=(\d+),.*$", CMD_WAIT, start)
        assert re.search(r"hv> .*cpus", m.log[start:again.start()]), \
            f"up arrow did not bring back `cpus`: {m.log[start:again.start()]!r}"
        assert int(again.group(1)) > int(first.group(1)), \
            f"host ticks did not rise: {first.group(1)} then {again.group(1)}"
        wait_prompt(m, again.end())

        # The informational commands.
        out = run(m, "help")
        for name in ("help", "version", "list", "info", "start", "stop", "pause", "resume",
                     "reset", "console", "stats", "trace", "cpus", "mem", "log", "halt", "reboot"):
            assert any(re.match(rf"  {name}\b", line) for line in out.lines), \
                f"help does not list {name}: {out.lines!r}"
        out = run(m, "help pause")
        assert len(out.lines) == 2 and out.lines[0] == "pause NAME" and \
            out.lines[1].startswith("    ") and out.lines[1].strip(), f"help pause: {out.lines!r}"
        run_one_line(m, "version", re.compile(r"anfitrion 0\.1\.0, .+"))
        out = run(m, "mem")
        assert re.fullmatch(r"host memory: \d+ KiB managed, \d+ KiB free, \d+ KiB used", out.lines[0]), \
            f"mem: {out.lines[0]!r}"
        for name, kib in (("alpha", 16384), ("beta", 8192), ("gamma", 4096)):
            assert any(re.match(rf"  guest {name}\s+RAM\s+{kib} KiB", line) for line in out.lines), \
                f"mem: no line for {name} with {kib} KiB: {out.lines!r}"
        assert_no_panic(m)


# ---- stats, info, trace -------------------------------------------------------------------

def parse_stats(lines, name):
    """One guest's stats block: (total exits, share, dropped, {reason: n}, {vector: n})."""
    head = re.fullmatch(rf"guest {name}: (\d+) exits, CPU share (\d+)\.(\d)% of guest time, "
                        r"(\d+) console bytes dropped", lines[0])
    assert head, f"stats {name}: first line {lines[0]!r}"
    exits, vectors = {}, {}
    for line in lines[1:]:
        e = re.fullmatch(r"  exit (\S.*?)\s+(\d+)", line)
        v = re.fullmatch(r"  interrupt vector 0x([0-9a-f]{2}) injected\s+(\d+)", line)
        assert e or v, f"stats {name}: line {line!r} is neither an exit nor an interrupt count"
        if e:
            exits[e.group(1)] = int(e.group(2))
        else:
            vectors[int(v.group(1), 16)] = int(v.group(2))
    share = int(head.group(2)) + int(head.group(3)) / 10
    return int(head.group(1)), share, int(head.group(4)), exits, vectors


def test_shell_stats_info_trace():
    """stats and info show the documented shapes and live numbers; trace is rate-limited and stops."""
    with emu.Machine("bochs", iso=DEFAULT_ISO) as m:
        boot(m)

        out = run(m, "stats alpha")
        total, share, dropped, exits, vectors = parse_stats(out.lines, "alpha")
        assert total > 0 and 0 < share <= 100.0, f"stats alpha: {out.lines[0]!r}"
        assert sum(exits.values()) == total, \
            f"stats alpha: exit counts {exits} do not add up to {total}"
        for reason in ("I/O instruction", "HLT"):
            assert exits.get(reason, 0) > 0, f"stats alpha: no {reason!r} exits: {out.lines!r}"
        assert vectors.get(0x20, 0) > 0, f"stats alpha: no timer interrupts injected: {out.lines!r}"
        wait_ticks(m, "alpha", 1, out.end)
        out2 = run(m, "stats alpha")
        total2, _, _, _, vectors2 = parse_stats(out2.lines, "alpha")
        assert total2 > total and vectors2[0x20] > vectors[0x20], \
            f"stats alpha did not move in a second: {out.lines[0]!r} then {out2.lines[0]!r}"

        out = run(m, "stats")
        blocks, cur = [], None
        for line in out.lines:
            if line.startswith("guest "):
                cur = [line]
                blocks.append(cur)
            else:
                assert cur is not None, f"stats: {line!r} before any guest line"
                cur.append(line)
        names = [re.match(r"guest (\S+):", b[0]).group(1) for b in blocks]
        assert sorted(names) == sorted(GUESTS), f"stats shows {names}"
        shares = [parse_stats(b, n)[1] for b, n in zip(blocks, names)]
        assert sum(shares) <= 100.0, f"CPU shares add up to more than 100%: {shares}"

        out = run(m, "info alpha")
        text = "\n".join(out.lines)
        for pattern in (r"^guest alpha: (?:running|idle|halted), uptime \d+:\d\d:\d\d, 0 restarts$",
                        r"^  config: mem=16M on_crash=stop\b.*$",
                        r'^  cmdline: "hz=100 tasks=3"$',
                        r"^  image: Multiboot, \d+ KiB, 0 modules$",
                        r"^  RIP=[0-9a-f]{16} RSP=[0-9a-f]{16} RFLAGS=[0-9a-f]{16}$",
                        r"^  vpic: master base 0x20 imr [0-9a-f]{2} .*; slave base 0x28 .*$",
                        r"^  vpit: channel 0 mode 2 count 1193[12] \(running\), \d+ ticks delivered, "
                        r"\d+ coalesced$",
                        r"^  vuart: ier [0-9a-f]{2} lcr [0-9a-f]{2} .*$",
                        r"^  vrtc: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d, NMI (?:masked|enabled)$",
                        r"^  vlapic: xAPIC, svr 0ff tpr 00, lvt timer 10000 lint0 00700, pending vector -1$"):
            assert re.search(pattern, text, re.M), f"info alpha: no line /{pattern}/ in:\n{text}"
        out = run(m, "info gamma")
        text = "\n".join(out.lines)
        assert re.search(r"^  config: mem=4M on_crash=restart\b", text, re.M) and \
            re.search(r'^  cmdline: "after=3s mode=triple"$', text, re.M), f"info gamma:\n{text}"

        # trace: only I/O exits of alpha, at most 20 lines a second, then off.
        on = run_one_line(m, "trace alpha on IO_INSTRUCTION", TRACE_ON)
        first = wait_line(m, TRACE_SUPPRESSED.pattern, TICK_WAIT, on.end)
        second = wait_line(m, TRACE_SUPPRESSED.pattern, TICK_WAIT, first.end())
        log = complete_log(m)
        for name, a, b in (("first second", on.end, first.start()),
                           ("next second", first.end(), second.start())):
            shown = re.findall(r"^hv: trace alpha: I/O instruction .*$", log[a:b], re.M)
            assert 0 < len(shown) <= 20, f"trace: {len(shown)} lines in the {name} (at most 20)"
        traced = re.findall(r"^hv: trace .*$", log[on.end:second.end()], re.M)
        for line in traced:
            assert TRACE_IO.match(line) or TRACE_SUPPRESSED.match(line), \
                f"trace alpha on IO_INSTRUCTION printed {line!r}"
        assert any(line.endswith("out port 0x20 size 1 value 0x20; resume") for line in traced), \
            "no trace of alpha's EOI (out port 0x20 value 0x20)"
        assert int(TRACE_SUPPRESSED.match(first.group(0)).group(1)) > 0

        off = run_one_line(m, "trace alpha off", "hv: trace alpha: off")
        alpha = wait_ticks(m, "alpha", 2, off.end)
        late = re.findall(r"^hv: trace .*$", complete_log(m)[off.end:alpha[1][0]], re.M)
        assert len(late) <= 2, f"{len(late)} trace lines after trace off: {late[:5]}"
        assert_no_panic(m)
