"""Seccomp: Docker-format profiles (containers-common's ``seccomp.json``) to OCI ``linux.seccomp``.

Imports: stdlib and ``wharf.errdefs`` only.

The profile format (Docker's and containers-common's)::

    {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
     "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", ...]}],
     "syscalls": [{"names": [...], "action": "SCMP_ACT_ALLOW", "errnoRet": 1,
                   "args": [{"index": 0, "value": 8, "valueTwo": 0, "op": "SCMP_CMP_EQ"}],
                   "includes": {"caps": [...], "arches": ["amd64"], "minKernel": "4.8"},
                   "excludes": {...}}]}

Conversion rules (moby's profiles/seccomp): only the host's architecture and its
sub-architectures are listed; a rule is kept when every ``includes`` condition holds (all its
caps in the container's set, the host arch among its arches, the kernel at least minKernel)
and no ``excludes`` condition does (none of its caps in the set, the arch not among its
arches, the kernel older than minKernel). ``errno`` names ("EPERM") are turned into numbers.

Invariants: parsed profiles are immutable and cached by (path, mtime, size), so a daemon parses
the system file once. When the system file is missing the built-in ``BUILTIN_PROFILE`` is used:
a default-deny allow-list with Docker's intent (EPERM by default; namespace, mount, module,
clock, reboot, ptrace-style calls allowed only with the capability that guards them; ``clone``
without namespace flags for containers without CAP_SYS_ADMIN).
"""

from __future__ import annotations

import errno as errno_mod
import json
import os
import platform
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wharf.errdefs import InvalidArgument

SYSTEM_PROFILE = Path("/usr/share/containers/seccomp.json")

ACTIONS = frozenset(
    {
        "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_TRAP",
        "SCMP_ACT_ERRNO",
        "SCMP_ACT_TRACE",
        "SCMP_ACT_ALLOW",
        "SCMP_ACT_LOG",
        "SCMP_ACT_NOTIFY",
    }
)
OPERATORS = frozenset(
    {
        "SCMP_CMP_NE",
        "SCMP_CMP_LT",
        "SCMP_CMP_LE",
        "SCMP_CMP_EQ",
        "SCMP_CMP_GE",
        "SCMP_CMP_GT",
        "SCMP_CMP_MASKED_EQ",
    }
)

# platform.machine() -> the arch names profiles use in includes/excludes (libseccomp's).
_MACHINE_TO_NATIVE = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "i386": "x86",
    "i686": "x86",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "arm",
    "armv6l": "arm",
    "ppc64le": "ppc64le",
    "ppc64": "ppc64",
    "s390x": "s390x",
    "s390": "s390",
    "mips64": "mips64",
    "riscv64": "riscv64",
}
# Native arch name -> SCMP_ARCH_* (the keys of archMap).
NATIVE_TO_SCMP = {
    "x86": "SCMP_ARCH_X86",
    "amd64": "SCMP_ARCH_X86_64",
    "x32": "SCMP_ARCH_X32",
    "arm": "SCMP_ARCH_ARM",
    "arm64": "SCMP_ARCH_AARCH64",
    "mips": "SCMP_ARCH_MIPS",
    "mips64": "SCMP_ARCH_MIPS64",
    "mips64n32": "SCMP_ARCH_MIPS64N32",
    "mipsel": "SCMP_ARCH_MIPSEL",
    "mipsel64": "SCMP_ARCH_MIPSEL64",
    "mipsel64n32": "SCMP_ARCH_MIPSEL64N32",
    "ppc": "SCMP_ARCH_PPC",
    "ppc64": "SCMP_ARCH_PPC64",
    "ppc64le": "SCMP_ARCH_PPC64LE",
    "s390": "SCMP_ARCH_S390",
    "s390x": "SCMP_ARCH_S390X",
    "riscv64": "SCMP_ARCH_RISCV64",
}


@dataclass(frozen=True, slots=True)
class SyscallArg:
    index: int
    value: int
    value_two: int = 0
    op: str = "SCMP_CMP_EQ"


@dataclass(frozen=True, slots=True)
class RuleFilter:
    """An ``includes`` or ``excludes`` block; empty fields impose nothing."""

    caps: tuple[str, ...] = ()
    arches: tuple[str, ...] = ()
    min_kernel: tuple[int, ...] | None = None


