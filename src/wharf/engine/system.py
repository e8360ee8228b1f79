"""The system service: ``/version`` and ``/info`` facts about this engine and host, and
``/system/df``, assembled from what the other services measure (given as callables, so this
service imports none of them)."""

from __future__ import annotations

import functools
import os
import platform
import shutil
import socket
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from wharf import __version__
from wharf.apitypes.containers import ContainerSummary
from wharf.apitypes.diskusage import BuildCacheRecord, DiskUsage, UsageKind
from wharf.apitypes.images import ImageSummary
from wharf.apitypes.system import RuntimeInfo, SystemInfo, VersionInfo
from wharf.apitypes.versions import API_VERSION, MIN_API_VERSION
from wharf.apitypes.volumes import Volume
from wharf.engine.container_model import Status
from wharf.oci.platform import host_platform

_KNOWN_RUNTIMES = ("crun", "runc")


@dataclass(frozen=True, slots=True)
class DaemonPaths:
    data_root: Path
    exec_root: Path


def _os_release() -> tuple[str, str]:
    try:
        text = Path("/etc/os-release").read_text()
    except OSError:
        return "Linux", ""
    fields = dict(
        line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#")
    )
    return (
        fields.get("PRETTY_NAME", "Linux").strip('"'),
        fields.get("VERSION_ID", "").strip('"'),
    )


def _mem_total() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def cgroup_version() -> str:
    """ "2" on a pure unified hierarchy, "1" on legacy or hybrid layouts (this machine)."""
    return "2" if Path("/sys/fs/cgroup/cgroup.controllers").exists() else "1"


def _engine_id(data_root: Path) -> str:
    """A stable per-data-root ID, like dockerd's engine ID file."""
    path = data_root / "engine-id"
    try:
        return path.read_text().strip()
    except OSError:
        import uuid

        engine_id = str(uuid.uuid4())
        tmp = path.with_suffix(".tmp")
        tmp.write_text(engine_id)
        os.replace(tmp, path)
        return engine_id


@functools.cache
def _installed_runtimes() -> tuple[RuntimeInfo, ...]:
    """OCI runtimes on PATH with their versions (asked once: they do not change under us)."""
    found = []
    for name in _KNOWN_RUNTIMES:
        path = shutil.which(name)
        if not path:
            continue
        try:
            first_line = subprocess.run(
                [path, "--version"], capture_output=True, text=True, timeout=5, check=False
            ).stdout.splitlines()[0]
            version = first_line.rsplit(" ", 1)[-1]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            version = ""
        found.append(RuntimeInfo(name=name, path=path, version=version))
    return tuple(found)


def _security_options() -> tuple[str, ...]:
    """What containers get by default, in dockerd's words (see runtime.seccomp)."""
    system_profile = Path("/usr/share/containers/seccomp.json")
    profile = str(system_profile) if system_profile.is_file() else "builtin"
    options = (f"name=seccomp,profile={profile}", "name=no-new-privileges")
    return (*options, "name=cgroupns") if cgroup_version() == "2" else options


class SystemService:
    def __init__(
        self,
        paths: DaemonPaths,
        *,
        count_images: Callable[[], int],
        count_containers: Callable[[], Mapping[Status, int]] = dict,
        default_runtime: str = "runc",
        images_usage: Callable[[], tuple[int, Sequence[ImageSummary]]] = lambda: (0, ()),
        containers_usage: Callable[[], Sequence[ContainerSummary]] = tuple,
        volumes_usage: Callable[[], Sequence[Volume]] = tuple,
        build_cache_usage: Callable[[], Sequence[BuildCacheRecord]] = tuple,
    ) -> None:
        self._images_usage = images_usage
        self._containers_usage = containers_usage
        self._volumes_usage = volumes_usage
        self._build_cache_usage = build_cache_usage
        self._paths = paths
        self._count_images = count_images
        self._count_containers = count_containers
        self._default_runtime = default_runtime
        self._id = _engine_id(paths.data_root)

    def version(self) -> VersionInfo:
        host = host_platform()
        return VersionInfo(
            version=__version__,
            api_version=API_VERSION,
            min_api_version=MIN_API_VERSION,
            git_commit="",
            go_version=f"python{platform.python_version()}",
            os=host.os,
            arch=host.architecture,
            kernel_version=platform.release(),
            build_time="",
            components=tuple((rt.name, rt.version) for rt in self.runtimes()),
        )

    def runtimes(self) -> tuple[RuntimeInfo, ...]:
        return _installed_runtimes()

    def info(self) -> SystemInfo:
        os_name, os_version = _os_release()
        counts = self._count_containers()
        running = counts.get(Status.RUNNING, 0) + counts.get(Status.RESTARTING, 0)
        paused = counts.get(Status.PAUSED, 0)
        total = sum(counts.values())
        return SystemInfo(
            id=self._id,
            name=socket.gethostname(),
            containers=total,
            containers_running=running,
            containers_paused=paused,
            containers_stopped=total - running - paused,
            images=self._count_images(),
            server_version=__version__,
            storage_driver="overlayfs",
            driver_status=(("driver-type", "io.containerd.snapshotter.v1"),),
            logging_driver="json-file",
            cgroup_driver="cgroupfs",
            cgroup_version=cgroup_version(),
            kernel_version=platform.release(),
            operating_system=os_name,
            os_version=os_version,
            os_type="linux",
            architecture=platform.machine(),
            ncpu=os.cpu_count() or 1,
            mem_total=_mem_total(),
            docker_root_dir=str(self._paths.data_root),
            exec_root=str(self._paths.exec_root),
            default_runtime=self._default_runtime,
            runtimes=self.runtimes(),
            system_time=datetime.now(UTC).isoformat(),
            security_options=_security_options(),
            warnings=(),
        )

    def disk_usage(self, kinds: frozenset[UsageKind] = frozenset(UsageKind)) -> DiskUsage:
        """``/system/df``: the sections ``kinds`` asks for, each measured now."""
        layers_size = 0
        images: tuple[ImageSummary, ...] | None = None
        if UsageKind.IMAGE in kinds:
            layers_size, listed = self._images_usage()
            images = tuple(listed)
        return DiskUsage(
            layers_size=layers_size,
            images=images,
            containers=(tuple(self._containers_usage()) if UsageKind.CONTAINER in kinds else None),
            volumes=tuple(self._volumes_usage()) if UsageKind.VOLUME in kinds else None,
            build_cache=(
                tuple(self._build_cache_usage()) if UsageKind.BUILD_CACHE in kinds else None
            ),
        )
