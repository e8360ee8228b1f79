"""Typed container settings and the OCI ``config.json`` they render to, with Docker's defaults.

Imports: stdlib, ``wharf.errdefs`` and the sibling modules capabilities, seccomp, cgroups,
devices, init (all stdlib-only).

The engine turns a container's Docker-style record into a ``ContainerSpec`` (what the user
asked for, ids already resolved: see ``users.resolve_user``) and probes the host once into a
``HostFacts``; ``render_config`` is a pure function of the two. What Docker does and we do the
same (moby ``oci/defaults.go`` + ``daemon/oci_linux.go``):

- namespaces mount, network (new and empty for ``NetworkMode.NONE``, none for ``HOST``, the
  given path for ``PATH``), uts, pid, ipc, and cgroup on cgroup v2;
- Docker's 14 default capabilities ± ``cap_add``/``cap_drop`` (see ``capabilities``); a
  non-root user gets them in the bounding set only, as ``execve`` would leave them;
- the default seccomp profile (``seccomp``), unless ``seccomp=False`` or privileged;
- masked and read-only ``/proc`` and ``/sys`` paths; ``/proc``, ``/dev`` (tmpfs), ``/dev/pts``,
  ``/dev/shm`` (``shm_size``), ``/dev/mqueue``, ``/sys`` (ro), ``/sys/fs/cgroup`` (ro);
- device cgroup rules: deny all but the standard character devices (``devices``);
- ``net.ipv4.ping_group_range`` and ``net.ipv4.ip_unprivileged_port_start`` opened up when the
  container has its own network namespace and the kernel has them;
- no rlimits unless asked (the process inherits the daemon's);
- ``--privileged``: every capability the daemon itself has (not more: on this machine it lacks
  CAP_SYS_RESOURCE, and asking runc for it makes the start fail), every host device, no masks,
  no seccomp, ``/sys`` and ``/sys/fs/cgroup`` writable;
- ``--read-only``: the root and the default mounts but /proc and /dev* read-only; the
  ``etc_files`` (/etc/hosts, /etc/hostname, /etc/resolv.conf) too, as Docker does;
- ``--init``: a static tini bind-mounted read-only at /sbin/docker-init, argv prefixed with
  ``/sbin/docker-init --``.

Departure from Docker, on purpose: ``no_new_privileges`` defaults to True.

Invariant: ``render_config`` validates everything it renders (``validate_spec``) and raises
InvalidArgument with Docker's wording where Docker has one; a config it returns is one runc
accepts on the host described by ``HostFacts``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from types import MappingProxyType

from wharf.errdefs import InvalidArgument, Unavailable
from wharf.runtime.capabilities import (
    CAPABILITY_NAMES,
    compute_capabilities,
    daemon_capabilities,
)
from wharf.runtime.cgroups import (
    CgroupLayout,
    CgroupVersion,
    available_mems,
    blkio_weight_supported,
    parse_cpuset,
    swap_limit_supported,
)
from wharf.runtime.devices import (
    DEFAULT_DEVICE_RULES,
    PRIVILEGED_DEVICE_RULES,
    HostDevice,
    host_devices,
)
from wharf.runtime.init import IN_CONTAINER_PATH, find_init
from wharf.runtime.seccomp import (
    BUILTIN_PROFILE,
    SeccompProfile,
    default_profile,
    host_kernel,
    native_arch,
    parse_profile,
    to_oci,
)

__all__ = [
    "BindMount",
    "CgroupVersion",
    "ContainerSpec",
    "ExecSpec",
    "HostFacts",
    "NetworkMode",
    "Resources",
    "TmpfsMount",
    "Ulimit",
    "build_config",
    "build_process",
    "render_config",
    "render_process",
    "resources_to_oci",
    "validate_spec",
]

OCI_VERSION = "1.0.2-dev"
DEFAULT_SHM_SIZE = 64 << 20
CPU_PERIOD = 100_000
MIN_MEMORY = 6 << 20
RLIM_INFINITY = 2**64 - 1

MASKED_PATHS: tuple[str, ...] = (
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
)
READONLY_PATHS: tuple[str, ...] = (
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
)

# Docker's --ulimit names (go-units) -> Linux RLIMIT numbers.
ULIMIT_NAMES: Mapping[str, int] = MappingProxyType(
    {
        "cpu": 0,
        "fsize": 1,
        "data": 2,
        "stack": 3,
        "core": 4,
        "rss": 5,
        "nproc": 6,
        "nofile": 7,
        "memlock": 8,
        "locks": 10,
        "sigpending": 11,
        "msgqueue": 12,
        "nice": 13,
        "rtprio": 14,
        "rttime": 15,
    }
)

# Sysctls Docker lets a container set (namespaced ones); net.* only with its own netns.
_SYSCTLS_ALLOWED = frozenset(
    {
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    }
)
_SYSCTL_PREFIXES = ("fs.mqueue.", "net.")
DOCKER_NETWORK_SYSCTLS: tuple[tuple[str, str], ...] = (
    ("net.ipv4.ping_group_range", "0 2147483647"),
    ("net.ipv4.ip_unprivileged_port_start", "0"),
)

PROPAGATIONS = frozenset({"private", "rprivate", "shared", "rshared", "slave", "rslave"})
_CONTAINER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")


class NetworkMode(Enum):
    NONE = "none"  # a new network namespace with only lo
    HOST = "host"  # the host's network namespace
    PATH = "path"  # join the namespace at ContainerSpec.netns_path


@dataclass(frozen=True, slots=True)
class BindMount:
    source: Path
    destination: str
    read_only: bool = False
    propagation: str = "rprivate"
    recursive: bool = True


@dataclass(frozen=True, slots=True)
class TmpfsMount:
    destination: str
    options: tuple[str, ...] = ()  # e.g. ("rw", "noexec", "nosuid", "size=65536k")


@dataclass(frozen=True, slots=True)
class Ulimit:
    name: str  # Docker's names: nofile, nproc, core... ; -1 means unlimited
    soft: int
    hard: int


@dataclass(frozen=True, slots=True)
class Resources:
    memory: int | None = None
    memory_swap: int | None = None  # memory + swap; -1 unlimited; None: Docker's 2 x memory
    nano_cpus: int | None = None
    cpu_shares: int | None = None
    pids_limit: int | None = None  # <= 0: unlimited
    cpuset_cpus: str | None = None
    cpuset_mems: str | None = None
    memory_reservation: int | None = None
    cpu_period: int | None = None  # with cpu_quota, when nano_cpus is not set
    cpu_quota: int | None = None  # -1: no quota
    blkio_weight: int | None = None


@dataclass(frozen=True, slots=True)
class ContainerSpec:
    id: str
    rootfs: Path
    args: tuple[str, ...]
    env: tuple[str, ...]
    cwd: str
    uid: int
    gid: int
    additional_gids: tuple[int, ...]
    terminal: bool
    hostname: str
    readonly_rootfs: bool = False
    binds: tuple[BindMount, ...] = ()
    tmpfs: tuple[TmpfsMount, ...] = ()
    network: NetworkMode = NetworkMode.NONE
    netns_path: str | None = None
    privileged: bool = False
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    seccomp: bool = True
    no_new_privileges: bool = True
    resources: Resources = field(default_factory=Resources)
    ulimits: tuple[Ulimit, ...] = ()
    cgroups_path: str = ""  # "" -> /wharf/<id>
    shm_size: int = DEFAULT_SHM_SIZE
    sysctls: Mapping[str, str] = field(default_factory=dict)
    oom_score_adj: int | None = None
    init: bool = False
    domainname: str = ""
    etc_files: Mapping[str, Path] = field(default_factory=dict)  # {"/etc/hosts": host path}
    annotations: Mapping[str, str] = field(default_factory=dict)
    seccomp_profile: str | None = None  # JSON text (--security-opt seccomp=<file>), else default
    init_path: Path | None = None  # else HostFacts.init_path
    console_size: tuple[int, int] | None = None  # (height, width) of the initial terminal


@dataclass(frozen=True, slots=True)
class ExecSpec:
    """A process to start in a running container (``docker exec``); ids already resolved."""

    args: tuple[str, ...]
    env: tuple[str, ...]
    cwd: str
    uid: int
    gid: int
    additional_gids: tuple[int, ...] = ()
    terminal: bool = False
    privileged: bool = False
    console_size: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class HostFacts:
    """What rendering needs to know about the host; ``detect()`` once per daemon start.

    ``rlimits``: the daemon's own (name, soft, hard), -1 = unlimited. ``can_raise_rlimits``:
    the daemon has CAP_SYS_RESOURCE in its effective set, so runc may raise hard limits.
    ``seccomp_profile``: the default profile (None: the built-in one).
    """

    cgroup_version: CgroupVersion = CgroupVersion.V2
    bounding_capabilities: tuple[str, ...] = CAPABILITY_NAMES
    devices: tuple[HostDevice, ...] = ()
    rlimits: tuple[tuple[str, int, int], ...] = ()
    can_raise_rlimits: bool = False
    seccomp_profile: SeccompProfile | None = None
    arch: str = "amd64"
    kernel: tuple[int, ...] = (6, 1)
    ncpu: int = 1
    swap_limit: bool = True
    blkio_weight: bool = False  # the kernel has a block I/O weight knob (often not on v1)
    mems: str = "0"  # the memory nodes cpuset may use, as cpuset.mems writes them
    network_sysctls: tuple[tuple[str, str], ...] = DOCKER_NETWORK_SYSCTLS
    init_path: Path | None = None

    @classmethod
    def detect(cls) -> HostFacts:
        layout = CgroupLayout.detect()
        bounding, effective = daemon_capabilities()
        return cls(
            cgroup_version=layout.version,
            bounding_capabilities=bounding,
            devices=host_devices(),
            rlimits=_daemon_rlimits(),
            can_raise_rlimits="CAP_SYS_RESOURCE" in effective,
            seccomp_profile=default_profile(),
            arch=native_arch(),
            kernel=host_kernel(),
            ncpu=len(os.sched_getaffinity(0)),
            swap_limit=swap_limit_supported(layout),
            blkio_weight=blkio_weight_supported(layout),
            mems=available_mems(layout),
            network_sysctls=_available_network_sysctls(),
            init_path=find_init(),
        )

    def hard_limit(self, name: str) -> int | None:
        """The daemon's hard limit for ulimit ``name`` (-1 unlimited), None if unknown."""
        for limit, _soft, hard in self.rlimits:
            if limit == name:
                return hard
        return None


