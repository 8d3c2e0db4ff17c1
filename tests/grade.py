#!/usr/bin/env python3
"""The labs' autograder: `make grade LAB=NAME` (one lab) or `make grade` (every lab).

For each check of the lab (tests/labs.py, LABS) it prints one line,

    PASS  20/20  unit: 0x40000000 answers the highest leaf and "anfitrion"
    FAIL   0/25  guest cpuid: ...: why

then `lab NAME: SCORE/100`. Checks are behaviour, run in this tree (the
reference or a student's lab-start tree), on what `make grade` built:
  unit   one case of a cmocka program build/tests/unit/BINARY (TAP output);
  guest  a guest test kernel of tests/guests/MANIFEST booted under Bochs and
         judged by tests/run.py's own rules (guest_test_main), with its files
         under build/tests/runs/grade-LAB/ so that a grade beside `make test`
         does not share a directory with it.
Guest checks run two at a time (-j). Exit status 0 only if every graded lab
scores 100. `--json FILE` also writes the results (the make test proof reads
them). Python 3 standard library only.
"""

import argparse
import concurrent.futures
import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
import labs  # noqa: E402

GUEST_LIMIT = 240           # seconds for one guest check, as tests/run.py allows
TAP_RE = re.compile(r"^(not ok|ok) \d+ - (.*?)\s*$")


def run_unit(binary, cache={}):
    """{case: (ok, why)} of build/tests/unit/BINARY, run once per grade."""
    if binary in cache:
        return cache[binary]
    exe = ROOT / "build" / "tests" / "unit" / binary
    if not exe.is_file():
        cache[binary] = f"{exe.relative_to(ROOT)} is missing (make grade builds it)"
        return cache[binary]
    env = dict(os.environ, CMOCKA_MESSAGE_OUTPUT="TAP")
    try:
        p = subprocess.run([str(exe)], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        out = p.stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        cache[binary] = f"{binary} timed out"
        return cache[binary]
    cases, last = {}, None
    for line in out.splitlines():
        m = TAP_RE.match(line)
        if m:
            last = m.group(2)
            cases[last] = [m.group(1) == "ok", ""]
        elif line.startswith("# ") and last and not cases[last][0] and not cases[last][1] \
                and not line.startswith("# not ok"):
            cases[last][1] = line[2:].strip()
    if not cases:       # a crash before any case: the sanitizer's first line says why
        first = next((l for l in out.splitlines() if l.strip()), f"exit status {p.returncode}")
        cache[binary] = f"{binary} reported no case: {first}"
    else:
        cache[binary] = {k: tuple(v) for k, v in cases.items()}
    return cache[binary]


def unit_check(check):
    cases = run_unit(check["binary"])
    if isinstance(cases, str):
        return False, cases
    if check["case"] not in cases:
        return False, f"{check['binary']} has no case {check['case']} (crashed before it?)"
    ok, why = cases[check["case"]]
    return ok, "" if ok else (why or "failed")


def guest_check(check, lab):
    """The guest kernel judged by tests/run.py's guest_test_main, in a child process."""
    runs = ROOT / "build" / "tests" / "runs" / f"grade-{lab}"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--guest-child", check["guest"], str(runs)]
    try:
        p = subprocess.run(cmd, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=GUEST_LIMIT, start_new_session=True)
    except subprocess.TimeoutExpired:
        return False, f"no verdict within {GUEST_LIMIT} s"
    if p.returncode == 0:
        return True, ""
    lines = p.stdout.decode("utf-8", "replace").splitlines()
    fail = next((l for l in lines[1:] if re.search(r"\] FAIL: ", l)), None)
    why = lines[0] if lines else f"exit status {p.returncode}"
    return False, why + (f" (first: {fail.strip()})" if fail and fail.strip() not in why else "")


def guest_child(name, runs):
    import emu
    import run
    emu.RUNS_DIR = Path(runs)
    Path(runs).mkdir(parents=True, exist_ok=True)
    return run.guest_test_main(name)


def grade(lab, jobs):
    """[(check, ok, why)] in the order of LABS."""
    checks = labs.LABS[lab]["checks"]
    results = [None] * len(checks)
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(guest_check, c, lab): i
                   for i, c in enumerate(checks) if c["kind"] == "guest"}
        for i, c in enumerate(checks):
            if c["kind"] == "unit":
                results[i] = (c,) + unit_check(c)
        for fut in concurrent.futures.as_completed(futures):
            i = futures[fut]
            results[i] = (checks[i],) + fut.result()
    return results


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("lab", nargs="?", help="the lab to grade (default: every lab)")
    p.add_argument("-j", dest="jobs", type=int, default=2, help="guest checks in parallel (2)")
    p.add_argument("--json", help="also write the results to this file")
    p.add_argument("--guest-child", nargs=2, metavar=("NAME", "RUNS"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.guest_child:
        return guest_child(*args.guest_child)
    if args.lab and args.lab not in labs.LABS:
        print(f"grade: no lab {args.lab!r} (labs: {', '.join(labs.LABS)})", file=sys.stderr)
        return 2
    report, all_full = {}, True
    for lab in [args.lab] if args.lab else list(labs.LABS):
        print(f"lab {lab}: {labs.LABS[lab]['title']} ({labs.LABS[lab]['doc']})")
        sys.stdout.flush()
        score, rows = 0, []
        for check, ok, why in grade(lab, args.jobs):
            got = check["points"] if ok else 0
            score += got
            line = f"  {'PASS' if ok else 'FAIL'}  {got:2}/{check['points']:<2}  {check['name']}"
            print(line + ("" if ok else f": {why}"))
            rows.append({"name": check["name"], "points": check["points"], "ok": ok,
                         "cut": check["cut"], "why": why})
        total = sum(c["points"] for c in labs.LABS[lab]["checks"])
        print(f"lab {lab}: {score}/{total}")
        sys.stdout.flush()
        report[lab] = {"score": score, "total": total, "checks": rows}
        all_full &= score == total == 100
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    return 0 if all_full else 1


if __name__ == "__main__":
    sys.exit(main())
