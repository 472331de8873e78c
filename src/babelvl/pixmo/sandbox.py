"""Run untrusted dataset Python (e.g. model-written CoSyn plotting scripts) in an OS-level sandbox.

Dataset code can loop forever, allocate without bound, write anywhere, read secrets, reach for the
network or try to escape on purpose. An in-process audit hook is not a security boundary, so
:func:`run_sandboxed` runs the code under `bubblewrap <https://github.com/containers/bubblewrap>`_
(``bwrap``, the sandbox Flatpak is built on) with these layers; ``SandboxResult.layers`` names them:

* ``bwrap``: new user, PID, network, mount, IPC, UTS (and cgroup) namespaces; every capability
  dropped; uid/gid 65534 inside; no further user namespaces; ``--new-session`` (no terminal to push
  keystrokes into); ``--die-with-parent``. The file system is a read-only view of only what
  rendering needs: ``/usr``, the interpreter's prefix, the virtual environment and the folders
  holding matplotlib, numpy, PIL and pandas, ``/etc/fonts`` and ``/etc/ld.so.cache``. No host
  ``/proc`` (a fresh one of the sandbox's own PID namespace), no ``/etc/passwd``, no home folder.
  The only writable place is a size-capped private tmpfs (``/sandbox``, also ``/tmp``), thrown
  away with the namespace (``/dev`` is a minimal, read-only one: no ``/dev/shm`` to fill). bwrap itself is started with an empty environment, so the PID 1 the
  code can see carries nothing either.
* ``rlimits``: address space (``memory_mb``), CPU seconds, file size, no core files, processes.
* ``seccomp``: (libseccomp, loaded by the child before the code runs) process creation, exec,
  ptrace, namespace, mount, keyring and io_uring calls kill the process with SIGSYS; non-Unix
  sockets fail.
* ``audit``: a :func:`sys.addaudithook` hook gives a readable reason for the same refusals
  (network, subprocess, writes outside the work folder, raising limits, ctypes, gc and frame
  introspection) and ends the process at the first one.
* ``wall``: the parent kills bwrap after ``timeout_s``; the PID namespace dies with its init, so
  no process the code started can outlive the run (checked afterwards: see ``leftover``).

Nothing is copied back but what the parent reads from pipes it opened: stdout and stderr (tails),
the refusal report, and at most one output file (``output``, capped at ``max_output_bytes``).
A refusal is a failure with that reason even when the code caught the error: the hook ends the
process, and the report pipe keeps what was sent.

Where bwrap cannot run, :func:`run_sandboxed` raises :class:`SandboxUnavailable` (with how to
install it) unless the caller opts out with ``unsafe_no_sandbox=True`` or the environment variable
``BABELVL_UNSAFE_NO_SANDBOX=1`` (what the CLI's ``--unsafe-no-sandbox`` sets): the code then runs
as a plain child process with only the rlimits, seccomp and audit layers, in ``workdir``.

Reasons are ``"<kind>: <text>"``; :attr:`SandboxResult.kind` is one of :data:`REASON_KINDS`.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Mapping, Sequence

from babelvl.errors import BabelvlError

CHILD = Path(__file__).with_name("_sandbox_child.py")
UNSAFE_ENV = "BABELVL_UNSAFE_NO_SANDBOX"
BOX = "/sandbox"
"""The work folder inside the sandbox (a private tmpfs)."""
CONTROL = "/babelvl"
"""Where the parent's read-only inputs (child script, spec, code, seed files) appear inside."""
SANDBOX_UID = 65534
INTERNAL_DIRS = (".mplconfig", ".tmp", ".cache", ".config")
TAIL_BYTES = 64 * 1024
REPORT_BYTES = 256 * 1024
RENDER_MODULES = ("matplotlib", "numpy", "PIL", "pandas")
REASON_KINDS = ("timeout", "memory", "network", "write_outside", "subprocess", "forbidden", "error",
                "no_output", "too_large")
REFUSED_EXIT = 113  # the child's exit status when its audit hook stopped it (see _sandbox_child)

INSTALL_HINT = ("install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install "
                "bubblewrap) and make sure user namespaces are allowed (in a container: run it with "
                "--security-opt seccomp=unconfined or use a VM); or, only for code you trust, pass "
                f"--unsafe-no-sandbox (or set {UNSAFE_ENV}=1)")

