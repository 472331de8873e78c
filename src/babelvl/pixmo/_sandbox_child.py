"""Runs INSIDE the sandbox: set limits, install the filters, run the untrusted code, hand back one file.

Usage (only by :func:`babelvl.pixmo.sandbox.run_sandboxed`)::

    python -I -B -X utf8 _sandbox_child.py SPEC.json

Standard library only, run by path (never imported from the babelvl package), so nothing but this
file and the standard library runs before the guards are in place. In order it:

1. copies the parent's seed files into the work folder (e.g. matplotlib's font list);
2. sets rlimits (address space, CPU, file size, core, processes) on itself;
3. installs a seccomp filter through libseccomp (ctypes): creating processes, exec, ptrace, namespace
   and mount calls kill the whole process (SIGSYS, which no script can catch); non-Unix sockets
   fail with EPERM. Skipped when libseccomp is missing (``layers`` then lacks ``seccomp``);
4. installs the audit hook (a second layer that gives a readable reason for the same refusals);
5. runs the code, then writes the file named ``output`` (if any) to the output pipe.

Refusals are written to the report pipe as they happen, through a file descriptor the parent
opened: a script that catches the refusal cannot take back what was already sent, and the parent
fails the run on any refusal it receives.
"""

from __future__ import annotations

import _thread
import json
import os
import stat
import sys
from typing import Any, Mapping


_NETWORK_EVENTS_EXTRA = {"urllib.Request", "http.client.connect", "ftplib.connect", "smtplib.connect",
                         "poplib.connect", "imaplib.open", "nntplib.connect", "telnetlib.Telnet.open",
                         "webbrowser.open"}
_SUBPROCESS_EVENTS = {"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn",
                      "os.fork", "os.forkpty", "os.startfile", "pty.spawn"}
# event -> ((path argument index, dir_fd argument index or None), ...) for filesystem changes.
_FS_EVENTS: dict[str, tuple[tuple[int, int | None], ...]] = {
    "os.remove": ((0, 1),), "os.rmdir": ((0, 1),), "os.mkdir": ((0, 2),),
    "os.rename": ((0, 2), (1, 3)), "os.link": ((0, 2), (1, 3)), "os.symlink": ((1, 2),),
    "os.truncate": ((0, None),), "os.chmod": ((0, 2),), "os.chown": ((0, 3),), "os.utime": ((0, 3),),
    "os.chflags": ((0, None),), "os.lchflags": ((0, None),), "os.setxattr": ((0, None),),
    "os.removexattr": ((0, None),), "shutil.rmtree": ((0, None),), "shutil.copyfile": ((1, None),),
    "shutil.copymode": ((1, None),), "shutil.copystat": ((1, None),), "shutil.copytree": ((1, None),),
    "shutil.move": ((0, None), (1, None)), "shutil.chown": ((0, None),),
    "shutil.make_archive": ((0, None),), "shutil.unpack_archive": ((1, None),),
    "tempfile.mkstemp": ((0, None),), "tempfile.mkdtemp": ((0, None),),
}
# Ways to reach the hook's state or native code, and limits a script must not raise.
_FORBIDDEN_EVENTS = {"resource.setrlimit", "resource.prlimit", "os.kill", "os.killpg",
                     "socket.sethostname", "sys.addaudithook", "ctypes.dlopen", "ctypes.dlsym",
                     "ctypes.dlsym/handle", "ctypes.addressof", "ctypes.set_errno",
                     "gc.get_referrers", "gc.get_objects", "gc.get_referents", "sys.settrace",
                     "sys.setprofile", "sys._current_frames", "sys._current_exceptions",
                     "sys.monitoring.register_callback", "code.__new__", "function.__new__",
                     "cpython.PyInterpreterState_Clear", "cpython._PySys_ClearAuditHooks"}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_ALLOWED_OUTSIDE = {"/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty"}
REFUSED_EXIT = 113
"""Exit status of a child stopped by the audit hook (the reason is on the report pipe)."""


class _Reporter:
    """Writes JSON lines to the parent's report pipe (an fd the parent opened)."""

    MAX_EVENTS = 50
    __slots__ = ("_fd", "_sent")

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._sent = 0

    def send(self, **fields: Any) -> None:
        if self._sent >= self.MAX_EVENTS:
            return
        self._sent += 1
        try:
            os.write(self._fd, (json.dumps(fields) + "\n").encode("utf-8"))
        except (OSError, ValueError):
            pass


