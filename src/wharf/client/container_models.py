"""Typed results of the container, exec and volume calls (``client.containers``,
``client.volumes``), decoded from the wire at the boundary like ``client.models``.

A module apart from ``client.models`` because defining frozen dataclasses costs CLI start-up
time (about 0.6 ms each): commands that never touch containers (``images``, ``version``) do not
import it, and the mixins import it on first use.

``ContainerInspect`` and ``Volume`` keep the decoded document in ``raw`` for ``inspect`` and
``--format`` templates, as ``ImageInspect`` does.

The create, wait and ``ps`` results live in ``client.container_results`` (the hot commands
import them alone) and are re-exported here.

Imports only the standard library, ``wharf.errdefs``, ``client.container_results`` and
``client.wire`` (the field readers).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Defined apart so that run and ps need not define every type here; re-exported.
from wharf.client.container_results import (
    ContainerCreated as ContainerCreated,
)
from wharf.client.container_results import (
    ContainerSummary as ContainerSummary,
)
from wharf.client.container_results import (
    MountSummary as MountSummary,
)
from wharf.client.container_results import (
    PortSummary as PortSummary,
)
from wharf.client.container_results import (
    WaitResult as WaitResult,
)
from wharf.client.wire import Fields as _Fields
from wharf.client.wire import as_list as _as_list
from wharf.errdefs import EngineFailure

# --- containers


@dataclass(frozen=True, slots=True)
class ContainerState:
    """``State`` of a container document."""

    status: str
    running: bool
    paused: bool
    restarting: bool
    oom_killed: bool
    dead: bool
    pid: int
    exit_code: int
    error: str
    started_at: str
    finished_at: str
    health: str = ""  # State.Health.Status: "starting", "healthy", "unhealthy"; "" without one


@dataclass(frozen=True, slots=True)
class ContainerInspect:
    """``GET /containers/{id}/json``: what the CLI decides on, plus the document as sent."""

    id: str
    name: str
    image: str
    state: ContainerState
    tty: bool
    open_stdin: bool
    auto_remove: bool
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_wire(cls, raw: object) -> ContainerInspect:
        f = _Fields(raw, "container")
        s = f.obj("State")
        config = f.obj("Config")
        return cls(
            id=f.text("Id"),
            name=f.text("Name"),
            image=f.text("Image"),
            state=ContainerState(
                status=s.text("Status"),
                running=s.flag("Running"),
                paused=s.flag("Paused"),
                restarting=s.flag("Restarting"),
                oom_killed=s.flag("OOMKilled"),
                dead=s.flag("Dead"),
                pid=s.num("Pid"),
                exit_code=s.num("ExitCode"),
                error=s.text("Error"),
                started_at=s.text("StartedAt"),
                finished_at=s.text("FinishedAt"),
                health=s.obj("Health").text("Status"),
            ),
            tty=config.flag("Tty"),
            open_stdin=config.flag("OpenStdin"),
            auto_remove=f.obj("HostConfig").flag("AutoRemove"),
            raw=f.raw(),
        )


@dataclass(frozen=True, slots=True)
class ExecInspect:
    """``GET /exec/{id}/json``; ``exit_code`` is None while the process has not exited."""

    id: str
    container_id: str
    running: bool
    exit_code: int | None
    pid: int

    @classmethod
    def from_wire(cls, raw: object) -> ExecInspect:
        f = _Fields(raw, "exec")
        code = f.raw().get("ExitCode")
        if code is not None and (isinstance(code, bool) or not isinstance(code, int)):
            raise EngineFailure("malformed daemon response: exec.ExitCode is not a number")
        return cls(
            id=f.text("ID"),
            container_id=f.text("ContainerID"),
            running=f.flag("Running"),
            exit_code=code,
            pid=f.num("Pid"),
        )


@dataclass(frozen=True, slots=True)
class TopResult:
    """``GET /containers/{id}/top``: ``ps`` column titles and one row per process."""

    titles: tuple[str, ...]
    processes: tuple[tuple[str, ...], ...]

    @classmethod
    def from_wire(cls, raw: object) -> TopResult:
        f = _Fields(raw, "top response")
        rows = []
        for row in _as_list(f.raw().get("Processes"), "top response.Processes"):
            if not isinstance(row, list):
                raise EngineFailure("malformed daemon response: a top row is not a list")
            rows.append(tuple(str(cell) for cell in row))
        return cls(titles=f.texts("Titles"), processes=tuple(rows))


class ChangeKind(enum.IntEnum):
    """``GET /containers/{id}/changes`` kinds, with the letter ``diff`` prints."""

    MODIFIED = 0
    ADDED = 1
    DELETED = 2

    @property
    def letter(self) -> str:
        return "CAD"[self.value]


@dataclass(frozen=True, slots=True)
class Change:
    kind: ChangeKind
    path: str

    @classmethod
    def list_from_wire(cls, raw: object) -> list[Change]:
        changes = []
        for item in _as_list(raw, "changes"):
            f = _Fields(item, "change")
            kind = f.num("Kind")
            if kind not in (0, 1, 2):
                raise EngineFailure(f"malformed daemon response: unknown change kind {kind}")
            changes.append(cls(ChangeKind(kind), f.text("Path")))
        return changes


class GoFileMode(enum.IntFlag):
    """The type bits of Go's ``os.FileMode``, which the archive stat header carries."""

    DIR = 1 << 31
    SYMLINK = 1 << 27
    DEVICE = 1 << 26
    NAMED_PIPE = 1 << 25
    SOCKET = 1 << 24
    CHAR_DEVICE = 1 << 21
    IRREGULAR = 1 << 19


