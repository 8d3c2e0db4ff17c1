#!/usr/bin/env python3
"""The layering check of `make check`: arrows point down, never up.

Every file belongs to the layer of the first pattern in LAYERS matching its
path from the repo root:

    boot    boot/                                 Multiboot headers, the 32-bit entry
    top     kernel/main.c, kernel/hv.[ch]         boot sequence and main loop
    shell   kernel/shell/                         the serial-console shell
    vm      kernel/vm/* (not its subfolders)      VMs: lifecycle, scheduler, routing
    vdev    kernel/vm/vdev/                       virtual devices
    loader  kernel/vm/loader/                     guest boot environments
    vmx     vmx/                                  the VT-x mechanism
    core    kernel/* (the rest), drivers/         host kernel and real hardware
    guest   guest/, tests/guests/                 programs that run inside a VM

The rule: a file may use (include a header of, call a function or read a
variable of) its own layer and the layers USES lists for it, nothing else:

    top -> shell -> vm -> {loader -> vdev, vmx} -> core -> boot      guest -> guest

vdev and vmx may not use one another, nor may loader and vmx: a device sees
only its vdev_env, never a vCPU, and vmx/ never calls the VM layer. A loader
may read a device's header (the ports the ACPI tables announce). boot/ is the
machine's starting state (constants, what entry.S found) that every host layer
may read, and it enters kmain: the one arrow up, where the kernel begins. Only vmx/
calls vmcs_read*/vmcs_write*. Guest code includes only guest files, and
nothing of guest/ is linked into anfitrion.elf.

Check 1 (sources) reads every #include "..." of boot/ kernel/ vmx/ drivers/
guest/ tests/guests/ (tests/unit/ is exempt): root first, then the file's own
folder, then (guest files) guest/lib/; an include found nowhere is reported.
Check 2 (symbols) runs nm over KOBJS and matches each undefined symbol with the
object defining it, which catches a call that a hand-written `extern` hid. It
needs an up-to-date build, else it prints "symbols: skipped, build first".

A violation prints as `file:line: user -> used (user may use: ...): what`.
To fix one, do not add a layer to USES: move the code to the layer that owns
it, or turn the arrow around. Put a shared type or constant in the lower
layer's header; let the lower layer take a callback or an environment struct
(vdev_env) that the upper layer fills in; or let it return a description of
what happened (vmx/ hands a described exit up to the VM layer, the way KVM
hands struct kvm_run to its device model) and let the upper layer act on it.
A VMCS read outside vmx/ becomes a vmx/ accessor returning what is needed.

Usage: python3 tests/layers.py [--verbose]. Exit status 0 if clean, else 1.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# First match wins (re.match on the path from the repo root).
LAYERS = [
    (r"boot/", "boot"),
    (r"kernel/(main\.c|hv\.c|hv\.h)$", "top"),
    (r"kernel/shell/", "shell"),
    (r"kernel/vm/vdev/", "vdev"),
    (r"kernel/vm/loader/", "loader"),
    (r"kernel/vm/[^/]+$", "vm"),
    (r"vmx/", "vmx"),
    (r"kernel/[^/]+$", "core"),
    (r"drivers/", "core"),
    (r"guest/", "guest"),
    (r"tests/guests/", "guest"),
]

# What each layer may use besides itself.
USES = {
    "boot": ["top", "core"],
    "top": ["shell", "vm", "vdev", "loader", "vmx", "core", "boot"],
    "shell": ["vm", "vdev", "loader", "vmx", "core", "boot"],
    "vm": ["vdev", "loader", "vmx", "core", "boot"],
    "vdev": ["core", "boot"],
    "loader": ["vdev", "core", "boot"],
    "vmx": ["core", "boot"],
    "core": ["boot"],
    "guest": [],
}

SOURCE_DIRS = ["boot", "kernel", "vmx", "drivers", "guest", "tests/guests"]
INCLUDE = re.compile(r'\s*#\s*include\s+"([^"]+)"')
VMCS_CALL = re.compile(r"\b(vmcs_(?:read|write)\w*)\s*\(")
COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)


def layer_of(rel):
    """The layer of a path from the repo root, or None."""
    for pattern, layer in LAYERS:
        if re.match(pattern, rel):
            return layer
    return None


def crossing(user, used):
    """None if layer `user` may use layer `used`, else the text of the violation."""
    if used == user or used in USES.get(user, []):
        return None
    allowed = ", ".join([user] + USES.get(user, []))
    return f"{user} -> {used or '(no layer)'} ({user} may use: {allowed})"


def resolve_include(rel, name, layer):
    """The included file's path from the root, or None if it exists nowhere."""
    folders = [ROOT, (ROOT / rel).parent] + ([ROOT / "guest/lib"] if layer == "guest" else [])
    for folder in folders:
        if (folder / name).is_file():
            return Path(os.path.relpath((folder / name).resolve(), ROOT)).as_posix()
    return None


def check_file(rel):
    """(violations, number of includes) of one source file."""
    layer = layer_of(rel)
    text = (ROOT / rel).read_text(errors="replace")
    found, includes = [], 0
    for number, line in enumerate(text.splitlines(), 1):
        m = INCLUDE.match(line)
        if not m:
            continue
        includes += 1
        target = resolve_include(rel, m.group(1), layer)
        if target is None:
            found.append(f'{rel}:{number}: #include "{m.group(1)}": no such file')
        elif crossing(layer, layer_of(target)):
            found.append(f'{rel}:{number}: {crossing(layer, layer_of(target))}: #include "{m.group(1)}"')
    if layer not in ("vmx", "guest"):
        code = COMMENT.sub(lambda c: "\n" * c.group(0).count("\n"), text)
        for number, line in enumerate(code.splitlines(), 1):
            for name in VMCS_CALL.findall(line):
                found.append(f"{rel}:{number}: {layer} -> vmx internals: VMCS accessed outside vmx/ ({name})")
    return found, includes