# ---- validation --------------------------------------------------------------------------


def validate_spec(spec: ContainerSpec, host: HostFacts) -> None:
    """Raise InvalidArgument for anything runc would refuse or Docker rejects."""
    if not _CONTAINER_ID.fullmatch(spec.id):
        raise InvalidArgument(f"invalid container id {spec.id!r}")
    if not spec.rootfs.is_absolute():
        raise InvalidArgument(f"rootfs must be an absolute path: {spec.rootfs}")
    if not spec.args:
        raise InvalidArgument("No command specified")
    if not spec.cwd.startswith("/"):
        raise InvalidArgument(
            f"the working directory '{spec.cwd}' is invalid, it needs to be an absolute path"
        )
    for value, what in (
        (spec.uid, "uid"),
        (spec.gid, "gid"),
        *((g, "gid") for g in spec.additional_gids),
    ):
        if not 0 <= value <= 2**31 - 1:
            raise InvalidArgument(
                f"invalid {what} {value}: uids and gids must be in range 0-2147483647"
            )
    if spec.network is NetworkMode.PATH and not spec.netns_path:
        raise InvalidArgument("network mode 'path' needs the network namespace path")
    for bind in spec.binds:
        _check_destination(bind.destination, "bind")
        if not bind.source.is_absolute():
            raise InvalidArgument(
                f"invalid mount config for type \"bind\": invalid mount path: '{bind.source}' "
                "mount path must be absolute"
            )
        if bind.propagation not in PROPAGATIONS:
            raise InvalidArgument(f"invalid propagation mode: {bind.propagation}")
    for tmpfs in spec.tmpfs:
        _check_destination(tmpfs.destination, "tmpfs")
        merge_tmpfs_options(tmpfs.options)
    for destination, source in spec.etc_files.items():
        _check_destination(destination, "bind")
        if not source.is_absolute():
            raise InvalidArgument(f"{destination}: host file must be an absolute path: {source}")
    if spec.shm_size <= 0:
        raise InvalidArgument("SHM size can not be less than 0")
    if spec.oom_score_adj is not None and not -1000 <= spec.oom_score_adj <= 1000:
        raise InvalidArgument(
            f"Invalid value {spec.oom_score_adj}, range for oom score adj is [-1000, 1000]"
        )
    _check_resources(spec.resources, host)
    for ulimit in spec.ulimits:
        _check_ulimit(ulimit, host)
    for key in spec.sysctls:
        _check_sysctl(key, spec.network)
    if spec.init and spec.init_path is None and host.init_path is None:
        raise Unavailable("--init: no static init binary found on the host (install tini)")


