#!/usr/bin/env python3
"""Boots anfitrion in Bochs or QEMU with COM1 on a TCP socket, for tests and `make run`.

Library use (tests):

    with emu.Machine("bochs", iso="build/tests/iso/boot.iso", name="boot") as m:
        m.expect(r"^hv> ", timeout=60)
        m.send("version\\r")
        m.expect(r"anfitrion 0\\.1")

Command-line use (`make run`):

    python3 tests/emu.py run --emu bochs --iso build/anfitrion.iso

How the serial line is wired: this module listens on a free loopback port
(port 0, so there is no race between parallel runs) and the emulator connects
to it as a client (Bochs `com1: mode=socket-client`, QEMU `-serial tcp:` without
`server`). Both emulators wait for nothing: the socket is already listening.
A reader thread drains the socket into memory and into serial.log.

Everything for one run lives in build/tests/runs/NAME/: bochsrc, cont.rc,
bochs.log, emu.out (emulator stdout/stderr), serial.log.
Python 3 standard library only.
"""

import argparse
import atexit
import ctypes
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS_DIR = ROOT / "build" / "tests" / "runs"

BOCHS_BIOS = "/usr/share/bochs/BIOS-bochs-latest"
BOCHS_VGABIOS = "/usr/share/bochs/VGABIOS-lgpl-latest"
BOCHS_CPU_MODEL = "corei7_skylake_x"   # VMX with EPT, UG, VPID, preemption timer

# bochs.log lines worth showing when something goes wrong: VM-entry check
# failures, panics and errors. Bochs writes "TIMESTAMPe[MODULE] message".
_BOCHS_BAD_LINE = re.compile(
    r"^(VMFAIL|PANIC|ERROR|>>PANIC<<)|VMFAIL|>>PANIC<<|^\d+[ep]\[")

PROMPT_RE = r"^hv> "
PANIC_RE = r"^PANIC: .*$"


class EmuError(Exception):
    """The emulator could not start, died, or the expected output never came."""


