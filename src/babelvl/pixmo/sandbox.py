"""Run untrusted dataset Python (e.g. CoSyn plotting scripts) in a throwaway folder, with limits.

Dataset code can loop forever, allocate without bound, write anywhere or reach for the network.
:func:`run_sandboxed` runs it in a child interpreter with these layers; a layer that cannot be set
up on this machine is skipped, and ``SandboxResult.layers`` says which ones were active:

* ``netns``: the child moves itself into a new, empty network namespace before any dataset code
  runs (``unshare(CLONE_NEWNET)``: ``os.unshare`` on Python 3.12+, libc through ctypes before).
  Needs root or CAP_SYS_ADMIN; without it the child carries on with the audit hook alone. Doing
  the call in the child makes the ``unshare -n`` command unnecessary: same system call, no extra
  program.
* ``rlimits``: RLIMIT_AS (``memory_mb``), RLIMIT_CPU (``cpu_s``), RLIMIT_FSIZE and RLIMIT_CORE=0,
  set by the child on itself before the dataset code runs (no ``preexec_fn``, which is unsafe in a
  threaded parent). Raising them again is refused by the audit hook.
* ``audit``: a :func:`sys.addaudithook` hook, installed before the dataset code runs, refuses
  sockets and other network events, subprocesses (``subprocess.Popen``, ``os.system``,
  ``os.exec*``, ``os.fork``, ``os.posix_spawn``), signals to other processes, and any write,
  delete, rename, chmod or mkdir outside the work folder.
* ``wall``: the parent kills the child's whole process group after ``timeout_s``.
* ``env``: a minimal environment: no proxies or credentials; HOME, TMPDIR, XDG dirs and
  MPLCONFIGDIR inside the work folder; MPLBACKEND=Agg; one BLAS thread.

This is not a security boundary against code written to escape it: audit hooks do not see what
native code does (ctypes, C extensions), reads are not restricted, and Python code can tamper with
the interpreter. Together with rlimits, a network namespace and a throwaway folder they cover what
dataset scripts actually do wrong; run deliberately hostile code in a container or VM.

Reasons are ``"<kind>: <text>"``; :attr:`SandboxResult.kind` is the kind: ``timeout``, ``memory``,
``network``, ``write_outside``, ``subprocess``, ``forbidden`` (other refused actions) or
``error`` (``"error: <ExceptionType>: <message>"``). Renderers add ``no_output``.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

INTERNAL_DIRS = (".mplconfig", ".tmp", ".cache", ".config")
"""Folders the sandbox makes inside the work folder for HOME-like state; never listed in ``files``."""

TAIL_BYTES = 64 * 1024
MAX_FILES_LISTED = 1000
REASON_KINDS = ("timeout", "memory", "network", "write_outside", "subprocess", "forbidden", "error",
                "no_output")

_PROXY_VARS = {"http_proxy", "https_proxy", "ftp_proxy", "all_proxy", "no_proxy", "socks_proxy"}
_MEMORY_MARKERS = ("MemoryError", "std::bad_alloc", "Cannot allocate memory", "out of memory")


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
    """Files created or changed in the work folder, relative to it, sorted."""
    violations: tuple[str, ...] = ()
    """Refused actions, as reasons; a run that caught them and still finished stays ``ok``."""
    layers: tuple[str, ...] = ()
    """Isolation layers that were active: see the module docstring."""

    @property
    def kind(self) -> str | None:
        """The machine-readable part of ``reason`` ("timeout", "network", ...)."""
        return None if self.reason is None else self.reason.split(":", 1)[0]


def run_sandboxed(argv_or_code: str | Sequence[str], *, workdir: Path, timeout_s: float = 30,
                  memory_mb: int = 1024, cpu_s: float | None = None, allow_network: bool = False,
                  env: Mapping[str, str] | None = None, stdin: bytes | None = None,
                  fsize_mb: int = 256) -> SandboxResult:
    """Run Python source (a ``str``) or a script (``[path, *args]`` or ``["-m", module, *args]``).

    The child's cwd is ``workdir`` (created if missing; pass a fresh temporary folder) and it may
    write nowhere else. ``cpu_s`` defaults to the wall limit rounded up, plus one second.
    ``env`` adds variables to the minimal environment; ``stdin`` is fed to the child.
    """
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    for name in INTERNAL_DIRS:
        (workdir / name).mkdir(exist_ok=True)
    cpu_limit = math.ceil(cpu_s if cpu_s is not None else timeout_s + 1)
    before = _snapshot(workdir)
    with tempfile.TemporaryDirectory(prefix="babelvl-sandbox-") as control_name:
        control = Path(control_name)
        spec: dict[str, Any] = {"workdir": str(workdir), "allow_network": allow_network,
                                "memory_mb": memory_mb, "cpu_s": cpu_limit, "fsize_mb": fsize_mb,
                                "report": str(control / "report.jsonl")}
        if isinstance(argv_or_code, str):
            (control / "code.py").write_text(argv_or_code, encoding="utf-8")
            spec["code_file"] = str(control / "code.py")
        else:
            spec["argv"] = [os.fspath(arg) for arg in argv_or_code]
            if not spec["argv"]:
                raise ValueError("run_sandboxed: empty argv")
        command = [sys.executable, "-I", "-B", "-X", "utf8", str(Path(__file__).resolve()),
                   json.dumps(spec)]
        returncode, timed_out, seconds = _run(command, workdir=workdir, control=control,
                                              env=_child_env(workdir, env, allow_network),
                                              stdin=stdin, timeout_s=timeout_s)
        report = _read_report(control / "report.jsonl")
        stdout, stderr = _tail(control / "stdout"), _tail(control / "stderr")
    violations = tuple(report.get("violations", ()))
    reason = _reason(timed_out=timed_out, returncode=returncode, report=report, stderr=stderr,
                     timeout_s=timeout_s, cpu_s=cpu_limit, memory_mb=memory_mb)
    return SandboxResult(ok=reason is None, returncode=returncode, stdout=stdout, stderr=stderr,
                         reason=reason, seconds=round(seconds, 3),
                         files=_changed_files(workdir, before), violations=violations,
                         layers=tuple(report.get("layers", ())))


def probe_layers() -> tuple[str, ...]:
    """The isolation layers a sandboxed child gets on this machine (runs one tiny child)."""
    with tempfile.TemporaryDirectory(prefix="babelvl-probe-") as workdir:
        return run_sandboxed("pass", workdir=Path(workdir), timeout_s=30).layers


# --- parent side ----------------------------------------------------------------------------------

def _child_env(workdir: Path, extra: Mapping[str, str] | None, allow_network: bool) -> dict[str, str]:
    """A minimal environment: nothing inherited, so no proxies, tokens or user configuration."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(workdir), "LANG": "C.UTF-8",
           "LC_ALL": "C.UTF-8", "TMPDIR": str(workdir / ".tmp"), "MPLBACKEND": "Agg",
           "MPLCONFIGDIR": str(workdir / ".mplconfig"), "XDG_CACHE_HOME": str(workdir / ".cache"),
           "XDG_CONFIG_HOME": str(workdir / ".config"), "OMP_NUM_THREADS": "1",
           "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMEXPR_NUM_THREADS": "1"}
    for key, value in (extra or {}).items():
        if allow_network or key.lower() not in _PROXY_VARS:
            env[key] = value
    return env


