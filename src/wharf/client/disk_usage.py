"""The answer of ``GET /system/df``, typed for the CLI (``system df``).

Sections the daemon left out (``null``) are empty. ``logs_size`` and ``log_sizes`` (per
container ID) are wharfd's extension (``LogsSize``, ``SizeLogs``); a daemon without it gives
0 and none. ``builder_size`` is what docker's CLI shows as the cache's size: the bytes of the
records that are not shared with images.

Imports only the standard library, ``wharf.errdefs`` and ``wharf.client``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from wharf.client.container_models import Volume
from wharf.client.container_results import ContainerSummary
from wharf.client.models import ImageSummary
from wharf.client.wire import Fields, as_list
from wharf.errdefs import EngineFailure

_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_go_time(text: str) -> float | None:
    """Seconds since the epoch of Go's RFC 3339 JSON time (nanoseconds allowed); None when
    empty or Go's zero time."""
    if not text or text.startswith("0001-01-01"):
        return None
    try:
        return datetime.fromisoformat(_FRACTION.sub(r"\1", text.replace("Z", "+00:00"))).timestamp()
    except ValueError as exc:
        raise EngineFailure(f"malformed daemon response: bad time {text!r}") from exc


@dataclass(frozen=True, slots=True)
class BuildCacheEntry:
    """One ``BuildCache`` record; times in seconds since the epoch."""

    id: str
    parents: tuple[str, ...]
    type: str
    description: str
    in_use: bool
    shared: bool
    size: int
    created_at: float
    last_used_at: float | None
    usage_count: int

    @classmethod
    def from_wire(cls, f: Fields) -> BuildCacheEntry:
        parents = f.texts("Parents") or ((f.text("Parent"),) if f.text("Parent") else ())
        return cls(
            id=f.text("ID"),
            parents=parents,
            type=f.text("Type"),
            description=f.text("Description"),
            in_use=f.flag("InUse"),
            shared=f.flag("Shared"),
            size=f.num("Size"),
            created_at=parse_go_time(f.text("CreatedAt")) or 0.0,
            last_used_at=parse_go_time(f.text("LastUsedAt")),
            usage_count=f.num("UsageCount"),
        )


@dataclass(frozen=True, slots=True)
class DiskUsage:
    layers_size: int
    logs_size: int
    images: tuple[ImageSummary, ...]
    containers: tuple[ContainerSummary, ...]
    log_sizes: Mapping[str, int]
    volumes: tuple[Volume, ...]
    build_cache: tuple[BuildCacheEntry, ...]
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def builder_size(self) -> int:
        return sum(record.size for record in self.build_cache if not record.shared)

    @classmethod
    def from_wire(cls, raw: object) -> DiskUsage:
        f = Fields(raw, "disk usage")
        containers = f.objs("Containers")
        return cls(
            layers_size=f.num("LayersSize"),
            logs_size=f.num("LogsSize"),
            images=tuple(
                ImageSummary.from_wire(item)
                for item in as_list(f.raw().get("Images"), "disk usage.Images")
            ),
            containers=tuple(ContainerSummary.from_wire(c.raw()) for c in containers),
            log_sizes={
                c.text("Id"): c.num("SizeLogs") for c in containers if "SizeLogs" in c.raw()
            },
            volumes=tuple(
                Volume.from_wire(item)
                for item in as_list(f.raw().get("Volumes"), "disk usage.Volumes")
            ),
            build_cache=tuple(BuildCacheEntry.from_wire(b) for b in f.objs("BuildCache")),
            raw=f.raw(),
        )