@dataclass(frozen=True, slots=True)
class SyscallRule:
    names: tuple[str, ...]
    action: str
    errno_ret: int | None = None
    args: tuple[SyscallArg, ...] = ()
    includes: RuleFilter = field(default_factory=RuleFilter)
    excludes: RuleFilter = field(default_factory=RuleFilter)


@dataclass(frozen=True, slots=True)
class SeccompProfile:
    """A parsed Docker-format profile. ``arch_map``: SCMP arch -> its sub-architectures;
    ``architectures``: the profile's flat list, when it has one instead of an arch map."""

    default_action: str
    syscalls: tuple[SyscallRule, ...]
    default_errno_ret: int | None = None
    arch_map: tuple[tuple[str, tuple[str, ...]], ...] = ()
    architectures: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    source: str = ""


# ---- parsing -------------------------------------------------------------------------------


def parse_profile(data: bytes | str, *, source: str = "") -> SeccompProfile:
    """Parse a Docker-format profile; malformed input raises InvalidArgument."""
    where = f" {source}" if source else ""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"invalid seccomp profile{where}: {exc}") from exc
    if not isinstance(doc, dict):
        raise InvalidArgument(f"invalid seccomp profile{where}: not a JSON object")
    try:
        return _profile_from_doc(doc, source)
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidArgument(f"invalid seccomp profile{where}: {exc}") from exc


def _profile_from_doc(doc: Mapping[str, Any], source: str) -> SeccompProfile:
    default_action = str(doc.get("defaultAction") or "")
    if default_action and default_action not in ACTIONS:
        raise ValueError(f"unknown defaultAction {default_action!r}")
    if doc.get("architectures") and doc.get("archMap"):
        raise ValueError("'architectures' and 'archMap' were both given; use one")
    arch_map = tuple(
        (str(entry["architecture"]), tuple(str(s) for s in entry.get("subArchitectures") or ()))
        for entry in doc.get("archMap") or ()
    )
    rules = tuple(_rule_from_doc(entry) for entry in doc.get("syscalls") or ())
    if rules and not default_action:
        raise ValueError("defaultAction is missing")
    return SeccompProfile(
        default_action=default_action,
        default_errno_ret=_errno(doc.get("defaultErrnoRet"), doc.get("defaultErrno")),
        arch_map=arch_map,
        architectures=tuple(str(a) for a in doc.get("architectures") or ()),
        flags=tuple(str(f) for f in doc.get("flags") or ()),
        syscalls=rules,
        source=source,
    )


def _rule_from_doc(entry: Mapping[str, Any]) -> SyscallRule:
    names: list[str] = [str(n) for n in entry.get("names") or ()]
    if entry.get("name"):
        if names:
            raise ValueError("a syscall rule has both 'name' and 'names'")
        names = [str(entry["name"])]
    action = str(entry["action"])
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    args = []
    for arg in entry.get("args") or ():
        op = str(arg["op"])
        if op not in OPERATORS:
            raise ValueError(f"unknown operator {op!r}")
        args.append(
            SyscallArg(int(arg["index"]), int(arg["value"]), int(arg.get("valueTwo") or 0), op)
        )
    return SyscallRule(
        names=tuple(names),
        action=action,
        errno_ret=_errno(entry.get("errnoRet"), entry.get("errno")),
        args=tuple(args),
        includes=_filter_from_doc(entry.get("includes")),
        excludes=_filter_from_doc(entry.get("excludes")),
    )


def _filter_from_doc(doc: Mapping[str, Any] | None) -> RuleFilter:
    if not doc:
        return RuleFilter()
    min_kernel = doc.get("minKernel")
    return RuleFilter(
        caps=tuple(str(c) for c in doc.get("caps") or ()),
        arches=tuple(str(a) for a in doc.get("arches") or ()),
        min_kernel=parse_kernel_version(str(min_kernel)) if min_kernel else None,
    )


def _errno(number: object, name: object) -> int | None:
    if number is not None:
        if isinstance(number, bool) or not isinstance(number, int):
            raise ValueError(f"errno {number!r} is not a number")
        return number
    if name:
        code = getattr(errno_mod, str(name), None)
        if not isinstance(code, int):
            raise ValueError(f"unknown errno name {name!r}")
        return code
    return None