_PROXY_VARS = {"http_proxy", "https_proxy", "ftp_proxy", "all_proxy", "no_proxy", "socks_proxy"}
_MEMORY_MARKERS = ("MemoryError", "std::bad_alloc", "Cannot allocate memory", "out of memory")
_TOP_LEVEL_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
_ETC_FILES = ("/etc/fonts", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d")


class SandboxUnavailable(BabelvlError):
    """bubblewrap cannot run here, and running untrusted code without it was not allowed."""


@dataclass(frozen=True)
class SandboxResult:
    """What a sandboxed run did. ``reason`` is None exactly when ``ok``."""

    ok: bool
    returncode: int | None
    stdout: str
    stderr: str
    reason: str | None
    seconds: float
    files: tuple[str, ...] = ()
    """Files the code left in its work folder (as the child reported them: informational)."""
    violations: tuple[str, ...] = ()
    """Refused actions, as reasons; any of them makes the run fail."""
    layers: tuple[str, ...] = ()
    """Isolation layers that were active: see the module docstring."""
    output: bytes | None = None
    """The ``output`` file's bytes, when the run succeeded and the code wrote it."""
    leftover: int = 0
    """Processes of the run still alive after it ended (killed then; always 0 under bwrap)."""

    @property
    def kind(self) -> str | None:
        """The machine-readable part of ``reason`` ("timeout", "network", ...)."""
        return None if self.reason is None else self.reason.split(":", 1)[0]


def unsafe_allowed(explicit: bool | None = None) -> bool:
    """The caller's explicit choice, else ``$BABELVL_UNSAFE_NO_SANDBOX`` (``1``/``true``/``yes``)."""
    if explicit is not None:
        return explicit
    return os.environ.get(UNSAFE_ENV, "").strip().lower() in ("1", "true", "yes")


def run_sandboxed(argv_or_code: str | Sequence[str], *, workdir: Path | None = None,
                  timeout_s: float = 30, memory_mb: int = 1024, cpu_s: float | None = None,
                  allow_network: bool = False, env: Mapping[str, str] | None = None,
                  stdin: bytes | None = None, fsize_mb: int = 64, work_mb: int = 256,
                  output: str | None = None, max_output_bytes: int = 32 * 1024 * 1024,
                  seed: Path | None = None, unsafe_no_sandbox: bool | None = None,
                  audit_hook: bool = True) -> SandboxResult:
    """Run Python source (a ``str``) or a script (``[path, *args]`` or ``["-m", module, *args]``).

    ``workdir`` is a host folder for the run's control files (a temporary one by default); under
    ``unsafe_no_sandbox`` it is also the child's working folder. ``output`` names a file the code
    writes in its work folder; its bytes come back in :attr:`SandboxResult.output`. ``seed`` is a
    host folder copied into the work folder first. ``cpu_s`` defaults to the wall limit rounded up,
    plus one second. ``env`` adds variables to the minimal environment. ``audit_hook=False`` leaves
    the audit layer out: only for tests that show the OS layers hold on their own.
    Raises :class:`SandboxUnavailable` when bwrap cannot run and unsafe mode was not chosen.
    """
    unsafe = unsafe_allowed(unsafe_no_sandbox)
    if not unsafe:
        require_sandbox()
    if workdir is not None:
        Path(workdir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".babelvl-sandbox-", dir=workdir) as control_name:
        control = Path(control_name)
        if unsafe:
            box = Path(workdir or control / "work").resolve()
            box.mkdir(parents=True, exist_ok=True)
        return _run_in(argv_or_code, control=control, unsafe=unsafe,
                       box=str(box) if unsafe else BOX, timeout_s=timeout_s, memory_mb=memory_mb,
                       cpu_s=cpu_s, allow_network=allow_network, env=env, stdin=stdin,
                       fsize_mb=fsize_mb, work_mb=work_mb, output=output,
                       max_output_bytes=max_output_bytes, seed=seed, audit_hook=audit_hook)


def require_sandbox(*, unsafe_no_sandbox: bool | None = None) -> None:
    """Raise :class:`SandboxUnavailable` unless bwrap works here or unsafe mode was chosen.

    ``unsafe_no_sandbox=True`` also sets ``$BABELVL_UNSAFE_NO_SANDBOX`` so that worker processes
    (the local and Ray executors) make the same choice.
    """
    if unsafe_no_sandbox:
        os.environ[UNSAFE_ENV] = "1"
    if unsafe_allowed(unsafe_no_sandbox or None):
        return
    problem = bwrap_problem()
    if problem:
        raise SandboxUnavailable(f"refusing to run untrusted code without a sandbox: {problem}; "
                                 f"{INSTALL_HINT}")


def probe_layers(unsafe_no_sandbox: bool | None = None) -> tuple[str, ...]:
    """The isolation layers a sandboxed child gets on this machine (runs one tiny child)."""
    return run_sandboxed("pass", timeout_s=30, unsafe_no_sandbox=unsafe_no_sandbox).layers


def bwrap_path() -> str | None:
    """The bwrap executable, or None."""
    return shutil.which("bwrap") or next((p for p in ("/usr/bin/bwrap", "/usr/local/bin/bwrap")
                                          if os.access(p, os.X_OK)), None)


@lru_cache(maxsize=1)
def bwrap_problem() -> str | None:
    """None when bwrap can start a sandbox here; otherwise what went wrong (checked once)."""
    if not sys.platform.startswith("linux"):
        return f"bubblewrap needs Linux (this is {sys.platform})"
    binary = bwrap_path()
    if binary is None:
        return "bwrap (bubblewrap) is not installed"
    command = [binary, *_namespace_options(allow_network=False), "--ro-bind", "/", "/", "--proc",
               "/proc", "--dev", "/dev", "--", sys.executable, "-I", "-S", "-c", "pass"]
    try:
        done = subprocess.run(command, capture_output=True, timeout=60, env=_bwrap_env(),
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"bwrap could not start: {exc}"
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        return f"bwrap could not create a sandbox here ({detail[-1] if detail else done.returncode})"
    return None


# --- the bwrap command --------------------------------------------------------------------------------

def _namespace_options(*, allow_network: bool) -> list[str]:
    options = ["--unshare-user", "--unshare-ipc", "--unshare-pid", "--unshare-uts",
               "--unshare-cgroup-try", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID),
               "--disable-userns", "--hostname", "babelvl-sandbox", "--die-with-parent",
               "--new-session", "--cap-drop", "ALL"]
    if not allow_network:
        options.insert(3, "--unshare-net")
    return options


def _bwrap_env() -> dict[str, str]:
    """bwrap's own environment: empty but PATH (the sandbox's PID 1 is bwrap; its environ is visible)."""
    return {"PATH": "/usr/bin:/bin"}


@lru_cache(maxsize=1)
def _python_roots() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(read-only folders to bind, extra sys.path entries): the interpreter and rendering packages."""
    wanted = [sys.base_prefix, sys.prefix, os.path.dirname(sys.executable),
              os.path.dirname(os.path.realpath(sys.executable))]
    extra_path = []
    for module in RENDER_MODULES:
        spec = find_spec(module)
        if spec is None or not spec.origin:
            continue
        site = os.path.dirname(os.path.dirname(spec.origin))  # site-packages/<pkg>/__init__.py
        wanted.append(site)
        extra_path.append(site)
    roots: list[str] = []
    for path in sorted({os.path.abspath(p) for p in wanted} | {os.path.realpath(p) for p in wanted},
                       key=len):
        if path in ("/", "") or not os.path.isdir(path):
            continue
        if path == "/usr" or any(path == r or path.startswith(r.rstrip("/") + "/") for r in
                                 ["/usr", *roots]):
            continue
        if path == BOX or path.startswith((BOX + "/", CONTROL + "/")) or path == CONTROL:
            raise SandboxUnavailable(f"the Python installation lives under {path}, which the sandbox "
                                     "uses for itself")
        roots.append(path)
    return tuple(roots), tuple(dict.fromkeys(extra_path))


def _bwrap_command(control_in: Path, *, allow_network: bool, work_mb: int) -> list[str]:
    binary = bwrap_path()
    assert binary is not None  # checked by bwrap_problem()
    command = [binary, *_namespace_options(allow_network=allow_network), "--clearenv",
               "--ro-bind", "/usr", "/usr"]
    for name in _TOP_LEVEL_LINKS:
        host = Path("/") / name
        if host.is_symlink():
            command += ["--symlink", os.readlink(host), str(host)]
        elif host.is_dir():
            command += ["--ro-bind", str(host), str(host)]
    for path in _ETC_FILES:
        command += ["--ro-bind-try", path, path]
    # /dev is a tmpfs of its own: read-only, or it would be host memory the code could fill without limit
    command += ["--dev", "/dev", "--remount-ro", "/dev", "--proc", "/proc",
                "--perms", "0700", "--size", str(work_mb * 1024 * 1024), "--tmpfs", BOX, "--dir", f"{BOX}/.tmp"]
    roots, _ = _python_roots()
    under_tmp = any(root == "/tmp" or root.startswith("/tmp/") for root in roots)
    if under_tmp:
        # An interpreter, venv or checkout under the host's /tmp (a CI clone, a venv made there): /tmp is an
        # empty tmpfs holding just those folders, made read-only below, so the work tmpfs stays the only
        # writable place (TMPDIR points into it).
        command += ["--perms", "0755", "--size", str(1024 * 1024), "--tmpfs", "/tmp"]
    else:
        command += ["--symlink", f"{BOX}/.tmp", "/tmp"]
    for root in roots:
        command += ["--ro-bind", root, root]
    if under_tmp:
        command += ["--remount-ro", "/tmp"]
    command += ["--ro-bind", str(control_in), CONTROL, "--chdir", BOX, "--remount-ro", "/"]
    return command


# --- one run ------------------------------------------------------------------------------------------

def _run_in(argv_or_code: str | Sequence[str], *, control: Path, unsafe: bool, box: str,
            timeout_s: float, memory_mb: int, cpu_s: float | None, allow_network: bool,
            env: Mapping[str, str] | None, stdin: bytes | None, fsize_mb: int, work_mb: int,
            output: str | None, max_output_bytes: int, seed: Path | None,
            audit_hook: bool) -> SandboxResult:
    cpu_limit = math.ceil(cpu_s if cpu_s is not None else timeout_s + 1)
    control_in = control / "in"
    control_in.mkdir()
    inside = str(control_in) if unsafe else CONTROL
    shutil.copyfile(CHILD, control_in / "child.py")
    if seed is not None and Path(seed).is_dir():
        shutil.copytree(seed, control_in / "seed", symlinks=False)
    report_r, report_w = os.pipe()
    output_r, output_w = os.pipe()
    stdin_r, stdin_w = os.pipe()
    spec: dict[str, Any] = {
        "workdir": box, "writable": [box], "allow_network": allow_network, "memory_mb": memory_mb,
        "cpu_s": cpu_limit, "fsize_mb": fsize_mb, "report_fd": report_w, "output_fd": output_w,
        "output": output, "max_output_bytes": max_output_bytes, "audit": audit_hook,
        "make_dirs": [f"{box}/{name}" for name in INTERNAL_DIRS],
        "seed": f"{inside}/seed" if seed is not None else None,
        "sys_path": list(_python_roots()[1]), "layers": ["env", "wall"] + ([] if unsafe else ["bwrap"]),
    }
    if isinstance(argv_or_code, str):
        (control_in / "code.py").write_text(argv_or_code, encoding="utf-8")
        spec["code_file"] = f"{inside}/code.py"
    else:
        argv = [os.fspath(arg) for arg in argv_or_code]
        if not argv:
            raise ValueError("run_sandboxed: empty argv")
        if argv[0] != "-m":
            shutil.copyfile(argv[0], control_in / "script.py")
            argv[0] = f"{inside}/script.py"
        spec["argv"] = argv
    (control_in / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
    python = [sys.executable, "-I", "-B", "-X", "utf8", f"{inside}/child.py", f"{inside}/spec.json"]
    child_env = _child_env(box, env, allow_network)
    if unsafe:
        command, popen_env, cwd = python, child_env, box
    else:
        command = _bwrap_command(control_in, allow_network=allow_network, work_mb=work_mb)
        for key, value in child_env.items():
            command += ["--setenv", key, value]
        command += ["--", *python]
        popen_env, cwd = _bwrap_env(), "/"
    info_r, info_w = os.pipe()
    passed = (report_w, output_w) if unsafe else (report_w, output_w, info_w)
    if not unsafe:
        command[1:1] = ["--info-fd", str(info_w)]
    drains = {"stdout": _Drain(TAIL_BYTES, tail=True), "stderr": _Drain(TAIL_BYTES, tail=True),
              "report": _Drain(REPORT_BYTES), "output": _Drain(max_output_bytes + 1),
              "info": _Drain(4096)}
    start = time.monotonic()
    try:
        proc = subprocess.Popen(command, cwd=cwd, env=popen_env, stdin=stdin_r,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                pass_fds=passed, start_new_session=True,
                                close_fds=True)
    finally:
        for fd in (report_w, output_w, stdin_r, info_w):
            os.close(fd)
    assert proc.stdout is not None and proc.stderr is not None
    drains["stdout"].start(proc.stdout.fileno(), owner=proc.stdout)
    drains["stderr"].start(proc.stderr.fileno(), owner=proc.stderr)
    drains["report"].start(report_r)
    drains["output"].start(output_r)
    drains["info"].start(info_r)
    feeder = threading.Thread(target=_feed, args=(stdin_w, stdin or b""), daemon=True)
    feeder.start()
    pid_ns = None
    try:
        if unsafe:
            finished = _wait_unreaped(proc, start + timeout_s)
        else:
            pid_ns, finished = _wait_bwrap(proc, start + timeout_s, drains["info"])
    finally:
        _kill_group(proc)
        proc.wait()
    seconds = time.monotonic() - start
    leftover = _reap_namespace(pid_ns) if pid_ns else 0
    for drain in drains.values():
        drain.join(5)
    feeder.join(1)
    report = _parse_report(drains["report"].data())
    stdout, stderr = drains["stdout"].text(), drains["stderr"].text()
    violations = tuple(report["violations"])
    reason = _reason(timed_out=not finished, returncode=proc.returncode, report=report, stderr=stderr,
                     timeout_s=timeout_s, cpu_s=cpu_limit, memory_mb=memory_mb,
                     bwrap=not unsafe)
    if leftover:
        outlived = f"{leftover} process(es) outlived the run (killed)"
        reason = f"forbidden: {outlived}" if reason is None else f"{reason} (and {outlived})"
    out_bytes = drains["output"].data() if output else None
    if reason is None and out_bytes is not None and (drains["output"].overflow
                                                     or report.get("output_too_large")):
        reason = f"too_large: the output file is over the {max_output_bytes} byte limit"
    if not out_bytes:
        out_bytes = None
    return SandboxResult(ok=reason is None, returncode=proc.returncode, stdout=stdout,
                         stderr=stderr, reason=reason, seconds=round(seconds, 3),
                         files=tuple(report.get("files") or ()), violations=violations,
                         layers=tuple(report.get("layers") or ()),
                         output=out_bytes if reason is None else None, leftover=leftover)


def _child_env(box: str, extra: Mapping[str, str] | None, allow_network: bool) -> dict[str, str]:
    """A minimal environment: nothing inherited, so no proxies, tokens or user configuration."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": box, "USER": "sandbox",
           "LOGNAME": "sandbox", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TMPDIR": f"{box}/.tmp",
           "MPLBACKEND": "Agg", "MPLCONFIGDIR": f"{box}/.mplconfig",
           "XDG_CACHE_HOME": f"{box}/.cache", "XDG_CONFIG_HOME": f"{box}/.config",
           "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "NUMEXPR_NUM_THREADS": "1"}
    for key, value in (extra or {}).items():
        if allow_network or key.lower() not in _PROXY_VARS:
            env[key] = value
    return env


class _Drain:
    """Reads a pipe to its end in a thread, keeping at most ``keep`` bytes (head, or tail)."""

    def __init__(self, keep: int, *, tail: bool = False) -> None:
        self.keep, self.tail = keep, tail
        self.overflow = False
        self._chunks: list[bytes] = []
        self._size = 0
        self._thread: threading.Thread | None = None
        self.first = threading.Event()

    def start(self, fd: int, owner: Any = None) -> None:
        self._thread = threading.Thread(target=self._read, args=(fd, owner), daemon=True)
        self._thread.start()

    def _read(self, fd: int, owner: Any) -> None:
        try:
            while True:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                self._add(chunk)
                self.first.set()
        finally:
            self.first.set()
            if owner is not None:
                owner.close()
            else:
                os.close(fd)

    def _add(self, chunk: bytes) -> None:
        if self.tail:
            self._chunks.append(chunk)
            self._size += len(chunk)
            while self._size - len(self._chunks[0]) >= self.keep:
                self._size -= len(self._chunks.pop(0))
                self.overflow = True
            return
        room = self.keep - self._size
        if room <= 0:
            self.overflow = True
            return
        if len(chunk) > room:
            self.overflow = True
        self._chunks.append(chunk[:room])
        self._size += min(len(chunk), room)

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def data(self) -> bytes:
        joined = b"".join(self._chunks)
        return joined[-self.keep:] if self.tail else joined

    def text(self) -> str:
        return self.data().decode("utf-8", errors="replace")


def _feed(fd: int, data: bytes) -> None:
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view[:65536])
            view = view[written:]
    except OSError:
        pass  # the child closed its stdin or ended
    finally:
        os.close(fd)


