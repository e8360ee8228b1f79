"""What the builder needs from the engine, declared here and implemented by ``engine/build``.

Imports: stdlib, ``wharf.oci``, ``wharf.apitypes``. The builder never sees containers,
snapshots or blobs: it asks for a base image, a rootfs view, a step run in a container (the
same path as ``wharf run``), a workspace to copy files into, a commit of either, and the
build cache's key → image mapping.

A step's result is a ``StepImage``: the manifest the engine wrote (``None`` for ``scratch``)
and its config. Image IDs are config digests, so a cache hit reproduces the next step's key
exactly (the key starts from the parent's ID).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from wharf.oci.config import ImageConfig
from wharf.oci.mediatypes import Compression


@dataclass(frozen=True, slots=True)
class StepImage:
    """An image the builder can stand on: a base, a cached step or a step just made."""

    manifest_digest: str | None  # None for scratch
    image_id: str  # config digest "sha256:...", "" for scratch
    config: ImageConfig

    @property
    def is_scratch(self) -> bool:
        return self.manifest_digest is None


class RunMountKind(enum.Enum):
    BIND = "bind"
    TMPFS = "tmpfs"


@dataclass(frozen=True, slots=True)
class RunMountSpec:
    """A mount for a RUN step, already resolved to a host path by the builder."""

    kind: RunMountKind
    target: str
    source: Path | None = None
    readonly: bool = False


class RunNetwork(enum.Enum):
    DEFAULT = "default"
    NONE = "none"
    HOST = "host"


@dataclass(frozen=True, slots=True)
class RunSpec:
    argv: tuple[str, ...]
    env: tuple[str, ...]
    user: str
    workdir: str
    network: RunNetwork = RunNetwork.DEFAULT
    mounts: tuple[RunMountSpec, ...] = ()
    extra_hosts: tuple[str, ...] = ()
    shm_size: int = 0
    memory: int = 0
    cpu_shares: int = 0


class StepFailed(Exception):
    """A RUN step's process exited non-zero."""

    def __init__(self, exit_code: int) -> None:
        super().__init__(f"exit code: {exit_code}")
        self.exit_code = exit_code


class Workspace(Protocol):
    """A writable root filesystem over a parent image, owned by the backend until commit."""

    @property
    def rootfs(self) -> Path: ...

    def close(self) -> None:
        """Discard whatever was not committed."""


@dataclass(frozen=True, slots=True)
class CacheRecord:
    """What the cache remembers about one step, to find it again and explain a miss."""

    key: str
    parent_id: str
    instruction: str
    sources: tuple[tuple[str, str], ...] = ()  # (source, checksum) for COPY/ADD
    args: tuple[str, ...] = ()  # build args a RUN step saw, "NAME=value"
    image: StepImage | None = field(default=None, compare=False)


class BuildBackend(Protocol):
    def base_image(self, name: str, *, pull: bool, output: Callable[[str], None]) -> StepImage:
        """The image ``name`` (pulled when absent or when ``pull``); NotFound otherwise."""

    def mount_image(self, image: StepImage) -> AbstractContextManager[Path]:
        """A read-only view of ``image``'s root filesystem for the duration of the block."""

    def run(self, parent: StepImage, spec: RunSpec, output: Callable[[bytes], None]) -> Workspace:
        """Run ``spec`` in a container over ``parent``; StepFailed when it exits non-zero."""

    def workspace(self, parent: StepImage) -> Workspace:
        """A writable rootfs over ``parent`` for COPY/ADD/WORKDIR, written without a container."""

    def commit(
        self, workspace: Workspace, config: ImageConfig, compression: Compression
    ) -> StepImage:
        """The workspace's changes as a new layer over its parent; ``config`` is the new image's
        config without that layer's diff ID (the backend appends it)."""

    def write_config(self, parent: StepImage, config: ImageConfig) -> StepImage:
        """A metadata-only step: ``parent``'s layers under a new config."""

    def resolve_owner(self, rootfs: Path, spec: str) -> tuple[int, int]:
        """``--chown`` / ``USER`` text to numeric ids, read from ``rootfs``'s passwd/group."""

    def cache_mount_dir(self, cache_id: str) -> Path:
        """The persistent directory behind ``RUN --mount=type=cache,id=...``."""

    def cache_lookup(self, key: str) -> StepImage | None: ...

    def cache_candidates(self, parent_id: str) -> list[CacheRecord]:
        """Entries recorded over ``parent_id``: what a miss is compared against."""

    def cache_store(self, record: CacheRecord, image: StepImage) -> None: ...

    def tag(self, image: StepImage, tags: tuple[str, ...]) -> None: ...
