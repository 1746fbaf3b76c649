"""OS isolation of the sandbox's call processes, with the kernel's own mechanisms (Linux only).

Loaded by path by :mod:`graph_toucan.mock.worker` (standard library only, plus ``pyseccomp``, the
ctypes bindings of libseccomp, found on the path the parent passes). Two steps:

* :func:`isolate_zygote`, once, in the zygote before it forks anything: new network, mount and IPC
  namespaces (and a new user namespace when not root), the whole file system remounted read-only,
  then a separate uid (``nobody``) when root, every capability dropped (bounding, ambient,
  effective, permitted), ``PR_SET_NO_NEW_PRIVS`` and non-dumpable.
* :func:`confine_call`, in each forked call process: killed with its zygote, a Landlock domain that
  handles every file-system right with no rule (no file can be opened), no TCP, no signals or
  abstract sockets outside itself, and a seccomp filter that allows only what pure computation needs.

Each step returns the layers it put in place, so the parent can report them and refuse to run when
a required one is missing (:data:`REQUIRED_LAYERS`).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os

REQUIRED_LAYERS = ("seccomp", "network_namespace", "no_new_privs", "capabilities_dropped", "separate_user")
NOBODY = 65534

_CLONE_NEWNS = 0x00020000
_CLONE_NEWIPC = 0x08000000
_CLONE_NEWUSER = 0x10000000
_CLONE_NEWNET = 0x40000000
_PR_SET_PDEATHSIG = 1
_PR_SET_DUMPABLE = 4
_PR_CAPBSET_DROP = 24
_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
_PR_CAP_AMBIENT = 47
_PR_CAP_AMBIENT_CLEAR_ALL = 4
_SYS_CAPSET = {"x86_64": 126, "aarch64": 91}
_SYS_MOUNT_SETATTR = 442
_SYS_LANDLOCK_CREATE_RULESET = 444
_SYS_LANDLOCK_RESTRICT_SELF = 446
_AT_FDCWD = -100
_AT_RECURSIVE = 0x8000
_AT_EMPTY_PATH = 0x1000
_MOUNT_ATTR_RDONLY = 0x1
_MOUNT_ATTR_NOSUID = 0x2
_MOUNT_ATTR_NODEV = 0x4
_MS_PRIVATE = 1 << 18

# Syscalls a call process may make: memory, signals, clocks, reading and writing the file
# descriptors it already has. Everything else (socket, connect, execve, clone/fork, kill, ptrace,
# mount, unshare, setuid, prctl, bpf, io_uring ...) fails with EPERM.
ALLOWED_SYSCALLS = (
    "read",
    "write",
    "readv",
    "writev",
    "close",
    "fstat",
    "lseek",
    "mmap",
    "munmap",
    "mprotect",
    "mremap",
    "brk",
    "madvise",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "sigaltstack",
    "getpid",
    "getppid",
    "gettid",
    "getuid",
    "geteuid",
    "getgid",
    "getegid",
    "clock_gettime",
    "clock_getres",
    "gettimeofday",
    "time",
    "nanosleep",
    "clock_nanosleep",
    "futex",
    "sched_yield",
    "getrandom",
    "setitimer",
    "getitimer",
    "getrusage",
    "getcwd",
    "poll",
    "ppoll",
    "exit",
    "exit_group",
)
# openat/open only without any flag that writes or creates (Landlock refuses the open itself).
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND | getattr(os, "O_TMPFILE", 0)


class _SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))


class IsolationError(Exception):
    """A layer that should be there could not be put in place."""


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


def _check(result: int, what: str) -> int:
    if result < 0:
        code = ctypes.get_errno()
        raise IsolationError(f"{what}: {os.strerror(code)} (errno {code})")
    return result


def _prctl(libc: ctypes.CDLL, option: int, arg: int = 0, what: str = "prctl") -> None:
    _check(libc.prctl(option, ctypes.c_ulong(arg), 0, 0, 0), what)


def _prctl_pointer(libc: ctypes.CDLL, option: int, arg: int, pointer: object) -> None:
    _check(libc.prctl(option, ctypes.c_ulong(arg), pointer, 0, 0), "PR_SET_SECCOMP")


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _drop_bounding_set(libc: ctypes.CDLL) -> None:
    """Empty the bounding and ambient sets (needs CAP_SETPCAP, so before any change of uid)."""
    try:
        with open("/proc/sys/kernel/cap_last_cap") as handle:
            last = int(handle.read())
    except OSError:
        last = 40
    for cap in range(last + 1):
        if (
            libc.prctl(_PR_CAPBSET_DROP, ctypes.c_ulong(cap), 0, 0, 0) < 0
            and ctypes.get_errno() != errno.EINVAL
        ):
            _check(-1, f"PR_CAPBSET_DROP {cap}")
    libc.prctl(_PR_CAP_AMBIENT, ctypes.c_ulong(_PR_CAP_AMBIENT_CLEAR_ALL), 0, 0, 0)


def _clear_capabilities(libc: ctypes.CDLL) -> None:
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable (x2): all empty
    number = _SYS_CAPSET.get(os.uname().machine)
    if number is None:
        raise IsolationError(f"capset: unknown syscall number on {os.uname().machine}")
    _check(libc.syscall(number, header, data), "capset")
    with open("/proc/self/status") as handle:
        caps = {k: v.strip() for k, _, v in (line.partition(":") for line in handle) if k.startswith("Cap")}
    if any(int(caps.get(k, "0"), 16) for k in ("CapEff", "CapPrm", "CapBnd", "CapAmb")):
        raise IsolationError(f"capabilities are still held: {caps}")


def _remount_read_only(libc: ctypes.CDLL) -> None:
    attr = (ctypes.c_uint64 * 4)(
        _MOUNT_ATTR_RDONLY | _MOUNT_ATTR_NOSUID | _MOUNT_ATTR_NODEV, 0, _MS_PRIVATE, 0
    )
    _check(
        libc.syscall(_SYS_MOUNT_SETATTR, _AT_FDCWD, b"/", _AT_RECURSIVE, attr, ctypes.sizeof(attr)),
        "mount_setattr / read-only",
    )


def isolate_zygote() -> dict[str, str]:
    """Put the zygote (and so every call process it forks) in its own namespaces, as another user,
    without capabilities. Returns ``layer -> how``; a layer that failed is absent, with the reason in
    ``"<layer>_error"``."""
    layers: dict[str, str] = {}
    if os.uname().sysname != "Linux":
        layers["platform_error"] = f"{os.uname().sysname} has none of the kernel mechanisms used here"
        return layers
    libc = _libc()
    root = os.geteuid() == 0
    uid, gid = os.getuid(), os.getgid()
    flags = _CLONE_NEWNET | _CLONE_NEWNS | _CLONE_NEWIPC | (0 if root else _CLONE_NEWUSER)
    try:
        _check(libc.unshare(flags), "unshare")
        layers["network_namespace"] = "new, with no interface up"
        layers["ipc_namespace"] = "new"
        if not root:
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/uid_map", f"{uid} {uid} 1")
            _write("/proc/self/gid_map", f"{gid} {gid} 1")
            layers["separate_user"] = f"new user namespace (uid {uid} mapped to itself only)"
    except (IsolationError, OSError) as exc:
        layers["network_namespace_error"] = (
            f"{exc}; user namespaces may be off (sysctl kernel.unprivileged_userns_clone=1, "
            "user.max_user_namespaces > 0) or forbidden by a container's seccomp profile"
        )
    if "network_namespace" in layers:
        try:
            _remount_read_only(libc)
            layers["mount_read_only"] = "the whole file system, in a private mount namespace"
        except IsolationError as exc:
            layers["mount_read_only_error"] = str(exc)
    try:
        _drop_bounding_set(libc)
    except (IsolationError, OSError) as exc:
        layers["capabilities_dropped_error"] = str(exc)
    try:
        if root:
            os.setgroups([])
            os.setresgid(NOBODY, NOBODY, NOBODY)
            os.setresuid(NOBODY, NOBODY, NOBODY)
            layers["separate_user"] = f"uid and gid {NOBODY} (nobody), no supplementary groups"
    except (IsolationError, OSError) as exc:
        layers["separate_user_error"] = f"cannot become uid {NOBODY}: {exc}"
    try:
        _clear_capabilities(libc)
        layers["capabilities_dropped"] = "bounding, ambient, effective, permitted and inheritable sets empty"
    except (IsolationError, OSError) as exc:
        layers["capabilities_dropped_error"] = str(exc)
    try:
        _prctl(libc, _PR_SET_NO_NEW_PRIVS, 1, "PR_SET_NO_NEW_PRIVS")
        layers["no_new_privs"] = "set"
    except IsolationError as exc:
        layers["no_new_privs_error"] = str(exc)
    try:
        _prctl(libc, _PR_SET_DUMPABLE, 0, "PR_SET_DUMPABLE")
        layers["non_dumpable"] = "zygote and call processes"
    except IsolationError as exc:
        layers["non_dumpable_error"] = str(exc)
    return layers


def make_non_dumpable() -> bool:
    """Mark this process non-dumpable: no process of the same uid can read its ``/proc/<pid>/environ``
    or memory, or ptrace it. False where the platform has no such switch."""
    if os.uname().sysname != "Linux":
        return False
    return _libc().prctl(_PR_SET_DUMPABLE, ctypes.c_ulong(0), 0, 0, 0) == 0


class Confinement:
    """What each call process applies to itself right after the fork; prepared once in the zygote."""

    def __init__(self) -> None:
        self.layers: dict[str, str] = {}
        self._libc = _libc() if os.uname().sysname == "Linux" else None
        self._landlock = self._prepare_landlock()
        self._filter = self._prepare_seccomp()

    def _prepare_landlock(self) -> tuple[ctypes.Array, int] | None:
        if self._libc is None:
            return None
        abi = self._libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, None, 0, 1)  # ..._VERSION
        if abi < 1:
            self.layers["landlock_error"] = "the kernel has no Landlock (5.13+, enabled in lsm=)"
            return None
        fs = (1 << 13) - 1  # execute, read, write, make and remove of every kind (ABI 1)
        fs |= (1 << 13 if abi >= 2 else 0) | (1 << 14 if abi >= 3 else 0) | (1 << 15 if abi >= 5 else 0)
        net = 0b11 if abi >= 4 else 0  # bind and connect TCP
        scoped = 0b11 if abi >= 6 else 0  # abstract unix sockets and signals outside the domain
        size = 24 if abi >= 6 else 16 if abi >= 4 else 8
        attr = (ctypes.c_uint64 * 3)(fs, net, scoped)
        parts = (
            ["no file can be opened"] + (["no TCP"] if net else []) + (["no signal out"] if scoped else [])
        )
        self.layers["landlock"] = f"ABI {abi}: " + ", ".join(parts)
        return attr, size

    def _prepare_seccomp(self):
        if self._libc is None:
            return None
        try:
            import pyseccomp
        except (ImportError, RuntimeError) as exc:
            self.layers["seccomp_error"] = (
                f"libseccomp's bindings cannot be loaded ({exc}); install the libseccomp2 package "
                "and the pyseccomp Python package"
            )
            return None
        filt = pyseccomp.SyscallFilter(pyseccomp.ERRNO(errno.EPERM))
        for name in ALLOWED_SYSCALLS:
            try:
                filt.add_rule(pyseccomp.ALLOW, name)
            except (OSError, ValueError, RuntimeError):
                continue  # not a syscall on this architecture (time, poll on aarch64)
        no_write = pyseccomp.Arg(2, pyseccomp.MASKED_EQ, _WRITE_FLAGS, 0)
        filt.add_rule(pyseccomp.ALLOW, "openat", no_write)
        with contextlib.suppress(OSError, ValueError, RuntimeError):  # x86_64 only
            filt.add_rule(pyseccomp.ALLOW, "open", pyseccomp.Arg(1, pyseccomp.MASKED_EQ, _WRITE_FLAGS, 0))
        # its own limits, read only
        filt.add_rule(
            pyseccomp.ALLOW, "prlimit64", pyseccomp.Arg(0, pyseccomp.EQ, 0), pyseccomp.Arg(2, pyseccomp.EQ, 0)
        )
        # fstat of a descriptor it holds (glibc's fstat is newfstatat(fd, "", AT_EMPTY_PATH)), never a path
        for name, flags in (("newfstatat", 3), ("statx", 2)):
            with contextlib.suppress(OSError, ValueError, RuntimeError):
                filt.add_rule(
                    pyseccomp.ALLOW,
                    name,
                    pyseccomp.Arg(flags, pyseccomp.MASKED_EQ, _AT_EMPTY_PATH, _AT_EMPTY_PATH),
                )
        for name, arg in (("fcntl", 1),):
            for command in (1, 3):  # F_GETFD, F_GETFL
                filt.add_rule(pyseccomp.ALLOW, name, pyseccomp.Arg(arg, pyseccomp.EQ, command))
        # libseccomp compiles the filter to BPF once, here; each call process only loads the program
        read, write = os.pipe()
        try:
            with os.fdopen(write, "wb", closefd=True) as sink:
                filt.export_bpf(sink)
            chunks = []
            while chunk := os.read(read, 1 << 16):
                chunks.append(chunk)
        finally:
            os.close(read)
        program = b"".join(chunks)
        self._bpf = ctypes.create_string_buffer(program, len(program))
        self.layers["seccomp"] = (
            f"libseccomp allow-list of {len(ALLOWED_SYSCALLS) + 7} syscalls ({len(program) // 8} BPF "
            "instructions), EPERM for the rest (no socket, connect, execve, clone, kill, ptrace, open for writing)"
        )
        return _SockFprog(len(program) // 8, ctypes.cast(self._bpf, ctypes.c_void_p))

    def apply(self) -> None:
        """In the call process: every layer prepared, or die trying (never run a mock half-confined)."""
        libc = self._libc
        if libc is None:
            return
        _prctl(libc, _PR_SET_PDEATHSIG, 9, "PR_SET_PDEATHSIG")
        _prctl(libc, _PR_SET_NO_NEW_PRIVS, 1, "PR_SET_NO_NEW_PRIVS")
        if self._landlock is not None:
            attr, size = self._landlock
            fd = _check(libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, attr, size, 0), "landlock_create_ruleset")
            try:
                _check(libc.syscall(_SYS_LANDLOCK_RESTRICT_SELF, fd, 0), "landlock_restrict_self")
            finally:
                os.close(fd)
        if self._filter is not None:
            _prctl_pointer(libc, _PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(self._filter))