def _run(command: list[str], *, workdir: Path, control: Path, env: dict[str, str],
         stdin: bytes | None, timeout_s: float) -> tuple[int | None, bool, float]:
    """Run the child in its own process group; kill the whole group when it ends or times out.

    Input and output go through files, not pipes: a child printing in a loop cannot fill the
    parent's memory (RLIMIT_FSIZE caps the files) and nothing can block on a full pipe.
    """
    (control / "stdin").write_bytes(stdin or b"")
    with open(control / "stdin", "rb") as feed, open(control / "stdout", "wb") as out, \
            open(control / "stderr", "wb") as err:
        start = time.monotonic()
        proc = subprocess.Popen(command, cwd=workdir, env=env, stdin=feed, stdout=out, stderr=err,
                                start_new_session=True, close_fds=True)
        try:
            finished = _wait_unreaped(proc, start + timeout_s)
        finally:
            _kill_group(proc)
            proc.wait()
        seconds = time.monotonic() - start
    return proc.returncode, not finished, seconds


def _wait_unreaped(proc: subprocess.Popen[bytes], deadline: float) -> bool:
    """Wait for the child to exit without reaping it: True if it did before ``deadline``.

    While the exited leader is unreaped its process-group id cannot be reused, so killing the
    group afterwards can only hit processes it left behind.
    """
    if not hasattr(os, "waitid"):  # macOS before Python 3.13
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            return True
        except subprocess.TimeoutExpired:
            return False
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


