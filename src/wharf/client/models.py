"""Typed results of the Engine API client, decoded from the wire at the boundary.

Each model has a ``from_wire`` classmethod taking the decoded JSON as the daemon (wharfd or
dockerd) sends it: Docker's field names, ``null`` wherever Go marshals a nil slice or map.
Decoding is lenient about absent fields (older and newer daemons differ) and strict about
types: a field of the wrong type raises ``EngineFailure`` naming it.

``ImageInspect``, ``ServerVersion`` and ``SystemInfo`` also keep the decoded JSON in ``raw``:
``wharf inspect`` prints it verbatim as docker does, and ``--format`` templates address Docker's
field names (``{{.Config.Env}}``, ``{{.ServerVersion}}``); nothing else should read ``raw``.

Imports only the standard library, ``wharf.errdefs``, ``client.ping`` and ``client.wire``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from wharf.client.ping import Ping as Ping
from wharf.client.wire import Fields as _Fields
from wharf.client.wire import as_list as _as_list

# --- system


# ``Ping`` is defined in ``client.ping`` (negotiation needs it alone) and re-exported here.


@dataclass(frozen=True, slots=True)
class ComponentVersion:
    name: str
    version: str
    details: tuple[tuple[str, str], ...] = ()

    def detail(self, key: str) -> str:
        return dict(self.details).get(key, "")


@dataclass(frozen=True, slots=True)
class ServerVersion:
    """``GET /version``."""

    platform_name: str
    version: str
    api_version: str
    min_api_version: str
    git_commit: str
    go_version: str
    os: str
    arch: str
    kernel_version: str
    experimental: bool
    build_time: str
    components: tuple[ComponentVersion, ...]
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_wire(cls, raw: object) -> ServerVersion:
        f = _Fields(raw, "version")
        return cls(
            platform_name=f.obj("Platform").text("Name"),
            version=f.text("Version"),
            api_version=f.text("ApiVersion"),
            min_api_version=f.text("MinAPIVersion"),
            git_commit=f.text("GitCommit"),
            go_version=f.text("GoVersion"),
            os=f.text("Os"),
            arch=f.text("Arch"),
            kernel_version=f.text("KernelVersion"),
            experimental=f.flag("Experimental"),
            build_time=f.text("BuildTime"),
            components=tuple(
                ComponentVersion(c.text("Name"), c.text("Version"), c.str_map("Details"))
                for c in f.objs("Components")
            ),
            raw=f.raw(),
        )


@dataclass(frozen=True, slots=True)
class SystemInfo:
    """``GET /info``: the fields ``wharf info`` shows."""

    id: str
    name: str
    containers: int
    containers_running: int
    containers_paused: int
    containers_stopped: int
    images: int
    server_version: str
    driver: str
    driver_status: tuple[tuple[str, str], ...]
    logging_driver: str
    cgroup_driver: str
    cgroup_version: str
    volume_plugins: tuple[str, ...]
    network_plugins: tuple[str, ...]
    authorization_plugins: tuple[str, ...]
    log_plugins: tuple[str, ...]
    swarm_state: str
    runtimes: tuple[str, ...]
    default_runtime: str
    init_binary: str
    containerd_commit: str
    runc_commit: str
    init_commit: str
    security_options: tuple[str, ...]
    kernel_version: str
    operating_system: str
    os_type: str
    architecture: str
    ncpu: int
    mem_total: int
    docker_root_dir: str
    debug: bool
    nfd: int
    ngoroutines: int
    system_time: str
    nevents_listener: int
    http_proxy: str
    https_proxy: str
    no_proxy: str
    labels: tuple[str, ...]
    experimental_build: bool
    insecure_registries: tuple[str, ...]
    registry_mirrors: tuple[str, ...]
    live_restore: bool
    warnings: tuple[str, ...]
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_wire(cls, raw: object) -> SystemInfo:
        f = _Fields(raw, "info")
        plugins = f.obj("Plugins")
        registry = f.obj("RegistryConfig")
        insecure = [
            config.text("Name")
            for config in (
                _Fields(value, "info.RegistryConfig.IndexConfigs[]")
                for value in (registry.raw().get("IndexConfigs") or {}).values()
            )
            if not config.flag("Secure", True)
        ]
        insecure.extend(registry.texts("InsecureRegistryCIDRs"))
        driver_status = tuple(
            (str(pair[0]), str(pair[1]))
            for pair in _as_list(f.raw().get("DriverStatus"), "info.DriverStatus")
            if isinstance(pair, list) and len(pair) == 2
        )
        return cls(
            id=f.text("ID"),
            name=f.text("Name"),
            containers=f.num("Containers"),
            containers_running=f.num("ContainersRunning"),
            containers_paused=f.num("ContainersPaused"),
            containers_stopped=f.num("ContainersStopped"),
            images=f.num("Images"),
            server_version=f.text("ServerVersion"),
            driver=f.text("Driver"),
            driver_status=driver_status,
            logging_driver=f.text("LoggingDriver"),
            cgroup_driver=f.text("CgroupDriver"),
            cgroup_version=f.text("CgroupVersion"),
            volume_plugins=plugins.texts("Volume"),
            network_plugins=plugins.texts("Network"),
            authorization_plugins=plugins.texts("Authorization"),
            log_plugins=plugins.texts("Log"),
            swarm_state=f.obj("Swarm").text("LocalNodeState"),
            runtimes=tuple(sorted(f.keys_of("Runtimes"))),
            default_runtime=f.text("DefaultRuntime"),
            init_binary=f.text("InitBinary"),
            containerd_commit=f.obj("ContainerdCommit").text("ID"),
            runc_commit=f.obj("RuncCommit").text("ID"),
            init_commit=f.obj("InitCommit").text("ID"),
            security_options=f.texts("SecurityOptions"),
            kernel_version=f.text("KernelVersion"),
            operating_system=f.text("OperatingSystem"),
            os_type=f.text("OSType"),
            architecture=f.text("Architecture"),
            ncpu=f.num("NCPU"),
            mem_total=f.num("MemTotal"),
            docker_root_dir=f.text("DockerRootDir"),
            debug=f.flag("Debug"),
            nfd=f.num("NFd"),
            ngoroutines=f.num("NGoroutines"),
            system_time=f.text("SystemTime"),
            nevents_listener=f.num("NEventsListener"),
            http_proxy=f.text("HttpProxy"),
            https_proxy=f.text("HttpsProxy"),
            no_proxy=f.text("NoProxy"),
            labels=f.texts("Labels"),
            experimental_build=f.flag("ExperimentalBuild"),
            insecure_registries=tuple(insecure),
            registry_mirrors=registry.texts("Mirrors"),
            live_restore=f.flag("LiveRestoreEnabled"),
            warnings=f.texts("Warnings"),
            raw=f.raw(),
        )


# --- images


@dataclass(frozen=True, slots=True)
class ImageSummary:
    """One row of ``GET /images/json``. ``shared_size``/``containers`` are -1 when not computed."""

    id: str
    parent_id: str
    repo_tags: tuple[str, ...]
    repo_digests: tuple[str, ...]
    created: int
    size: int
    shared_size: int
    containers: int
    labels: tuple[tuple[str, str], ...]

    @classmethod
    def from_wire(cls, raw: object) -> ImageSummary:
        f = _Fields(raw, "image summary")
        return cls(
            id=f.text("Id"),
            parent_id=f.text("ParentId"),
            repo_tags=f.texts("RepoTags"),
            repo_digests=f.texts("RepoDigests"),
            created=f.num("Created"),
            size=f.num("Size"),
            shared_size=f.num("SharedSize", -1),
            containers=f.num("Containers", -1),
            labels=f.str_map("Labels"),
        )

    @classmethod
    def list_from_wire(cls, raw: object) -> list[ImageSummary]:
        return [cls.from_wire(item) for item in _as_list(raw, "image list")]


@dataclass(frozen=True, slots=True)
class ImageInspect:
    """``GET /images/{name}/json``: a few typed fields plus the document as sent."""

    id: str
    repo_tags: tuple[str, ...]
    repo_digests: tuple[str, ...]
    created: str
    size: int
    architecture: str
    os: str
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_wire(cls, raw: object) -> ImageInspect:
        f = _Fields(raw, "image")
        return cls(
            id=f.text("Id"),
            repo_tags=f.texts("RepoTags"),
            repo_digests=f.texts("RepoDigests"),
            created=f.text("Created"),
            size=f.num("Size"),
            architecture=f.text("Architecture"),
            os=f.text("Os"),
            raw=f.raw(),
        )


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One layer of ``GET /images/{name}/history``; ``id`` is ``<missing>`` for inner layers."""

    id: str
    created: int
    created_by: str
    tags: tuple[str, ...]
    size: int
    comment: str

    @classmethod
    def list_from_wire(cls, raw: object) -> list[HistoryEntry]:
        entries = []
        for item in _as_list(raw, "image history"):
            f = _Fields(item, "image history entry")
            entries.append(
                cls(
                    id=f.text("Id"),
                    created=f.num("Created"),
                    created_by=f.text("CreatedBy"),
                    tags=f.texts("Tags"),
                    size=f.num("Size"),
                    comment=f.text("Comment"),
                )
            )
        return entries


