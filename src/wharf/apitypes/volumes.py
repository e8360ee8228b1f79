"""Wire models for the volume endpoints (``/volumes``, ``/volumes/create``, ``/volumes/prune``,
and the volumes part of ``/system/df``).

Layer L0: imports the standard library and ``wharf.errdefs`` only.

Docker's ``Volume`` object::

    {"Name": "data", "Driver": "local", "Mountpoint": "/var/lib/wharf/volumes/data/_data",
     "CreatedAt": "2024-05-01T10:00:00Z", "Labels": {}, "Scope": "local", "Options": {},
     "Status": {...} (drivers that report one), "UsageData": {"Size": n, "RefCount": n} (df)}

``CreatedAt`` is RFC 3339 in whole seconds and the daemon's local zone, as Go's
``time.RFC3339`` writes it. Anonymous volumes carry the label ``com.docker.volume.anonymous``
(Docker 23+), which is also how ``volume prune`` tells them apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from wharf.errdefs import InvalidArgument

ANONYMOUS_LABEL = "com.docker.volume.anonymous"
DEFAULT_DRIVER = "local"


def rfc3339(timestamp: float) -> str:
    """Seconds since the epoch as Go's ``time.RFC3339`` in the local zone ("Z" for UTC)."""
    text = datetime.fromtimestamp(int(timestamp)).astimezone().isoformat(timespec="seconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


@dataclass(frozen=True, slots=True)
class VolumeUsage:
    """``UsageData``: ``size`` in bytes (-1 when it could not be measured) and how many
    containers reference the volume."""

    size: int
    ref_count: int

    def to_wire(self) -> dict[str, int]:
        return {"Size": self.size, "RefCount": self.ref_count}


@dataclass(frozen=True, slots=True)
class Volume:
    name: str
    driver: str
    mountpoint: str
    created_at: float
    labels: tuple[tuple[str, str], ...] = ()
    options: tuple[tuple[str, str], ...] = ()
    scope: str = "local"
    status: tuple[tuple[str, str], ...] | None = None
    usage: VolumeUsage | None = None

    @property
    def anonymous(self) -> bool:
        return any(key == ANONYMOUS_LABEL for key, _ in self.labels)

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "CreatedAt": rfc3339(self.created_at),
            "Driver": self.driver,
            "Labels": dict(self.labels),
            "Mountpoint": self.mountpoint,
            "Name": self.name,
            "Options": dict(self.options),
            "Scope": self.scope,
        }
        if self.status is not None:
            wire["Status"] = dict(self.status)
        if self.usage is not None:
            wire["UsageData"] = self.usage.to_wire()
        return wire


@dataclass(frozen=True, slots=True)
class VolumeList:
    """``GET /volumes``."""

    volumes: tuple[Volume, ...]
    warnings: tuple[str, ...] = ()

    def to_wire(self) -> dict[str, Any]:
        return {
            "Volumes": [volume.to_wire() for volume in self.volumes],
            "Warnings": list(self.warnings),
        }


@dataclass(frozen=True, slots=True)
class VolumePruneReport:
    """``POST /volumes/prune``."""

    deleted: tuple[str, ...]
    space_reclaimed: int

    def to_wire(self) -> dict[str, Any]:
        return {"VolumesDeleted": list(self.deleted), "SpaceReclaimed": self.space_reclaimed}


@dataclass(frozen=True, slots=True)
class VolumeCreateRequest:
    """The body of ``POST /volumes/create``: ``{"Name", "Driver", "DriverOpts", "Labels"}``.

    An empty ``Name`` asks for a generated (anonymous) one; an empty ``Driver`` is "local".
    ``ClusterVolumeSpec`` (swarm) is not supported and refused.
    """

    name: str | None = None
    driver: str = DEFAULT_DRIVER
    driver_opts: tuple[tuple[str, str], ...] = ()
    labels: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_wire(cls, body: object) -> VolumeCreateRequest:
        if body is None:
            return cls()
        if not isinstance(body, dict):
            raise InvalidArgument("invalid volume create request: the body is not a JSON object")
        name = _optional_str(body, "Name")
        driver = _optional_str(body, "Driver")
        if body.get("ClusterVolumeSpec"):
            raise InvalidArgument("cluster volumes are not supported (this node is not a swarm)")
        return cls(
            name=name or None,
            driver=driver or DEFAULT_DRIVER,
            driver_opts=_string_map(body, "DriverOpts"),
            labels=_string_map(body, "Labels"),
        )


def _optional_str(body: Mapping[str, object], key: str) -> str:
    value = body.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidArgument(f"invalid volume create request: {key} must be a string")
    return value


def _string_map(body: Mapping[str, object], key: str) -> tuple[tuple[str, str], ...]:
    value = body.get(key)
    if value is None:
        return ()
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise InvalidArgument(f"invalid volume create request: {key} must be an object of strings")
    return tuple(sorted(value.items()))