def _check_destination(destination: str, kind: str) -> None:
    if not destination.startswith("/"):
        raise InvalidArgument(
            f"invalid mount config for type \"{kind}\": invalid mount path: '{destination}' "
            "mount path must be absolute"
        )
    if os.path.normpath(destination) == "/":
        raise InvalidArgument("invalid specification: destination can't be '/'")


def _check_resources(res: Resources, host: HostFacts) -> None:
    if res.memory is not None and 0 < res.memory < MIN_MEMORY:
        raise InvalidArgument("Minimum memory limit allowed is 6MB")
    if res.memory_swap is not None and res.memory_swap > 0:
        if not res.memory:
            raise InvalidArgument(
                "You should always set the Memory limit when using Memoryswap limit, see usage"
            )
        if res.memory_swap < res.memory:
            raise InvalidArgument(
                "Minimum memoryswap limit should be larger than memory limit, see usage"
            )
    if (
        res.nano_cpus is not None
        and res.nano_cpus != 0
        and not (10_000_000 <= res.nano_cpus <= host.ncpu * 1_000_000_000)
    ):
        raise InvalidArgument(
            f"Range of CPUs is from 0.01 to {host.ncpu}.00, as there are only {host.ncpu} "
            "CPUs available"
        )
    if res.cpuset_cpus:
        cpus = parse_cpuset(res.cpuset_cpus)
        if any(cpu >= host.ncpu for cpu in cpus):
            raise InvalidArgument(
                f"Requested CPUs are not available - requested {res.cpuset_cpus}, "
                f"available: 0-{host.ncpu - 1}"
            )
    if res.cpuset_mems:
        parse_cpuset(res.cpuset_mems, what="cpuset mems")