@dataclass(frozen=True, slots=True)
class PathStat:
    """``X-Docker-Container-Path-Stat`` (base64 JSON) of ``/containers/{id}/archive``."""

    name: str
    size: int
    mode: int  # Go os.FileMode: permission bits plus ``GoFileMode`` type bits
    mtime: str
    link_target: str

    @property
    def is_dir(self) -> bool:
        return bool(self.mode & GoFileMode.DIR)

    @property
    def is_symlink(self) -> bool:
        return bool(self.mode & GoFileMode.SYMLINK)

    @property
    def is_regular(self) -> bool:
        types = GoFileMode.DIR | GoFileMode.SYMLINK | GoFileMode.NAMED_PIPE | GoFileMode.SOCKET
        types |= GoFileMode.DEVICE | GoFileMode.CHAR_DEVICE | GoFileMode.IRREGULAR
        return not self.mode & types

    @classmethod
    def from_header(cls, value: str) -> PathStat:
        import base64
        import binascii
        import json

        try:
            raw = json.loads(base64.b64decode(value.strip(), validate=False))
        except (ValueError, binascii.Error) as exc:
            raise EngineFailure(
                "malformed daemon response: bad X-Docker-Container-Path-Stat header"
            ) from exc
        f = _Fields(raw, "path stat")
        return cls(
            name=f.text("name"),
            size=f.num("size"),
            mode=f.num("mode"),
            mtime=f.text("mtime"),
            link_target=f.text("linkTarget"),
        )


