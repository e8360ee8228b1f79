"""Typed results of the Engine API client, decoded from the wire at the boundary.

Each model has a ``from_wire`` classmethod taking the decoded JSON as the daemon (wharfd or
dockerd) sends it: Docker's field names, ``null`` wherever Go marshals a nil slice or map.
Decoding is lenient about absent fields (older and newer daemons differ) and strict about
types: a field of the wrong type raises ``EngineFailure`` naming it.

``ImageInspect``, ``ContainerInspect``, ``Volume``, ``ServerVersion`` and ``SystemInfo`` also keep
the decoded JSON in ``raw``:
``wharf inspect`` prints it verbatim as docker does, and ``--format`` templates address Docker's
field names (``{{.Config.Env}}``, ``{{.ServerVersion}}``); nothing else should read ``raw``.

Imports only the standard library and ``wharf.errdefs``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from wharf.errdefs import EngineFailure


class _Fields:
    """Typed reads from one decoded JSON object; ``what`` names it in error messages."""

    __slots__ = ("_raw", "_what")

    def __init__(self, raw: object, what: str) -> None:
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise EngineFailure(f"malformed daemon response: {what} is not an object")
        self._raw: dict[str, Any] = raw
        self._what = what

    def _get(self, key: str, kind: type | tuple[type, ...], kind_name: str) -> Any:
        value = self._raw.get(key)
        if value is None:
            return None
        if isinstance(value, bool) and kind is not bool:
            raise self._wrong(key, kind_name)
        if not isinstance(value, kind):
            raise self._wrong(key, kind_name)
        return value

    def _wrong(self, key: str, kind_name: str) -> EngineFailure:
        return EngineFailure(f"malformed daemon response: {self._what}.{key} is not {kind_name}")

    def text(self, key: str, default: str = "") -> str:
        value = self._get(key, str, "a string")
        return default if value is None else str(value)

    def num(self, key: str, default: int = 0) -> int:
        value = self._get(key, (int, float), "a number")
        return default if value is None else int(value)

    def flag(self, key: str, default: bool = False) -> bool:
        value = self._get(key, bool, "a boolean")
        return default if value is None else bool(value)

    def texts(self, key: str) -> tuple[str, ...]:
        value = self._get(key, list, "a list")
        if value is None:
            return ()
        if not all(isinstance(item, str) for item in value):
            raise self._wrong(key, "a list of strings")
        return tuple(value)

    def obj(self, key: str) -> _Fields:
        return _Fields(self._raw.get(key), f"{self._what}.{key}")

    def objs(self, key: str) -> tuple[_Fields, ...]:
        value = self._get(key, list, "a list")
        return tuple(_Fields(item, f"{self._what}.{key}[]") for item in value or ())

    def str_map(self, key: str) -> tuple[tuple[str, str], ...]:
        value = self._get(key, dict, "an object")
        if value is None:
            return ()
        return tuple((str(k), v if isinstance(v, str) else str(v)) for k, v in value.items())

    def keys_of(self, key: str) -> tuple[str, ...]:
        value = self._get(key, dict, "an object")
        return tuple(value or ())

    def raw(self) -> dict[str, Any]:
        return self._raw


def _as_list(raw: object, what: str) -> list[Any]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise EngineFailure(f"malformed daemon response: {what} is not a list")
    return raw


# --- system


@dataclass(frozen=True, slots=True)
class Ping:
    """What ``/_ping`` says in its headers."""

    api_version: str
    os_type: str = ""
    experimental: bool = False
    builder_version: str = ""

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> Ping:
        return cls(
            api_version=headers.get("api-version", "").strip(),
            os_type=headers.get("ostype", "").strip(),
            experimental=headers.get("docker-experimental", "").strip().lower() == "true",
            builder_version=headers.get("builder-version", "").strip(),
        )


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


# --- containers


@dataclass(frozen=True, slots=True)
class ContainerCreated:
    """``POST /containers/create``: the new container's full id and the daemon's warnings."""

    id: str
    warnings: tuple[str, ...] = ()

    @classmethod
    def from_wire(cls, raw: object) -> ContainerCreated:
        f = _Fields(raw, "container create response")
        created = cls(id=f.text("Id"), warnings=f.texts("Warnings"))
        if not created.id:
            raise EngineFailure("malformed daemon response: container create returned no Id")
        return created


@dataclass(frozen=True, slots=True)
class PortSummary:
    """One entry of a container summary's ``Ports``; ``public_port`` 0 when not published."""

    ip: str
    private_port: int
    public_port: int
    type: str


@dataclass(frozen=True, slots=True)
class MountSummary:
    """What ``ps`` shows of a mount: a volume's name, else its source; and its driver."""

    name: str
    source: str
    driver: str


@dataclass(frozen=True, slots=True)
class ContainerSummary:
    """One row of ``GET /containers/json``; ``status`` is the daemon's "Up 3 seconds" text."""

    id: str
    names: tuple[str, ...]
    image: str
    image_id: str
    command: str
    created: int
    state: str
    status: str
    ports: tuple[PortSummary, ...]
    labels: tuple[tuple[str, str], ...]
    size_rw: int
    size_root_fs: int
    mounts: tuple[MountSummary, ...]
    networks: tuple[str, ...]

    @classmethod
    def from_wire(cls, raw: object) -> ContainerSummary:
        f = _Fields(raw, "container summary")
        return cls(
            id=f.text("Id"),
            names=f.texts("Names"),
            image=f.text("Image"),
            image_id=f.text("ImageID"),
            command=f.text("Command"),
            created=f.num("Created"),
            state=f.text("State"),
            status=f.text("Status"),
            ports=tuple(
                PortSummary(
                    ip=p.text("IP"),
                    private_port=p.num("PrivatePort"),
                    public_port=p.num("PublicPort"),
                    type=p.text("Type"),
                )
                for p in f.objs("Ports")
            ),
            labels=f.str_map("Labels"),
            size_rw=f.num("SizeRw"),
            size_root_fs=f.num("SizeRootFs"),
            mounts=tuple(
                MountSummary(m.text("Name"), m.text("Source"), m.text("Driver"))
                for m in f.objs("Mounts")
            ),
            networks=f.obj("NetworkSettings").keys_of("Networks"),
        )

    @classmethod
    def list_from_wire(cls, raw: object) -> list[ContainerSummary]:
        return [cls.from_wire(item) for item in _as_list(raw, "container list")]


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
            ),
            tty=config.flag("Tty"),
            open_stdin=config.flag("OpenStdin"),
            auto_remove=f.obj("HostConfig").flag("AutoRemove"),
            raw=f.raw(),
        )


@dataclass(frozen=True, slots=True)
class WaitResult:
    """The body of ``POST /containers/{id}/wait``, sent when the condition is met."""

    status_code: int
    error: str = ""

    @classmethod
    def from_wire(cls, raw: object) -> WaitResult:
        f = _Fields(raw, "wait response")
        return cls(status_code=f.num("StatusCode"), error=f.obj("Error").text("Message"))


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