def _check_ulimit(ulimit: Ulimit, host: HostFacts) -> None:
    if ulimit.name not in ULIMIT_NAMES:
        raise InvalidArgument(f"invalid ulimit type: {ulimit.name}")
    soft, hard = _rlim(ulimit.soft), _rlim(ulimit.hard)
    if soft > hard:
        raise InvalidArgument(
            f"ulimit soft limit must be less than or equal to hard limit: {ulimit.soft} > "
            f"{ulimit.hard}"
        )
    if host.can_raise_rlimits:
        return
    daemon_hard = host.hard_limit(ulimit.name)
    if daemon_hard is None or daemon_hard == -1:
        return
    if hard > daemon_hard:
        raise InvalidArgument(
            f"ulimit {ulimit.name}: hard limit {_show(ulimit.hard)} is above the daemon's own "
            f"hard limit {daemon_hard}, which it cannot raise"
        )


def _check_sysctl(key: str, network: NetworkMode) -> None:
    if key in _SYSCTLS_ALLOWED or key.startswith("fs.mqueue."):
        return
    if key.startswith("net."):
        if network is NetworkMode.HOST:
            raise InvalidArgument(f"sysctl '{key}' is not allowed in host network namespace")
        return
    raise InvalidArgument(f"sysctl '{key}' is not allowed")


