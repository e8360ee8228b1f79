"""Image configuration (OCI image config plus Docker's extensions), parsed and written.

Imports: stdlib, ``wharf.errdefs``, ``wharf.oci.*`` (layer L0).

The document, fields in the order we write them (Go's ``ocispec.Image`` order, with
Docker's ``Healthcheck``/``OnBuild``/``Shell`` after the OCI fields of ``config``, as
moby's ``dockerspec`` writes them even under the OCI media type)::

    {"created": "2024-01-01T00:00:00Z", "author": "...",
     "architecture": "amd64", "os": "linux", "os.version": "...", "os.features": [...],
     "variant": "...",
     "config": {"User": "", "ExposedPorts": {"80/tcp": {}}, "Env": ["K=V"],
                "Entrypoint": [...], "Cmd": [...], "Volumes": {"/data": {}},
                "WorkingDir": "/", "Labels": {"k": "v"}, "StopSignal": "SIGTERM",
                "ArgsEscaped": true,
                "Healthcheck": {"Test": [...], "Interval": ns, "Timeout": ns,
                                "StartPeriod": ns, "StartInterval": ns, "Retries": 3},
                "OnBuild": [...], "Shell": [...]},
     "rootfs": {"type": "layers", "diff_ids": ["sha256:..."]},
     "history": [{"created": "...", "created_by": "...", "author": "...",
                  "comment": "...", "empty_layer": true}]}

Invariants:
- ``architecture`` and ``os`` are non-empty; ``rootfs.type`` is ``layers``.
- Empty optional fields are omitted on write (Go's ``omitempty``), except that
  ``Entrypoint``/``Cmd`` distinguish "unset" (None, omitted) from "set to nothing"
  (``()``, written ``[]``): Docker's ``ENTRYPOINT []`` means the latter.
- Unknown keys (Docker's ``container_config``, ``docker_version``, reserved ``Memory``...)
  are ignored on read and not written back. As with manifests, the image ID is the digest of
  the bytes as stored, never of ``to_bytes()`` of a parsed config.
- Durations are integer nanoseconds, as in the JSON. ``created`` strings are kept as given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from wharf.errdefs import InvalidArgument
from wharf.oci.annotations import EMPTY_MAP, FrozenMap
from wharf.oci.codec import ObjectReader, dump, load_object
from wharf.oci.digest import Digest
from wharf.oci.platform import Platform

_DOC = "image config"


@dataclass(frozen=True, slots=True)
class HealthConfig:
    """Docker's HEALTHCHECK: ``test`` is ``["NONE"]``, ``["CMD", ...]`` or ``["CMD-SHELL", s]``.

    Zero durations and retries mean "inherit / use the default".
    """

    test: tuple[str, ...] = ()
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {}
        if self.test:
            out["Test"] = list(self.test)
        for key, value in (
            ("Interval", self.interval),
            ("Timeout", self.timeout),
            ("StartPeriod", self.start_period),
            ("StartInterval", self.start_interval),
            ("Retries", self.retries),
        ):
            if value:
                out[key] = value
        return out


@dataclass(frozen=True, slots=True)
class ContainerConfig:
    """The defaults an image gives its containers (the ``config`` object)."""

    user: str = ""
    exposed_ports: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    volumes: tuple[str, ...] = ()
    working_dir: str = ""
    labels: Mapping[str, str] = field(default=EMPTY_MAP)
    stop_signal: str = ""
    args_escaped: bool = False
    healthcheck: HealthConfig | None = None
    on_build: tuple[str, ...] = ()
    shell: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", FrozenMap.of(self.labels))

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {}
        if self.user:
            out["User"] = self.user
        if self.exposed_ports:
            out["ExposedPorts"] = {port: {} for port in sorted(self.exposed_ports)}
        if self.env:
            out["Env"] = list(self.env)
        if self.entrypoint is not None:
            out["Entrypoint"] = list(self.entrypoint)
        if self.cmd is not None:
            out["Cmd"] = list(self.cmd)
        if self.volumes:
            out["Volumes"] = {path: {} for path in sorted(self.volumes)}
        if self.working_dir:
            out["WorkingDir"] = self.working_dir
        if self.labels:
            out["Labels"] = dict(sorted(self.labels.items()))
        if self.stop_signal:
            out["StopSignal"] = self.stop_signal
        if self.args_escaped:
            out["ArgsEscaped"] = True
        if self.healthcheck is not None:
            out["Healthcheck"] = self.healthcheck.to_json()
        if self.on_build:
            out["OnBuild"] = list(self.on_build)
        if self.shell:
            out["Shell"] = list(self.shell)
        return out


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One build step; ``empty_layer`` steps (ENV, CMD...) added no layer."""

    created: str | None = None
    created_by: str = ""
    author: str = ""
    comment: str = ""
    empty_layer: bool = False

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {}
        if self.created:
            out["created"] = self.created
        if self.created_by:
            out["created_by"] = self.created_by
        if self.author:
            out["author"] = self.author
        if self.comment:
            out["comment"] = self.comment
        if self.empty_layer:
            out["empty_layer"] = True
        return out


