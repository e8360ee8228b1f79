"""The typed compose model: a project, its services, networks, volumes, secrets, configs.

Imports: stdlib, ``wharf.compose.errors``; ``consistency`` and ``render`` (which read these
types) for the methods that validate and print.

Every value here is resolved and normalized: long syntax everywhere, absolute host paths,
durations in nanoseconds, sizes in bytes, variables interpolated, ``env_file`` folded into
``environment``, legacy ``mem_limit``/``cpus``/``pids_limit``/``mem_reservation`` folded into
``deploy.resources``, implicit dependencies (``links``, ``network_mode: service:x``,
``volumes_from``) added to ``depends_on``. A project has passed every check in
``consistency``: no undefined service, network, volume, secret or config is referenced by an
active service and ``depends_on`` has no cycle. ``Project.services`` holds the services
active for the enabled profiles; the others are in ``disabled_services``.

Field names are the compose spec's keys (``stop_grace_period_ns`` excepted), so
``render`` prints them back as compose YAML that ``load_project`` reads to an equal project.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from wharf.compose import consistency, render
from wharf.compose.errors import ComposeError


class DependencyCondition(enum.Enum):
    STARTED = "service_started"
    HEALTHY = "service_healthy"
    COMPLETED = "service_completed_successfully"


class PortProtocol(enum.StrEnum):
    TCP = "tcp"
    UDP = "udp"
    SCTP = "sctp"


class VolumeType(enum.StrEnum):
    BIND = "bind"
    VOLUME = "volume"
    TMPFS = "tmpfs"
    IMAGE = "image"


@dataclass(frozen=True, slots=True)
class PortConfig:
    """A published or exposed container port; ``published`` "" asks for a random port."""

    target: int
    published: str = ""
    host_ip: str = ""
    protocol: PortProtocol = PortProtocol.TCP
    mode: str = "ingress"
    name: str = ""
    app_protocol: str = ""


@dataclass(frozen=True, slots=True)
class BindOptions:
    create_host_path: bool = False
    propagation: str = ""
    selinux: str = ""
    recursive: str = ""


@dataclass(frozen=True, slots=True)
class VolumeOptions:
    nocopy: bool = False
    subpath: str = ""


@dataclass(frozen=True, slots=True)
class TmpfsOptions:
    size: int | None = None
    mode: int | None = None


@dataclass(frozen=True, slots=True)
class ImageOptions:
    subpath: str = ""


@dataclass(frozen=True, slots=True)
class ServiceVolume:
    """A mount: ``source`` is an absolute host path (bind), a volume key of the project
    (named volume; "" for an anonymous one), an image reference (image), or "" (tmpfs)."""

    type: VolumeType
    source: str
    target: str
    read_only: bool = False
    consistency: str = ""
    bind: BindOptions | None = None
    volume: VolumeOptions | None = None
    tmpfs: TmpfsOptions | None = None
    image: ImageOptions | None = None


@dataclass(frozen=True, slots=True)
class ServiceNetwork:
    aliases: tuple[str, ...] = ()
    ipv4_address: str = ""
    ipv6_address: str = ""
    priority: int = 0
    gw_priority: int = 0
    mac_address: str = ""
    link_local_ips: tuple[str, ...] = ()
    interface_name: str = ""
    driver_opts: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Dependency:
    condition: DependencyCondition = DependencyCondition.STARTED
    required: bool = True
    restart: bool = False


@dataclass(frozen=True, slots=True)
class Healthcheck:
    """``test`` as Docker's HealthConfig: ("CMD-SHELL", s), ("CMD", ...), ("NONE",) to
    disable, () to keep the image's test; durations in nanoseconds."""

    test: tuple[str, ...] = ()
    interval: int | None = None
    timeout: int | None = None
    start_period: int | None = None
    start_interval: int | None = None
    retries: int | None = None

    @property
    def disabled(self) -> bool:
        return self.test == ("NONE",)


