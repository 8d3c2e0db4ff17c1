#!/usr/bin/env python3
"""Runs every anfitrion test and prints one line per test and a summary: `make test`.

Order: (a) host unit tests, build/tests/unit/test_* (cmocka; each test case
counts as one test); (b) boot tests, every function test_* in
tests/boot/test_*.py; (c) guest test kernels listed in tests/guests/MANIFEST,
each booted under Bochs as the only module2 of a generated ISO and judged by
its console lines. (b) and (c) run in parallel (-j, default 2), each test in
its own Python process with a hard time limit.

A boot test is a function with no arguments that raises on failure (plain
`assert` is fine). Its time limit is the attribute `timeout` on the function,
else the module's TIMEOUT, else 300 s. Emulator runs keep their files in
build/tests/runs/NAME/.

The last line printed is always `N passed, N failed`. Exit status 1 if any
test failed or none ran. Python 3 standard library only.
"""

import argparse
import concurrent.futures
import importlib.util
import os
import re
import signal
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UNIT_DIR = ROOT / "build" / "tests" / "unit"
BOOT_DIR = ROOT / "tests" / "boot"
GUEST_MANIFEST = ROOT / "tests" / "guests" / "MANIFEST"
DEFAULT_TIMEOUT = 300
UNIT_TIMEOUT = 120

_print_lock = threading.Lock()


class Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def report(self, name, ok, seconds=None, reason="", details=""):
        with _print_lock:
            if ok:
                self.passed += 1
                print(f"PASS {name} ({seconds:.1f} s)" if seconds is not None else f"PASS {name}")
            else:
                self.failed += 1
                print(f"FAIL {name}: {reason or 'failed'}")
                if details:
                    for line in details.rstrip("\n").splitlines():
                        print(f"    {line}")
            sys.stdout.flush()


def selected(name, pattern):
    """-k PATTERN: a regular expression searched in the test's full name."""
    return pattern is None or re.search(pattern, name) is not None


# ---- (a) unit tests --------------------------------------------------------

_TAP_RE = re.compile(r"^(not ok|ok) \d+ - (.*?)\s*$")


def run_unit_tests(res, pattern):
    """Run each cmocka binary with TAP output and report each case."""
    if not UNIT_DIR.is_dir():
        return
    bins = sorted(p for p in UNIT_DIR.glob("test_*")
                  if p.is_file() and os.access(p, os.X_OK) and not p.suffix)
    for exe in bins:
        prefix = f"unit/{exe.name}"
        env = dict(os.environ, CMOCKA_MESSAGE_OUTPUT="TAP")
        start = time.monotonic()
        try:
            p = subprocess.run([str(exe)], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=UNIT_TIMEOUT)
            out, status = p.stdout.decode("utf-8", "replace"), p.returncode
        except subprocess.TimeoutExpired as e:
            out = (e.output or b"").decode("utf-8", "replace")
            status = None
        seconds = time.monotonic() - start
        cases = []          # [name, ok, diagnostic lines]
        for line in out.splitlines():
            m = _TAP_RE.match(line)
            if m:
                cases.append([m.group(2), m.group(1) == "ok", []])
            elif line.startswith("# ") and cases and not cases[-1][1]:
                if not line.startswith("# not ok - "):
                    cases[-1][2].append(line[2:])
        ran = 0
        for name, ok, diag in cases:
            full = f"{prefix}/{name}"
            if not selected(full, pattern):
                continue
            ran += 1
            res.report(full, ok, None, "; ".join(diag[:2]), "\n".join(diag[2:]))
        # A crash, sanitizer report or time-out that no case accounts for.
        all_ok = all(ok for _, ok, _ in cases)
        bad_exit = status is None or (status != 0 and all_ok) or not cases
        if bad_exit and (selected(prefix, pattern) or ran):
            why = (f"timed out after {UNIT_TIMEOUT} s" if status is None
                   else "no test cases reported" if not cases
                   else f"killed by signal {-status}" if status < 0
                   else f"exit status {status}")
            res.report(prefix, False, seconds, why, "\n".join(out.splitlines()[-30:]))


# ---- (b) boot tests --------------------------------------------------------

def load_module(path):
    spec = importlib.util.spec_from_file_location(f"boot_{path.stem}", path)
    mod = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(ROOT / "tests"))
    sys.path.insert(0, str(path.parent))
    spec.loader.exec_module(mod)
    return mod