def check_sources(verbose):
    files = sorted(p.relative_to(ROOT).as_posix() for d in SOURCE_DIRS for p in (ROOT / d).rglob("*")
                   if p.suffix in (".c", ".h", ".S") and p.is_file())
    violations, includes = [], 0
    for rel in files:
        if layer_of(rel) is None:
            violations.append(f"{rel}:1: in no layer: add its folder to LAYERS in tests/layers.py")
            continue
        found, count = check_file(rel)
        violations, includes = violations + found, includes + count
        if verbose:
            print(f"  {layer_of(rel):7} {rel}: {count} includes")
    if verbose:
        print(f"sources: {len(files)} files, {includes} includes checked")
    return violations


def read_kobjs():
    """KOBJS as make sees it (paths from the root), or None if make cannot say."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    try:
        out = subprocess.run(["make", "-s", "-r", "-pn", "build/anfitrion.elf"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in out.splitlines():
        m = re.match(r"KOBJS\s*:{1,2}=\s*(.*)$", line)
        if m and "$" not in m.group(1):
            return m.group(1).split()
    return None


def source_of(obj):
    """build/vmx/ept.o -> vmx/ept.c (or .S): the file the object was built from."""
    stem = re.sub(r"^build/", "", obj)[:-len(".o")]
    return next((stem + s for s in (".c", ".S") if (ROOT / (stem + s)).is_file()), stem + ".c")


def is_stale(obj):
    """True if a file the object was built from (its .d lists them) is newer than it."""
    deps, dfile = [source_of(obj)], ROOT / (obj[:-len(".o")] + ".d")
    if dfile.is_file():
        rule = dfile.read_text(errors="replace").replace("\\\n", " ").split("\n", 1)[0]
        deps = rule.split(":", 1)[-1].split()
    built = (ROOT / obj).stat().st_mtime
    return any((ROOT / d).is_file() and (ROOT / d).stat().st_mtime > built for d in deps)


def run_nm(objects):
    """{object: (defined global symbols, undefined symbols)} from one nm call."""
    out = subprocess.run(["nm", "-A", "-P"] + objects, cwd=ROOT, capture_output=True,
                         text=True, timeout=20).stdout
    table = {obj: (set(), set()) for obj in objects}
    for fields in (line.split() for line in out.splitlines()):
        if len(fields) < 3 or fields[0][:-1] not in table:
            continue
        defined, undefined = table[fields[0][:-1]]
        if fields[2] in ("U", "w", "v"):
            undefined.add(fields[1])
        elif fields[2].isupper():
            defined.add(fields[1])
    return table


def line_mentioning(rel, word):
    """The first line of rel naming word (1 if none: a macro or inline function hid it)."""
    pattern = re.compile(r"\b" + re.escape(word) + r"\b")
    lines = (ROOT / rel).read_text(errors="replace").splitlines() if (ROOT / rel).is_file() else []
    return next((n for n, line in enumerate(lines, 1) if pattern.search(line)), 1)


def load_objects():
    """(KOBJS, None) if every object is built and up to date, else (None, why not)."""
    objects = read_kobjs()
    if objects is None:
        return None, "symbols: skipped, could not read KOBJS from `make -pn build/anfitrion.elf`"
    missing = [o for o in objects if not (ROOT / o).is_file()]
    if missing:
        return None, f"symbols: skipped, build first ({len(missing)} objects missing, e.g. {missing[0]})"
    stale = [o for o in objects if is_stale(o)]
    if stale:
        return None, (f"symbols: skipped, build first ({len(stale)} objects older than their"
                      f" sources, e.g. {stale[0]})")
    return objects, None


def check_symbols(objects, verbose):
    try:
        table = run_nm(objects)
    except (OSError, subprocess.TimeoutExpired) as e:
        return [], f"symbols: skipped, nm failed ({e})"
    definer = {}
    for obj in objects:
        for name in sorted(table[obj][0]):
            definer.setdefault(name, source_of(obj))
    violations = []
    for obj in objects:
        src, layer = source_of(obj), layer_of(source_of(obj))
        if layer is None:
            violations.append(f"{src}:1: in no layer: add its folder to LAYERS in tests/layers.py")
            continue
        if layer == "guest":
            where = line_mentioning("Makefile", re.sub(r"^build/", "", obj))
            violations.append(f"Makefile:{where}: guest -> anfitrion.elf:"
                              f" guest/ code linked into anfitrion.elf ({obj})")
        for name in sorted(table[obj][1] & definer.keys()):
            text, where = crossing(layer, layer_of(definer[name])), line_mentioning(src, name)
            if text:
                violations.append(f"{src}:{where}: {text}: uses {name}, defined in {definer[name]}")
        if verbose:
            print(f"  {layer:7} {obj}: {len(table[obj][0])} defined, {len(table[obj][1])} undefined")
    note = f"symbols: {len(objects)} objects, {len(definer)} global symbols checked" if verbose else None
    return violations, note


def main():
    verbose = "--verbose" in sys.argv[1:]
    violations = check_sources(verbose)
    objects, note = load_objects()
    if objects is not None:
        found, note = check_symbols(objects, verbose)
        violations += found
    violations = sorted(set(violations), key=lambda v: (v.split(":")[0], int(v.split(":")[1]), v))
    for v in violations:
        print(v)
    if note:
        print(note)
    if violations:
        print(f"layers: {len(violations)} violations; the rule and the fixes: tests/layers.py",
              file=sys.stderr)
        return 1
    print("layers: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
