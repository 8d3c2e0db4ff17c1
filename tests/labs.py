#!/usr/bin/env python3
"""The course labs: their list, the markers that cut them out, and `make lab-start`.

A lab is a region of the reference code that a student writes again. In the
sources (.c, .h, .S, .def) the region is marked with comments, so the normal
build is unchanged:

        /* LAB(exit-cpuid) BEGIN: what the student writes, in a sentence or a
         * paragraph (the comment may span lines) */
        /* LAB(exit-cpuid) STUB
        code that stands in for the region in the student's tree
        */
        ... the reference code ...
        /* LAB(exit-cpuid) END */

The STUB comment comes right after the BEGIN comment. Its code lines (kept as
written, indentation included) end at a line holding only `*/`; a one-line
STUB comment (`/* LAB(NAME) STUB: why nothing */`) stands for no code at all.
Stub code must build and must fail cleanly: the guest gets a wrong answer or
is stopped, the host never panics.

`python3 tests/labs.py check` (in `make check`): every marker is well formed,
names a lab of LABS, BEGIN and END pair up without nesting, each BEGIN has its
STUB, and every lab has a region (or, in a student's tree, its TODO).

`python3 tests/labs.py start NAME DIR` (`make lab-start LAB=NAME DIR=PATH`):
copies the files git tracks or would track (`git ls-files --cached --others
--exclude-standard`, as they are in the working tree) to
DIR, a new git repository with one commit, in which each region of NAME is
replaced by its stub under a `/* TODO(lab NAME): ... */` comment made from the
BEGIN comment. Other labs' regions stay as they are.

`python3 tests/labs.py list`: the labs, one a line.

LABS lists each lab's checks for tests/grade.py: ("unit", BINARY, CASE) is one
case of a cmocka program build/tests/unit/BINARY, ("guest", NAME) the guest
test kernel NAME of tests/guests/MANIFEST judged as tests/run.py judges it.
`cut` says whether the check depends on the code the lab cuts out: the
`make test` proof (tests/boot/test_labs.py) wants exactly those to fail in a
fresh lab-start tree. Points add up to 100. Python 3 standard library only.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

LABS = {
    "exit-cpuid": {
        "title": "an exit handler: anfitrion's CPUID leaves",
        "doc": "docs/labs/lab1-exit-cpuid.md",
        "checks": [
            {"name": "unit: 0x40000000 answers the highest leaf and \"anfitrion\"", "points": 20,
             "kind": "unit", "binary": "test_lab_exit_cpuid", "case": "test_signature_leaf",
             "cut": True},
            {"name": "unit: 0x40000001 answers the version and features of vcpu->pv_cpuid",
             "points": 20, "kind": "unit", "binary": "test_lab_exit_cpuid",
             "case": "test_version_leaf", "cut": True},
            {"name": "unit: the other hypervisor leaves and KVM's still answer as before",
             "points": 10, "kind": "unit", "binary": "test_lab_exit_cpuid",
             "case": "test_neighbour_leaves", "cut": False},
            {"name": "guest cpuid: the guest's CPUID under anfitrion (tests/guests/cpuid.c)",
             "points": 25, "kind": "guest", "guest": "cpuid", "cut": True},
            {"name": "guest pvabi: discovery, then every hypercall (tests/guests/pvabi.c)",
             "points": 25, "kind": "guest", "guest": "pvabi", "cut": True},
        ],
    },
}

SOURCE_SUFFIXES = (".c", ".h", ".S", ".def")
MARKER_RE = re.compile(r"^(\s*)/\* LAB\(([^)]*)\) (BEGIN|STUB|END)\b(.*)$")


class MarkerError(Exception):
    pass


def tracked_files(root=ROOT):
    """The files git tracks or would track (not ignored), present in the working tree, as
    paths relative to ROOT: a lab tree starts from the reference as it is, edits included."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         cwd=root, check=True,
                         stdout=subprocess.PIPE).stdout.decode()
    return [p for p in out.split("\0") if p and os.path.lexists(Path(root) / p)]


def source_files(root=ROOT):
    return [p for p in tracked_files(root) if p.endswith(SOURCE_SUFFIXES)
            and not os.path.islink(Path(root) / p)]