def _wait_bwrap(proc: subprocess.Popen[bytes], deadline: float,
                info: _Drain) -> tuple[str | None, bool]:
    """Wait for bwrap; returns (the sandbox's PID namespace, finished before the deadline)."""
    pid_ns = None
    info.first.wait(max(0.0, min(5.0, deadline - time.monotonic())))
    try:
        child = json.loads(info.data().decode("utf-8", "replace") or "{}").get("child-pid")
        if isinstance(child, int):
            pid_ns = os.readlink(f"/proc/{child}/ns/pid")
    except (ValueError, OSError, AttributeError):
        pid_ns = None
    return pid_ns, _wait_unreaped(proc, deadline)


def _wait_unreaped(proc: subprocess.Popen[bytes], deadline: float) -> bool:
    """Wait for the child to exit without reaping it: True if it did before ``deadline``.

    While the exited leader is unreaped its process-group id cannot be reused, so killing the
    group afterwards can only hit processes it left behind.
    """
    delay = 0.002
    while os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, 0.05)
    return True


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    if proc.returncode is not None:
        return  # already reaped: its group id may belong to someone else now
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _reap_namespace(pid_ns: str, wait_s: float = 2.0) -> int:
    """Processes still in the run's PID namespace (the kernel ends them with its init): killed, counted."""
    deadline = time.monotonic() + wait_s
    while True:
        alive = _namespace_members(pid_ns)
        if not alive or time.monotonic() >= deadline:
            break
        time.sleep(0.02)
    for pid in alive:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return len(alive)


