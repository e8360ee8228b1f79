"""Container cgroups on v1, v2 and hybrid hosts: where they are, their stats, OOM kills, cleanup.

Imports: stdlib and ``wharf.errdefs``.

The runtime (runc/crun, cgroupfs driver) creates the cgroups from ``linux.cgroupsPath``
(``/wharf/<id>``); we only read them and remove what a crash left behind. Layouts::

    v1 (this machine; "hybrid": v1 controllers plus a v2 tree mounted beside them)
      /sys/fs/cgroup/<controller>/wharf/<id>/     one dir per hierarchy: cpu, cpuacct,
                                                  memory, pids, blkio, devices, freezer,
                                                  cpuset, name=systemd (mounted as "systemd");
                                                  co-mounted ones ("cpu,cpuacct") share a dir
      /sys/fs/cgroup/unified/wharf/<id>/          runc also joins the v2 tree in hybrid mode
    v2 (unified)
      /sys/fs/cgroup/wharf/<id>/

Which one the runtime uses is decided as runc decides it: v2 iff ``/sys/fs/cgroup`` itself is
a cgroup2 mount. The mount table (``/proc/self/mountinfo``) is read once per layout.

Invariants: readers never raise for a missing file (a stat the kernel lacks is reported as
0 or None); ``oom_killed`` must be read after the container exits and *before* the runtime's
``delete`` removes the cgroup.
"""

from __future__ import annotations

import contextlib
import errno
import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from wharf.errdefs import InvalidArgument

CGROUP_ROOT = Path("/sys/fs/cgroup")
V1_CONTROLLERS = frozenset(
    {
        "blkio",
        "cpu",
        "cpuacct",
        "cpuset",
        "devices",
        "freezer",
        "hugetlb",
        "memory",
        "misc",
        "net_cls",
        "net_prio",
        "perf_event",
        "pids",
        "rdma",
    }
)
# v1 reports "no limit" as the largest page-aligned signed 64-bit value.
_V1_UNLIMITED = 1 << 62


class CgroupVersion(StrEnum):
    V1 = "1"
    V2 = "2"


@dataclass(frozen=True, slots=True)
class CgroupDirs:
    """The directories of one container's cgroup. ``controllers``: v1 controller -> dir;
    ``unified``: the v2 dir (the only one on v2; hybrid's companion dir on v1)."""

    version: CgroupVersion
    controllers: tuple[tuple[str, Path], ...] = ()
    unified: Path | None = None

    def controller(self, name: str) -> Path | None:
        for controller, path in self.controllers:
            if controller == name:
                return path
        return None

    def all(self) -> tuple[Path, ...]:
        """Every distinct directory, v1 ones first."""
        paths = dict.fromkeys(path for _, path in self.controllers)
        if self.unified is not None:
            paths[self.unified] = None
        return tuple(paths)


@dataclass(frozen=True, slots=True)
class CgroupLayout:
    """Where the cgroup hierarchies are mounted on this host."""

    version: CgroupVersion
    v1: tuple[tuple[str, Path], ...] = ()
    unified: Path | None = None

    @classmethod
    def detect(cls, mountinfo: Path = Path("/proc/self/mountinfo")) -> CgroupLayout:
        try:
            text = mountinfo.read_text()
        except OSError:
            text = ""
        return cls.parse(text)

    @classmethod
    def parse(cls, mountinfo_text: str, *, root: Path = CGROUP_ROOT) -> CgroupLayout:
        """Build the layout from the text of a mountinfo file."""
        v1: dict[str, Path] = {}
        unified: Path | None = None
        version = CgroupVersion.V1
        for line in mountinfo_text.splitlines():
            pre, sep, post = line.partition(" - ")
            if not sep:
                continue
            fields, tail = pre.split(), post.split()
            if len(fields) < 5 or len(tail) < 3:
                continue
            mountpoint = Path(_unescape(fields[4]))
            fstype, super_options = tail[0], tail[2]
            if fstype == "cgroup2":
                if unified is None or mountpoint == root:
                    unified = mountpoint
                if mountpoint == root:
                    version = CgroupVersion.V2
            elif fstype == "cgroup":
                for option in super_options.split(","):
                    if option in V1_CONTROLLERS or option.startswith("name="):
                        v1.setdefault(option, mountpoint)
        if version is CgroupVersion.V2:
            v1 = {}
        return cls(version, tuple(sorted(v1.items())), unified)

    def dirs(self, cgroups_path: str) -> CgroupDirs:
        """The directories of the cgroup ``cgroups_path`` (e.g. ``/wharf/<id>``)."""
        inner = cgroups_path.strip("/")
        unified = self.unified / inner if self.unified is not None else None
        if self.version is CgroupVersion.V2:
            return CgroupDirs(self.version, (), unified)
        return CgroupDirs(self.version, tuple((c, mnt / inner) for c, mnt in self.v1), unified)


def swap_limit_supported(layout: CgroupLayout) -> bool:
    """Whether the kernel accounts swap per cgroup (else a swap limit cannot be set)."""
    if layout.version is CgroupVersion.V1:
        memory = dict(layout.v1).get("memory")
        return memory is not None and (memory / "memory.memsw.limit_in_bytes").exists()
    if layout.unified is None:
        return False
    return any(layout.unified.glob("*/memory.swap.max"))