def collect_boot_tests(pattern, boot_dir=BOOT_DIR):
    """[(full name, file, function name, timeout, import error)] in file and definition order."""
    tests = []
    for path in sorted(Path(boot_dir).glob("test_*.py")):
        try:
            mod = load_module(path)
        except Exception:
            tests.append((f"boot/{path.stem}", path, None, 0,
                          traceback.format_exc()))
            continue
        for fname, fn in vars(mod).items():
            if not fname.startswith("test_") or not callable(fn):
                continue
            if getattr(fn, "__module__", None) != mod.__name__:
                continue      # imported from elsewhere
            full = f"boot/{path.stem}/{fname}"
            if not selected(full, pattern):
                continue
            limit = getattr(fn, "timeout", getattr(mod, "TIMEOUT", DEFAULT_TIMEOUT))
            tests.append((full, path, fname, limit, None))
    return tests


def run_child(full, child_args, limit):
    """Run one test in a child process (own process group); return (ok, secs, reason, details).

    The child is this script with CHILD_ARGS (--one FILE FUNC or --guest NAME);
    it prints the failure reason first, then details. After LIMIT seconds it
    gets SIGTERM (it closes its emulators), then SIGKILL.
    """
    env = dict(os.environ, ANFITRION_TEST_NAME=full.replace("/", "-"))
    cmd = [sys.executable, str(Path(__file__).resolve())] + child_args
    start = time.monotonic()
    p = subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         start_new_session=True)
    try:
        out, _ = p.communicate(timeout=limit)
        timed_out = False
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(p.pid, signal.SIGTERM)       # the child closes its emulators
        try:
            out, _ = p.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            out, _ = p.communicate()
    seconds = time.monotonic() - start
    text = out.decode("utf-8", "replace")
    if timed_out:
        return False, seconds, f"timed out after {limit} s", text
    if p.returncode == 0:
        return True, seconds, "", ""
    lines = text.rstrip("\n").splitlines()
    reason, details = (lines[0], "\n".join(lines[1:])) if lines else (
        f"exit status {p.returncode}", "")
    return False, seconds, reason, details


def one_test_main(path, fname):
    """Child side of run_one_boot_test: first output line is the failure reason."""
    import emu

    def on_term(*_):
        emu.close_all()
        for m in emu.started_machines:
            print(f"{m.emu} {m.name}:")
            print(m.diagnostics(tail=25))
        sys.stdout.flush()
        os._exit(3)
    signal.signal(signal.SIGTERM, on_term)
    try:
        mod = load_module(Path(path))
        getattr(mod, fname)()
    except AssertionError as e:
        tb = traceback.extract_tb(e.__traceback__)[-1]
        msg = str(e) or f"assertion failed: {tb.line}"
        first, _, rest = msg.partition("\n")
        print(f"{first} [{Path(tb.filename).name}:{tb.lineno}]")
        if rest:
            print(rest)
        for m in emu.started_machines:
            print(f"{m.emu} {m.name}:")
            print(m.diagnostics(tail=25))
        return 1
    except Exception as e:
        tb = traceback.extract_tb(e.__traceback__)
        where = next((f for f in reversed(tb)
                      if Path(f.filename).resolve() == Path(path).resolve()), tb[-1])
        first, _, rest = str(e).partition("\n")
        print(f"{type(e).__name__}: {first} [{Path(where.filename).name}:{where.lineno}]")
        if rest:
            print(rest)
        if not isinstance(e, emu.EmuError):
            print("".join(traceback.format_tb(e.__traceback__)[-4:]), end="")
            for m in emu.started_machines:
                print(f"{m.emu} {m.name}:")
                print(m.diagnostics(tail=25))
        return 1
    finally:
        emu.close_all()
    return 0


def boot_test_jobs(res, pattern, boot_dir=BOOT_DIR):
    """[(full name, child args, time limit)] for the boot tests; import errors are reported."""
    jobs = []
    for full, path, fname, limit, load_error in collect_boot_tests(pattern, boot_dir):
        if load_error:
            res.report(full, False, None, "cannot import", load_error)
        else:
            jobs.append((full, ["--one", str(path), fname], limit))
    return jobs


def run_jobs(res, jobs, parallel):
    """Run (full name, child args, limit) jobs, PARALLEL at a time, longest limit first
    (the Linux scenario then runs beside the short tests, not after them)."""
    jobs = sorted(jobs, key=lambda job: -job[2])
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        futures = {pool.submit(run_child, *job): job[0] for job in jobs}
        for fut in concurrent.futures.as_completed(futures):
            ok, secs, reason, details = fut.result()
            res.report(futures[fut], ok, secs, reason, details)


# ---- (c) guest test kernels -----------------------------------------------

