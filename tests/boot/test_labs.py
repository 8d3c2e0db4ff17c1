"""Proof that each lab's grader grades (issue 19; docs/labs/README.md).

For a lab NAME: (a) `make grade LAB=NAME` in this tree scores 100/100 with
every check passing; (b) `make lab-start LAB=NAME` gives a tree under
build/tests/labs/NAME that is a git repository with one commit, keeps its
markers balanced (`tests/labs.py check`), builds with `make`, and whose
`make grade LAB=NAME` exits non-zero with less than 100: every check that
depends on the cut code (LABS' `cut`) fails, every other passes, and no
check saw a host panic. The two grades are run one after the other; each
boots its guests under Bochs two at a time (about 20 s), the cut tree builds
in about 15 s.

One function per lab: add one beside test_lab_exit_cpuid when a lab is added
(test_every_lab_is_proved fails until then).
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import labs

ROOT = Path(__file__).resolve().parents[2]
LABS_DIR = ROOT / "build" / "tests" / "labs"

TIMEOUT = 300            # per test, enforced by tests/run.py; about 60 s on 2 idle cores


def make(cwd, *args, timeout=240):
    """make ARGS in CWD without the caller's jobserver; (exit status, output)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    p = subprocess.run(["make", "--no-print-directory", *args], cwd=cwd, env=env,
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def grade(tree, lab, out):
    """make grade LAB=lab in TREE; (exit status, output, the JSON results of the lab)."""
    json_file = out / f"grade-{lab}.json"
    if json_file.exists():
        json_file.unlink()
    status, text = make(tree, "grade", f"LAB={lab}", f"GRADEFLAGS=--json={json_file}")
    assert json_file.exists(), f"make grade LAB={lab} in {tree} wrote no results:\n{text[-3000:]}"
    return status, text, json.loads(json_file.read_text())[lab]


def prove(lab):
    LABS_DIR.mkdir(parents=True, exist_ok=True)
    # (a) the reference
    status, text, ref = grade(ROOT, lab, LABS_DIR)
    assert status == 0 and ref["score"] == 100 and all(c["ok"] for c in ref["checks"]), \
        f"the reference scores {ref['score']}/100 for lab {lab}:\n{text[-3000:]}"
    assert f"lab {lab}: 100/100" in text.splitlines()

    # (b) a fresh lab-start tree
    tree = LABS_DIR / lab
    if tree.exists():
        shutil.rmtree(tree)
    status, text = make(ROOT, "lab-start", f"LAB={lab}", f"DIR={tree}")
    assert status == 0, f"make lab-start LAB={lab} failed:\n{text}"
    log = subprocess.run(["git", "log", "--oneline"], cwd=tree, stdout=subprocess.PIPE,
                         check=True).stdout.decode().splitlines()
    assert len(log) == 1, f"the lab tree has {len(log)} commits, not 1"
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=tree, stdout=subprocess.PIPE,
                           check=True).stdout.decode()
    assert not dirty, f"the lab tree is not clean after its commit:\n{dirty}"
    sources = [tree / p for p in labs.source_files(tree)]
    texts = {p: p.read_text(errors="replace") for p in sources}
    assert not [p for p, t in texts.items() if f"LAB({lab})" in t], "a region was left in"
    assert [p for p, t in texts.items() if f"TODO(lab {lab})" in t], "no TODO(lab ...) comment"
    p = subprocess.run(["python3", "tests/labs.py", "check"], cwd=tree, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    assert p.returncode == 0, f"labs.py check in the lab tree:\n{p.stdout.decode()}"
    status, text = make(tree, "-j2")
    assert status == 0, f"the lab tree does not build:\n{text[-3000:]}"

    status, text, cut = grade(tree, lab, LABS_DIR)
    assert status != 0 and cut["score"] < 100, \
        f"the empty answer scores {cut['score']}/100 for lab {lab}:\n{text}"
    assert re.search(rf"^lab {re.escape(lab)}: {cut['score']}/100$", text, re.M), text
    wrong = [f"{'passes' if c['ok'] else 'fails'}: {c['name']}"
             for c in cut["checks"] if c["ok"] == c["cut"]]
    assert not wrong, ("in the lab tree, a check that depends on the cut code must fail and "
                       "every other pass:\n  " + "\n  ".join(wrong) + "\n" + text)
    panics = [c["name"] for c in cut["checks"] if "PANIC" in c["why"]]
    assert not panics, f"the host panicked in the lab tree: {panics}\n{text}"


def test_lab_exit_cpuid():
    """Lab 1 (docs/labs/lab1-exit-cpuid.md): anfitrion's CPUID leaves."""
    prove("exit-cpuid")


def test_every_lab_is_proved():
    """Each lab of tests/labs.py has its test_lab_* function here."""
    missing = [lab for lab in labs.LABS if f"test_lab_{lab.replace('-', '_')}" not in globals()]
    assert not missing, f"labs without a proof in tests/boot/test_labs.py: {missing}"


test_every_lab_is_proved.timeout = 10