def blkio_weight_supported(layout: CgroupLayout) -> bool:
    """Whether a cgroup can be given a block I/O weight (``blkio.weight``, or BFQ's)."""
    if layout.version is CgroupVersion.V1:
        blkio = dict(layout.v1).get("blkio")
        return blkio is not None and any(
            (blkio / name).exists() for name in ("blkio.weight", "blkio.bfq.weight")
        )
    if layout.unified is None:
        return False
    return any(layout.unified.glob("*/io.weight")) or any(layout.unified.glob("*/io.bfq.weight"))


def available_mems(layout: CgroupLayout) -> str:
    """The memory nodes containers may be bound to (``"0"``, ``"0-1"``), as cpuset shows them."""
    if layout.version is CgroupVersion.V1:
        cpuset = dict(layout.v1).get("cpuset")
        text = _read(cpuset, "cpuset.mems")
    else:
        text = _read(layout.unified, "cpuset.mems.effective")
    return text.strip() or "0"


def parse_cpuset(text: str, *, what: str = "cpuset cpus") -> frozenset[int]:
    """``"0-2,4"`` -> {0, 1, 2, 4}; bad syntax raises Docker's InvalidArgument."""
    out: set[int] = set()
    for part in text.split(","):
        lo, dash, hi = part.strip().partition("-")
        if not lo.isdigit() or (dash and not hi.isdigit()):
            raise InvalidArgument(f"Invalid value {text} for {what}")
        first, last = int(lo), int(hi) if dash else int(lo)
        if last < first:
            raise InvalidArgument(f"Invalid value {text} for {what}")
        out.update(range(first, last + 1))
    return frozenset(out)


_default_layout: CgroupLayout | None = None


def host_layout() -> CgroupLayout:
    """This host's layout, detected once per process."""
    global _default_layout
    if _default_layout is None:
        _default_layout = CgroupLayout.detect()
    return _default_layout


def locate(cgroups_path: str, layout: CgroupLayout | None = None) -> CgroupDirs:
    """The directories for ``cgroups_path`` on this host (or on ``layout``)."""
    return (layout or host_layout()).dirs(cgroups_path)


# ---- stats -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CgroupStats:
    """One sample, in Docker's stats units. ``None`` limits mean unlimited."""

    memory_usage: int = 0
    memory_limit: int | None = None
    memory_max_usage: int = 0
    memory_stat: tuple[tuple[str, int], ...] = ()
    cpu_usage_total_ns: int = 0
    cpu_usage_per_cpu: tuple[int, ...] = ()
    cpu_usage_user_ns: int = 0
    cpu_usage_system_ns: int = 0
    system_cpu_usage: int = 0
    online_cpus: int = 0
    pids_current: int = 0
    pids_limit: int | None = None
    io_read_bytes: int = 0
    io_write_bytes: int = 0


def read_stats(dirs: CgroupDirs, *, proc_stat: Path = Path("/proc/stat")) -> CgroupStats:
    """Sample the container's cgroup now."""
    system = system_cpu_usage(proc_stat)
    online = os.cpu_count() or 0
    if dirs.version is CgroupVersion.V2:
        return _read_v2(dirs, system, online)
    return _read_v1(dirs, system, online)


def _read_v1(dirs: CgroupDirs, system: int, online: int) -> CgroupStats:
    mem = dirs.controller("memory")
    cpu = dirs.controller("cpuacct")
    pids = dirs.controller("pids")
    blkio = dirs.controller("blkio")
    limit = _read_int(mem, "memory.limit_in_bytes")
    percpu = tuple(int(v) for v in _read(cpu, "cpuacct.usage_percpu").split() if v.isdigit())
    ticks = _keyed(_read(cpu, "cpuacct.stat"))
    ns_per_tick = 1_000_000_000 // _clock_ticks()
    read_bytes = write_bytes = 0
    for line in (
        _read(blkio, "blkio.throttle.io_service_bytes_recursive").splitlines()
        or _read(blkio, "blkio.throttle.io_service_bytes").splitlines()
    ):
        parts = line.split()
        if len(parts) == 3 and parts[2].isdigit():
            if parts[1] == "Read":
                read_bytes += int(parts[2])
            elif parts[1] == "Write":
                write_bytes += int(parts[2])
    return CgroupStats(
        memory_usage=_read_int(mem, "memory.usage_in_bytes") or 0,
        memory_limit=limit if limit is not None and limit < _V1_UNLIMITED else None,
        memory_max_usage=_read_int(mem, "memory.max_usage_in_bytes") or 0,
        memory_stat=tuple(_keyed(_read(mem, "memory.stat")).items()),
        cpu_usage_total_ns=_read_int(cpu, "cpuacct.usage") or 0,
        cpu_usage_per_cpu=percpu,
        cpu_usage_user_ns=ticks.get("user", 0) * ns_per_tick,
        cpu_usage_system_ns=ticks.get("system", 0) * ns_per_tick,
        system_cpu_usage=system,
        online_cpus=len(percpu) or online,
        pids_current=_read_int(pids, "pids.current") or 0,
        pids_limit=_read_int(pids, "pids.max"),
        io_read_bytes=read_bytes,
        io_write_bytes=write_bytes,
    )