@dataclass(frozen=True, slots=True)
class BuildConfig:
    context: Path
    dockerfile: str = "Dockerfile"
    dockerfile_inline: str | None = None
    args: Mapping[str, str | None] = field(default_factory=dict)
    target: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    network: str = ""
    no_cache: bool = False
    pull: bool = False
    cache_from: tuple[str, ...] = ()
    cache_to: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    extra_hosts: tuple[str, ...] = ()
    shm_size: int | None = None
    additional_contexts: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ResourceSpec:
    cpus: float | None = None
    memory: int | None = None
    pids: int | None = None


@dataclass(frozen=True, slots=True)
class Resources:
    limits: ResourceSpec = field(default_factory=ResourceSpec)
    reservations: ResourceSpec = field(default_factory=ResourceSpec)


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    condition: str = ""
    delay: int | None = None
    max_attempts: int | None = None
    window: int | None = None


@dataclass(frozen=True, slots=True)
class Deploy:
    replicas: int | None = None
    mode: str = ""
    resources: Resources = field(default_factory=Resources)
    labels: Mapping[str, str] = field(default_factory=dict)
    restart_policy: RestartPolicy | None = None


@dataclass(frozen=True, slots=True)
class Logging:
    driver: str = ""
    options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Ulimit:
    soft: int
    hard: int


@dataclass(frozen=True, slots=True)
class ServiceFileRef:
    """A secret or config given to a service; ``target`` is absolute (defaults filled)."""

    source: str
    target: str
    uid: str = ""
    gid: str = ""
    mode: int | None = None


@dataclass(frozen=True, slots=True)
class Service:
    name: str
    image: str | None = None
    build: BuildConfig | None = None
    command: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    environment: Mapping[str, str | None] = field(default_factory=dict)
    ports: tuple[PortConfig, ...] = ()
    expose: tuple[str, ...] = ()
    volumes: tuple[ServiceVolume, ...] = ()
    networks: Mapping[str, ServiceNetwork] = field(default_factory=dict)
    network_mode: str = ""
    depends_on: Mapping[str, Dependency] = field(default_factory=dict)
    healthcheck: Healthcheck | None = None
    restart: str = "no"
    deploy: Deploy = field(default_factory=Deploy)
    scale: int | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    container_name: str | None = None
    user: str = ""
    working_dir: str = ""
    stop_signal: str = ""
    stop_grace_period_ns: int | None = None
    init: bool | None = None
    read_only: bool = False
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    extra_hosts: tuple[str, ...] = ()
    hostname: str = ""
    domainname: str = ""
    dns: tuple[str, ...] = ()
    dns_search: tuple[str, ...] = ()
    dns_opt: tuple[str, ...] = ()
    secrets: tuple[ServiceFileRef, ...] = ()
    configs: tuple[ServiceFileRef, ...] = ()
    profiles: tuple[str, ...] = ()
    tty: bool = False
    stdin_open: bool = False
    privileged: bool = False
    tmpfs: tuple[str, ...] = ()
    sysctls: Mapping[str, str] = field(default_factory=dict)
    ulimits: Mapping[str, Ulimit] = field(default_factory=dict)
    logging: Logging | None = None
    pull_policy: str = ""
    platform: str = ""
    links: tuple[str, ...] = ()
    external_links: tuple[str, ...] = ()
    volumes_from: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()
    device_cgroup_rules: tuple[str, ...] = ()
    group_add: tuple[str, ...] = ()
    security_opt: tuple[str, ...] = ()
    ipc: str = ""
    pid: str = ""
    uts: str = ""
    userns_mode: str = ""
    cgroup: str = ""
    cgroup_parent: str = ""
    runtime: str = ""
    mac_address: str = ""
    cpuset: str = ""
    cpu_shares: int | None = None
    cpu_quota: int | None = None
    cpu_period: int | None = None
    shm_size: int | None = None
    mem_swappiness: int | None = None
    memswap_limit: int | None = None
    oom_kill_disable: bool = False
    oom_score_adj: int | None = None
    storage_opt: Mapping[str, str] = field(default_factory=dict)
    attach: bool = True

    def replicas(self) -> int:
        """``scale``, else ``deploy.replicas``, else 1."""
        if self.scale is not None:
            return self.scale
        if self.deploy.replicas is not None:
            return self.deploy.replicas
        return 1

    def config_hash(self) -> str:
        """sha256 hex of the normalized config, blind to replicas/scale (compose's label)."""
        return render.config_hash(self)


