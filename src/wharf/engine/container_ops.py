"""Looking into containers: ``top``, ``stats`` (Docker's stats JSON from cgroups), and the
filesystem operations ``cp`` (archive GET/HEAD/PUT), ``diff``, ``export`` and ``commit``.

Filesystem operations work on the container's overlay: when the container is not running
its snapshot is mounted for the duration of the call under the state dir and unmounted
after, so nothing is left mounted.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from wharf.apitypes.containers import ContainerConfig as WireConfig
from wharf.engine import container_fs
from wharf.engine.container_model import Status
from wharf.engine.containers import ContainerService
from wharf.engine.images import ImageService
from wharf.errdefs import Conflict, WharfError
from wharf.oci.config import ContainerConfig as OciContainerConfig
from wharf.oci.config import HealthConfig as OciHealthConfig
from wharf.oci.reference import parse_repository_and_tag
from wharf.runtime import cgroups
from wharf.runtime.users import resolve_user
from wharf.snapshots.snapshotter import Snapshotter

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class TopResult:
    titles: tuple[str, ...]
    processes: tuple[tuple[str, ...], ...]

    def to_wire(self) -> dict[str, Any]:
        return {"Titles": list(self.titles), "Processes": [list(p) for p in self.processes]}


def _proc_row(pid: int, boot_time: float) -> tuple[str, ...] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    ppid = fields[1]
    utime, stime = int(fields[11]), int(fields[12])
    start_ticks = int(fields[19])
    uid = next((line.split()[1] for line in status.splitlines() if line.startswith("Uid:")), "0")
    started = datetime.fromtimestamp(boot_time + start_ticks / _CLOCK_TICKS)
    cpu_seconds = (utime + stime) // _CLOCK_TICKS
    command = cmdline.replace(b"\0", b" ").decode(errors="replace").strip()
    if not command:
        command = "[" + stat[stat.index("(") + 1 : stat.rindex(")")] + "]"
    return (
        "root" if uid == "0" else uid,
        str(pid),
        ppid,
        "0",
        started.strftime("%H:%M"),
        "?",
        time.strftime("%H:%M:%S", time.gmtime(cpu_seconds)),
        command,
    )


def _boot_time() -> float:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime"):
            return float(line.split()[1])
    return 0.0


class ContainerInspector:
    def __init__(
        self, *, containers: ContainerService, snapshotter: Snapshotter, images: ImageService
    ) -> None:
        self._containers = containers
        self._snapshotter = snapshotter
        self._images = images

    def commit_container(
        self,
        reference: str,
        *,
        repository: str,
        tag: str,
        author: str,
        comment: str,
        changes: list[str],
        pause: bool,
        config_overrides: dict[str, Any],
    ) -> str:
        container_id = self._containers.resolve_id(reference)
        config, state = self._containers.config_and_state(container_id)
        wire = config.config
        if config_overrides:
            overrides = WireConfig.from_wire({**wire.to_wire(), **config_overrides})
            wire = overrides
        health = wire.healthcheck
        image_config = OciContainerConfig(
            user=wire.user,
            exposed_ports=wire.exposed_ports,
            env=wire.env,
            entrypoint=wire.entrypoint,
            cmd=wire.cmd,
            volumes=wire.volumes,
            working_dir=wire.working_dir,
            labels=dict(wire.labels),
            stop_signal=wire.stop_signal if wire.stop_signal != "SIGTERM" else "",
            healthcheck=None
            if health is None
            else OciHealthConfig(
                test=health.test,
                interval=health.interval,
                timeout=health.timeout,
                start_period=health.start_period,
                start_interval=health.start_interval,
                retries=health.retries,
            ),
            on_build=wire.on_build,
            shell=wire.shell,
        )
        runtime = self._containers.runtime_for(config)
        paused_here = False
        if pause and state.status is Status.RUNNING:
            runtime.pause(container_id)
            paused_here = True
        try:
            image_id = self._images.commit(
                parent_image_id=config.image_id,
                write_diff=lambda out: self.diff_layer(container_id, out),
                config=image_config,
                changes=changes,
                repository=repository,
                tag=tag,
                author=author,
                comment=comment,
                created_by=" ".join((config.path, *config.args)),
            )
        finally:
            if paused_here:
                with contextlib.suppress(WharfError):
                    runtime.resume(container_id)
        image_ref = (
            parse_repository_and_tag(repository, tag or None).with_default_tag().familiar()
            if repository
            else ""
        )
        self._containers.emit(
            config, "commit", {"comment": comment, "imageID": image_id, "imageRef": image_ref}
        )
        return image_id

    def top(self, reference: str) -> TopResult:
        container_id = self._containers.resolve_id(reference)
        config, state = self._containers.config_and_state(container_id)
        if not state.running:
            raise Conflict(f"container {container_id} is not running")
        pids = self._containers.runtime_for(config).ps(container_id)
        boot = _boot_time()
        rows = [row for pid in pids if (row := _proc_row(pid, boot)) is not None]
        return TopResult(
            titles=("UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"),
            processes=tuple(rows),
        )

    def stats(self, reference: str, previous: dict[str, Any] | None = None) -> dict[str, Any]:
        """One sample of Docker's stats JSON; ``previous`` becomes ``precpu_stats``."""
        container_id = self._containers.resolve_id(reference)
        config, state = self._containers.config_and_state(container_id)
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        sample: dict[str, Any] = {
            "read": now,
            "preread": previous["read"] if previous else "0001-01-01T00:00:00Z",
            "name": f"/{config.name}",
            "id": container_id,
            "num_procs": 0,
            "pids_stats": {},
            "blkio_stats": {
                "io_service_bytes_recursive": None,
                "io_serviced_recursive": None,
                "io_queue_recursive": None,
                "io_service_time_recursive": None,
                "io_wait_time_recursive": None,
                "io_merged_recursive": None,
                "io_time_recursive": None,
                "sectors_recursive": None,
            },
            "storage_stats": {},
            "cpu_stats": {
                "cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
                "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
            },
            "precpu_stats": (previous or {}).get("cpu_stats")
            or {
                "cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
                "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
            },
            "memory_stats": {},
        }
        if state.status not in (Status.RUNNING, Status.PAUSED):
            return sample
        with contextlib.suppress(OSError, WharfError):
            stats = cgroups.read_stats(cgroups.locate(f"/wharf/{container_id}"))
            sample["cpu_stats"] = {
                "cpu_usage": {
                    "total_usage": stats.cpu_usage_total_ns,
                    "percpu_usage": list(stats.cpu_usage_per_cpu) or None,
                    "usage_in_kernelmode": stats.cpu_usage_system_ns,
                    "usage_in_usermode": stats.cpu_usage_user_ns,
                },
                "system_cpu_usage": stats.system_cpu_usage,
                "online_cpus": stats.online_cpus,
                "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
            }
            memory_stat = dict(stats.memory_stat)
            sample["memory_stats"] = {
                "usage": stats.memory_usage,
                "max_usage": stats.memory_max_usage,
                "stats": memory_stat,
                "limit": stats.memory_limit or _mem_total(),
            }
            sample["pids_stats"] = {"current": stats.pids_current}
            if stats.pids_limit:
                sample["pids_stats"]["limit"] = stats.pids_limit
            sample["blkio_stats"]["io_service_bytes_recursive"] = [
                {"major": 0, "minor": 0, "op": "read", "value": stats.io_read_bytes},
                {"major": 0, "minor": 0, "op": "write", "value": stats.io_write_bytes},
            ]
        if state.pid > 0 and config.host_config.network_mode != "host":
            with contextlib.suppress(OSError):
                networks = net_dev_stats(Path(f"/proc/{state.pid}/net/dev").read_text())
                if networks:
                    sample["networks"] = networks
        return sample

    # ---------------------------------------------------------------- filesystem

    @contextmanager
    def _rootfs(self, container_id: str) -> Iterator[Path]:
        rootfs = self._containers.state_dir(container_id) / "rootfs"
        if os.path.ismount(rootfs):
            yield rootfs
            return
        scratch = self._containers.state_dir(container_id) / "fs-view"
        scratch.mkdir(parents=True, exist_ok=True)
        self._snapshotter.mount(container_id, scratch)
        try:
            yield scratch
        finally:
            self._snapshotter.unmount(scratch)
            with contextlib.suppress(OSError):
                scratch.rmdir()

    @contextmanager
    def _view(self, container_id: str) -> Iterator[Path]:
        """The container's filesystem as its processes see it, for ``cp``: a running
        container's ``/proc/<pid>/root`` shows its volumes, binds, tmpfs mounts and /etc
        files as Docker's ``cp`` does; a stopped one's is its overlay alone."""
        _, state = self._containers.config_and_state(container_id)
        if state.running and state.pid > 0:
            proc_root = Path(f"/proc/{state.pid}/root")
            if os.path.isdir(proc_root):  # false once the process is gone
                yield proc_root
                return
        with self._rootfs(container_id) as rootfs:
            yield rootfs

    def _layers(self, container_id: str) -> tuple[Path, list[Path]]:
        """The container's upper dir and its lower dirs, top first."""
        mount = self._snapshotter.mounts(container_id)[0]
        upper = Path()
        lowers: list[Path] = []
        for option in mount.options:
            key, _, value = option.partition("=")
            if key == "upperdir":
                upper = Path(value)
            elif key == "lowerdir":
                lowers = [Path(p) for p in value.split(":")]
        if mount.type == "bind":
            upper = Path(mount.source)
        return upper, lowers

    def stat_path(self, reference: str, path: str) -> container_fs.PathStat:
        container_id = self._containers.resolve_id(reference)
        with self._view(container_id) as rootfs:
            return container_fs.stat_path(rootfs, path)

    def archive(self, reference: str, path: str, out: BinaryIO) -> None:
        container_id = self._containers.resolve_id(reference)
        with self._view(container_id) as rootfs:
            container_fs.archive_path(rootfs, path, out)

    def extract(
        self,
        reference: str,
        path: str,
        tar_stream: BinaryIO,
        *,
        no_overwrite: bool,
        copy_uid_gid: bool,
    ) -> None:
        container_id = self._containers.resolve_id(reference)
        config, _ = self._containers.config_and_state(container_id)
        if config.host_config.read_only_rootfs:
            raise Conflict("container rootfs is marked read-only")
        with self._view(container_id) as rootfs:
            owner = None
            if copy_uid_gid:
                user = resolve_user(rootfs, config.config.user)
                owner = (user[0], user[1])
            container_fs.extract_to(
                rootfs, path, tar_stream, no_overwrite_dir_non_dir=no_overwrite, owner=owner
            )

    def changes(self, reference: str) -> list[container_fs.Change]:
        container_id = self._containers.resolve_id(reference)
        upper, lowers = self._layers(container_id)
        # Mount points the runtime makes are not the container's own changes.
        return container_fs.changes(
            upper,
            lowers,
            ignore=("/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/dev", "/proc", "/sys"),
        )

    def export(self, reference: str, out: BinaryIO) -> None:
        container_id = self._containers.resolve_id(reference)
        with self._rootfs(container_id) as rootfs:
            container_fs.export_rootfs(rootfs, out, exclude={"/proc", "/sys", "/dev"})

    def diff_layer(self, reference: str, out: BinaryIO) -> Any:
        container_id = self._containers.resolve_id(reference)
        upper, _ = self._layers(container_id)
        return container_fs.commit_diff(upper, out)


_NET_FIELDS = ("bytes", "packets", "errors", "dropped")


def net_dev_stats(text: str) -> dict[str, dict[str, int]]:
    """Docker's ``networks`` stats (``{"eth0": {"rx_bytes": ..., "tx_dropped": ...}}``) from
    a ``/proc/<pid>/net/dev`` table; loopback is left out, as Docker leaves it out."""
    networks: dict[str, dict[str, int]] = {}
    for line in text.splitlines()[2:]:
        name, sep, counters = line.partition(":")
        values = counters.split()
        if not sep or len(values) < 12 or name.strip() == "lo":
            continue
        try:
            rx, tx = [int(v) for v in values[:4]], [int(v) for v in values[8:12]]
        except ValueError:
            continue
        networks[name.strip()] = {
            **{f"rx_{field}": value for field, value in zip(_NET_FIELDS, rx, strict=True)},
            **{f"tx_{field}": value for field, value in zip(_NET_FIELDS, tx, strict=True)},
        }
    return networks


def _mem_total() -> int:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0