def kvm_vtx_available():
    """True when QEMU can give the guest real VT-x: usable /dev/kvm and a host CPU with vmx."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False
    try:
        with open("/proc/cpuinfo") as f:
            return re.search(r"^flags\s*:.*\bvmx\b", f.read(), re.M) is not None
    except OSError:
        return False


def _set_pdeathsig():
    """In the child before exec: new session, and die with the parent (Linux)."""
    os.setsid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
    except Exception:
        pass


_live_machines = set()
_live_lock = threading.Lock()
started_machines = []     # every Machine started in this process, for failure reports


def close_all():
    """Kill every machine still running in this process (atexit, signal handlers)."""
    with _live_lock:
        machines = list(_live_machines)
    for m in machines:
        m.close()


atexit.register(close_all)


class LogCleaner:
    """Turns console bytes into log text. The shell takes its prompt off the screen before
    asynchronous output with CR + ESC[K; the log shows that as a line break, so guest and
    hypervisor lines always start a line. Other CRs are dropped. A sequence split across
    chunks is held back until it is complete."""

    ERASE_LINE = "\r\x1b[K"

    def __init__(self):
        self._carry = ""

    def feed(self, data):
        text = self._carry + data.decode("latin-1")
        self._carry = ""
        for k in range(len(self.ERASE_LINE) - 1, 0, -1):
            if text.endswith(self.ERASE_LINE[:k]):
                self._carry = text[-k:]
                text = text[:-k]
                break
        return text.replace(self.ERASE_LINE, "\n").replace("\r", "")


class Machine:
    """One emulator run with COM1 on a socket. Use as a context manager.

    emu:      "bochs" or "qemu".
    iso:      ISO image to boot from CD-ROM.
    kernel:   (QEMU only) Multiboot 1 ELF for -kernel; append: its command line;
              initrd: QEMU -initrd string ("mod1 args,mod2 args").
    name:     work directory name under build/tests/runs/ (default: from the
              ANFITRION_TEST_NAME environment variable, else emu-PID-N).
    mem_mb, cpus, extra_args (list of extra emulator arguments; for Bochs,
    extra bochsrc lines), ips (Bochs instructions per emulated second),
    connect_timeout: seconds for the emulator to connect COM1.
    on_output: callback(bytes) called from the reader thread for every chunk.
    """

    _counter = 0

    def __init__(self, emu="bochs", iso=None, kernel=None, append=None,
                 initrd=None, name=None, mem_mb=256, cpus=1, extra_args=(),
                 ips=200000000, connect_timeout=30, on_output=None, workdir=None):
        if emu not in ("bochs", "qemu"):
            raise EmuError(f"unknown emulator {emu!r} (bochs or qemu)")
        if kernel and emu != "qemu":
            raise EmuError("kernel= (direct Multiboot 1 boot) needs emu='qemu'")
        if not iso and not kernel:
            raise EmuError("give iso= or kernel=")
        self.emu = emu
        self.iso = Path(iso).resolve() if iso else None
        self.kernel = Path(kernel).resolve() if kernel else None
        self.append = append
        self.initrd = initrd
        self.mem_mb = int(mem_mb)
        self.cpus = int(cpus)
        self.extra_args = list(extra_args)
        self.ips = int(ips)
        self.connect_timeout = connect_timeout
        self.on_output = on_output
        self.kvm = False
        if workdir is None:
            if name is None:
                base = os.environ.get("ANFITRION_TEST_NAME") or f"emu-{os.getpid()}"
                Machine._counter += 1
                name = base if Machine._counter == 1 else f"{base}-{Machine._counter}"
            workdir = RUNS_DIR / re.sub(r"[^A-Za-z0-9_.-]", "_", name)
        self.name = name
        self.workdir = Path(workdir)
        self.proc = None
        self.sock = None
        self._listener = None
        self._reader = None
        self._raw = bytearray()
        self._text = ""            # decoded latin-1, "\r" removed
        self._cleaner = LogCleaner()
        self._pos = 0              # expect() searches from here
        self._cond = threading.Condition()
        self._eof = False
        self._closed = False
        self._serial_file = None
        self._emu_out = None

    # ---- lifetime -------------------------------------------------------

    def __enter__(self):
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def start(self):
        """Launch the emulator and wait until it connects COM1; raise EmuError if it can't."""
        if self.proc is not None or self._closed:
            raise EmuError("a Machine starts once")
        with _live_lock:
            _live_machines.add(self)
            started_machines.append(self)
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def _start(self):
        for path in (self.iso, self.kernel):
            if path and not path.is_file():
                raise EmuError(f"{path} does not exist (build it first: make)")
        if self.workdir.exists():
            shutil.rmtree(self.workdir)
        self.workdir.mkdir(parents=True)
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(1)
        self.port = self._listener.getsockname()[1]

        cmd = self._bochs_cmd() if self.emu == "bochs" else self._qemu_cmd()
        exe = shutil.which(cmd[0])
        if exe is None:
            raise EmuError(f"{cmd[0]} not found: install it (.ci/deps)")
        (self.workdir / "cmdline").write_text(" ".join(cmd) + "\n")
        self._emu_out = open(self.workdir / "emu.out", "wb")
        preexec = _set_pdeathsig if threading.current_thread() is threading.main_thread() else os.setsid
        self.proc = subprocess.Popen(cmd, cwd=self.workdir, stdin=subprocess.DEVNULL,
                                     stdout=self._emu_out, stderr=subprocess.STDOUT,
                                     preexec_fn=preexec)
        self._accept()
        self._serial_file = open(self.workdir / "serial.log", "wb")
        self._reader = threading.Thread(target=self._read_loop, daemon=True,
                                        name=f"serial-{self.name}")
        self._reader.start()

    def _accept(self):
        deadline = time.monotonic() + self.connect_timeout
        self._listener.settimeout(0.2)
        while True:
            try:
                conn, _ = self._listener.accept()
                break
            except socket.timeout:
                pass
            if self.proc.poll() is not None:
                raise EmuError(f"{self.emu} exited with status {self.proc.returncode} "
                               f"before connecting COM1\n{self.diagnostics()}")
            if time.monotonic() > deadline:
                raise EmuError(f"{self.emu} did not connect COM1 within "
                               f"{self.connect_timeout} s\n{self.diagnostics()}")
        self._listener.close()
        self._listener = None
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = conn

    def _bochs_cmd(self):
        rc = self.workdir / "bochsrc"
        lines = [
            f"megs: {self.mem_mb}",
            f"cpu: model={BOCHS_CPU_MODEL}, count={self.cpus}, ips={self.ips}, "
            "reset_on_triple_fault=0",
            f"romimage: file={BOCHS_BIOS}",
            f"vgaromimage: file={BOCHS_VGABIOS}",
            f"ata0-master: type=cdrom, path={self.iso}, status=inserted",
            "boot: cdrom",
            f"com1: enabled=1, mode=socket-client, dev=127.0.0.1:{self.port}",
            # Headless; rfb takes the first free port from 5900 up, so
            # parallel runs do not clash, and timeout=0 waits for no viewer.
            'display_library: rfb, options="timeout=0"',
            "clock: sync=none",          # emulated time follows instructions: repeatable
            "log: bochs.log",
            "panic: action=fatal",
            "error: action=report",
            # Debian's Bochs aborts in its ALSA plugin on hosts without sound.
            "speaker: enabled=0",
            "sound: waveoutdrv=dummy, waveindrv=dummy, midioutdrv=dummy",
            "mouse: enabled=0",
        ]
        lines += self.extra_args
        rc.write_text("\n".join(lines) + "\n")
        (self.workdir / "cont.rc").write_text("c\n")
        return ["bochs", "-q", "-f", "bochsrc", "-rc", "cont.rc"]

    def _qemu_cmd(self):
        cmd = ["qemu-system-x86_64", "-m", str(self.mem_mb), "-smp", str(self.cpus),
               "-display", "none", "-monitor", "none", "-no-reboot",
               "-serial", f"tcp:127.0.0.1:{self.port}"]
        self.kvm = kvm_vtx_available()
        cmd += ["-enable-kvm", "-cpu", "host"] if self.kvm else ["-cpu", "max"]
        if self.kernel:
            cmd += ["-kernel", str(self.kernel)]
            if self.append is not None:
                cmd += ["-append", self.append]
            if self.initrd:
                cmd += ["-initrd", self.initrd]
        else:
            cmd += ["-cdrom", str(self.iso), "-boot", "d"]
        return cmd + self.extra_args

    def close(self):
        """Kill the emulator and its process group; safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        if self.proc is not None and self.proc.poll() is None:
            for sig, wait in ((signal.SIGTERM, 3), (signal.SIGKILL, 5)):
                try:
                    os.killpg(self.proc.pid, sig)
                except (ProcessLookupError, PermissionError):
                    pass
                try:
                    self.proc.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    pass
        for s in (self.sock, self._listener):
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass
        if self._reader is not None and self._reader is not threading.current_thread():
            self._reader.join(2)
        for f in (self._serial_file, self._emu_out):
            if f is not None:
                try:
                    f.close()
                except (OSError, ValueError):
                    pass
        with _live_lock:
            _live_machines.discard(self)

    # ---- serial output ----------------------------------------------------

    def _read_loop(self):
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            try:
                self._serial_file.write(data)
                self._serial_file.flush()
            except (OSError, ValueError):
                pass
            if self.on_output is not None:
                try:
                    self.on_output(data)
                except Exception:
                    pass
            with self._cond:
                self._raw += data
                self._text += self._clean(data)
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def _clean(self, data):
        return self._cleaner.feed(data)

    @property
    def log(self):
        """All serial output so far, "\\r" removed."""
        with self._cond:
            return self._text

    @property
    def raw(self):
        """All serial output so far, as received."""
        with self._cond:
            return bytes(self._raw)

    def lines(self):
        """The serial output so far as a list of lines."""
        return self.log.splitlines()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    @staticmethod
    def _compile(pattern):
        if isinstance(pattern, re.Pattern):
            return pattern
        return re.compile(pattern, re.M)

    def expect(self, pattern, timeout=60, line=False):
        """Wait for PATTERN (regex, re.M) in the output after the last match; return the match.

        Output arrives a few characters at a time, so `ticks=(\\d+)` or `.*$` can
        match a line that is still arriving; with line=True (or expect_line)
        only complete lines are searched. On timeout, or when the emulator
        ends first, raise EmuError with the tail of the serial log and
        Bochs's error lines.
        """
        rx = self._compile(pattern)
        deadline = time.monotonic() + timeout
        grace = True
        with self._cond:
            while True:
                end = self._text.rfind("\n") + 1 if line else len(self._text)
                m = rx.search(self._text, self._pos, max(end, self._pos))
                if m:
                    self._pos = m.end()
                    return m
                ended = self.proc is not None and self.proc.poll() is not None
                if self._eof or ended:
                    if grace and not self._eof:
                        grace = False          # let the reader deliver the last bytes
                        self._cond.wait(1.0)
                        continue
                    why = None
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    why = f"/{rx.pattern}/ did not appear within {timeout} s"
                    break
                self._cond.wait(min(left, 0.5))
        if why is None:
            try:
                status = self.proc.wait(2)
            except subprocess.TimeoutExpired:
                status = "still running, COM1 closed"
            why = f"{self.emu} ended (status {status}) before /{rx.pattern}/ appeared"
        raise EmuError(f"{why}\n{self.diagnostics()}")

    def expect_line(self, pattern, timeout=60):
        """expect() on complete lines only: a match never ends in a partial line."""
        return self.expect(pattern, timeout, line=True)

    def expect_all(self, patterns, timeout=60, line=False):
        """Expect each pattern in order within one overall timeout; return the matches."""
        deadline = time.monotonic() + timeout
        return [self.expect(p, max(0.1, deadline - time.monotonic()), line) for p in patterns]

    def wait_quiet(self, seconds):
        """Sleep SECONDS; return the output that arrived in that time."""
        start = len(self.log)
        time.sleep(seconds)
        return self.log[start:]

    def send(self, data, char_delay=0.0):
        """Type DATA (str or bytes) on COM1; with char_delay, one byte at a time."""
        if isinstance(data, str):
            data = data.encode("latin-1")
        if self.sock is None:
            raise EmuError("not connected")
        try:
            if char_delay:
                for b in data:
                    self.sock.sendall(bytes([b]))
                    time.sleep(char_delay)
            else:
                self.sock.sendall(data)
        except OSError as e:
            raise EmuError(f"cannot send to COM1: {e}\n{self.diagnostics()}")

    def wait_exit(self, timeout=60):
        """Wait for the emulator to end by itself; return its status. EmuError on timeout."""
        try:
            status = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise EmuError(f"{self.emu} still running after {timeout} s\n{self.diagnostics()}")
        if self._reader is not None:
            self._reader.join(2)
        return status

    # ---- diagnostics --------------------------------------------------------

    def bochs_errors(self, limit=30):
        """Lines of bochs.log reporting VMFAIL, panics and errors (last LIMIT)."""
        path = self.workdir / "bochs.log"
        if self.emu != "bochs" or not path.exists():
            return []
        with open(path, "r", encoding="latin-1") as f:
            bad = [l.rstrip("\n") for l in f if _BOCHS_BAD_LINE.search(l)]
        return bad[-limit:]

    def diagnostics(self, tail=40):
        """Text for a failure report: serial tail, emulator errors, where the files are."""
        text = self.log
        out = [f"--- serial log tail ({self.workdir}/serial.log) ---"]
        out += text.splitlines()[-tail:] or ["(no serial output)"]
        bad = self.bochs_errors()
        if bad:
            out.append("--- bochs.log errors ---")
            out += bad
        emu_out = self.workdir / "emu.out"
        if emu_out.exists() and self.emu == "qemu":
            lines = emu_out.read_text("latin-1").splitlines()[-10:]
            if lines:
                out.append("--- qemu output ---")
                out += lines
        elif emu_out.exists():
            lines = [l for l in emu_out.read_text("latin-1").splitlines()
                     if "exiting" in l or "[BIOS" in l or "PANIC" in l or "rror" in l][-10:]
            if lines:
                out.append("--- bochs output ---")
                out += lines
        return "\n".join(out)


# ---- command line: `make run` --------------------------------------------------

CTRL_A = 0x01


def _interactive(m):
    import termios
    import tty
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    sys.stdout.write("anfitrion console: Ctrl-A x quits the emulator\n")
    sys.stdout.flush()
    tty.setraw(fd)
    try:
        pending_ctrl_a = False
        while m.alive():
            r, _, _ = select.select([fd], [], [], 0.2)
            if not r:
                continue
            data = os.read(fd, 1024)
            if not data:
                break
            out = bytearray()
            for b in data:
                if pending_ctrl_a:
                    pending_ctrl_a = False
                    if b in (ord("x"), ord("X")):
                        if out:
                            m.send(bytes(out))
                        return 0
                    if b == CTRL_A:
                        out.append(CTRL_A)   # Ctrl-A Ctrl-A types one Ctrl-A
                        continue
                    out.append(CTRL_A)
                    out.append(b)
                elif b == CTRL_A:
                    pending_ctrl_a = True
                else:
                    out.append(b)
            if out:
                m.send(bytes(out))
        return 0
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        sys.stdout.write("\r\nanfitrion console: emulator stopped\r\n")
        sys.stdout.flush()


def _batch(m, timeout, linger):
    deadline = time.monotonic() + timeout
    rx = re.compile(f"(?:{PROMPT_RE})|(?:{PANIC_RE})", re.M)
    try:
        mt = m.expect(rx, timeout=max(0.1, deadline - time.monotonic()))
    except EmuError as e:
        first = str(e).splitlines()[0]
        sys.stdout.flush()
        if m.alive():
            print(f"emu: no prompt within {timeout} s ({first})", file=sys.stderr)
        else:
            print(f"emu: emulator ended before the prompt ({first})", file=sys.stderr)
            for line in m.bochs_errors():
                print(f"emu: {line}", file=sys.stderr)
        return 1
    if mt.group(0).startswith("PANIC"):
        time.sleep(1)
        sys.stdout.flush()
        print("emu: hypervisor panicked", file=sys.stderr)
        return 1
    end = time.monotonic() + linger
    while time.monotonic() < end and m.alive():
        time.sleep(0.2)
    time.sleep(0.3)
    sys.stdout.flush()
    if re.search(PANIC_RE, m.log[mt.end():], re.M):
        print("emu: hypervisor panicked", file=sys.stderr)
        return 1
    print(f"\nemu: hypervisor up (prompt seen); stopped after {linger} s more", file=sys.stderr)
    return 0


def cmd_run(args):
    interactive = sys.stdin.isatty()
    out = sys.stdout.buffer

    cleaner = LogCleaner()

    def echo(data):
        out.write(data if interactive else cleaner.feed(data).encode("latin-1"))
        out.flush()

    try:
        m = Machine(args.emu, iso=args.iso, kernel=args.kernel, append=args.append,
                    name=args.name or f"run-{args.emu}", mem_mb=args.mem,
                    cpus=args.cpus, on_output=echo,
                    connect_timeout=args.connect_timeout)
        m.start()
    except EmuError as e:
        print(f"emu: emulator failed to start: {e}", file=sys.stderr)
        return 1
    with m:
        if m.emu == "qemu" and not m.kvm:
            print("emu: QEMU without KVM VT-x: guests cannot run here "
                  "(use --emu bochs for VT-x)", file=sys.stderr)
        if interactive:
            return _interactive(m)
        return _batch(m, args.timeout, args.linger)


def main(argv=None):
    p = argparse.ArgumentParser(prog="emu.py", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="boot an ISO with the console on this terminal")
    r.add_argument("--emu", choices=("bochs", "qemu"), default="bochs")
    r.add_argument("--iso", default=str(ROOT / "build" / "anfitrion.iso"))
    r.add_argument("--kernel", help="QEMU only: boot this Multiboot 1 ELF instead of an ISO")
    r.add_argument("--append", help="command line for --kernel")
    r.add_argument("--mem", type=int, default=256, help="MiB (default 256)")
    r.add_argument("--cpus", type=int, default=1)
    r.add_argument("--timeout", type=float, default=90,
                   help="without a terminal: seconds to wait for the prompt")
    r.add_argument("--linger", type=float, default=20,
                   help="without a terminal: seconds of log to show after the prompt")
    r.add_argument("--connect-timeout", type=float, default=30)
    r.add_argument("--name", help="work directory name under build/tests/runs/")
    args = p.parse_args(argv)
    if args.kernel:
        args.iso = None
        if args.emu != "qemu":
            p.error("--kernel needs --emu qemu")
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(1))
    return cmd_run(args)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        close_all()
        sys.exit(130)
