"""Wire models for the image endpoints (list, inspect, history, delete, prune, progress)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# A zero-valued container.Config as dockerd serializes it (fields without omitempty).
_EMPTY_CONTAINER_CONFIG: dict[str, Any] = {
    "Hostname": "",
    "Domainname": "",
    "User": "",
    "AttachStdin": False,
    "AttachStdout": False,
    "AttachStderr": False,
    "Tty": False,
    "OpenStdin": False,
    "StdinOnce": False,
    "Env": None,
    "Cmd": None,
    "Image": "",
    "Volumes": None,
    "WorkingDir": "",
    "Entrypoint": None,
    "OnBuild": None,
    "Labels": None,
}


@dataclass(frozen=True, slots=True)
class ImageSummary:
    """One row of ``GET /images/json``."""

    id: str
    parent_id: str
    repo_tags: tuple[str, ...]
    repo_digests: tuple[str, ...]
    created: int
    size: int
    shared_size: int
    labels: tuple[tuple[str, str], ...]
    containers: int

    def to_wire(self, api_version: tuple[int, int]) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "Containers": self.containers,
            "Created": self.created,
            "Id": self.id,
            "Labels": dict(self.labels) or None,
            "ParentId": self.parent_id,
            "RepoDigests": list(self.repo_digests),
            "RepoTags": list(self.repo_tags),
            "SharedSize": self.shared_size,
            "Size": self.size,
        }
        if api_version < (1, 44):
            wire["VirtualSize"] = self.size
        return wire


@dataclass(frozen=True, slots=True)
class ImageInspect:
    """``GET /images/{name}/json``; ``config`` is the image config's ``config`` object as stored."""

    id: str
    repo_tags: tuple[str, ...]
    repo_digests: tuple[str, ...]
    parent: str
    comment: str
    created: str
    author: str
    config: dict[str, Any]
    architecture: str
    variant: str
    os: str
    size: int
    layers: tuple[str, ...]
    graph_driver_data: tuple[tuple[str, str], ...]
    last_tag_time: str
    descriptor: dict[str, Any]

    def to_wire(self, api_version: tuple[int, int]) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "Id": self.id,
            "RepoTags": list(self.repo_tags),
            "RepoDigests": list(self.repo_digests),
            "Parent": self.parent,
            "Comment": self.comment,
            "Created": self.created,
            "DockerVersion": "",
            "Author": self.author,
            "Config": self.config,
            "Architecture": self.architecture,
            "Os": self.os,
            "Size": self.size,
            "GraphDriver": {"Data": dict(self.graph_driver_data), "Name": "overlayfs"},
            "RootFS": {"Type": "layers", "Layers": list(self.layers)},
            "Metadata": {"LastTagTime": self.last_tag_time},
        }
        if self.variant:
            wire["Variant"] = self.variant
        if api_version < (1, 44):
            wire["VirtualSize"] = self.size
        # dockerd drops these two from 1.45 on, and so broke docker-compose 1.29, which reads
        # ContainerConfig.Volumes when it recreates a container (KeyError at the default
        # version). Zero-valued, they cost nothing and newer clients ignore them: always sent.
        wire["Container"] = ""
        wire["ContainerConfig"] = dict(_EMPTY_CONTAINER_CONFIG)
        if api_version >= (1, 48):
            wire["Descriptor"] = self.descriptor
        return wire


@dataclass(frozen=True, slots=True)
class HistoryItem:
    id: str
    created: int
    created_by: str
    tags: tuple[str, ...]
    size: int
    comment: str

    def to_wire(self) -> dict[str, Any]:
        return {
            "Id": self.id,
            "Created": self.created,
            "CreatedBy": self.created_by,
            "Tags": list(self.tags) or None,
            "Size": self.size,
            "Comment": self.comment,
        }


@dataclass(frozen=True, slots=True)
class DeleteItem:
    """One entry of ``DELETE /images/{name}``: exactly one of the two is set."""

    untagged: str = ""
    deleted: str = ""

    def to_wire(self) -> dict[str, str]:
        return {"Untagged": self.untagged} if self.untagged else {"Deleted": self.deleted}


@dataclass(frozen=True, slots=True)
class PruneReport:
    deleted: tuple[DeleteItem, ...]
    space_reclaimed: int

    def to_wire(self) -> dict[str, Any]:
        return {
            "ImagesDeleted": [item.to_wire() for item in self.deleted] or None,
            "SpaceReclaimed": self.space_reclaimed,
        }


@dataclass(frozen=True, slots=True)
class PushResult:
    """What a finished push made: the tag, the manifest's digest and size."""

    tag: str
    digest: str
    size: int

    def to_wire(self) -> dict[str, Any]:
        return {"Tag": self.tag, "Digest": self.digest, "Size": self.size}


@dataclass(frozen=True, slots=True)
class ProgressMessage:
    """One line of a pull/push progress stream (Docker's JSONMessage)."""

    status: str
    id: str = ""
    current: int = 0
    total: int = 0
    # A push ends with {"progressDetail": {}, "aux": {"Tag", "Digest", "Size"}}: no status.
    aux: PushResult | None = None

    def to_wire(self) -> dict[str, Any]:
        if self.aux is not None:
            return {"progressDetail": {}, "aux": self.aux.to_wire()}
        wire: dict[str, Any] = {"status": self.status}
        if self.id:
            wire["id"] = self.id
        if self.current or self.total:
            wire["progressDetail"] = {"current": self.current, "total": self.total}
        return wire