@dataclass(frozen=True, slots=True)
class StatsSample:
    """One ``GET /containers/{id}/stats`` document, reduced to what ``docker stats`` computes."""

    id: str
    name: str
    cpu_total: int
    precpu_total: int
    system_usage: int
    presystem_usage: int
    online_cpus: int
    percpu_count: int
    memory_usage: int
    memory_limit: int
    memory_stats: tuple[tuple[str, int], ...]
    pids: int
    networks: tuple[tuple[str, int, int], ...]  # (interface, rx bytes, tx bytes)
    blkio: tuple[tuple[str, int], ...]  # io_service_bytes_recursive (op, value)

    @classmethod
    def from_wire(cls, raw: object) -> StatsSample:
        f = _Fields(raw, "stats")
        cpu = f.obj("cpu_stats")
        precpu = f.obj("precpu_stats")
        memory = f.obj("memory_stats")
        mem_stats = tuple(
            (str(key), int(value))
            for key, value in (memory.raw().get("stats") or {}).items()
            if isinstance(value, (int, float)) and not isinstance(value, bool)
        )
        networks = f.raw().get("networks") or {}
        if not isinstance(networks, dict):
            raise EngineFailure("malformed daemon response: stats.networks is not an object")
        blkio = f.obj("blkio_stats").objs("io_service_bytes_recursive")
        return cls(
            id=f.text("id"),
            name=f.text("name"),
            cpu_total=cpu.obj("cpu_usage").num("total_usage"),
            precpu_total=precpu.obj("cpu_usage").num("total_usage"),
            system_usage=cpu.num("system_cpu_usage"),
            presystem_usage=precpu.num("system_cpu_usage"),
            online_cpus=cpu.num("online_cpus"),
            percpu_count=len(cpu.obj("cpu_usage").raw().get("percpu_usage") or ()),
            memory_usage=memory.num("usage"),
            memory_limit=memory.num("limit"),
            memory_stats=mem_stats,
            pids=f.obj("pids_stats").num("current"),
            networks=tuple(
                (str(name), n.num("rx_bytes"), n.num("tx_bytes"))
                for name, n in (
                    (name, _Fields(value, f"stats.networks.{name}"))
                    for name, value in networks.items()
                )
            ),
            blkio=tuple((entry.text("op"), entry.num("value")) for entry in blkio),
        )


@dataclass(frozen=True, slots=True)
class ContainerPruneReport:
    """``POST /containers/prune``."""

    deleted: tuple[str, ...]
    space_reclaimed: int

    @classmethod
    def from_wire(cls, raw: object) -> ContainerPruneReport:
        f = _Fields(raw, "container prune report")
        return cls(f.texts("ContainersDeleted"), f.num("SpaceReclaimed"))


# --- volumes


@dataclass(frozen=True, slots=True)
class Volume:
    """``GET /volumes/{name}`` and the items of ``GET /volumes``; ``size`` -1 when unknown."""

    name: str
    driver: str
    mountpoint: str
    created_at: str
    scope: str
    labels: tuple[tuple[str, str], ...]
    options: tuple[tuple[str, str], ...]
    size: int
    ref_count: int
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_wire(cls, raw: object) -> Volume:
        f = _Fields(raw, "volume")
        usage = f.obj("UsageData")
        return cls(
            name=f.text("Name"),
            driver=f.text("Driver"),
            mountpoint=f.text("Mountpoint"),
            created_at=f.text("CreatedAt"),
            scope=f.text("Scope"),
            labels=f.str_map("Labels"),
            options=f.str_map("Options"),
            size=usage.num("Size", -1),
            ref_count=usage.num("RefCount", -1),
            raw=f.raw(),
        )


@dataclass(frozen=True, slots=True)
class VolumeList:
    """``GET /volumes``."""

    volumes: tuple[Volume, ...]
    warnings: tuple[str, ...]

    @classmethod
    def from_wire(cls, raw: object) -> VolumeList:
        f = _Fields(raw, "volume list")
        volumes = _as_list(f.raw().get("Volumes"), "volume list.Volumes")
        return cls(tuple(Volume.from_wire(v) for v in volumes), f.texts("Warnings"))


@dataclass(frozen=True, slots=True)
class VolumePruneReport:
    """``POST /volumes/prune``."""

    deleted: tuple[str, ...]
    space_reclaimed: int

    @classmethod
    def from_wire(cls, raw: object) -> VolumePruneReport:
        f = _Fields(raw, "volume prune report")
        return cls(f.texts("VolumesDeleted"), f.num("SpaceReclaimed"))