def _rlim(value: int) -> int:
    return RLIM_INFINITY if value < 0 else value


def _show(value: int) -> str:
    return "unlimited" if value < 0 else str(value)


# ---- rendering ---------------------------------------------------------------------------


def render_config(spec: ContainerSpec, host: HostFacts) -> bytes:
    """The bundle's ``config.json`` for ``spec`` on ``host``."""
    return json.dumps(build_config(spec, host), separators=(",", ":")).encode()


def build_config(spec: ContainerSpec, host: HostFacts) -> dict[str, object]:
    """``render_config`` before serialisation (what tests and ``inspect`` look at)."""
    validate_spec(spec, host)
    caps = compute_capabilities(
        spec.cap_add, spec.cap_drop, spec.privileged, host.bounding_capabilities
    )
    init_path = spec.init_path or host.init_path
    args = list(spec.args)
    if spec.init:
        args = [IN_CONTAINER_PATH, "--", *args]

    process = _process(
        args=args,
        env=spec.env,
        cwd=spec.cwd,
        uid=spec.uid,
        gid=spec.gid,
        additional_gids=spec.additional_gids,
        terminal=spec.terminal,
        console_size=spec.console_size,
        caps=caps,
        no_new_privileges=spec.no_new_privileges,
        rlimits=spec.ulimits,
    )
    if spec.oom_score_adj is not None:
        process["oomScoreAdj"] = spec.oom_score_adj

    linux: dict[str, object] = {
        "namespaces": _namespaces(spec, host),
        "cgroupsPath": spec.cgroups_path or f"/wharf/{spec.id}",
    }
    resources = resources_to_oci(
        spec.resources, swap_limit=host.swap_limit, blkio_weight=host.blkio_weight
    )
    rules = PRIVILEGED_DEVICE_RULES if spec.privileged else DEFAULT_DEVICE_RULES
    resources["devices"] = [rule.to_oci() for rule in rules]
    linux["resources"] = resources
    if spec.privileged:
        linux["devices"] = [device.to_oci() for device in host.devices]
    else:
        linux["maskedPaths"] = list(MASKED_PATHS)
        linux["readonlyPaths"] = list(READONLY_PATHS)
    sysctls: dict[str, str] = {}
    if spec.network is not NetworkMode.HOST:
        sysctls.update(host.network_sysctls)
    sysctls.update(spec.sysctls)
    if sysctls:
        linux["sysctl"] = sysctls
    if spec.seccomp and not spec.privileged:
        profile = (
            parse_profile(spec.seccomp_profile, source="--security-opt seccomp")
            if spec.seccomp_profile is not None
            else host.seccomp_profile or BUILTIN_PROFILE
        )
        seccomp = to_oci(profile, caps, arch=host.arch, kernel=host.kernel)
        if seccomp is not None:
            linux["seccomp"] = seccomp

    mounts, rootfs_propagation = _mounts(spec, init_path)
    if rootfs_propagation:
        linux["rootfsPropagation"] = rootfs_propagation

    config: dict[str, object] = {
        "ociVersion": OCI_VERSION,
        "process": process,
        "root": {"path": str(spec.rootfs), "readonly": spec.readonly_rootfs},
        "hostname": spec.hostname,
    }
    if spec.domainname:
        config["domainname"] = spec.domainname
    config["mounts"] = mounts
    config["linux"] = linux
    if spec.annotations:
        config["annotations"] = dict(spec.annotations)
    return config