def parse_guest_manifest(path=None):
    """Entries of tests/guests/MANIFEST: lines `NAME  MODULE_OPTIONS  -- GUEST_CMDLINE  EXPECT`.

    Blank lines and lines starting with # are ignored. EXPECT is `pass` or
    `crash`. Returns [{"name", "module_options", "guest_cmdline", "expect"}].
    """
    path = Path(path or GUEST_MANIFEST)
    entries = []
    if not path.exists():
        return entries
    for n, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        words = line.split()
        name, expect = words[0], words[-1]
        if expect not in ("pass", "crash") and not re.fullmatch(r"exit=\d+", expect):
            raise ValueError(f"{path}:{n}: EXPECT must be pass, crash or exit=N, not {expect!r}")
        middle = words[1:-1]
        if "--" in middle:
            i = middle.index("--")
            opts, cmdline = middle[:i], middle[i + 1:]
        else:
            opts, cmdline = middle, []
        entries.append({"name": name, "module_options": " ".join(opts),
                        "guest_cmdline": " ".join(cmdline), "expect": expect})
    return entries


GUEST_TIMEOUT = 240
GUEST_BOOT_WAIT = 120      # power-on to the guest's verdict


def guest_test_jobs(res, pattern):
    """[(full name, child args, limit)] for the entries of tests/guests/MANIFEST (hook (c))."""
    try:
        entries = parse_guest_manifest()
    except ValueError as e:
        res.report("guests/MANIFEST", False, None, str(e))
        return []
    return [(f"guest/{e['name']}", ["--guest", e["name"]], GUEST_TIMEOUT)
            for e in entries if selected(f"guest/{e['name']}", pattern)]


def guest_grub_cfg(entry):
    opts = " ".join(w for w in entry["module_options"].split() if w != "-")
    module = " ".join(w for w in (f"/boot/tests/{entry['name']}.elf", f"name={entry['name']}",
                                  opts, "--", entry["guest_cmdline"]) if w)
    return ("set timeout=0\n"
            "set default=0\n"
            f'menuentry "anfitrion guest test {entry["name"]}" {{\n'
            "    multiboot2 /boot/anfitrion.elf loglevel=info\n"
            f"    module2 {module}\n"
            "    boot\n"
            "}\n")