def parse_kernel_version(text: str) -> tuple[int, ...]:
    """``"6.18.44-fc-v669"`` -> (6, 18, 44); ``"4.8"`` -> (4, 8)."""
    parts: list[int] = []
    for piece in text.split(".")[:3]:
        digits = ""
        for ch in piece:
            if not ch.isdigit():
                break
            digits += ch
        if not digits:
            break
        parts.append(int(digits))
        if len(digits) != len(piece):
            break
    if not parts:
        raise ValueError(f"invalid kernel version {text!r}")
    return tuple(parts)


# ---- loading and caching -----------------------------------------------------------------

_cache_lock = threading.Lock()
_cache: dict[str, tuple[tuple[int, int], SeccompProfile]] = {}


def load_profile(path: Path) -> SeccompProfile:
    """Parse the profile at ``path``, cached until the file changes (mtime or size)."""
    try:
        st = path.stat()
        key = (st.st_mtime_ns, st.st_size)
        with _cache_lock:
            hit = _cache.get(str(path))
        if hit is not None and hit[0] == key:
            return hit[1]
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidArgument(f"cannot read seccomp profile {path}: {exc.strerror}") from exc
    profile = parse_profile(data, source=str(path))
    with _cache_lock:
        _cache[str(path)] = (key, profile)
    return profile


def default_profile(path: Path = SYSTEM_PROFILE) -> SeccompProfile:
    """The system's profile (containers-common) when installed, else ``BUILTIN_PROFILE``."""
    if path.is_file():
        return load_profile(path)
    return BUILTIN_PROFILE


# ---- conversion --------------------------------------------------------------------------


def native_arch(machine: str | None = None) -> str:
    """The host architecture as profiles name it in ``arches`` (``amd64``, ``arm64``...)."""
    m = machine if machine is not None else platform.machine()
    return _MACHINE_TO_NATIVE.get(m, m)


def host_kernel() -> tuple[int, ...]:
    return parse_kernel_version(os.uname().release)


def to_oci(
    profile: SeccompProfile,
    capabilities: Collection[str],
    *,
    arch: str | None = None,
    kernel: tuple[int, ...] | None = None,
) -> dict[str, object] | None:
    """The OCI ``linux.seccomp`` object for a container with ``capabilities`` (its bounding
    set) on ``arch`` (native name; default the host's) and ``kernel`` (default the host's).
    None when the profile disables seccomp (no default action and no rules, as Docker reads it)."""
    if not profile.default_action and not profile.syscalls:
        return None
    native = arch if arch is not None else native_arch()
    kern = kernel if kernel is not None else host_kernel()
    caps = frozenset(capabilities)
    out: dict[str, object] = {"defaultAction": profile.default_action}
    if profile.default_errno_ret is not None and profile.default_action == "SCMP_ACT_ERRNO":
        out["defaultErrnoRet"] = profile.default_errno_ret
    architectures = list(profile.architectures)
    scmp = NATIVE_TO_SCMP.get(native)
    for main, subs in profile.arch_map:
        if main == scmp:
            architectures += [main, *subs]
            break
    if architectures:
        out["architectures"] = architectures
    if profile.flags:
        out["flags"] = list(profile.flags)
    syscalls: list[dict[str, object]] = []
    for rule in profile.syscalls:
        if not rule.names or not _applies(rule, caps, native, kern):
            continue
        call: dict[str, object] = {"names": list(rule.names), "action": rule.action}
        if rule.errno_ret is not None and rule.action == "SCMP_ACT_ERRNO":
            call["errnoRet"] = rule.errno_ret
        if rule.args:
            call["args"] = [
                {"index": a.index, "value": a.value, "valueTwo": a.value_two, "op": a.op}
                for a in rule.args
            ]
        syscalls.append(call)
    out["syscalls"] = syscalls
    return out