@dataclass(frozen=True, slots=True)
class ImageConfig:
    """An image's configuration blob: platform, container defaults, layer diff IDs, history."""

    architecture: str
    os: str
    variant: str | None = None
    os_version: str | None = None
    created: str | None = None
    author: str = ""
    config: ContainerConfig = field(default=ContainerConfig())
    rootfs_diff_ids: tuple[Digest, ...] = ()
    history: tuple[HistoryEntry, ...] = ()
    os_features: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.architecture:
            raise InvalidArgument("image config needs an architecture")
        if not self.os:
            raise InvalidArgument("image config needs an os")

    @classmethod
    def from_json(cls, obj: object) -> ImageConfig:
        return image_config_from_json(obj)

    @property
    def platform(self) -> Platform:
        return Platform(
            os=self.os,
            architecture=self.architecture,
            variant=self.variant,
            os_version=self.os_version,
            os_features=self.os_features,
        )

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {}
        if self.created:
            out["created"] = self.created
        if self.author:
            out["author"] = self.author
        out["architecture"] = self.architecture
        out["os"] = self.os
        if self.os_version:
            out["os.version"] = self.os_version
        if self.os_features:
            out["os.features"] = list(self.os_features)
        if self.variant:
            out["variant"] = self.variant
        out["config"] = self.config.to_json()
        out["rootfs"] = {"type": "layers", "diff_ids": [str(d) for d in self.rootfs_diff_ids]}
        if self.history:
            out["history"] = [entry.to_json() for entry in self.history]
        return out

    def to_bytes(self) -> bytes:
        """Canonical compact bytes for a config Wharf creates; its digest is the image ID."""
        return dump(self.to_json())


def _read_healthcheck(reader: ObjectReader) -> HealthConfig:
    def duration(key: str) -> int:
        value = reader.opt_int(key)
        if value is None:
            return 0
        if value < 0:
            reader.fail(key, f"must not be negative, got {value}")
        return value

    return HealthConfig(
        test=reader.str_tuple("Test"),
        interval=duration("Interval"),
        timeout=duration("Timeout"),
        start_period=duration("StartPeriod"),
        start_interval=duration("StartInterval"),
        retries=duration("Retries"),
    )


def _read_container_config(reader: ObjectReader) -> ContainerConfig:
    health = reader.opt_object("Healthcheck")
    return ContainerConfig(
        user=reader.str_or_empty("User"),
        exposed_ports=reader.key_set("ExposedPorts"),
        env=reader.str_tuple("Env"),
        entrypoint=reader.opt_str_tuple("Entrypoint"),
        cmd=reader.opt_str_tuple("Cmd"),
        volumes=reader.key_set("Volumes"),
        working_dir=reader.str_or_empty("WorkingDir"),
        labels=reader.str_map("Labels"),
        stop_signal=reader.str_or_empty("StopSignal"),
        args_escaped=reader.bool_or_false("ArgsEscaped"),
        healthcheck=_read_healthcheck(health) if health is not None else None,
        on_build=reader.str_tuple("OnBuild"),
        shell=reader.str_tuple("Shell"),
    )


def _read_history(reader: ObjectReader) -> HistoryEntry:
    return HistoryEntry(
        created=reader.opt_str("created") or None,
        created_by=reader.str_or_empty("created_by"),
        author=reader.str_or_empty("author"),
        comment=reader.str_or_empty("comment"),
        empty_layer=reader.bool_or_false("empty_layer"),
    )


def image_config_from_json(obj: object) -> ImageConfig:
    """An ImageConfig from a decoded JSON value; raises InvalidArgument naming the field."""
    reader = ObjectReader(obj, _DOC)
    architecture = reader.req_str("architecture")
    if not architecture:
        reader.fail("architecture", "must not be empty")
    os_name = reader.req_str("os")
    if not os_name:
        reader.fail("os", "must not be empty")
    rootfs = reader.req_object("rootfs")
    rootfs_type = rootfs.req_str("type")
    if rootfs_type != "layers":
        rootfs.fail("type", f'must be "layers", got {rootfs_type!r}')
    container = reader.opt_object("config")
    return ImageConfig(
        architecture=architecture,
        os=os_name,
        variant=reader.opt_str("variant") or None,
        os_version=reader.opt_str("os.version") or None,
        created=reader.opt_str("created") or None,
        author=reader.str_or_empty("author"),
        config=_read_container_config(container) if container is not None else ContainerConfig(),
        rootfs_diff_ids=rootfs.digest_tuple("diff_ids"),
        history=tuple(_read_history(r) for r in reader.objects("history")),
        os_features=reader.str_tuple("os.features"),
    )


def parse_image_config(data: bytes) -> ImageConfig:
    """Parse an image config blob (OCI or Docker media type; the JSON is the same)."""
    return image_config_from_json(load_object(data, _DOC))