def _namespace_members(pid_ns: str) -> list[int]:
    """Live processes in the PID namespace; zombies (dead, waiting for a parent to reap them) are not."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{entry}/ns/pid") != pid_ns:
                continue
            with open(f"/proc/{entry}/stat", "rb") as handle:
                state = handle.read().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state not in (b"Z", b"X"):
            found.append(int(entry))
    return found


def _parse_report(raw: bytes) -> dict[str, Any]:
    """Merge the child's JSON-lines report; malformed lines are ignored."""
    merged: dict[str, Any] = {"violations": []}
    for line in raw.decode("utf-8", errors="replace").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if not isinstance(event, dict):
            continue
        if "violation" in event:
            merged["violations"].append(str(event["violation"])[:500])
        else:
            for key, value in event.items():
                merged.setdefault(key, value)  # the first word on each key counts
    return merged


def _reason(*, timed_out: bool, returncode: int | None, report: dict[str, Any], stderr: str,
            timeout_s: float, cpu_s: int, memory_mb: int, bwrap: bool) -> str | None:
    violations = report.get("violations") or []
    if timed_out:
        return f"timeout: still running after {timeout_s:g} s (wall clock)"
    if violations:
        return violations[0]
    number = None
    if returncode is not None and returncode < 0:
        number = -returncode
    elif bwrap and returncode is not None and 128 < returncode < 128 + 65:
        number = returncode - 128  # bwrap reports a child killed by signal N as 128 + N
    if bwrap and returncode == 1 and stderr.lstrip().startswith("bwrap:"):
        return f"error: the sandbox could not start: {stderr.strip().splitlines()[-1][:300]}"
    if number is not None:
        if number == signal.SIGSYS:
            return ("forbidden: a system call the sandbox refuses (process creation, exec, ptrace, "
                    "namespaces or mounts) ended the process (SIGSYS)")
        if number == signal.SIGXCPU:
            return f"timeout: used up its {cpu_s} s of CPU time"
        if number == signal.SIGXFSZ:
            return "too_large: a file went over the sandbox's file size limit"
        if any(marker in stderr for marker in _MEMORY_MARKERS):
            return f"memory: killed by {_signal_name(number)} after running out of {memory_mb} MB"
        return f"error: killed by {_signal_name(number)}"
    if report.get("memory"):
        detail = ": ".join(str(part) for part in (report.get("exception"), report.get("message"))
                           if part)
        return f"memory: needed more than the {memory_mb} MB limit ({detail})"
    if returncode == 0:
        return None
    if report.get("exception"):
        return f"error: {report['exception']}: {report.get('message', '')}"
    last = next((line for line in reversed(stderr.splitlines()) if line.strip()), "")
    return f"error: exit status {returncode}" + (f": {last.strip()[:300]}" if last else "")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


__all__ = ["INSTALL_HINT", "REASON_KINDS", "SandboxResult", "SandboxUnavailable", "UNSAFE_ENV",
           "bwrap_path", "bwrap_problem", "probe_layers", "require_sandbox", "run_sandboxed", "unsafe_allowed"]