class DeleteKind(enum.Enum):
    UNTAGGED = "Untagged"
    DELETED = "Deleted"


@dataclass(frozen=True, slots=True)
class ImageDeleted:
    """One line of an image removal: a name untagged or an image (layer) deleted."""

    kind: DeleteKind
    ref: str

    @classmethod
    def list_from_wire(cls, raw: object) -> list[ImageDeleted]:
        items = []
        for item in _as_list(raw, "image delete response"):
            f = _Fields(item, "image delete response item")
            if untagged := f.text("Untagged"):
                items.append(cls(DeleteKind.UNTAGGED, untagged))
            elif deleted := f.text("Deleted"):
                items.append(cls(DeleteKind.DELETED, deleted))
        return items


@dataclass(frozen=True, slots=True)
class PruneReport:
    """``POST /images/prune``."""

    deleted: tuple[ImageDeleted, ...]
    space_reclaimed: int

    @classmethod
    def from_wire(cls, raw: object) -> PruneReport:
        f = _Fields(raw, "prune report")
        return cls(
            deleted=tuple(ImageDeleted.list_from_wire(f.raw().get("ImagesDeleted"))),
            space_reclaimed=f.num("SpaceReclaimed"),
        )


# --- JSON progress streams (load, import, pull, push, build)


@dataclass(frozen=True, slots=True)
class JSONMessage:
    """One line of a JSON progress stream (Docker's ``jsonmessage.JSONMessage``).

    ``progress_current``/``progress_total`` come from ``progressDetail``; ``progress`` is the
    daemon's pre-rendered bar. ``error`` is set on the line that ends a failed stream.
    """

    stream: str = ""
    status: str = ""
    id: str = ""
    progress: str = ""
    progress_current: int = 0
    progress_total: int = 0
    error: str = ""
    error_code: int = 0
    aux_id: str = ""

    @property
    def has_progress(self) -> bool:
        return bool(self.progress) or self.progress_total > 0 or self.progress_current > 0

    @classmethod
    def from_wire(cls, raw: object) -> JSONMessage:
        f = _Fields(raw, "progress message")
        detail = f.obj("progressDetail")
        error_detail = f.obj("errorDetail")
        error = f.text("error") or error_detail.text("message")
        aux = f.raw().get("aux")
        aux_id = aux.get("ID", "") if isinstance(aux, dict) else ""
        return cls(
            stream=f.text("stream"),
            status=f.text("status"),
            id=f.text("id"),
            progress=f.text("progress"),
            progress_current=detail.num("current"),
            progress_total=detail.num("total"),
            error=error,
            error_code=error_detail.num("code"),
            aux_id=aux_id if isinstance(aux_id, str) else "",
        )
