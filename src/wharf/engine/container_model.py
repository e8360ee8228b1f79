"""A container's immutable configuration and its mutable state, as pure values.

``ContainerConfig`` (what ``create`` decided: the request as Docker's wire shapes plus what
was resolved from the image) never changes after create, except its name (``rename``) and its
HostConfig's resource limits and restart policy (``update``). ``ContainerState``
moves only through the transition methods below, which refuse illegal moves with
``Conflict``; the service persists each new state in one place. No I/O here.

States: created → running ⇄ paused; running → exited (or → restarting → running by policy);
a failed start leaves the container ``created`` with its exit code and error, as Docker does.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from wharf.apitypes.containers import ContainerConfig as WireConfig
from wharf.apitypes.containers import HostConfig
from wharf.errdefs import Conflict

ZERO_TIME = "0001-01-01T00:00:00Z"


def rfc3339_now() -> str:
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond:06d}000Z"


class Status(Enum):
    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    RESTARTING = "restarting"
    REMOVING = "removing"
    EXITED = "exited"
    DEAD = "dead"


@dataclass(frozen=True, slots=True)
class MountPoint:
    """A mount as ``inspect`` shows it (``Mounts[]``) and as start needs it."""

    type: str  # bind | volume | tmpfs
    source: str
    destination: str
    rw: bool = True
    name: str = ""
    mode: str = ""
    propagation: str = "rprivate"
    tmpfs_options: tuple[str, ...] = ()
    anonymous: bool = False

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "Type": self.type,
            "Source": self.source,
            "Destination": self.destination,
            "Mode": self.mode,
            "RW": self.rw,
            "Propagation": self.propagation if self.type == "bind" else "",
        }
        if self.type == "volume":
            wire["Name"] = self.name
            wire["Driver"] = "local"
        return wire


@dataclass(frozen=True, slots=True)
class ContainerConfig:
    id: str
    name: str
    created: str
    image_ref: str  # as the user gave it, shown by ps
    image_id: str  # config digest of the image
    path: str
    args: tuple[str, ...]
    config: WireConfig  # merged with the image's config
    host_config: HostConfig
    mounts: tuple[MountPoint, ...] = ()
    runtime: str = "runc"
    stop_signal: str = "SIGTERM"
    stop_timeout: int = 10
    log_max_size: int = 10 << 20
    log_max_files: int = 5

    def to_json(self) -> str:
        return json.dumps(
            {
                "id": self.id,
                "name": self.name,
                "created": self.created,
                "image_ref": self.image_ref,
                "image_id": self.image_id,
                "path": self.path,
                "args": list(self.args),
                "config": self.config.to_wire(),
                "host_config": self.host_config.to_wire(),
                "mounts": [asdict(m) for m in self.mounts],
                "runtime": self.runtime,
                "stop_signal": self.stop_signal,
                "stop_timeout": self.stop_timeout,
                "log_max_size": self.log_max_size,
                "log_max_files": self.log_max_files,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> ContainerConfig:
        raw = json.loads(text)
        return cls(
            id=raw["id"],
            name=raw["name"],
            created=raw["created"],
            image_ref=raw["image_ref"],
            image_id=raw["image_id"],
            path=raw["path"],
            args=tuple(raw["args"]),
            config=WireConfig.from_wire(raw["config"]),
            host_config=HostConfig.from_wire(raw["host_config"]),
            mounts=tuple(
                MountPoint(**{**m, "tmpfs_options": tuple(m.get("tmpfs_options", ()))})
                for m in raw["mounts"]
            ),
            runtime=raw["runtime"],
            stop_signal=raw["stop_signal"],
            stop_timeout=raw["stop_timeout"],
            log_max_size=raw["log_max_size"],
            log_max_files=raw["log_max_files"],
        )


@dataclass(frozen=True, slots=True)
class ContainerState:
    status: Status = Status.CREATED
    pid: int = 0
    monitor_pid: int = 0
    exit_code: int = 0
    error: str = ""
    started_at: str = ZERO_TIME
    finished_at: str = ZERO_TIME
    oom_killed: bool = False
    restart_count: int = 0
    stopped_by_user: bool = False
    has_been_started: bool = False
    exec_ids: tuple[str, ...] = field(default=())

    @property
    def running(self) -> bool:
        return self.status in (Status.RUNNING, Status.PAUSED)

    # -- transitions -------------------------------------------------------------------

    def started(
        self, *, pid: int, monitor_pid: int, now: str, restart: bool = False
    ) -> ContainerState:
        if self.status in (Status.RUNNING, Status.PAUSED):
            raise Conflict("container is already running")
        return replace(
            self,
            status=Status.RUNNING,
            pid=pid,
            monitor_pid=monitor_pid,
            exit_code=0,
            error="",
            started_at=now,
            oom_killed=False,
            stopped_by_user=False,
            has_been_started=True,
            restart_count=self.restart_count + 1 if restart else self.restart_count,
        )

    def start_failed(self, *, exit_code: int, error: str, now: str) -> ContainerState:
        status = Status.EXITED if self.has_been_started else Status.CREATED
        return replace(
            self,
            status=status,
            pid=0,
            monitor_pid=0,
            exit_code=exit_code,
            error=error,
            finished_at=now if self.has_been_started else self.finished_at,
        )

    def exited(self, *, exit_code: int, finished_at: str, oom_killed: bool) -> ContainerState:
        return replace(
            self,
            status=Status.EXITED,
            pid=0,
            monitor_pid=0,
            exit_code=exit_code,
            finished_at=finished_at,
            oom_killed=oom_killed,
        )

    def stopping_by_user(self) -> ContainerState:
        return replace(self, stopped_by_user=True)

    def restarting(self) -> ContainerState:
        return replace(self, status=Status.RESTARTING)

    def paused(self) -> ContainerState:
        if self.status is not Status.RUNNING:
            raise Conflict("container is not running")
        return replace(self, status=Status.PAUSED)

    def unpaused(self) -> ContainerState:
        if self.status is not Status.PAUSED:
            raise Conflict("container is not paused")
        return replace(self, status=Status.RUNNING)

    # -- persistence -------------------------------------------------------------------

    def to_json(self) -> str:
        raw = asdict(self)
        raw["status"] = self.status.value
        raw["exec_ids"] = list(self.exec_ids)
        return json.dumps(raw)

    @classmethod
    def from_json(cls, text: str) -> ContainerState:
        raw = json.loads(text)
        raw["status"] = Status(raw["status"])
        raw["exec_ids"] = tuple(raw.get("exec_ids", ()))
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in raw.items() if k in known})
