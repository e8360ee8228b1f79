"""What ``create`` decides before anything is written: the container's name, its command,
its environment merged with the image's, its mounts parsed from ``-v``/``--mount``/``--tmpfs``,
and the host-config checks Docker makes (memory floor, restart policy, runtime, ports).

Pure functions over typed values; errors are ``InvalidArgument`` with Docker's wording.
"""

from __future__ import annotations

import os
import random
import re
import secrets
import signal as signals
from dataclasses import dataclass, replace
from pathlib import PurePosixPath

from wharf.apitypes.containers import ContainerConfig as WireConfig
from wharf.apitypes.containers import CreateRequest, HostConfig
from wharf.apitypes.containers import HealthConfig as WireHealthConfig
from wharf.engine.container_model import MountPoint
from wharf.engine.network_model import Endpoint
from wharf.errdefs import InvalidArgument, NotFound
from wharf.network.etcfiles import parse_add_host
from wharf.oci.config import HealthConfig as OciHealthConfig
from wharf.oci.config import ImageConfig

NAME_RE = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
VOLUME_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
MIN_MEMORY = 6 * 1024 * 1024

_ADJECTIVES = (
    "admiring",
    "brave",
    "clever",
    "dazzling",
    "eager",
    "festive",
    "gallant",
    "happy",
    "jolly",
    "keen",
    "lucid",
    "modest",
    "nifty",
    "quirky",
    "relaxed",
    "serene",
    "trusting",
    "vibrant",
    "wizardly",
    "zealous",
)
_NAMES = (
    "archimedes",
    "babbage",
    "curie",
    "darwin",
    "euler",
    "fermi",
    "galileo",
    "hopper",
    "kepler",
    "lovelace",
    "meitner",
    "newton",
    "noether",
    "pascal",
    "ritchie",
    "shannon",
    "thompson",
    "turing",
    "wozniak",
    "yalow",
)


def new_container_id() -> str:
    return secrets.token_hex(32)


def validate_name(name: str) -> str:
    """A user-given name without Docker's leading slash; empty means "generate one"."""
    if not name:
        return ""
    if not NAME_RE.match(name):
        raise InvalidArgument(
            f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )
    return name.lstrip("/")