@dataclass(frozen=True, slots=True)
class IpamPool:
    subnet: str = ""
    gateway: str = ""
    ip_range: str = ""
    aux_addresses: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Ipam:
    driver: str = ""
    config: tuple[IpamPool, ...] = ()
    options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NetworkConfig:
    """``name`` is the engine's name: ``<project>_<key>`` unless set or external."""

    name: str
    driver: str = ""
    driver_opts: Mapping[str, str] = field(default_factory=dict)
    ipam: Ipam | None = None
    internal: bool = False
    enable_ipv4: bool | None = None
    enable_ipv6: bool | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    external: bool = False
    attachable: bool = False


@dataclass(frozen=True, slots=True)
class VolumeConfig:
    """``name`` is the engine's name: ``<project>_<key>`` unless set or external."""

    name: str
    driver: str = ""
    driver_opts: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    external: bool = False


@dataclass(frozen=True, slots=True)
class FileObject:
    """A secret or config: from a file, an environment variable (its name), inline
    ``content`` (configs), or an external object."""

    name: str
    file: Path | None = None
    environment: str | None = None
    content: str | None = None
    external: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Project:
    name: str
    working_dir: Path
    files: tuple[Path, ...]
    services: Mapping[str, Service]
    networks: Mapping[str, NetworkConfig] = field(default_factory=dict)
    volumes: Mapping[str, VolumeConfig] = field(default_factory=dict)
    secrets: Mapping[str, FileObject] = field(default_factory=dict)
    configs: Mapping[str, FileObject] = field(default_factory=dict)
    environment: Mapping[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    disabled_services: Mapping[str, Service] = field(default_factory=dict)
    profiles: tuple[str, ...] = ()

    def dependency_order(self, names: Iterable[str] | None = None) -> list[str]:
        """Active services (``names`` and what they depend on), dependencies first."""
        selected = self._closure(names) if names is not None else set(self.services)
        order: list[str] = []
        seen: set[str] = set()

        def visit(name: str) -> None:
            if name in seen:
                return
            seen.add(name)
            for dependency in self.services[name].depends_on:
                if dependency in self.services:
                    visit(dependency)
            order.append(name)

        for name in self.services:
            if name in selected:
                visit(name)
        return order

    def _closure(self, names: Iterable[str]) -> set[str]:
        pending = list(names)
        for name in pending:
            if name not in self.services:
                raise ComposeError(f'no such service: "{name}"')
        closure: set[str] = set()
        while pending:
            name = pending.pop()
            if name not in closure:
                closure.add(name)
                pending.extend(d for d in self.services[name].depends_on if d in self.services)
        return closure

    def with_services(self, names: Sequence[str]) -> Project:
        """This project with ``names`` enabled whatever their profiles, with the profiles
        they list and the services they depend on (as when a command names them)."""
        every = {**self.services, **self.disabled_services}
        for name in names:
            if name not in every:
                raise ComposeError(f'no such service: "{name}"')
        profiles = list(self.profiles)
        for name in names:
            profiles.extend(p for p in every[name].profiles if p not in profiles)
        enabled = {n for n, s in every.items() if is_active(s, profiles)} | set(names)
        pending = list(enabled)
        while pending:
            service = every[pending.pop()]
            for dependency, spec in service.depends_on.items():
                if spec.required and dependency in every and dependency not in enabled:
                    enabled.add(dependency)
                    pending.append(dependency)
        project = dataclasses.replace(
            self,
            services={n: s for n, s in every.items() if n in enabled},
            disabled_services={n: s for n, s in every.items() if n not in enabled},
            profiles=tuple(profiles),
        )
        consistency.check_project(project)
        return project

    def to_yaml(self) -> str:
        """The resolved model as compose YAML (``wharf compose config``)."""
        return render.to_yaml(self)


def is_active(service: Service, profiles: Sequence[str]) -> bool:
    """A service without profiles is always active; "*" enables every profile."""
    if not service.profiles or "*" in profiles:
        return True
    return any(profile in profiles for profile in service.profiles)