def render_process(exec_spec: ExecSpec, container: ContainerSpec, host: HostFacts) -> bytes:
    """The ``process.json`` for ``runc exec --process``: the exec's command and user with the
    container's capabilities, no_new_privileges and rlimits (all capabilities the daemon has
    for ``exec --privileged``)."""
    return json.dumps(build_process(exec_spec, container, host), separators=(",", ":")).encode()


def build_process(
    exec_spec: ExecSpec, container: ContainerSpec, host: HostFacts
) -> dict[str, object]:
    if not exec_spec.args:
        raise InvalidArgument("No exec command specified")
    if not exec_spec.cwd.startswith("/"):
        raise InvalidArgument(
            f"the working directory '{exec_spec.cwd}' is invalid, it needs to be an absolute path"
        )
    caps = compute_capabilities(
        container.cap_add,
        container.cap_drop,
        container.privileged or exec_spec.privileged,
        host.bounding_capabilities,
    )
    return _process(
        args=list(exec_spec.args),
        env=exec_spec.env,
        cwd=exec_spec.cwd,
        uid=exec_spec.uid,
        gid=exec_spec.gid,
        additional_gids=exec_spec.additional_gids,
        terminal=exec_spec.terminal,
        console_size=exec_spec.console_size,
        caps=caps,
        no_new_privileges=container.no_new_privileges,
        rlimits=container.ulimits,
    )


def _process(
    *,
    args: list[str],
    env: tuple[str, ...],
    cwd: str,
    uid: int,
    gid: int,
    additional_gids: tuple[int, ...],
    terminal: bool,
    console_size: tuple[int, int] | None,
    caps: tuple[str, ...],
    no_new_privileges: bool,
    rlimits: tuple[Ulimit, ...],
) -> dict[str, object]:
    # Non-root processes get the set as bounding only: what execve leaves a non-root user.
    granted = list(caps) if uid == 0 else []
    process: dict[str, object] = {
        "terminal": terminal,
        "user": {
            "uid": uid,
            "gid": gid,
            "additionalGids": list(dict.fromkeys([gid, *additional_gids])),
        },
        "args": args,
        "env": list(env),
        "cwd": cwd,
        "capabilities": {
            "bounding": list(caps),
            "effective": granted,
            "permitted": granted,
        },
        "noNewPrivileges": no_new_privileges,
    }
    if terminal and console_size is not None:
        process["consoleSize"] = {"height": console_size[0], "width": console_size[1]}
    if rlimits:
        process["rlimits"] = [
            {
                "type": "RLIMIT_" + ulimit.name.upper(),
                "hard": _rlim(ulimit.hard),
                "soft": _rlim(ulimit.soft),
            }
            for ulimit in rlimits
        ]
    return process


def _namespaces(spec: ContainerSpec, host: HostFacts) -> list[dict[str, str]]:
    namespaces: list[dict[str, str]] = [{"type": "mount"}]
    if spec.network is NetworkMode.NONE:
        namespaces.append({"type": "network"})
    elif spec.network is NetworkMode.PATH:
        assert spec.netns_path is not None
        namespaces.append({"type": "network", "path": spec.netns_path})
    namespaces += [{"type": "uts"}, {"type": "pid"}, {"type": "ipc"}]
    if host.cgroup_version is CgroupVersion.V2:
        namespaces.append({"type": "cgroup"})
    return namespaces