def _read_report(path: Path) -> dict[str, Any]:
    """Merge the child's JSON-lines report; malformed lines are ignored."""
    merged: dict[str, Any] = {"violations": []}
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return merged
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if not isinstance(event, dict):
            continue
        if "violation" in event:
            merged["violations"].append(str(event["violation"]))
        else:
            merged.update(event)
    return merged


def _tail(path: Path) -> str:
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        handle.seek(max(0, handle.tell() - TAIL_BYTES))
        return handle.read().decode("utf-8", errors="replace")


def _reason(*, timed_out: bool, returncode: int | None, report: dict[str, Any], stderr: str,
            timeout_s: float, cpu_s: int, memory_mb: int) -> str | None:
    violations = report.get("violations") or []
    if timed_out:
        return f"timeout: still running after {timeout_s:g} s (wall clock)"
    if returncode is not None and returncode < 0:
        number = -returncode
        if number == signal.SIGXCPU:
            return f"timeout: used up its {cpu_s} s of CPU time"
        if any(marker in stderr for marker in _MEMORY_MARKERS):
            return f"memory: killed by {_signal_name(number)} after running out of {memory_mb} MB"
        if violations:
            return violations[0]
        return f"error: killed by {_signal_name(number)}"
    if report.get("memory"):
        detail = ": ".join(str(part) for part in (report.get("exception"), report.get("message"))
                           if part)
        return f"memory: needed more than the {memory_mb} MB limit ({detail})"
    if returncode == 0:
        return None
    if violations:
        return violations[0]
    if report.get("exception"):
        return f"error: {report['exception']}: {report.get('message', '')}"
    last = next((line for line in reversed(stderr.splitlines()) if line.strip()), "")
    return f"error: exit status {returncode}" + (f": {last.strip()[:300]}" if last else "")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _snapshot(workdir: Path) -> dict[str, tuple[int, int]]:
    """(mtime_ns, size) of every regular file under ``workdir``, outside the internal folders."""
    found: dict[str, tuple[int, int]] = {}
    for root, dirs, names in os.walk(workdir):
        if Path(root) == workdir:
            dirs[:] = [d for d in dirs if d not in INTERNAL_DIRS]
        for name in names:
            path = Path(root) / name
            try:
                stat = path.lstat()
            except OSError:
                continue
            found[path.relative_to(workdir).as_posix()] = (stat.st_mtime_ns, stat.st_size)
            if len(found) >= MAX_FILES_LISTED:
                return found
    return found


def _changed_files(workdir: Path, before: dict[str, tuple[int, int]]) -> tuple[str, ...]:
    after = _snapshot(workdir)
    return tuple(sorted(name for name, state in after.items() if before.get(name) != state))


# --- child side: runs as ``python -I sandbox.py SPEC`` (so only the standard library is imported
# --- before the guard is in place) ---------------------------------------------------------------

class SandboxViolation(PermissionError):
    """Raised inside the child when the guard refuses an action (an OSError, like the real thing)."""


_NETWORK_EVENTS_EXTRA = {"urllib.Request", "http.client.connect", "ftplib.connect", "smtplib.connect",
                         "poplib.connect", "imaplib.open", "nntplib.connect", "telnetlib.Telnet.open",
                         "webbrowser.open"}
_SUBPROCESS_EVENTS = {"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn",
                      "os.fork", "os.forkpty", "os.startfile", "pty.spawn"}
# event -> ((path argument index, dir_fd argument index or None), ...) for filesystem changes.
_FS_EVENTS: dict[str, tuple[tuple[int, int | None], ...]] = {
    "os.remove": ((0, 1),), "os.rmdir": ((0, 1),), "os.mkdir": ((0, 2),),
    "os.rename": ((0, 2), (1, 3)), "os.link": ((1, 3),), "os.symlink": ((1, 2),),
    "os.truncate": ((0, None),), "os.chmod": ((0, 2),), "os.chown": ((0, 3),), "os.utime": ((0, 3),),
    "os.chflags": ((0, None),), "os.lchflags": ((0, None),), "os.setxattr": ((0, None),),
    "os.removexattr": ((0, None),), "shutil.rmtree": ((0, None),), "shutil.copyfile": ((1, None),),
    "shutil.copymode": ((1, None),), "shutil.copystat": ((1, None),), "shutil.copytree": ((1, None),),
    "shutil.move": ((0, None), (1, None)), "shutil.chown": ((0, None),),
    "shutil.make_archive": ((0, None),), "shutil.unpack_archive": ((1, None),),
    "tempfile.mkstemp": ((0, None),), "tempfile.mkdtemp": ((0, None),),
}
_FORBIDDEN_EVENTS = {"resource.setrlimit", "resource.prlimit", "os.kill", "os.killpg",
                     "socket.sethostname"}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_ALLOWED_OUTSIDE = {"/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty"}