def _read_v2(dirs: CgroupDirs, system: int, online: int) -> CgroupStats:
    d = dirs.unified
    cpu = _keyed(_read(d, "cpu.stat"))
    read_bytes = write_bytes = 0
    for line in _read(d, "io.stat").splitlines():
        values = _keyed(" ".join(p.replace("=", " ") for p in line.split()[1:]), pairs=True)
        read_bytes += values.get("rbytes", 0)
        write_bytes += values.get("wbytes", 0)
    return CgroupStats(
        memory_usage=_read_int(d, "memory.current") or 0,
        memory_limit=_read_int(d, "memory.max"),
        memory_max_usage=_read_int(d, "memory.peak") or 0,
        memory_stat=tuple(_keyed(_read(d, "memory.stat")).items()),
        cpu_usage_total_ns=cpu.get("usage_usec", 0) * 1000,
        cpu_usage_user_ns=cpu.get("user_usec", 0) * 1000,
        cpu_usage_system_ns=cpu.get("system_usec", 0) * 1000,
        system_cpu_usage=system,
        online_cpus=online,
        pids_current=_read_int(d, "pids.current") or 0,
        pids_limit=_read_int(d, "pids.max"),
        io_read_bytes=read_bytes,
        io_write_bytes=write_bytes,
    )


def system_cpu_usage(proc_stat: Path = Path("/proc/stat")) -> int:
    """The host's total CPU time in ns, as Docker computes it (first 7 fields of ``cpu``)."""
    try:
        with proc_stat.open() as f:
            for line in f:
                if line.startswith("cpu "):
                    ticks = sum(int(v) for v in line.split()[1:8])
                    return ticks * 1_000_000_000 // _clock_ticks()
    except (OSError, ValueError):
        pass
    return 0


def oom_killed(dirs: CgroupDirs) -> bool:
    """True when the kernel OOM-killed a process of this cgroup. Read before ``delete``."""
    if dirs.version is CgroupVersion.V2:
        return _keyed(_read(dirs.unified, "memory.events")).get("oom_kill", 0) > 0
    mem = dirs.controller("memory")
    control = _keyed(_read(mem, "memory.oom_control"))
    if "oom_kill" in control:
        return control["oom_kill"] > 0
    # Kernels before 4.13 have no counter; hitting the limit is the best hint they give.
    return (_read_int(mem, "memory.failcnt") or 0) > 0


def pids(dirs: CgroupDirs) -> list[int]:
    """Every process in the cgroup (host pids), from the pids hierarchy or the v2 tree."""
    d = dirs.controller("pids") or dirs.unified
    return [int(v) for v in _read(d, "cgroup.procs").split() if v.isdigit()]


def leftovers(dirs: CgroupDirs) -> list[Path]:
    """The container's cgroup directories that still exist."""
    return [path for path in dirs.all() if path.is_dir()]


def cleanup(dirs: CgroupDirs) -> list[Path]:
    """Remove the container's cgroup directories (children first) that are empty of
    processes; returns those that could not be removed (still busy)."""
    busy: list[Path] = []
    for top in dirs.all():
        if not top.is_dir():
            continue
        for current, subdirs, _files in os.walk(top, topdown=False):
            for name in subdirs:
                _rmdir(Path(current) / name, busy)
        _rmdir(top, busy)
    return busy


def _rmdir(path: Path, busy: list[Path]) -> None:
    try:
        path.rmdir()
    except FileNotFoundError:
        pass
    except OSError as exc:
        if exc.errno in (errno.EBUSY, errno.ENOTEMPTY):
            busy.append(path)
        else:
            raise


# ---- small readers -----------------------------------------------------------------------


def _read(directory: Path | None, name: str) -> str:
    if directory is None:
        return ""
    try:
        return (directory / name).read_text()
    except OSError:
        return ""


def _read_int(directory: Path | None, name: str) -> int | None:
    text = _read(directory, name).strip()
    return int(text) if text.isdigit() else None


def _keyed(text: str, *, pairs: bool = False) -> dict[str, int]:
    """``key value`` lines (or, with ``pairs``, one line of ``key value key value``)."""
    out: dict[str, int] = {}
    if pairs:
        items = text.split()
        for key, value in zip(items[::2], items[1::2], strict=False):
            if value.isdigit():
                out[key] = int(value)
        return out
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            out[parts[0]] = int(parts[1])
    return out


def _clock_ticks() -> int:
    with contextlib.suppress(ValueError, OSError, AttributeError):
        return os.sysconf("SC_CLK_TCK")
    return 100


def _unescape(text: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal (``\\040``)."""
    if "\\" not in text:
        return text
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 3 < len(text) and text[i + 1 : i + 4].isdigit():
            out.append(chr(int(text[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(text[i])
            i += 1
    return "".join(out)