def resources_to_oci(
    res: Resources, *, swap_limit: bool = True, blkio_weight: bool = True
) -> dict[str, object]:
    """OCI ``linux.resources`` (without devices) for ``res``; also the body of ``runc update``.

    ``blkio_weight`` False drops the weight (a runtime fails when the kernel has no knob for
    it, where Docker discards it with a warning)."""
    out: dict[str, object] = {}
    memory: dict[str, int] = {}
    if res.memory:
        memory["limit"] = res.memory
    if res.memory_reservation:
        memory["reservation"] = res.memory_reservation
    if swap_limit:
        if res.memory_swap is not None and res.memory_swap != 0:
            memory["swap"] = res.memory_swap
        elif res.memory:
            memory["swap"] = 2 * res.memory  # Docker's default: as much swap as memory
    if memory:
        out["memory"] = memory
    cpu: dict[str, object] = {}
    if res.cpu_shares:
        cpu["shares"] = min(max(res.cpu_shares, 2), 262_144)
    if res.nano_cpus:
        cpu["quota"] = res.nano_cpus * CPU_PERIOD // 1_000_000_000
        cpu["period"] = CPU_PERIOD
    else:
        if res.cpu_quota:
            cpu["quota"] = res.cpu_quota
        if res.cpu_period:
            cpu["period"] = res.cpu_period
    if res.cpuset_cpus:
        cpu["cpus"] = res.cpuset_cpus
    if res.cpuset_mems:
        cpu["mems"] = res.cpuset_mems
    if cpu:
        out["cpu"] = cpu
    if res.pids_limit is not None:
        # runc needs -1 to lift a limit; Docker's API takes 0 and negatives for "unlimited".
        out["pids"] = {"limit": res.pids_limit if res.pids_limit > 0 else -1}
    if res.blkio_weight and blkio_weight:
        out["blockIO"] = {"weight": res.blkio_weight}
    return out


# ---- mounts ------------------------------------------------------------------------------


def _default_mounts(spec: ContainerSpec) -> list[dict[str, object]]:
    sys_mode = "rw" if spec.privileged else "ro"
    return [
        _mount("/proc", "proc", "proc", ["nosuid", "noexec", "nodev"]),
        _mount("/dev", "tmpfs", "tmpfs", ["nosuid", "strictatime", "mode=755", "size=65536k"]),
        _mount(
            "/dev/pts",
            "devpts",
            "devpts",
            ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
        ),
        _mount("/sys", "sysfs", "sysfs", [sys_mode, "nosuid", "noexec", "nodev"]),
        _mount("/sys/fs/cgroup", "cgroup", "cgroup", [sys_mode, "nosuid", "noexec", "nodev"]),
        _mount("/dev/mqueue", "mqueue", "mqueue", ["nosuid", "noexec", "nodev"]),
        _mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            ["nosuid", "noexec", "nodev", "mode=1777", f"size={spec.shm_size}"],
        ),
    ]


def _mount(destination: str, type_: str, source: str, options: list[str]) -> dict[str, object]:
    return {"destination": destination, "type": type_, "source": source, "options": options}


