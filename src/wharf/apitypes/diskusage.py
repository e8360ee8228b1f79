"""Wire model of ``GET /system/df``: what images, containers, volumes, the build cache and
container logs hold on disk.

Layer L0: imports the standard library, ``wharf.errdefs`` and the other wire models.

Docker's shape (API 1.42+)::

    {"LayersSize": n,                       bytes of every image's blobs and layers, once each
     "Images": [ImageSummary...],           with "Size", "SharedSize" and "Containers" filled
     "Containers": [ContainerSummary...],   with "SizeRw" and "SizeRootFs"
     "Volumes": [Volume...],                with "UsageData": {"Size", "RefCount"}
     "BuildCache": [{"ID", "Parents", "Type", "Description", "InUse", "Shared", "Size",
                     "CreatedAt", "LastUsedAt", "UsageCount"}...]}

Before 1.42 a cache record names one ``Parent`` instead of ``Parents``, and the top level
carries ``BuilderSize`` (the cache's bytes). The query's repeated ``type`` (container, image,
volume, build-cache) asks for some sections only; the others are ``null``.

Wharf's extension (Docker does not count logs): ``LogsSize`` at the top level, the bytes of
every container's json-file logs (rotated files included), and ``SizeLogs`` in each container
summary. Both are present whenever the containers section is; docker's clients ignore them.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from wharf.apitypes.containers import ContainerSummary
from wharf.apitypes.images import ImageSummary
from wharf.apitypes.volumes import Volume
from wharf.errdefs import InvalidArgument


class UsageKind(enum.Enum):
    """A section of ``/system/df``, as its ``type`` query names it."""

    CONTAINER = "container"
    IMAGE = "image"
    VOLUME = "volume"
    BUILD_CACHE = "build-cache"

    @classmethod
    def parse_all(cls, values: Iterable[str]) -> frozenset[UsageKind]:
        """The sections ``type=`` values ask for; none means all of them."""
        kinds = set()
        for value in values:
            try:
                kinds.add(cls(value))
            except ValueError:
                raise InvalidArgument(f"unknown object type: {value}") from None
        return frozenset(kinds) if kinds else frozenset(cls)


class CacheRecordType(enum.Enum):
    """BuildKit's record types, the two the classic builder's cache has."""

    REGULAR = "regular"  # a step's result: its layer, config and manifest
    CACHE_MOUNT = "exec.cachemount"  # a RUN --mount=type=cache directory


def go_time(timestamp: float) -> str:
    """Go's ``time.Time`` JSON (RFC 3339 with nanoseconds, trailing zeros dropped), in UTC."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{moment.microsecond:06d}".rstrip("0")
    return f"{text}.{fraction}Z" if fraction else f"{text}Z"


@dataclass(frozen=True, slots=True)
class BuildCacheRecord:
    """One build cache record. ``size`` is what the record alone holds on disk; ``shared``
    says those bytes are also an image's (docker's ``df`` then leaves them out of the cache's
    total)."""

    id: str
    type: CacheRecordType
    description: str
    size: int
    created_at: float
    last_used_at: float | None
    parents: tuple[str, ...] = ()
    in_use: bool = False
    shared: bool = False
    usage_count: int = 1

    def to_wire(self, api_version: tuple[int, int]) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "ID": self.id,
            "Type": self.type.value,
            "Description": self.description,
            "InUse": self.in_use,
            "Shared": self.shared,
            "Size": self.size,
            "CreatedAt": go_time(self.created_at),
            "LastUsedAt": None if self.last_used_at is None else go_time(self.last_used_at),
            "UsageCount": self.usage_count,
        }
        if api_version >= (1, 42):
            if self.parents:
                wire["Parents"] = list(self.parents)
        elif self.parents:
            wire["Parent"] = self.parents[0]
        return wire


@dataclass(frozen=True, slots=True)
class DiskUsage:
    """``GET /system/df``; a section not asked for is ``None``."""

    layers_size: int = 0
    images: tuple[ImageSummary, ...] | None = None
    containers: tuple[ContainerSummary, ...] | None = None
    volumes: tuple[Volume, ...] | None = None
    build_cache: tuple[BuildCacheRecord, ...] | None = None

    @property
    def logs_size(self) -> int:
        return sum(c.size_logs or 0 for c in self.containers or ())

    def to_wire(self, api_version: tuple[int, int]) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "Images": None
            if self.images is None
            else [image.to_wire(api_version) for image in self.images],
            "Containers": None
            if self.containers is None
            else [container.to_wire() for container in self.containers],
            "Volumes": None
            if self.volumes is None
            else [volume.to_wire() for volume in self.volumes],
            "BuildCache": None
            if self.build_cache is None
            else [record.to_wire(api_version) for record in self.build_cache],
        }
        if self.images is not None:
            wire["LayersSize"] = self.layers_size
        if self.containers is not None:
            wire["LogsSize"] = self.logs_size
        if api_version < (1, 42):
            wire["BuilderSize"] = sum(
                record.size for record in self.build_cache or () if not record.shared
            )
        return wire