class _Reporter:
    """Writes JSON lines to the parent's report file through an fd opened before the guard."""

    MAX_EVENTS = 50

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._sent = 0

    def send(self, **fields: Any) -> None:
        if self._sent >= self.MAX_EVENTS:
            return
        self._sent += 1
        try:
            os.write(self._fd, (json.dumps(fields, default=repr) + "\n").encode("utf-8"))
        except (OSError, ValueError):
            pass


class _Guard:
    """The audit hook: refuses network, subprocess and out-of-folder writes, reporting each."""

    def __init__(self, workdir: str, *, allow_network: bool, report: _Reporter) -> None:
        import threading

        self.root = os.path.realpath(workdir)
        self.allow_network = allow_network
        self.report = report
        self._local = threading.local()

    def __call__(self, event: str, args: tuple[Any, ...]) -> None:
        if getattr(self._local, "busy", False):
            return  # our own checks must not recurse into the hook
        self._local.busy = True
        try:
            refusal = self._check(event, args)
        finally:
            self._local.busy = False
        if refusal is not None:
            self.report.send(violation=refusal)
            raise SandboxViolation(f"[babelvl sandbox] {refusal}")

    def _check(self, event: str, args: tuple[Any, ...]) -> str | None:
        if event == "open":
            return self._check_open(args)
        if event in _FS_EVENTS:
            for path_index, fd_index in _FS_EVENTS[event]:
                if path_index >= len(args):
                    continue
                dir_fd = args[fd_index] if fd_index is not None and fd_index < len(args) else None
                if not self._inside(args[path_index], dir_fd):
                    return f"write_outside: {event} {_short(args[path_index])} is outside the work folder"
            return None
        if event == "socket.gethostname":
            return None
        if not self.allow_network and (event.startswith("socket.") or event in _NETWORK_EVENTS_EXTRA):
            return f"network: {event} refused {_short(args[1:] if event == 'socket.__new__' else args)}"
        if event in _SUBPROCESS_EVENTS:
            return f"subprocess: {event} refused {_short(args)}"
        if event in _FORBIDDEN_EVENTS:
            if event in ("os.kill", "os.killpg") and args and args[0] in (0, os.getpid()):
                return None
            return f"forbidden: {event} refused {_short(args)}"
        return None

    def _check_open(self, args: tuple[Any, ...]) -> str | None:
        path, mode, flags = (tuple(args) + (None, None, 0))[:3]
        if isinstance(mode, str):
            writing = any(char in mode for char in "wax+")
        else:
            writing = bool((flags or 0) & _WRITE_FLAGS)
        if not writing or isinstance(path, int) or self._inside(path, None):
            return None
        return f"write_outside: open({_short(path)}, {mode or flags!r}) is outside the work folder"

    def _inside(self, path: Any, dir_fd: Any) -> bool:
        try:
            if isinstance(path, int):
                path = os.readlink(f"/proc/self/fd/{path}")
                if not path.startswith("/"):
                    return True  # pipes and sockets the child already holds
            path = os.fsdecode(path)
            if path in _ALLOWED_OUTSIDE:
                return True
            if not os.path.isabs(path):
                # CPython passes dir_fd=-1 (or None) for "relative to the current directory"
                use_fd = isinstance(dir_fd, int) and dir_fd >= 0
                base = os.readlink(f"/proc/self/fd/{dir_fd}") if use_fd else os.getcwd()
                path = os.path.join(base, path)
            real = os.path.realpath(path)
        except (OSError, TypeError, ValueError):
            return False
        return real == self.root or real.startswith(self.root + os.sep)


