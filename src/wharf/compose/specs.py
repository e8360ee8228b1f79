"""A service of the model, as the body of ``POST /containers/create`` (``client.ContainerSpec``).

``container_spec`` is pure: everything it needs from the daemon (the image ID, the container a
``network_mode: service:x`` joins) is passed in. The mapping, compose spec -> Engine API:

    image                     Image (the built or pulled name)
    command / entrypoint      Cmd / Entrypoint
    environment               Env ("K=V"; a variable with no value is left out)
    ports                     PortBindings {"80/tcp": [{HostIp, HostPort}]} + ExposedPorts
    expose                    ExposedPorts
    volumes                   Binds ("real-volume:/t[:ro]", "/host:/t[:ro]"), Config.Volumes for
                              anonymous ones, Mounts for tmpfs (with its size)
    networks                  NetworkMode = the first network's real name; EndpointsConfig for
                              that one (aliases: service name, container name, own aliases);
                              the others are connected by the caller before start
    network_mode              NetworkMode ("service:x" -> "container:<id of x's container>")
    restart                   RestartPolicy ("on-failure:3" -> on-failure, 3)
    healthcheck               Healthcheck (durations in ns)
    deploy.resources.limits   Memory / NanoCpus
    stop_grace_period         StopTimeout (whole seconds)
    secrets / configs         read-only Binds of their files at /run/secrets/<name> (configs at
                              /<name>); those given by environment or content are returned as
                              ``Injection``s, written into the container before it starts
    labels                    the service's labels plus compose's (``naming``)
    the rest                  the field of the same name (user, working_dir, init, read_only, ...)

Imports the standard library, ``wharf.errdefs``, ``wharf.client.container_spec`` and
``wharf.compose`` (``naming``, and ``model`` for its types).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from wharf.client.container_spec import (
    ContainerConfig,
    ContainerSpec,
    EndpointSpec,
    HealthcheckSpec,
    HostConfig,
    Mount,
    MountType,
    PortBinding,
    RestartPolicy,
    Ulimit,
)
from wharf.compose import naming
from wharf.compose.project import VolumeType
from wharf.errdefs import InvalidArgument

if TYPE_CHECKING:
    from wharf.compose.project import Project, Service

SECRETS_DIR = "/run/secrets"


@dataclass(frozen=True, slots=True)
class Injection:
    """A file written into the container before it starts (a secret or config whose value
    comes from the environment or inline content rather than a file)."""

    path: str
    data: bytes
    mode: int = 0o444
    uid: int = 0
    gid: int = 0


@dataclass(frozen=True, slots=True)
class Attachment:
    """A network joined after create, before start."""

    network: str  # real name
    aliases: tuple[str, ...]
    ipv4_address: str = ""
    ipv6_address: str = ""


@dataclass(frozen=True, slots=True)
class CreatePlan:
    """Everything that makes one container: the create body, then what follows it."""

    name: str
    spec: ContainerSpec
    attachments: tuple[Attachment, ...] = ()
    injections: tuple[Injection, ...] = ()


def environment_list(environment: Mapping[str, str | None]) -> tuple[str, ...]:
    return tuple(f"{key}={value}" for key, value in environment.items() if value is not None)


def restart_policy(text: str | None) -> RestartPolicy:
    if not text:
        return RestartPolicy()
    name, _, count = text.partition(":")
    if name not in ("no", "always", "on-failure", "unless-stopped"):
        raise InvalidArgument(f"invalid restart policy: unknown policy '{name}'")
    if count and not count.isdigit():
        raise InvalidArgument(f"invalid restart policy: maximum retry count {count!r}")
    return RestartPolicy(name, int(count) if count else 0)


def _port_range(text: str) -> list[int]:
    first, sep, last = text.partition("-")
    if not first.isdigit() or (sep and not last.isdigit()):
        raise InvalidArgument(f"invalid port {text!r}")
    start = int(first)
    stop = int(last) if sep else start
    return list(range(start, stop + 1))


def exposed_ports(service: Service) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for port in service.ports:
        seen[f"{port.target}/{port.protocol or 'tcp'}"] = None
    for entry in service.expose:
        number, _, proto = str(entry).partition("/")
        for value in _port_range(number):
            seen[f"{value}/{proto or 'tcp'}"] = None
    return tuple(seen)


def port_bindings(service: Service) -> tuple[tuple[str, tuple[PortBinding, ...]], ...]:
    bindings: dict[str, list[PortBinding]] = {}
    for port in service.ports:
        key = f"{port.target}/{port.protocol or 'tcp'}"
        binding = PortBinding(port.host_ip or "", str(port.published or ""))
        bindings.setdefault(key, []).append(binding)
    return tuple((key, tuple(values)) for key, values in bindings.items())


def _nanos_to_seconds(value: int | None) -> int | None:
    return None if value is None else int(value // 1_000_000_000)


def healthcheck(service: Service) -> HealthcheckSpec | None:
    check = service.healthcheck
    if check is None:
        return None
    if check.disabled:
        return HealthcheckSpec(("NONE",))
    return HealthcheckSpec(
        test=tuple(check.test),
        interval=check.interval or 0,
        timeout=check.timeout or 0,
        start_period=check.start_period or 0,
        start_interval=check.start_interval or 0,
        retries=check.retries or 0,
    )


def _limits(service: Service) -> tuple[int, int, int | None]:
    """(memory bytes, nano cpus, pids) of ``deploy.resources.limits`` (the model folds the
    legacy ``mem_limit``/``cpus``/``pids_limit`` into it)."""
    limits = service.deploy.resources.limits
    cpus = limits.cpus or 0.0
    return limits.memory or 0, round(cpus * 1e9), limits.pids


def _ulimits(service: Service) -> tuple[Ulimit, ...]:
    return tuple(
        Ulimit(name, value.soft, value.hard) for name, value in sorted(service.ulimits.items())
    )


def _extra_hosts(service: Service) -> tuple[str, ...]:
    """Docker wants ``host:ip``; compose also writes ``host=ip``."""
    return tuple(
        entry.replace("=", ":", 1) if "=" in entry else entry for entry in service.extra_hosts
    )


def _tmpfs(service: Service) -> tuple[tuple[str, str], ...]:
    entries = []
    for item in service.tmpfs:
        path, _, options = item.partition(":")
        entries.append((path, options))
    return tuple(entries)


def _logging(service: Service) -> tuple[str, tuple[tuple[str, str], ...]]:
    logging = service.logging
    if logging is None:
        return "", ()
    return logging.driver, tuple(sorted(logging.options.items()))


def network_order(service: Service) -> list[str]:
    """The service's network keys, highest priority first, then by name (compose's order);
    ``default`` when it names none and has no ``network_mode``."""
    networks = service.networks
    if not networks:
        return [] if service.network_mode else ["default"]
    return sorted(networks, key=lambda key: (-networks[key].priority, key))


def _aliases(service: Service, key: str, name: str) -> tuple[str, ...]:
    config = service.networks.get(key)
    extra = config.aliases if config is not None else ()
    return tuple(dict.fromkeys((service.name, name, *extra)))


def _mounts(project: Project, service: Service) -> tuple[list[str], list[Mount], list[str]]:
    """(Binds, Mounts, anonymous volume targets)."""
    binds: list[str] = []
    mounts: list[Mount] = []
    anonymous: list[str] = []
    for volume in service.volumes:
        suffix = ":ro" if volume.read_only else ""
        if volume.type is VolumeType.VOLUME:
            if not volume.source:
                anonymous.append(volume.target)
                continue
            declared = project.volumes.get(volume.source)
            real = declared.name if declared is not None else volume.source
            options = volume.volume
            if options is not None and (options.nocopy or options.subpath):
                mounts.append(
                    Mount(
                        MountType.VOLUME,
                        volume.target,
                        real,
                        read_only=volume.read_only,
                        volume_nocopy=options.nocopy,
                        volume_subpath=options.subpath,
                    )
                )
            else:
                binds.append(f"{real}:{volume.target}{suffix}")
        elif volume.type is VolumeType.BIND:
            binds.append(f"{volume.source}:{volume.target}{suffix}")
        elif volume.type is VolumeType.TMPFS:
            tmpfs = volume.tmpfs
            mounts.append(
                Mount(
                    MountType.TMPFS,
                    volume.target,
                    tmpfs_size=(tmpfs.size or 0) if tmpfs is not None else 0,
                    tmpfs_mode=(tmpfs.mode or 0) if tmpfs is not None else 0,
                )
            )
        else:
            raise InvalidArgument(
                f'service "{service.name}": volume type "{volume.type}" is not supported by wharf'
            )
    return binds, mounts, anonymous


def _file_refs(project: Project, service: Service, binds: list[str]) -> list[Injection]:
    """Secrets and configs: files become read-only binds, other values ``Injection``s."""
    injections: list[Injection] = []
    for kind, refs, objects, base in (
        ("secret", service.secrets, project.secrets, SECRETS_DIR),
        ("config", service.configs, project.configs, "/"),
    ):
        for ref in refs:
            declared = objects.get(ref.source)
            if declared is None:
                raise InvalidArgument(
                    f"service {service.name!r} refers to undefined {kind} {ref.source!r}"
                )
            if declared.external:
                raise InvalidArgument(
                    f"service {service.name!r}: external {kind}s are not available without "
                    f"swarm ({ref.source!r})"
                )
            target = ref.target or ref.source
            path = str(PurePosixPath(base) / target) if not target.startswith("/") else target
            mode = ref.mode if ref.mode is not None else 0o444
            uid = int(ref.uid) if ref.uid.isdigit() else 0
            gid = int(ref.gid) if ref.gid.isdigit() else 0
            if declared.file is not None:
                source = Path(declared.file)
                if not source.exists():
                    raise InvalidArgument(f"{kind} {ref.source!r}: file {source} does not exist")
                binds.append(f"{source}:{path}:ro")
            elif declared.environment:
                value = os.environ.get(declared.environment)
                if value is None:
                    raise InvalidArgument(
                        f"{kind} {ref.source!r}: environment variable "
                        f"{declared.environment} is not set"
                    )
                injections.append(Injection(path, value.encode(), mode, uid, gid))
            else:
                data = (declared.content or "").encode()
                injections.append(Injection(path, data, mode, uid, gid))
    return injections


def compose_labels(
    project: Project,
    service: Service,
    *,
    number: int,
    image_id: str,
    oneoff: bool = False,
) -> tuple[tuple[str, str], ...]:
    labels: dict[str, str] = dict(service.labels)
    labels.update(
        naming.project_labels(
            project.name, str(project.working_dir), [str(f) for f in project.files]
        )
    )
    dependencies = [
        (name, dep.condition.value, dep.restart) for name, dep in service.depends_on.items()
    ]
    labels.update(
        {
            naming.SERVICE: service.name,
            naming.NUMBER: str(number),
            naming.ONEOFF: naming.TRUE if oneoff else naming.FALSE,
            naming.CONFIG_HASH: service.config_hash(),
            naming.DEPENDS_ON: naming.depends_on_label(dependencies),
        }
    )
    if image_id:
        labels[naming.IMAGE] = image_id
    return tuple(sorted(labels.items()))


def resolve_network_mode(mode: str, service_container: Mapping[str, str]) -> str:
    """``service:x`` -> ``container:<id>`` (``service_container`` maps x to an ID)."""
    if mode.startswith("service:"):
        other = mode.removeprefix("service:")
        container = service_container.get(other)
        if container is None:
            raise InvalidArgument(f'service "{other}" has no container to share its network with')
        return f"container:{container}"
    return mode


def container_spec(
    project: Project,
    service: Service,
    *,
    name: str,
    number: int,
    image: str,
    image_id: str,
    service_container: Mapping[str, str] | None = None,
    oneoff: bool = False,
    command: Sequence[str] | None = None,
    environment: Mapping[str, str] | None = None,
    entrypoint: Sequence[str] | None = None,
    user: str | None = None,
    working_dir: str | None = None,
    tty: bool | None = None,
    stdin_open: bool | None = None,
    publish_ports: bool = True,
    use_aliases: bool = True,
    extra_labels: Mapping[str, str] | None = None,
) -> CreatePlan:
    """The create body for replica ``number`` of ``service`` (or a one-off container: then
    ``command``, ``environment``, ... override the service's, as ``compose run`` does; it
    joins the networks without the service's aliases unless ``use_aliases``)."""
    binds, mounts, anonymous = _mounts(project, service)
    injections = _file_refs(project, service, binds)
    memory, nano_cpus, pids = _limits(service)
    log_type, log_config = _logging(service)
    env = dict(service.environment)
    env.update(environment or {})
    labels = dict(compose_labels(project, service, number=number, image_id=image_id, oneoff=oneoff))
    labels.update(extra_labels or {})
    config = ContainerConfig(
        image=image,
        cmd=tuple(command) if command is not None else service.command,
        entrypoint=tuple(entrypoint) if entrypoint is not None else service.entrypoint,
        env=environment_list(env),
        user=user if user is not None else service.user,
        working_dir=working_dir if working_dir is not None else service.working_dir,
        hostname=service.hostname,
        domainname=service.domainname,
        labels=tuple(sorted(labels.items())),
        exposed_ports=exposed_ports(service),
        volumes=tuple(anonymous),
        tty=service.tty if tty is None else tty,
        open_stdin=service.stdin_open if stdin_open is None else stdin_open,
        stop_signal=service.stop_signal,
        stop_timeout=_nanos_to_seconds(service.stop_grace_period_ns),
        mac_address=service.mac_address,
        healthcheck=healthcheck(service),
    )
    endpoints: tuple[EndpointSpec, ...] = ()
    attachments: list[Attachment] = []
    if service.network_mode:
        network_mode = resolve_network_mode(service.network_mode, service_container or {})
    else:
        network_mode = "default"
        for index, key in enumerate(network_order(service)):
            declared = project.networks.get(key)
            real = declared.name if declared is not None else f"{project.name}_{key}"
            settings = service.networks.get(key)
            ipv4 = settings.ipv4_address if settings is not None else ""
            ipv6 = settings.ipv6_address if settings is not None else ""
            aliases = _aliases(service, key, name) if use_aliases else ()
            if index == 0:
                network_mode = real
                endpoints = (EndpointSpec(real, aliases, ipv4, ipv6),)
            else:
                attachments.append(Attachment(real, aliases, ipv4, ipv6))
    reservations = service.deploy.resources.reservations
    host = HostConfig(
        binds=tuple(binds),
        mounts=tuple(mounts),
        log_type=log_type,
        log_config=log_config,
        network_mode=network_mode,
        port_bindings=port_bindings(service) if publish_ports else (),
        restart_policy=restart_policy(service.restart) if not oneoff else RestartPolicy(),
        cap_add=service.cap_add,
        cap_drop=service.cap_drop,
        dns=service.dns,
        dns_search=service.dns_search,
        dns_options=service.dns_opt,
        extra_hosts=_extra_hosts(service),
        group_add=service.group_add,
        privileged=service.privileged,
        readonly_rootfs=service.read_only,
        security_opt=service.security_opt,
        tmpfs=_tmpfs(service),
        shm_size=service.shm_size or 0,
        runtime=service.runtime,
        init=service.init,
        ipc_mode=service.ipc,
        pid_mode=service.pid,
        uts_mode=service.uts,
        sysctls=tuple(sorted(service.sysctls.items())),
        volumes_from=_volumes_from(service, service_container or {}),
        memory=memory,
        memory_reservation=reservations.memory or 0,
        memory_swap=service.memswap_limit or 0,
        nano_cpus=nano_cpus,
        cpu_shares=service.cpu_shares or 0,
        cpuset_cpus=service.cpuset,
        pids_limit=pids,
        oom_kill_disable=service.oom_kill_disable,
        ulimits=_ulimits(service),
    )
    return CreatePlan(
        name=name,
        spec=ContainerSpec(config, host, endpoints),
        attachments=tuple(attachments),
        injections=tuple(injections),
    )


def _volumes_from(service: Service, service_container: Mapping[str, str]) -> tuple[str, ...]:
    """``volumes_from: [svc[:ro]]`` -> the service's container; ``container:x`` -> x."""
    result = []
    for entry in service.volumes_from:
        if entry.startswith("container:"):
            result.append(entry.removeprefix("container:"))
            continue
        name, sep, mode = entry.partition(":")
        target = service_container.get(name, name)
        result.append(f"{target}:{mode}" if sep else target)
    return tuple(result)


def injection_tar(injections: Sequence[Injection]) -> bytes:
    """A tar (extracted at ``/``) holding each injected file with its parent directories."""
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        directories: set[str] = set()
        for item in injections:
            parts = PurePosixPath(item.path).relative_to("/").parts
            for depth in range(1, len(parts)):
                directory = "/".join(parts[:depth])
                if directory in directories:
                    continue
                directories.add(directory)
                info = tarfile.TarInfo(directory)
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                archive.addfile(info)
            info = tarfile.TarInfo("/".join(parts))
            info.size = len(item.data)
            info.mode = item.mode
            info.uid, info.gid = item.uid, item.gid
            archive.addfile(info, io.BytesIO(item.data))
    return buffer.getvalue()


__all__ = [
    "Attachment",
    "CreatePlan",
    "Injection",
    "container_spec",
    "injection_tar",
    "network_order",
]