def _mounts(spec: ContainerSpec, init_path: Path | None) -> tuple[list[dict[str, object]], str]:
    """(mounts in mount order, rootfsPropagation or "")."""
    user: list[dict[str, object]] = []
    propagation = ""
    for bind in spec.binds:
        options = ["rbind" if bind.recursive else "bind"]
        if bind.read_only:
            options.append("ro")
        options.append(bind.propagation)
        user.append(_mount(bind.destination, "bind", str(bind.source), options))
        if bind.propagation in ("shared", "rshared"):
            propagation = "shared"
        elif bind.propagation in ("slave", "rslave") and propagation != "shared":
            propagation = "rslave"
    for tmpfs in spec.tmpfs:
        options = merge_tmpfs_options(("noexec", "nosuid", "nodev", "rprivate", *tmpfs.options))
        user.append(_mount(tmpfs.destination, "tmpfs", "tmpfs", options))
    taken = {str(m["destination"]) for m in user}
    for destination, source in spec.etc_files.items():
        if destination in taken:
            continue  # the user's own mount of /etc/hosts wins, as in Docker
        options = ["rbind", "ro", "rprivate"] if spec.readonly_rootfs else ["rbind", "rprivate"]
        user.append(_mount(destination, "bind", str(source), options))
    user_destinations = {os.path.normpath(str(m["destination"])) for m in user}

    # Docker's --read-only adds "ro" to the defaults other than /proc and /dev*: those are /sys
    # and /sys/fs/cgroup, already read-only (and made writable again by --privileged, after).
    mounts: list[dict[str, object]] = []
    dev_replaced = "/dev" in user_destinations
    for default in _default_mounts(spec):
        destination = str(default["destination"])
        if destination in user_destinations:
            continue
        if dev_replaced and destination.startswith("/dev/"):
            continue
        mounts.append(default)
    if spec.init and init_path is not None:
        mounts.append(_mount(IN_CONTAINER_PATH, "bind", str(init_path), ["bind", "ro"]))
    # Parents before children: fewer path components mount first (stable otherwise).
    user.sort(key=lambda m: len(os.path.normpath(str(m["destination"])).split("/")))
    return mounts + user, propagation


_TMPFS_FLAG_GROUPS: tuple[frozenset[str], ...] = (
    frozenset({"ro", "rw"}),
    frozenset({"exec", "noexec"}),
    frozenset({"suid", "nosuid"}),
    frozenset({"dev", "nodev"}),
    frozenset({"atime", "noatime"}),
    frozenset({"diratime", "nodiratime"}),
    frozenset({"relatime", "norelatime"}),
    frozenset({"strictatime", "nostrictatime"}),
    frozenset({"sync", "async"}),
    frozenset({"mand", "nomand"}),
    frozenset({"dirsync"}),
    PROPAGATIONS,
)
_TMPFS_DATA = frozenset({"size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "mpol"})


def merge_tmpfs_options(options: tuple[str, ...] | list[str]) -> list[str]:
    """Docker's ``MergeTmpfsOptions``: later options win over earlier conflicting ones
    (``exec`` over ``noexec``, the last ``size=``), order otherwise kept. Unknown options
    raise InvalidArgument."""
    seen_flags: set[int] = set()
    seen_data: set[str] = set()
    merged: list[str] = []
    for option in reversed(options):
        if option in ("", "defaults"):
            continue
        group = next((i for i, g in enumerate(_TMPFS_FLAG_GROUPS) if option in g), None)
        if group is not None:
            if group not in seen_flags:
                seen_flags.add(group)
                merged.append(option)
            continue
        key, eq, _value = option.partition("=")
        if not eq or key not in _TMPFS_DATA:
            raise InvalidArgument(f"Invalid tmpfs option {option!r}")
        if key not in seen_data:
            seen_data.add(key)
            merged.append(option)
    merged.reverse()
    return merged


# ---- host probing ------------------------------------------------------------------------


def _daemon_rlimits() -> tuple[tuple[str, int, int], ...]:
    out = []
    for name, number in ULIMIT_NAMES.items():
        try:
            soft, hard = resource.getrlimit(number)
        except (ValueError, OSError):
            continue
        out.append((name, _from_rlim(soft), _from_rlim(hard)))
    return tuple(out)


def _from_rlim(value: int) -> int:
    return -1 if value == resource.RLIM_INFINITY or value < 0 else value


def _available_network_sysctls() -> tuple[tuple[str, str], ...]:
    in_userns = True
    with contextlib.suppress(OSError):
        in_userns = Path("/proc/self/uid_map").read_text().split() != ["0", "0", "4294967295"]
    out = []
    for key, value in DOCKER_NETWORK_SYSCTLS:
        if key == "net.ipv4.ping_group_range" and in_userns:
            continue  # cannot be set from inside a user namespace
        if Path("/proc/sys", *key.split(".")).exists():
            out.append((key, value))
    return tuple(out)
