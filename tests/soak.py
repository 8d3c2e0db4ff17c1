#!/usr/bin/env python3
"""make soak: the adversarial guest (tests/guests/chaos.c) for many seeds and more steps.

Each seed boots the chaos test kernel alone under Bochs exactly as `make test` boots a
guest test kernel: tests/run.py's guest_test_main builds the ISO (build_guest_iso) and
judges the console (Test result: PASS, no FAIL line, no crash, no PANIC). The entry is
chaos's MANIFEST line with `seed=N steps=M` as its command line. One line per seed, then
`N passed, N failed`; each seed's serial log is kept as build/tests/runs/soak/seed-N.log.
To replay a failing step: the FAIL line names seed, phase and step; boot chaos with
`seed=N phases=P from=STEP steps=STEP+1 trace=1`.

    tests/soak.py [--seeds 1..8 | --seeds 1..4,9,12] [--steps 20000]
    make soak [SOAK_SEEDS=1..8] [SOAK_STEPS=20000]

Python 3 standard library only.
"""

import argparse
import contextlib
import io
import re
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import emu  # noqa: E402
import run  # noqa: E402

NAME = "chaos"
SOAK_DIR = emu.RUNS_DIR / "soak"
SECONDS_PER_1000_STEPS = 6      # Bochs, all phases, with room: ~2.6 s measured


def parse_seeds(text):
    """'1..8', '3,5,9' or a mix ('1..4,9') -> [seeds]."""
    seeds = []
    for part in text.split(","):
        m = re.fullmatch(r"\s*(\d+)\s*(?:\.\.\s*(\d+)\s*)?", part)
        if not m:
            raise argparse.ArgumentTypeError(f"not a seed or a range A..B: {part!r}")
        first, last = int(m.group(1)), int(m.group(2) or m.group(1))
        if last < first:
            raise argparse.ArgumentTypeError(f"empty range: {part!r}")
        seeds.extend(range(first, last + 1))
    return seeds


def soak_entry(base, seed, steps):
    """chaos's MANIFEST entry with seed= and steps= replaced."""
    words = [w for w in base["guest_cmdline"].split() if not w.startswith(("seed=", "steps="))]
    return dict(base, guest_cmdline=" ".join(words + [f"seed={seed}", f"steps={steps}"]))


def run_seed(entry, boot_wait):
    """Boot one seed through run.guest_test_main; return (ok, seconds, its report lines)."""
    run.parse_guest_manifest = lambda path=None: [entry]
    run.GUEST_BOOT_WAIT = boot_wait
    out = io.StringIO()
    start = time.monotonic()
    with contextlib.redirect_stdout(out):
        try:
            status = run.guest_test_main(NAME)
        except Exception as e:          # a broken ISO build or emulator start
            print(f"{type(e).__name__}: {e}")
            status = 1
    return status == 0, time.monotonic() - start, out.getvalue().splitlines()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=parse_seeds, default=parse_seeds("1..8"),
                   help="seeds to run: 1..8, 3,5,9 or a mix (default 1..8)")
    p.add_argument("--steps", type=int, default=20000, help="steps per phase (default 20000)")
    args = p.parse_args(argv)

    base = next((e for e in run.parse_guest_manifest() if e["name"] == NAME), None)
    if base is None:
        print(f"no {NAME} line in {run.GUEST_MANIFEST}")
        return 1
    boot_wait = max(run.GUEST_BOOT_WAIT, 60 + SECONDS_PER_1000_STEPS * args.steps // 1000)
    SOAK_DIR.mkdir(parents=True, exist_ok=True)
    passed = failed = 0
    start = time.monotonic()
    for seed in args.seeds:
        entry = soak_entry(base, seed, args.steps)
        ok, secs, lines = run_seed(entry, boot_wait)
        log = emu.RUNS_DIR / f"guest-{NAME}" / "serial.log"
        kept = SOAK_DIR / f"seed-{seed}.log"
        if log.exists():
            shutil.copy(log, kept)
        if ok:
            passed += 1
            print(f"PASS seed={seed} steps={args.steps} ({secs:.1f} s)")
        else:
            failed += 1
            print(f"FAIL seed={seed} steps={args.steps} ({secs:.1f} s): "
                  f"{lines[0] if lines else 'failed'}")
            for line in lines[1:16]:
                print(f"    {line}")
            print(f"    log: {kept.relative_to(run.ROOT)}")
        sys.stdout.flush()
    print(f"(took {time.monotonic() - start:.0f} s)")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