def generate_name(taken: set[str]) -> str:
    """Docker's ``adjective_name``, never one in ``taken``: when those run short (there are
    400), a number is appended, with more digits the longer the search lasts."""
    attempt = 0
    while True:
        name = f"{random.choice(_ADJECTIVES)}_{random.choice(_NAMES)}"
        if attempt >= 64:
            name += str(secrets.randbelow(10 ** (1 + attempt // 64)))
        if name not in taken:
            return name
        attempt += 1


def _env_key(item: str) -> str:
    return item.split("=", 1)[0]


def merge_env(image_env: tuple[str, ...], request_env: tuple[str, ...]) -> tuple[str, ...]:
    merged: dict[str, str] = {}
    for item in (*image_env, *request_env):
        merged[_env_key(item)] = item
    return tuple(merged.values())


@dataclass(frozen=True, slots=True)
class Command:
    path: str
    args: tuple[str, ...]


def resolve_command(request: WireConfig, image: ImageConfig) -> tuple[Command, WireConfig]:
    """Docker's rule: a request Entrypoint replaces the image's and drops the image's Cmd."""
    image_config = image.config
    if request.entrypoint is not None:
        entrypoint = request.entrypoint
        cmd = request.cmd if request.cmd is not None else ()
    else:
        entrypoint = image_config.entrypoint or ()
        cmd = request.cmd if request.cmd is not None else (image_config.cmd or ())
    argv = (*entrypoint, *cmd)
    if not argv:
        raise InvalidArgument("No command specified")
    merged = replace(
        request,
        env=merge_env(image_config.env, request.env),
        entrypoint=tuple(entrypoint) if entrypoint else None,
        cmd=tuple(cmd) if cmd else None,
        working_dir=request.working_dir or image_config.working_dir or "",
        user=request.user or image_config.user or "",
        labels={**dict(image_config.labels), **request.labels},
        exposed_ports=tuple(dict.fromkeys((*image_config.exposed_ports, *request.exposed_ports))),
        volumes=tuple(dict.fromkeys((*image_config.volumes, *request.volumes))),
        stop_signal=request.stop_signal or image_config.stop_signal or "",
        healthcheck=merge_healthcheck(request.healthcheck, image_config.healthcheck),
        on_build=(),
    )
    return Command(path=argv[0], args=tuple(argv[1:])), merged


def merge_healthcheck(
    request: WireHealthConfig | None, image: OciHealthConfig | None
) -> WireHealthConfig | None:
    """Docker's rule: the image's HEALTHCHECK applies unless the request sets one; fields the
    request leaves at zero (and an empty test) come from the image's."""
    if image is None:
        return request
    if request is None:
        return WireHealthConfig(
            test=tuple(image.test),
            interval=image.interval,
            timeout=image.timeout,
            retries=image.retries,
            start_period=image.start_period,
            start_interval=image.start_interval,
        )
    return WireHealthConfig(
        test=request.test or tuple(image.test),
        interval=request.interval or image.interval,
        timeout=request.timeout or image.timeout,
        retries=request.retries or image.retries,
        start_period=request.start_period or image.start_period,
        start_interval=request.start_interval or image.start_interval,
    )


def _check_destination(destination: str) -> str:
    if not destination.startswith("/"):
        raise InvalidArgument(
            f"invalid mount config for type \"bind\": invalid mount path: '{destination}' "
            "mount path must be absolute"
        )
    normalized = os.path.normpath(destination)
    if normalized == "/":
        raise InvalidArgument("invalid specification: destination can't be '/'")
    return normalized


def parse_bind(spec: str) -> MountPoint:
    """``-v SRC:DST[:OPTS]``, ``-v NAME:DST``, ``-v DST`` (anonymous volume)."""
    parts = spec.split(":")
    if len(parts) == 1:
        return MountPoint(
            type="volume", source="", destination=_check_destination(parts[0]), anonymous=True
        )
    if len(parts) > 3 or not parts[0] or not parts[1]:
        raise InvalidArgument(f"invalid volume specification: '{spec}'")
    source, destination = parts[0], _check_destination(parts[1])
    options = parts[2].split(",") if len(parts) == 3 else []
    read_only = False
    for option in options:
        if option == "ro":
            read_only = True
        elif option not in (
            "rw",
            "z",
            "Z",
            "nocopy",
            "rprivate",
            "private",
            "rshared",
            "shared",
            "rslave",
            "slave",
            "",
        ):
            raise InvalidArgument(f"invalid mode: {option}")
    mode = parts[2] if len(parts) == 3 else ""
    if source.startswith("/"):
        return MountPoint(
            type="bind",
            source=os.path.normpath(source),
            destination=destination,
            rw=not read_only,
            mode=mode,
        )
    if not VOLUME_NAME_RE.match(source):
        raise InvalidArgument(
            f'create {source}: "{source}" includes invalid characters for a local volume name, '
            'only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host '
            "directory, use absolute path"
        )
    return MountPoint(
        type="volume", source="", name=source, destination=destination, rw=not read_only, mode=mode
    )


def collect_mounts(host_config: HostConfig, image_volumes: tuple[str, ...]) -> list[MountPoint]:
    mounts: dict[str, MountPoint] = {}
    for spec in host_config.binds:
        mount = parse_bind(spec)
        mounts[mount.destination] = mount
    for request in host_config.mounts:
        destination = _check_destination(request.target)
        if request.type == "bind":
            if not request.source.startswith("/"):
                raise InvalidArgument(
                    'invalid mount config for type "bind": invalid mount path: '
                    f"'{request.source}' mount path must be absolute"
                )
            if not os.path.exists(request.source):
                raise InvalidArgument(
                    'invalid mount config for type "bind": bind source path does not exist: '
                    f"{request.source}"
                )
            mount = MountPoint(
                type="bind",
                source=os.path.normpath(request.source),
                destination=destination,
                rw=not request.read_only,
            )
        elif request.type == "volume":
            if request.source and not VOLUME_NAME_RE.match(request.source):
                raise InvalidArgument(f"invalid volume name: {request.source!r}")
            mount = MountPoint(
                type="volume",
                source="",
                name=request.source,
                destination=destination,
                rw=not request.read_only,
                anonymous=not request.source,
            )
        else:
            options = ["rw", "nosuid", "nodev", "noexec"]
            if request.tmpfs_size:
                options.append(f"size={request.tmpfs_size}")
            if request.tmpfs_mode:
                options.append(f"mode={request.tmpfs_mode:o}")
            mount = MountPoint(
                type="tmpfs", source="", destination=destination, tmpfs_options=tuple(options)
            )
        if destination in mounts:
            raise InvalidArgument(f"Duplicate mount point: {destination}")
        mounts[destination] = mount
    for tmpfs_path, tmpfs_options in host_config.tmpfs.items():
        tmpfs_destination = _check_destination(tmpfs_path)
        if tmpfs_destination in mounts:
            raise InvalidArgument(f"Duplicate mount point: {tmpfs_destination}")
        extra = tuple(o for o in tmpfs_options.split(",") if o)
        mounts[tmpfs_destination] = MountPoint(
            type="tmpfs",
            source="",
            destination=tmpfs_destination,
            tmpfs_options=("rw", "nosuid", "nodev", "noexec", *extra),
        )
    for volume in image_volumes:
        destination = os.path.normpath(volume)
        if destination not in mounts:
            mounts[destination] = MountPoint(
                type="volume", source="", destination=destination, anonymous=True
            )
    return sorted(mounts.values(), key=lambda m: PurePosixPath(m.destination).parts)


def validate_host_config(host_config: HostConfig, runtimes: set[str]) -> None:
    if host_config.memory and host_config.memory < MIN_MEMORY:
        raise InvalidArgument("Minimum memory limit allowed is 6MB")
    if host_config.memory_swap and host_config.memory_swap != -1:
        if not host_config.memory:
            raise InvalidArgument(
                "You should always set the Memory limit when using Memoryswap limit"
            )
        if host_config.memory_swap < host_config.memory:
            raise InvalidArgument(
                "Minimum memoryswap limit should be larger than memory limit, see usage"
            )
    if host_config.nano_cpus and (host_config.cpu_quota or host_config.cpu_period):
        raise InvalidArgument("Conflicting options: Nano CPUs and CPU Period cannot both be set")
    if host_config.nano_cpus > (os.cpu_count() or 1) * 1_000_000_000:
        cpus = os.cpu_count() or 1
        raise InvalidArgument(
            f"Range of CPUs is from 0.01 to {cpus}.00, as there are only {cpus} CPUs available"
        )
    if host_config.runtime and host_config.runtime not in runtimes:
        raise InvalidArgument(f"unknown or invalid runtime name: {host_config.runtime}")
    if host_config.auto_remove and host_config.restart_policy not in ("", "no"):
        raise InvalidArgument("can't create 'AutoRemove' container with restart policy")
    for entry in host_config.extra_hosts:
        parse_add_host(entry)
    mode = host_config.network_mode
    if mode.startswith("container:") and (
        host_config.port_bindings or host_config.publish_all_ports
    ):
        raise InvalidArgument(
            "conflicting options: port publishing and the container type network mode"
        )


def check_network_mode(network_mode: str) -> list[Endpoint]:
    """Without a network service (unit tests, tools): only the built-in modes exist."""
    if network_mode not in ("", "default", "bridge", "none", "host"):
        raise NotFound(f"network {network_mode} not found")
    return []


def create_warnings(request: CreateRequest) -> list[str]:
    warnings = []
    hc = request.host_config
    if hc.network_mode == "host" and (hc.port_bindings or hc.publish_all_ports):
        warnings.append("Published ports are discarded when using host network mode")
    return warnings


def parse_signal(text: str) -> int:
    if not text:
        return signals.SIGTERM
    if text.isdigit():
        return int(text)
    name = text.upper()
    if not name.startswith("SIG"):
        name = f"SIG{name}"
    try:
        return int(signals.Signals[name])
    except KeyError:
        raise InvalidArgument(f"Invalid signal: {text}") from None


def start_error_exit_code(message: str) -> int:
    lowered = message.lower()
    if "executable file not found" in lowered or "no such file or directory" in lowered:
        return 127
    if "permission denied" in lowered:
        return 126
    return 128


def parse_size(text: str) -> int:
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    text = text.strip().lower()
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)