def _applies(rule: SyscallRule, caps: frozenset[str], arch: str, kernel: tuple[int, ...]) -> bool:
    exc, inc = rule.excludes, rule.includes
    if arch in exc.arches or any(c in caps for c in exc.caps):
        return False
    if exc.min_kernel is not None and kernel >= exc.min_kernel:
        return False
    if inc.arches and arch not in inc.arches:
        return False
    if any(c not in caps for c in inc.caps):
        return False
    return inc.min_kernel is None or kernel >= inc.min_kernel


# ---- the built-in profile ----------------------------------------------------------------

# Calls any process may make: files, memory, signals, time reading, sockets, ids, scheduling.
_ALLOWED = """
accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown chown32
clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64
clock_nanosleep clock_nanosleep_time64 close close_range connect copy_file_range creat dup dup2
dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait
epoll_wait_old eventfd eventfd2 execve execveat exit exit_group faccessat faccessat2 fadvise64
fadvise64_64 fallocate fanotify_mark fchdir fchmod fchmodat fchown fchown32 fchownat fcntl
fcntl64 fdatasync fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat fstat64
fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64 futex futex_time64 futex_waitv
futimesat getcpu getcwd getdents getdents64 getegid getegid32 geteuid geteuid32 getgid getgid32
getgroups getgroups32 getitimer getpeername getpgid getpgrp getpid getppid getpriority
getrandom getresgid getresgid32 getresuid getresuid32 getrlimit get_robust_list getrusage
getsid getsockname getsockopt get_thread_area gettid gettimeofday getuid getuid32 getxattr
inotify_add_watch inotify_init inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy
io_getevents io_pgetevents io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit ipc
kill landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown lchown32 lgetxattr
link linkat listen listxattr llistxattr _llseek lremovexattr lseek lsetxattr lstat lstat64
madvise membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2
mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive
mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink mremap msgctl msgget msgrcv
msgsnd msync munlock munlockall munmap name_to_handle_at nanosleep newfstatat _newselect open
openat openat2 pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect
poll ppoll ppoll_time64 prctl pread64 preadv preadv2 prlimit64 process_mrelease pselect6
pselect6_time64 pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv recv recvfrom
recvmmsg recvmmsg_time64 recvmsg remap_file_pages removexattr rename renameat renameat2
restart_syscall rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo
rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo
sched_getaffinity sched_getattr sched_getparam sched_get_priority_max sched_get_priority_min
sched_getscheduler sched_rr_get_interval sched_rr_get_interval_time64 sched_setaffinity
sched_setattr sched_setparam sched_setscheduler sched_yield seccomp select semctl semget semop
semtimedop semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto setfsgid
setfsgid32 setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setitimer setpgid
setpriority setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid setreuid32
setrlimit set_robust_list setsid setsockopt set_thread_area set_tid_address setuid setuid32
setxattr shmat shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4 sigprocmask
sigreturn socketcall socketpair splice stat stat64 statfs statfs64 statx symlink symlinkat sync
sync_file_range syncfs sysinfo tee tgkill time timer_create timer_delete timer_getoverrun
timer_gettime timer_gettime64 timer_settime timer_settime64 timerfd_create timerfd_gettime
timerfd_gettime64 timerfd_settime timerfd_settime64 times tkill truncate truncate64 ugetrlimit
umask uname unlink unlinkat utime utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid
waitpid write writev
"""

# Calls that are safe only with the capability that already guards them in the kernel.
_BY_CAPABILITY: tuple[tuple[str, str], ...] = (
    ("CAP_DAC_READ_SEARCH", "open_by_handle_at"),
    (
        "CAP_SYS_ADMIN",
        "bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie mount "
        "mount_setattr move_mount open_tree perf_event_open quotactl quotactl_fd setdomainname "
        "sethostname setns syslog umount umount2 unshare",
    ),
    ("CAP_SYS_BOOT", "reboot"),
    ("CAP_SYS_CHROOT", "chroot"),
    ("CAP_SYS_MODULE", "delete_module init_module finit_module"),
    ("CAP_SYS_PACCT", "acct"),
    (
        "CAP_SYS_PTRACE",
        "kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace",
    ),
    ("CAP_SYS_RAWIO", "iopl ioperm"),
    ("CAP_SYS_TIME", "settimeofday stime clock_settime clock_settime64"),
    ("CAP_SYS_TTY_CONFIG", "vhangup"),
    ("CAP_SYS_NICE", "get_mempolicy mbind set_mempolicy set_mempolicy_home_node"),
    ("CAP_SYSLOG", "syslog"),
    ("CAP_BPF", "bpf"),
    ("CAP_PERFMON", "perf_event_open"),
)

# CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET: clone() may not create namespaces.
_CLONE_NAMESPACE_FLAGS = 0x7E020000
# PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32 and the query value 0xffffffff.
_PERSONALITIES = (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)
_AF_VSOCK = 40


def _builtin() -> SeccompProfile:
    no_admin = RuleFilter(caps=("CAP_SYS_ADMIN",))
    rules: list[SyscallRule] = [SyscallRule(tuple(_ALLOWED.split()), "SCMP_ACT_ALLOW")]
    rules.append(
        SyscallRule(
            ("process_vm_readv", "process_vm_writev", "ptrace"),
            "SCMP_ACT_ALLOW",
            includes=RuleFilter(min_kernel=(4, 8)),
        )
    )
    rules.append(
        SyscallRule(
            ("socket",), "SCMP_ACT_ALLOW", args=(SyscallArg(0, _AF_VSOCK, 0, "SCMP_CMP_NE"),)
        )
    )
    rules += [
        SyscallRule(("personality",), "SCMP_ACT_ALLOW", args=(SyscallArg(0, value),))
        for value in _PERSONALITIES
    ]
    for arches, names in (
        (("amd64", "x32"), "arch_prctl"),
        (("amd64", "x32", "x86"), "modify_ldt"),
        (
            ("arm", "arm64"),
            "arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls",
        ),
        (("ppc64le",), "sync_file_range2 swapcontext"),
        (("s390", "s390x"), "s390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr"),
        (("riscv64",), "riscv_flush_icache"),
    ):
        rules.append(
            SyscallRule(tuple(names.split()), "SCMP_ACT_ALLOW", includes=RuleFilter(arches=arches))
        )
    rules += [
        SyscallRule(tuple(names.split()), "SCMP_ACT_ALLOW", includes=RuleFilter(caps=(cap,)))
        for cap, names in _BY_CAPABILITY
    ]
    rules += [
        SyscallRule(
            ("clone",),
            "SCMP_ACT_ALLOW",
            args=(SyscallArg(0, _CLONE_NAMESPACE_FLAGS, 0, "SCMP_CMP_MASKED_EQ"),),
            excludes=RuleFilter(caps=("CAP_SYS_ADMIN",), arches=("s390", "s390x")),
        ),
        SyscallRule(
            ("clone",),
            "SCMP_ACT_ALLOW",
            args=(SyscallArg(1, _CLONE_NAMESPACE_FLAGS, 0, "SCMP_CMP_MASKED_EQ"),),
            includes=RuleFilter(arches=("s390", "s390x")),
            excludes=no_admin,
        ),
        # clone3 passes its flags in memory seccomp cannot read: ENOSYS makes libcs fall
        # back to clone(), which the rule above can check.
        SyscallRule(("clone3",), "SCMP_ACT_ERRNO", errno_ret=errno_mod.ENOSYS, excludes=no_admin),
    ]
    arch_map = (
        ("SCMP_ARCH_X86_64", ("SCMP_ARCH_X86", "SCMP_ARCH_X32")),
        ("SCMP_ARCH_AARCH64", ("SCMP_ARCH_ARM",)),
        ("SCMP_ARCH_MIPS64", ("SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64N32")),
        ("SCMP_ARCH_MIPS64N32", ("SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64")),
        ("SCMP_ARCH_MIPSEL64", ("SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64N32")),
        ("SCMP_ARCH_MIPSEL64N32", ("SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64")),
        ("SCMP_ARCH_S390X", ("SCMP_ARCH_S390",)),
        ("SCMP_ARCH_RISCV64", ()),
    )
    return SeccompProfile(
        default_action="SCMP_ACT_ERRNO",
        default_errno_ret=errno_mod.EPERM,
        arch_map=arch_map,
        syscalls=tuple(rules),
        source="builtin",
    )


BUILTIN_PROFILE: SeccompProfile = _builtin()