class _Guard:
    """The audit hook: on the first refused action it reports the reason and ends the process.

    Ending the process, rather than raising, is deliberate: a script cannot catch the refusal and
    carry on, and no traceback hands the script a frame of this hook (through which it could reach
    the hook's state). The hook never calls the script's code either: arguments are inspected only
    when they are plain ``str``/``bytes``/``int`` values (no ``__fspath__`` or ``__repr__`` runs).
    """

    __slots__ = ("roots", "allow_network", "report", "_busy")

    def __init__(self, roots: tuple[str, ...], *, allow_network: bool, report: _Reporter) -> None:
        self.roots = tuple(os.path.realpath(root) for root in roots)
        self.allow_network = allow_network
        self.report = report
        self._busy: set[int] = set()  # per thread: another thread's events are never skipped

    def __call__(self, event: str, args: tuple[Any, ...]) -> None:
        thread = _thread.get_ident()
        if thread in self._busy:
            return  # our own checks must not recurse into the hook
        self._busy.add(thread)
        try:
            refusal = self._check(event, args)
        except BaseException as exc:  # noqa: BLE001 - a failing check is a refusal, never a pass
            refusal = f"forbidden: {event} could not be checked ({type(exc).__name__})"
        if refusal is None:
            self._busy.discard(thread)
            return
        self.report.send(violation=refusal)
        try:
            os.write(2, f"[babelvl sandbox] stopped: {refusal}\n".encode("utf-8", "replace"))
        finally:
            os._exit(REFUSED_EXIT)

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
            if event in ("os.kill", "os.killpg") and args and type(args[0]) is int \
                    and args[0] in (0, os.getpid()):
                return None
            return f"forbidden: {event} refused {_short(args)}"
        return None

    def _check_open(self, args: tuple[Any, ...]) -> str | None:
        path, mode, flags = (tuple(args) + (None, None, 0))[:3]
        if type(mode) is str:
            writing = any(char in mode for char in "wax+")
        else:
            writing = bool((flags if type(flags) is int else _WRITE_FLAGS) & _WRITE_FLAGS)
        if not writing or type(path) is int or self._inside(path, None):
            return None
        return f"write_outside: open({_short(path)}, {_short(mode or flags)}) is outside the work folder"

    def _inside(self, path: Any, dir_fd: Any) -> bool:
        try:
            if type(path) is int:
                path = os.readlink(f"/proc/self/fd/{path}")
                if not path.startswith("/"):
                    return True  # pipes and sockets the child already holds
            if type(path) is bytes:
                path = os.fsdecode(path)
            if type(path) is not str:
                return False  # only plain values are inspected: no script code runs in the hook
            if path in _ALLOWED_OUTSIDE:
                return True
            if not os.path.isabs(path):
                # CPython passes dir_fd=-1 (or None) for "relative to the current directory"
                use_fd = type(dir_fd) is int and dir_fd >= 0
                base = os.readlink(f"/proc/self/fd/{dir_fd}") if use_fd else os.getcwd()
                path = os.path.join(base, path)
            real = os.path.realpath(path)
        except (OSError, TypeError, ValueError):
            return False
        return any(real == root or real.startswith(root + os.sep) for root in self.roots)


def _short(value: Any, limit: int = 160) -> str:
    """repr() of plain values only (a script's own ``__repr__`` must never run inside the hook)."""
    if type(value) in (tuple, list):
        text = "(" + ", ".join(_short(item, limit) for item in value[:8]) + ")"
    elif type(value) in (str, bytes, int, float, bool) or value is None:
        text = repr(value)
    else:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[:limit] + "..."


# --- rlimits -----------------------------------------------------------------------------------------

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
    # Counts every process of the (host) user, threads included; root is exempt by the kernel. The
    # seccomp filter is what stops process creation; this bounds a fork bomb where seccomp is absent.
    limit(resource.RLIMIT_NPROC, int(spec.get("nproc", 4096)), int(spec.get("nproc", 4096)))


# --- seccomp through libseccomp --------------------------------------------------------------------

_SCMP_ACT_ALLOW = 0x7FFF0000
_SCMP_ACT_KILL_PROCESS = 0x80000000


def _scmp_errno(number: int) -> int:
    return 0x00050000 | (number & 0xFFFF)


# Killed on sight: nothing a plotting script does needs them, and each is a known way out.
_KILL_SYSCALLS = ("execve", "execveat", "fork", "vfork", "ptrace", "process_vm_readv",
                  "process_vm_writev", "setns", "unshare", "mount", "umount2", "pivot_root", "chroot",
                  "move_mount", "open_tree", "fsopen", "fsmount", "fspick", "keyctl", "add_key",
                  "request_key", "bpf", "perf_event_open", "userfaultfd", "kexec_load",
                  "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot",
                  "swapon", "swapoff", "acct", "quotactl", "name_to_handle_at", "open_by_handle_at",
                  "kcmp", "io_uring_setup", "io_uring_enter", "io_uring_register", "setsid",
                  "setpgid", "personality", "syslog", "mknod", "mknodat", "pidfd_getfd",
                  "process_madvise")
_CLONE_THREAD = 0x00010000
_AF_UNIX = 1
_SCMP_CMP_NE = 1
_SCMP_CMP_MASKED_EQ = 7