def parse_regions(path, lines):
    """[(name, begin index, end index, description lines, stub lines)] of one file's lines;
    raises MarkerError (file:line: what) on the first malformed marker."""
    regions, open_region, i = [], None, 0
    while i < len(lines):
        line = lines[i]
        m = MARKER_RE.match(line)
        where = f"{path}:{i + 1}"
        if not m:
            if "LAB(" in line and "/*" in line:
                raise MarkerError(f"{where}: not a marker (want `/* LAB(NAME) BEGIN|STUB|END`)")
            i += 1
            continue
        name, kind = m.group(2), m.group(3)
        if name not in LABS:
            raise MarkerError(f"{where}: LAB({name}): no such lab (labs: {', '.join(LABS)})")
        if kind == "BEGIN":
            if open_region:
                raise MarkerError(f"{where}: LAB({name}) BEGIN inside LAB({open_region[0]}), "
                                  f"opened at line {open_region[1] + 1}: regions do not nest")
            desc_end = i
            while "*/" not in lines[desc_end]:
                desc_end += 1
                if desc_end == len(lines):
                    raise MarkerError(f"{where}: BEGIN comment never closed")
            j = desc_end + 1
            s = MARKER_RE.match(lines[j]) if j < len(lines) else None
            if not s or s.group(3) != "STUB" or s.group(2) != name:
                raise MarkerError(f"{path}:{j + 1}: LAB({name}) STUB must follow the BEGIN comment")
            if "*/" in lines[j]:
                stub, body = [], j + 1
            else:
                k = j + 1
                while k < len(lines) and lines[k].strip() != "*/":
                    if MARKER_RE.match(lines[k]) or "*/" in lines[k]:
                        raise MarkerError(f"{path}:{k + 1}: inside LAB({name}) STUB "
                                          "(close it with a line holding only */)")
                    k += 1
                if k == len(lines):
                    raise MarkerError(f"{path}:{j + 1}: LAB({name}) STUB never closed")
                stub, body = lines[j + 1:k], k + 1
            open_region = (name, i, lines[i:desc_end + 1], stub)
            i = body
            continue
        if kind == "STUB":
            raise MarkerError(f"{where}: LAB({name}) STUB away from its BEGIN")
        if not open_region:
            raise MarkerError(f"{where}: LAB({name}) END without BEGIN")
        if open_region[0] != name:
            raise MarkerError(f"{where}: LAB({name}) END closes LAB({open_region[0]}), "
                              f"opened at line {open_region[1] + 1}")
        regions.append((name, open_region[1], i, open_region[2], open_region[3]))
        open_region = None
        i += 1
    if open_region:
        raise MarkerError(f"{path}:{open_region[1] + 1}: LAB({open_region[0]}) BEGIN "
                          "without END")
    return regions


def read_lines(path):
    return Path(path).read_text().split("\n")


def check(root=ROOT):
    """Every marker well formed and every lab present; return the list of problems."""
    problems, found = [], set()
    for rel in source_files(root):
        text = (Path(root) / rel).read_text(errors="replace")
        if "LAB(" not in text and "TODO(lab " not in text:
            continue
        try:
            found.update(r[0] for r in parse_regions(rel, text.split("\n")))
        except MarkerError as e:
            problems.append(str(e))
        found.update(re.findall(r"TODO\(lab ([^)]+)\)", text))
    for name in LABS:
        if name not in found:
            problems.append(f"lab {name}: no LAB({name}) region in the sources")
    return problems


def cut(lines, regions, name):
    """The lines with each region of NAME replaced by its TODO comment and stub."""
    out, last = [], 0
    for lab, begin, end, desc, stub in regions:
        if lab != name:
            continue
        out += lines[last:begin]
        todo = [re.sub(r"LAB\([^)]*\) BEGIN:?", f"TODO(lab {name}):", desc[0], count=1)]
        out += todo + desc[1:] + stub
        last = end + 1
    return out + lines[last:]


def start(name, dest, root=ROOT):
    """Make DEST a student's tree for lab NAME (see the module's docstring)."""
    if name not in LABS:
        raise SystemExit(f"lab-start: no lab {name!r} (labs: {', '.join(LABS)})")
    problems = check(root)
    if problems:
        raise SystemExit("lab-start: the markers are broken:\n  " + "\n  ".join(problems))
    dest = Path(dest).resolve()
    if dest.exists() and any(dest.iterdir()):
        raise SystemExit(f"lab-start: {dest} exists and is not empty")
    if dest == Path(root).resolve() or Path(root).resolve() in dest.parents and \
            not str(dest.relative_to(Path(root).resolve())).startswith("build"):
        raise SystemExit(f"lab-start: {dest} is inside the tree (use a path outside it, or build/)")
    cuts = 0
    for rel in tracked_files(root):
        src, dst = Path(root) / rel, dest / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            os.symlink(os.readlink(src), dst)
            continue
        shutil.copy2(src, dst)
        if rel.endswith(SOURCE_SUFFIXES):
            text = src.read_text(errors="surrogateescape")
            if f"LAB({name})" in text:
                lines = text.split("\n")
                regions = parse_regions(rel, lines)
                cuts += sum(1 for r in regions if r[0] == name)
                dst.write_text("\n".join(cut(lines, regions, name)), errors="surrogateescape")
    git = ["git", "-c", "user.name=anfitrion labs", "-c", "user.email=labs@anfitrion.invalid",
           "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false"]
    for cmd in (["init", "-q"], ["add", "-A"],
                ["commit", "-q", "-m", f"lab {name}: starting point ({LABS[name]['doc']})"]):
        subprocess.run(git + cmd, cwd=dest, check=True, stdout=subprocess.DEVNULL)
    print(f"lab {name}: {dest}: {cuts} region(s) cut out, marked TODO(lab {name}); "
          f"read {LABS[name]['doc']}")


def main(argv):
    if argv[:1] == ["check"] and len(argv) == 1:
        problems = check()
        for p in problems:
            print(p)
        print(f"labs: {'ok' if not problems else f'{len(problems)} problem(s)'} "
              f"({len(LABS)} lab(s))")
        return 1 if problems else 0
    if argv[:1] == ["start"] and len(argv) == 3:
        start(argv[1], argv[2])
        return 0
    if argv == ["list"]:
        for name, lab in LABS.items():
            print(f"{name}  {lab['title']}  ({lab['doc']})")
        return 0
    print("usage: labs.py check | start NAME DIR | list", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
