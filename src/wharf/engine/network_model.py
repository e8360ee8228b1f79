"""Networks and endpoints as the engine knows them: typed values over the JSON documents kept
in metadata (``metadata.networks``), the names of the devices and tables we create, and the
capabilities the network service needs from outside (the kernel, the containers, a loop).

No I/O here. Layouts owned by this module:

Network config JSON (``networks.config``)::

    {"subnets": [{"subnet": "172.18.0.0/16", "gateway": "172.18.0.1", "ip_range": null}],
     "bridge": "br-0123456789ab", "internal": false, "attachable": false, "ipv6": false,
     "icc": true, "mtu": 1500, "options": {...}, "ipam_options": {...}, "labels": {...}}

Endpoint config JSON (``endpoints.config``): what the user asked, and while the container
runs (``active``), what it got::

    {"aliases": ["db"], "ipv4": "", "ipv6": "", "mac": "",
     "published": [{"port": "80/tcp", "host_ip": "", "host_port": "8080"}],   port add
     "unpublished": ["443/tcp"],                                              port rm
     "active": {"endpoint_id": "<64 hex>", "ifname": "eth0", "veth": "veth1a2b3c4",
                "ipv4": "172.18.0.2/16", "ipv6": null, "mac": "02:42:ac:12:00:02",
                "gateway": "172.18.0.1", "gateway6": "", "dns_names": ["web", "0123456789ab"],
                "ports": [{"proto": "tcp", "host_ip": null, "host_port": 8080,
                           "container_port": 80}]}}

Published ports live in the container's *primary* endpoint (the network of its
``NetworkMode``): ``published``/``unpublished`` are the live changes ``wharf port add/rm``
made on top of ``HostConfig.PortBindings``.

Device names (Linux allows 15 bytes), from the daemon's network prefix (``--network-prefix``,
empty by default; test daemons set one each so parallel daemons never share a name)::

    prefix ""        default bridge wharf0     user bridges br-<12 hex>    veths veth<7 hex>
                     nftables table "wharf"
    prefix "wt3f9a"  default bridge wt3f9a0    user bridges wt3f9a-<8 hex> veths wt3f9av<8 hex>
                     nftables table "wharf_wt3f9a"
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from enum import Enum
from ipaddress import (
    IPv4Address,
    IPv4Interface,
    IPv6Address,
    IPv6Interface,
    ip_address,
    ip_network,
)
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol, TypeVar

from wharf.engine.container_model import ContainerConfig, ContainerState
from wharf.errdefs import EngineFailure, InvalidArgument
from wharf.network.ipam import IPAddress, IPNetwork, Subnet
from wharf.network.nftables import PortProtocol

T = TypeVar("T")

DEFAULT_BRIDGE = "bridge"
HOST = "host"
NONE = "none"
PREDEFINED = (DEFAULT_BRIDGE, HOST, NONE)
COMPOSE_SERVICE_LABEL = "com.docker.compose.service"
_PREFIX_RE = re.compile(r"[a-z][a-z0-9]{0,7}")


class Driver(Enum):
    BRIDGE = "bridge"
    HOST = "host"
    NULL = "null"  # Docker's driver name for "none"


# --- names -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeviceNames:
    """Names of our bridges, veths and nftables table for one daemon (see module doc)."""

    prefix: str = ""

    def __post_init__(self) -> None:
        if self.prefix and not _PREFIX_RE.fullmatch(self.prefix):
            raise InvalidArgument(
                f"invalid network prefix {self.prefix!r}: 1 to 8 of [a-z0-9], starting a-z"
            )

    @property
    def default_bridge(self) -> str:
        return f"{self.prefix or 'wharf'}0"

    @property
    def user_bridge_prefix(self) -> str:
        return f"{self.prefix}-" if self.prefix else "br-"

    @property
    def veth_prefix(self) -> str:
        return f"{self.prefix}v" if self.prefix else "veth"

    def user_bridge(self, network_id: str) -> str:
        room = 15 - len(self.user_bridge_prefix)
        return self.user_bridge_prefix + network_id[: min(room, 12)]

    def new_veth(self) -> str:
        """A random host-side veth name: ``veth`` + 7 hex (Docker's), or the prefix's filled
        to Linux's 15 bytes."""
        room = 7 if not self.prefix else 15 - len(self.veth_prefix)
        return self.veth_prefix + secrets.token_hex(8)[:room]

    @property
    def table(self) -> str:
        return f"wharf_{self.prefix}" if self.prefix else "wharf"

    @property
    def link_prefixes(self) -> tuple[str, ...]:
        """Prefixes of every interface this daemon may create (for crash clean-up)."""
        return (self.default_bridge, self.user_bridge_prefix, self.veth_prefix)


# --- networks --------------------------------------------------------------------------------


def _subnet_json(subnet: Subnet) -> dict[str, Any]:
    return {
        "subnet": str(subnet.network),
        "gateway": str(subnet.gateway),
        "ip_range": None if subnet.ip_range is None else str(subnet.ip_range),
    }


def _subnet_from(raw: Mapping[str, Any]) -> Subnet:
    rng = raw.get("ip_range")
    return Subnet(
        ip_network(raw["subnet"]),
        ip_address(raw["gateway"]),
        None if rng is None else ip_network(rng),
    )


def _frozen_map(value: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(value))


@dataclass(frozen=True, slots=True)
class NetworkConfig:
    subnets: tuple[Subnet, ...] = ()
    bridge: str = ""
    internal: bool = False
    attachable: bool = False
    ipv6: bool = False
    icc: bool = True
    mtu: int = 1500
    options: Mapping[str, str] = field(default_factory=dict, hash=False)
    ipam_options: Mapping[str, str] = field(default_factory=dict, hash=False)
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", _frozen_map(self.options))
        object.__setattr__(self, "ipam_options", _frozen_map(self.ipam_options))
        object.__setattr__(self, "labels", _frozen_map(self.labels))

    def to_json(self) -> str:
        return json.dumps(
            {
                "subnets": [_subnet_json(s) for s in self.subnets],
                "bridge": self.bridge,
                "internal": self.internal,
                "attachable": self.attachable,
                "ipv6": self.ipv6,
                "icc": self.icc,
                "mtu": self.mtu,
                "options": dict(self.options),
                "ipam_options": dict(self.ipam_options),
                "labels": dict(self.labels),
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> NetworkConfig:
        raw = json.loads(text)
        return cls(
            subnets=tuple(_subnet_from(s) for s in raw.get("subnets", ())),
            bridge=raw.get("bridge", ""),
            internal=bool(raw.get("internal", False)),
            attachable=bool(raw.get("attachable", False)),
            ipv6=bool(raw.get("ipv6", False)),
            icc=bool(raw.get("icc", True)),
            mtu=int(raw.get("mtu", 1500)),
            options=raw.get("options", {}),
            ipam_options=raw.get("ipam_options", {}),
            labels=raw.get("labels", {}),
        )


@dataclass(frozen=True, slots=True)
class Network:
    id: str
    name: str
    driver: Driver
    created_at: float
    config: NetworkConfig

    @property
    def predefined(self) -> bool:
        return self.name in PREDEFINED

    @property
    def is_bridge(self) -> bool:
        return self.driver is Driver.BRIDGE

    @property
    def has_dns(self) -> bool:
        """User-defined bridge networks resolve container names (the default one does not)."""
        return self.driver is Driver.BRIDGE and self.name != DEFAULT_BRIDGE

    @property
    def ipv4(self) -> Subnet | None:
        return next((s for s in self.config.subnets if s.network.version == 4), None)

    @property
    def ipv6(self) -> Subnet | None:
        return next((s for s in self.config.subnets if s.network.version == 6), None)

    def networks(self) -> list[IPNetwork]:
        return [s.network for s in self.config.subnets]


# --- ports -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PortKey:
    """``80/tcp``."""

    number: int
    protocol: PortProtocol

    @classmethod
    def parse(cls, text: str) -> PortKey:
        number, _, proto = text.strip().partition("/")
        proto = (proto or "tcp").lower()
        if not number.isdigit() or not 0 < int(number) < 65536:
            raise InvalidArgument(f'invalid port specification: "{text}"')
        if proto == "sctp":
            raise InvalidArgument(f"cannot publish {text}: sctp ports are not supported")
        try:
            return cls(int(number), PortProtocol(proto))
        except ValueError:
            raise InvalidArgument(f'invalid port specification: "{text}"') from None

    def __str__(self) -> str:
        return f"{self.number}/{self.protocol.value}"


@dataclass(frozen=True, slots=True)
class PortRequest:
    """One port to publish: a host port, a range to pick from, or None for a random one."""

    key: PortKey
    host_ip: IPAddress | None = None
    host_ports: tuple[int, int] | None = None

    @classmethod
    def parse(cls, container_port: str, host_ip: str, host_port: str) -> PortRequest:
        key = PortKey.parse(container_port)
        address: IPAddress | None = None
        text_ip = host_ip.strip().strip("[]")
        if text_ip and text_ip not in ("0.0.0.0", "::"):
            try:
                address = ip_address(text_ip)
            except ValueError:
                raise InvalidArgument(f"invalid host IP address: {host_ip}") from None
        ports: tuple[int, int] | None = None
        if host_port.strip():
            low, sep, high = host_port.strip().partition("-")
            try:
                first = int(low)
                last = int(high) if sep else first
            except ValueError:
                raise InvalidArgument(f"invalid hostPort: {host_port}") from None
            if not 0 < first <= last < 65536:
                raise InvalidArgument(f"invalid hostPort: {host_port}")
            ports = (first, last)
        return cls(key, address, ports)

    def wire(self) -> dict[str, str]:
        port = ""
        if self.host_ports is not None:
            first, last = self.host_ports
            port = str(first) if first == last else f"{first}-{last}"
        return {
            "port": str(self.key),
            "host_ip": "" if self.host_ip is None else str(self.host_ip),
            "host_port": port,
        }


@dataclass(frozen=True, slots=True)
class PublishedPort:
    """A port published while the container runs."""

    key: PortKey
    host_ip: IPAddress | None
    host_port: int

    def to_json(self) -> dict[str, Any]:
        return {
            "proto": self.key.protocol.value,
            "host_ip": None if self.host_ip is None else str(self.host_ip),
            "host_port": self.host_port,
            "container_port": self.key.number,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> PublishedPort:
        host = raw.get("host_ip")
        return cls(
            PortKey(int(raw["container_port"]), PortProtocol(raw["proto"])),
            None if host is None else ip_address(host),
            int(raw["host_port"]),
        )


# --- endpoints -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ActiveEndpoint:
    endpoint_id: str
    ifname: str = ""
    veth: str = ""
    ipv4: IPv4Interface | None = None
    ipv6: IPv6Interface | None = None
    mac: str = ""
    gateway: IPv4Address | None = None
    gateway6: IPv6Address | None = None
    dns_names: tuple[str, ...] = ()
    ports: tuple[PublishedPort, ...] = ()

    def addresses(self) -> list[IPv4Address | IPv6Address]:
        found: list[IPv4Address | IPv6Address] = []
        if self.ipv4 is not None:
            found.append(self.ipv4.ip)
        if self.ipv6 is not None:
            found.append(self.ipv6.ip)
        return found

    def to_json(self) -> dict[str, Any]:
        return {
            "endpoint_id": self.endpoint_id,
            "ifname": self.ifname,
            "veth": self.veth,
            "ipv4": None if self.ipv4 is None else str(self.ipv4),
            "ipv6": None if self.ipv6 is None else str(self.ipv6),
            "mac": self.mac,
            "gateway": "" if self.gateway is None else str(self.gateway),
            "gateway6": "" if self.gateway6 is None else str(self.gateway6),
            "dns_names": list(self.dns_names),
            "ports": [p.to_json() for p in self.ports],
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ActiveEndpoint:
        v4 = raw.get("ipv4")
        v6 = raw.get("ipv6")
        return cls(
            endpoint_id=raw["endpoint_id"],
            ifname=raw.get("ifname", ""),
            veth=raw.get("veth", ""),
            ipv4=None if not v4 else IPv4Interface(v4),
            ipv6=None if not v6 else IPv6Interface(v6),
            mac=raw.get("mac", ""),
            gateway=IPv4Address(raw["gateway"]) if raw.get("gateway") else None,
            gateway6=IPv6Address(raw["gateway6"]) if raw.get("gateway6") else None,
            dns_names=tuple(raw.get("dns_names", ())),
            ports=tuple(PublishedPort.from_json(p) for p in raw.get("ports", ())),
        )


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A container's membership of a network: what was asked, and what it holds now."""

    network_id: str
    container_id: str
    aliases: tuple[str, ...] = ()
    ipv4: IPv4Address | None = None
    ipv6: IPv6Address | None = None
    mac: str = ""
    published: tuple[PortRequest, ...] = ()
    unpublished: tuple[PortKey, ...] = ()
    active: ActiveEndpoint | None = None

    def to_json(self) -> str:
        return json.dumps(
            {
                "aliases": list(self.aliases),
                "ipv4": "" if self.ipv4 is None else str(self.ipv4),
                "ipv6": "" if self.ipv6 is None else str(self.ipv6),
                "mac": self.mac,
                "published": [p.wire() for p in self.published],
                "unpublished": [str(k) for k in self.unpublished],
                "active": None if self.active is None else self.active.to_json(),
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, network_id: str, container_id: str, text: str) -> Endpoint:
        try:
            raw = json.loads(text)
            return cls(
                network_id=network_id,
                container_id=container_id,
                aliases=tuple(raw.get("aliases", ())),
                ipv4=IPv4Address(raw["ipv4"]) if raw.get("ipv4") else None,
                ipv6=IPv6Address(raw["ipv6"]) if raw.get("ipv6") else None,
                mac=raw.get("mac", ""),
                published=tuple(
                    PortRequest.parse(p["port"], p["host_ip"], p["host_port"])
                    for p in raw.get("published", ())
                ),
                unpublished=tuple(PortKey.parse(k) for k in raw.get("unpublished", ())),
                active=None
                if raw.get("active") is None
                else ActiveEndpoint.from_json(raw["active"]),
            )
        except (ValueError, KeyError, TypeError, InvalidArgument) as exc:
            raise EngineFailure(
                f"metadata for endpoint {container_id[:12]} on {network_id[:12]} is corrupt: {exc}"
            ) from exc

    def deactivated(self) -> Endpoint:
        return replace(self, active=None)


# --- what the container service gets ---------------------------------------------------------


class SandboxMode(Enum):
    NONE = "none"  # the runtime makes an empty namespace (lo only)
    HOST = "host"  # the host's namespace
    PATH = "path"  # join the namespace we made at ``netns_path``


@dataclass(frozen=True, slots=True)
class NetworkSetup:
    """What a container start needs from its network: the namespace to join and the text
    of its /etc/hosts and /etc/resolv.conf."""

    mode: SandboxMode
    netns_path: Path | None
    hosts: str
    resolv_conf: str


# --- capabilities the service needs ---------------------------------------------------------


class ContainerDirectory(Protocol):
    """What the network service needs from the container service."""

    def resolve_id(self, reference: str) -> str: ...

    def config_and_state(self, reference: str) -> tuple[ContainerConfig, ContainerState]: ...

    def container_lock(self, container_id: str) -> AbstractContextManager[object]: ...

    def all_containers(self) -> list[tuple[ContainerConfig, ContainerState]]: ...

    def data_dir(self, container_id: str) -> Path:
        """Where the container's hostname, hosts and resolv.conf files are."""
        ...


class LoopRunner(Protocol):
    """Runs a coroutine on the daemon's event loop from a worker thread and waits for it."""

    def call(self, factory: Callable[[], Awaitable[T]]) -> T: ...


class KernelOps(Protocol):
    """Namespace files and host facts (``wharf.network.netns`` and ``links``)."""

    def create_netns(self, path: Path) -> None: ...

    def remove_netns(self, path: Path) -> None: ...

    def host_routes(self) -> Sequence[IPNetwork]: ...

    def ipv6_enabled(self) -> bool: ...