def build_guest_iso(entry, out_dir):
    """An ISO with the hypervisor and the one test kernel as a module2; return its path."""
    import shutil
    hv = ROOT / "build" / "anfitrion.elf"
    kernel = ROOT / "build" / "tests" / "guests" / f"{entry['name']}.elf"
    for f in (hv, kernel):
        if not f.is_file():
            raise RuntimeError(f"{f.relative_to(ROOT)} is missing (make all)")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    tree = out_dir / "tree"
    (tree / "boot" / "grub").mkdir(parents=True)
    (tree / "boot" / "tests").mkdir()
    shutil.copy(hv, tree / "boot" / "anfitrion.elf")
    shutil.copy(kernel, tree / "boot" / "tests" / kernel.name)
    (tree / "boot" / "grub" / "grub.cfg").write_text(guest_grub_cfg(entry))
    iso = out_dir / f"{entry['name']}.iso"
    p = subprocess.run(["grub-mkrescue", "-o", str(iso), str(tree)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if p.returncode != 0:
        raise RuntimeError("grub-mkrescue failed:\n" + p.stdout.decode("utf-8", "replace"))
    return iso


GUEST_NEVER_SEEN = 20      # seconds after the prompt to wait for any `hv: guest NAME:` line


def wait_guest_verdict(m, name, verdict):
    """The first complete verdict line. Fails early when the prompt came but the
    hypervisor never mentioned the guest, or when the emulator ended."""
    import emu
    now = time.monotonic
    deadline = now() + GUEST_BOOT_WAIT
    prompt_at = None
    while True:
        log = m.log
        v = verdict.search(log, 0, log.rfind("\n") + 1)
        if v:
            return v.group(0)
        if prompt_at is None and re.search(emu.PROMPT_RE, log, re.M):
            prompt_at = now()
        why = None
        if prompt_at and f"hv: guest {name}: " not in log and now() > prompt_at + GUEST_NEVER_SEEN:
            why = (f"the prompt came and {GUEST_NEVER_SEEN} s later the hypervisor had "
                   f"still not mentioned guest {name} (hv: guest {name}: ...)")
        elif not m.alive():
            why = f"{m.emu} ended (status {m.proc.poll()})"
        elif now() > deadline:
            why = f"nothing within {GUEST_BOOT_WAIT} s"
        if why:
            raise emu.EmuError(f"{why}\n{m.diagnostics(tail=30)}")
        time.sleep(0.2)


def guest_test_main(name):
    """Child side of a guest test: boot it under Bochs and judge the console (MANIFEST's EXPECT)."""
    import emu
    signal.signal(signal.SIGTERM, lambda *_: (emu.close_all(), os._exit(3)))
    entry = next((e for e in parse_guest_manifest() if e["name"] == name), None)
    if entry is None:
        print(f"no entry {name} in {GUEST_MANIFEST}")
        return 1
    try:
        iso = build_guest_iso(entry, emu.RUNS_DIR / f"guest-{name}-iso")
    except RuntimeError as e:
        print(e)
        return 1
    n = re.escape(name)
    # exit=N: the guest reports, then ends itself through the debug-exit port; wait for that.
    test_line = "" if entry["expect"].startswith("exit=") else rf"^\[{n}\] Test result: .*$|"
    verdict = re.compile(
        test_line + rf"^hv: guest {n}: (crashed|refused|stopped|exited).*$"
        rf"|^PANIC: .*$|^hv: no VT-x.*$", re.M)
    with emu.Machine("bochs", iso=iso, workdir=emu.RUNS_DIR / f"guest-{name}") as m:
        try:
            got = wait_guest_verdict(m, name, verdict)
        except emu.EmuError as e:
            print(f"no verdict from guest {name}: {e}")
            return 1
        m.wait_quiet(1)        # let a late FAIL or crash show up
        log = m.log
        guest_lines = [l for l in log.splitlines() if l.startswith(f"[{name}] ")]
        fails = [l for l in guest_lines if re.match(rf"\[{n}\] (FAIL|Test result: FAIL)", l)]
        problem = None
        if got.startswith(("PANIC: ", "hv: no VT-x")):
            problem = got
        elif entry["expect"] == "pass":
            if got != f"[{name}] Test result: PASS" and not got.startswith(
                    f"[{name}] Test result: PASS"):
                problem = f"expected Test result: PASS, got {got!r}"
            elif fails:
                problem = f"failure reported: {fails[0]!r}"
            elif re.search(rf"^hv: guest {n}: crashed", log, re.M):
                problem = "the guest crashed"
        elif entry["expect"].startswith("exit="):
            status = entry["expect"][len("exit="):]
            if got != f"hv: guest {name}: exited: status {status}":
                problem = f"expected hv: guest {name}: exited: status {status}, got {got!r}"
            elif fails:
                problem = f"failure reported: {fails[0]!r}"
            elif f"[{name}] Test result: PASS" not in guest_lines:
                problem = "no Test result: PASS before the exit"
        else:
            if not re.match(rf"hv: guest {n}: crashed", got):
                problem = f"expected the guest to crash, got {got!r}"
            elif any("Test result:" in l for l in guest_lines):
                problem = "a Test result line came from a guest expected to crash"
        if problem:
            print(problem)
            print(m.diagnostics(tail=30))
            return 1
    return 0


# ---- main -----------------------------------------------------------------------

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-k", dest="pattern", help="run tests whose name matches this regex")
    p.add_argument("-j", dest="jobs", type=int, default=2, help="boot tests in parallel (2)")
    p.add_argument("--unit-only", action="store_true")
    p.add_argument("--boot-only", action="store_true")
    p.add_argument("--boot-dir", default=str(BOOT_DIR),
                   help="where the boot tests are (default tests/boot)")
    p.add_argument("--guests-only", action="store_true", help="only the guest test kernels")
    p.add_argument("--emulated", action="store_true",
                   help="the boot tests and guest test kernels, not the unit tests (make test)")
    p.add_argument("--one", nargs=2, metavar=("FILE", "FUNC"), help=argparse.SUPPRESS)
    p.add_argument("--guest", metavar="NAME", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.one:
        sys.path.insert(0, str(ROOT / "tests"))
        return one_test_main(*args.one)
    if args.guest:
        sys.path.insert(0, str(ROOT / "tests"))
        return guest_test_main(args.guest)

    res = Results()
    start = time.monotonic()
    if not (args.boot_only or args.guests_only or args.emulated):
        run_unit_tests(res, args.pattern)
    jobs = []
    if not (args.unit_only or args.guests_only):
        jobs += boot_test_jobs(res, args.pattern, args.boot_dir)
    if not (args.unit_only or args.boot_only):
        jobs += guest_test_jobs(res, args.pattern)
    run_jobs(res, jobs, args.jobs)
    total = res.passed + res.failed
    if total == 0:
        print("no tests ran" + (f" (nothing matches -k {args.pattern})" if args.pattern else ""))
    print(f"(took {time.monotonic() - start:.0f} s)")
    print(f"{res.passed} passed, {res.failed} failed")
    return 1 if res.failed or total == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