def _install_seccomp() -> bool:
    """Load the filter; False when libseccomp is not available here."""
    import ctypes
    import ctypes.util
    import errno

    name = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
    try:
        lib = ctypes.CDLL(name, use_errno=True)
    except OSError:
        return False

    class ArgCmp(ctypes.Structure):
        _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                    ("datum_b", ctypes.c_uint64)]

    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                           ctypes.c_uint, ctypes.POINTER(ArgCmp)]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    ctx = lib.seccomp_init(_SCMP_ACT_ALLOW)
    if not ctx:
        return False

    def rule(action: int, syscall: str, *cmps: tuple[int, int, int, int]) -> None:
        number = lib.seccomp_syscall_resolve_name(syscall.encode())
        if number < 0:
            return  # not on this architecture (fork and vfork do not exist on arm64)
        array = (ArgCmp * max(1, len(cmps)))(*[ArgCmp(*cmp) for cmp in cmps])
        if lib.seccomp_rule_add_array(ctx, action, number, len(cmps), array) != 0:
            raise OSError(f"seccomp rule for {syscall} refused")

    try:
        for syscall in _KILL_SYSCALLS:
            rule(_SCMP_ACT_KILL_PROCESS, syscall)
        # clone: threads only (a new process would not carry CLONE_THREAD).
        rule(_SCMP_ACT_KILL_PROCESS, "clone", (0, _SCMP_CMP_MASKED_EQ, _CLONE_THREAD, 0))
        # clone3 passes its flags in memory, which a filter cannot read: ENOSYS makes glibc fall back
        # to clone, which the rule above checks.
        rule(_scmp_errno(errno.ENOSYS), "clone3")
        rule(_scmp_errno(errno.EPERM), "socket", (0, _SCMP_CMP_NE, _AF_UNIX, 0))
        if lib.seccomp_load(ctx) != 0:
            return False
    finally:
        lib.seccomp_release(ctx)
    return True


# --- running the code --------------------------------------------------------------------------------

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


def _seed(source: str, target: str) -> None:
    """Copy the parent's seed folder (read-only inside) into the work folder."""
    import shutil

    if os.path.isdir(source):
        shutil.copytree(source, target, dirs_exist_ok=True)


def _send_output(path: str, fd: int, max_bytes: int, report: _Reporter) -> None:
    """Write the output file to the output pipe; a link, a non-file or an oversize file is refused."""
    try:
        if stat.S_ISLNK(os.lstat(path).st_mode):
            report.send(violation=f"forbidden: the output {os.path.basename(path)} is a link")
            return
        handle = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return
    try:
        info = os.fstat(handle)
        if not stat.S_ISREG(info.st_mode):
            report.send(violation=f"forbidden: the output {os.path.basename(path)} is not a regular file")
            return
        if info.st_size > max_bytes:
            report.send(output_too_large=info.st_size)
            return
        remaining = max_bytes + 1
        while remaining > 0:
            chunk = os.read(handle, min(1 << 20, remaining))
            if not chunk:
                break
            os.write(fd, chunk)
            remaining -= len(chunk)
    finally:
        os.close(handle)


def main(spec_path: str) -> int:
    """Set limits and filters, install the guard, then run the code or script."""
    import builtins
    import runpy
    import traceback

    with open(spec_path, encoding="utf-8") as handle:
        spec = json.load(handle)
    report = _Reporter(int(spec["report_fd"]))
    output_fd = int(spec["output_fd"])
    layers = list(spec.get("layers", ()))
    os.chdir(spec["workdir"])
    if spec.get("seed"):
        _seed(spec["seed"], spec["workdir"])
    for folder in spec.get("make_dirs", ()):
        os.makedirs(folder, exist_ok=True)
    sys.path[:0] = [path for path in spec.get("sys_path", ()) if path not in sys.path]
    code = None
    if "code_file" in spec:
        with open(spec["code_file"], encoding="utf-8") as handle:
            code = handle.read()
    try:
        _set_limits(spec)
        layers.append("rlimits")
    except (ValueError, OSError) as exc:
        print(f"[babelvl sandbox] could not set resource limits: {exc}", file=sys.stderr)
    if spec.get("seccomp", True):
        try:
            if _install_seccomp():
                layers.append("seccomp")
        except OSError as exc:
            print(f"[babelvl sandbox] no seccomp filter: {exc}", file=sys.stderr)
    import ctypes  # noqa: F401 - imported before the hook: later imports must not need dlopen

    if spec.get("audit", True):
        report.send(layers=[*layers, "audit"])
        sys.addaudithook(_Guard(tuple(spec["writable"]), allow_network=spec["allow_network"],
                                report=report))
    else:
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
    except BaseException as exc:  # noqa: BLE001 - every failure of the code is reported
        report.send(exception=type(exc).__name__, message=str(exc)[:500],
                    memory=_is_memory_error(exc))
        try:
            traceback.print_exc()
        except BaseException:  # noqa: BLE001, S110 - printing can fail when memory is exhausted
            pass
        status = 1
    if spec.get("output"):
        _send_output(os.path.join(spec["workdir"], spec["output"]), output_fd,
                     int(spec["max_output_bytes"]), report)
    report.send(files=_list_files(spec["workdir"]))
    if status is None:
        return 0
    return status if isinstance(status, int) else 1


def _list_files(root: str, limit: int = 200) -> list[str]:
    """Files the code left in the work folder (reported by the child, so informational only)."""
    found: list[str] = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if not (folder == root and d.startswith("."))]
        for name in names:
            found.append(os.path.relpath(os.path.join(folder, name), root))
            if len(found) >= limit:
                return sorted(found)
    return sorted(found)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