def _short(value: Any, limit: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _set_limits(spec: Mapping[str, Any]) -> None:
    import resource

    def limit(which: int, soft: int, hard: int) -> None:
        _, current = resource.getrlimit(which)
        if current != resource.RLIM_INFINITY:  # never ask for more than the parent was allowed
            hard = min(hard, current)
            soft = min(soft, hard)
        resource.setrlimit(which, (soft, hard))

    memory = int(spec["memory_mb"]) * 1024 * 1024
    limit(resource.RLIMIT_AS, memory, memory)
    cpu = int(spec["cpu_s"])
    limit(resource.RLIMIT_CPU, cpu, cpu + 1)
    fsize = int(spec["fsize_mb"]) * 1024 * 1024
    limit(resource.RLIMIT_FSIZE, fsize, fsize)
    limit(resource.RLIMIT_CORE, 0, 0)


_CLONE_NEWNET = 0x40000000
_CLONE_NEWUSER = 0x10000000


def _unshare(flags: int) -> bool:
    if hasattr(os, "unshare"):  # Python 3.12+
        try:
            os.unshare(flags)
            return True
        except OSError:
            return False
    import ctypes  # before 3.12 the system call is only reachable through libc

    try:
        return ctypes.CDLL(None, use_errno=True).unshare(flags) == 0
    except (OSError, AttributeError):
        return False


def _enter_network_namespace() -> str | None:
    """Move this process into a new, empty network namespace; the layer name, or None if refused.

    Root (CAP_SYS_ADMIN) gets a plain network namespace. Other users get one inside a new user
    namespace where the kernel allows unprivileged ones; the uid and gid are mapped to themselves so
    files and ``os.getuid()`` look as before.
    """
    if not sys.platform.startswith("linux"):
        return None
    if _unshare(_CLONE_NEWNET):
        return "netns"
    uid, gid = os.getuid(), os.getgid()
    if not _unshare(_CLONE_NEWUSER | _CLONE_NEWNET):
        return None
    for name, text in (("setgroups", "deny"), ("gid_map", f"{gid} {gid} 1"),
                       ("uid_map", f"{uid} {uid} 1")):
        try:
            with open(f"/proc/self/{name}", "w") as handle:
                handle.write(text)
        except OSError:
            pass  # unmapped ids still work; they only show as the overflow id
    return "netns+userns"


def _is_memory_error(exc: BaseException | None) -> bool:
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, MemoryError):
            return True
        if isinstance(exc, OSError) and exc.errno == 12:  # ENOMEM
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def _child_main(spec_json: str) -> int:
    """Set limits and namespaces, install the guard, then run the dataset code or script."""
    import builtins
    import runpy
    import traceback

    spec = json.loads(spec_json)
    report = _Reporter(spec["report"])
    layers = ["env", "wall"]
    try:
        _set_limits(spec)
        layers.append("rlimits")
    except (ValueError, OSError) as exc:
        print(f"[babelvl sandbox] could not set resource limits: {exc}", file=sys.stderr)
    namespace_layer = None if spec["allow_network"] else _enter_network_namespace()
    if namespace_layer:
        layers.append(namespace_layer)
    code = None
    if "code_file" in spec:
        with open(spec["code_file"], encoding="utf-8") as handle:
            code = handle.read()
    sys.addaudithook(_Guard(spec["workdir"], allow_network=spec["allow_network"], report=report))
    layers.append("audit")
    report.send(layers=layers)

    status: Any = 0
    try:
        if code is not None:
            sys.argv = ["<sandboxed code>"]
            namespace = {"__name__": "__main__", "__builtins__": builtins}
            exec(compile(code, "<sandboxed code>", "exec"), namespace)  # noqa: S102 - the guarded child
        elif spec["argv"][0] == "-m":
            sys.argv = spec["argv"][1:]
            runpy.run_module(spec["argv"][1], run_name="__main__", alter_sys=True)
        else:
            sys.argv = spec["argv"]
            runpy.run_path(spec["argv"][0], run_name="__main__")
    except SystemExit as exc:
        status = exc.code
        if status not in (None, 0):
            report.send(exception="SystemExit", message=str(status))
    except BaseException as exc:  # noqa: BLE001 - every failure of dataset code is reported
        report.send(exception=type(exc).__name__, message=str(exc)[:500],
                    memory=_is_memory_error(exc))
        try:
            traceback.print_exc()
        except BaseException:  # noqa: BLE001, S110 - printing can fail when memory is exhausted
            pass
        status = 1
    report.send(exit=status if isinstance(status, int) else 1)
    if status is None:
        return 0
    return status if isinstance(status, int) else 1


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1]))
