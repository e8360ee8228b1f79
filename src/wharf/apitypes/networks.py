"""Wire models for networks: the ``/networks`` endpoints, the ``NetworkingConfig`` of a
container create, and the network part of container inspect and list (``NetworkSettings``,
``Ports``).

Layer L0: imports the standard library and ``wharf.errdefs`` only.

Docker's ``NetworkResource`` (``GET /networks/{id}``)::

    {"Name": "app", "Id": "<64 hex>", "Created": "2024-05-01T10:00:00.123456789Z",
     "Scope": "local", "Driver": "bridge", "EnableIPv4": true, "EnableIPv6": false,
     "IPAM": {"Driver": "default", "Options": {}, "Config": [{"Subnet": "172.18.0.0/16",
              "Gateway": "172.18.0.1"}]},
     "Internal": false, "Attachable": false, "Ingress": false,
     "ConfigFrom": {"Network": ""}, "ConfigOnly": false,
     "Containers": {"<id>": {"Name": "web", "EndpointID": "<64 hex>",
                    "MacAddress": "02:42:ac:12:00:02", "IPv4Address": "172.18.0.2/16",
                    "IPv6Address": ""}},
     "Options": {}, "Labels": {}}

A container's ``NetworkSettings.Ports`` maps ``"80/tcp"`` to its host bindings
(``[{"HostIp": "0.0.0.0", "HostPort": "8080"}]``), or to ``null`` for a port that is exposed
but not published; ``ps`` rows carry the same as ``[{"IP", "PrivatePort", "PublicPort",
"Type"}]``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from wharf.errdefs import InvalidArgument

NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
BRIDGE_NAME_OPTION = "com.docker.network.bridge.name"


def created_text(timestamp: float) -> str:
    """Seconds since the epoch as Go's RFC 3339 with nanoseconds, in UTC."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    nanos = round((timestamp - int(timestamp)) * 1e9) % 1_000_000_000
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{nanos:09d}Z"


def _str(raw: Mapping[str, object], key: str, what: str) -> str:
    value = raw.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidArgument(f"invalid {what}: {key} must be a string")
    return value


def _bool(raw: Mapping[str, object], key: str, what: str) -> bool:
    value = raw.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidArgument(f"invalid {what}: {key} must be a boolean")
    return value


def _pairs(raw: Mapping[str, object], key: str, what: str) -> tuple[tuple[str, str], ...]:
    value = raw.get(key)
    if value is None:
        return ()
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise InvalidArgument(f"invalid {what}: {key} must be an object of strings")
    return tuple(sorted(value.items()))


def _strings(raw: Mapping[str, object], key: str, what: str) -> tuple[str, ...]:
    value = raw.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidArgument(f"invalid {what}: {key} must be a list of strings")
    return tuple(value)


def _object(value: object, what: str) -> Mapping[str, object]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidArgument(f"invalid {what}: expected a JSON object")
    return value


# --- requests -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IPAMPool:
    """One ``IPAM.Config`` entry as the client sent it (strings, checked by the engine)."""

    subnet: str = ""
    ip_range: str = ""
    gateway: str = ""

    def to_wire(self) -> dict[str, str]:
        wire = {"Subnet": self.subnet}
        if self.ip_range:
            wire["IPRange"] = self.ip_range
        if self.gateway:
            wire["Gateway"] = self.gateway
        return wire


@dataclass(frozen=True, slots=True)
class NetworkCreateRequest:
    """The body of ``POST /networks/create``."""

    name: str
    driver: str = "bridge"
    internal: bool = False
    attachable: bool = False
    ingress: bool = False
    enable_ipv6: bool = False
    ipam_driver: str = "default"
    ipam_pools: tuple[IPAMPool, ...] = ()
    ipam_options: tuple[tuple[str, str], ...] = ()
    options: tuple[tuple[str, str], ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    config_only: bool = False
    config_from: str = ""
    scope: str = ""

    @classmethod
    def from_wire(cls, body: object) -> NetworkCreateRequest:
        what = "network create request"
        raw = _object(body, what)
        name = _str(raw, "Name", what)
        ipam = _object(raw.get("IPAM"), "IPAM")
        pools = []
        configs = ipam.get("Config")
        if configs is not None:
            if not isinstance(configs, list):
                raise InvalidArgument("invalid IPAM: Config must be a list")
            for entry in configs:
                pool = _object(entry, "IPAM.Config entry")
                if pool.get("AuxiliaryAddresses"):
                    raise InvalidArgument("auxiliary addresses are not supported")
                pools.append(
                    IPAMPool(
                        subnet=_str(pool, "Subnet", "IPAM.Config"),
                        ip_range=_str(pool, "IPRange", "IPAM.Config"),
                        gateway=_str(pool, "Gateway", "IPAM.Config"),
                    )
                )
        config_from = _object(raw.get("ConfigFrom"), "ConfigFrom")
        return cls(
            name=name,
            driver=_str(raw, "Driver", what) or "bridge",
            internal=_bool(raw, "Internal", what),
            attachable=_bool(raw, "Attachable", what),
            ingress=_bool(raw, "Ingress", what),
            enable_ipv6=_bool(raw, "EnableIPv6", what),
            ipam_driver=_str(ipam, "Driver", "IPAM") or "default",
            ipam_pools=tuple(pools),
            ipam_options=_pairs(ipam, "Options", "IPAM"),
            options=_pairs(raw, "Options", what),
            labels=_pairs(raw, "Labels", what),
            config_only=_bool(raw, "ConfigOnly", what),
            config_from=_str(config_from, "Network", "ConfigFrom"),
            scope=_str(raw, "Scope", what),
        )


@dataclass(frozen=True, slots=True)
class EndpointSettings:
    """What a client asks for one network of a container: create's ``NetworkingConfig``
    entries and ``network connect``'s ``EndpointConfig``."""

    aliases: tuple[str, ...] = ()
    ipv4_address: str = ""
    ipv6_address: str = ""
    mac_address: str = ""
    links: tuple[str, ...] = ()
    driver_opts: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_wire(cls, value: object) -> EndpointSettings:
        what = "endpoint settings"
        raw = _object(value, what)
        ipam = _object(raw.get("IPAMConfig"), "IPAMConfig")
        return cls(
            aliases=_strings(raw, "Aliases", what),
            ipv4_address=_str(ipam, "IPv4Address", "IPAMConfig"),
            ipv6_address=_str(ipam, "IPv6Address", "IPAMConfig"),
            mac_address=_str(raw, "MacAddress", what),
            links=_strings(raw, "Links", what),
            driver_opts=_pairs(raw, "DriverOpts", what),
        )

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {}
        if self.aliases:
            wire["Aliases"] = list(self.aliases)
        ipam = {
            key: value
            for key, value in (
                ("IPv4Address", self.ipv4_address),
                ("IPv6Address", self.ipv6_address),
            )
            if value
        }
        if ipam:
            wire["IPAMConfig"] = ipam
        if self.mac_address:
            wire["MacAddress"] = self.mac_address
        if self.links:
            wire["Links"] = list(self.links)
        return wire


@dataclass(frozen=True, slots=True)
class NetworkingConfig:
    """A create body's ``NetworkingConfig.EndpointsConfig``: network name -> settings."""

    endpoints: tuple[tuple[str, EndpointSettings], ...] = ()

    @classmethod
    def from_wire(cls, value: object) -> NetworkingConfig:
        raw = _object(value, "NetworkingConfig")
        endpoints = _object(raw.get("EndpointsConfig"), "EndpointsConfig")
        return cls(
            tuple((str(name), EndpointSettings.from_wire(cfg)) for name, cfg in endpoints.items())
        )

    def to_wire(self) -> dict[str, Any]:
        return {"EndpointsConfig": {name: ep.to_wire() for name, ep in self.endpoints}}


@dataclass(frozen=True, slots=True)
class ConnectRequest:
    """The body of ``POST /networks/{id}/connect``."""

    container: str
    endpoint: EndpointSettings = field(default_factory=EndpointSettings)

    @classmethod
    def from_wire(cls, body: object) -> ConnectRequest:
        raw = _object(body, "network connect request")
        container = _str(raw, "Container", "network connect request")
        if not container:
            raise InvalidArgument("no container given to connect")
        return cls(container, EndpointSettings.from_wire(raw.get("EndpointConfig")))


@dataclass(frozen=True, slots=True)
class DisconnectRequest:
    """The body of ``POST /networks/{id}/disconnect``."""

    container: str
    force: bool = False

    @classmethod
    def from_wire(cls, body: object) -> DisconnectRequest:
        raw = _object(body, "network disconnect request")
        container = _str(raw, "Container", "network disconnect request")
        if not container:
            raise InvalidArgument("no container given to disconnect")
        return cls(container, _bool(raw, "Force", "network disconnect request"))


@dataclass(frozen=True, slots=True)
class PortBindingRequest:
    """One published port as ``PortBindings`` carries it: ``"80/tcp"`` -> host ip and port
    (the port may be a range ``"8000-8010"`` or empty for a random one)."""

    container_port: str
    host_ip: str = ""
    host_port: str = ""


@dataclass(frozen=True, slots=True)
class PortsUpdateRequest:
    """The body of wharf's ``POST /containers/{id}/ports``: publish ``PortBindings`` and
    unpublish ``Remove`` (``"80/tcp"`` keys) on a container, running or not."""

    add: tuple[PortBindingRequest, ...] = ()
    remove: tuple[str, ...] = ()

    @classmethod
    def from_wire(cls, body: object) -> PortsUpdateRequest:
        raw = _object(body, "ports update request")
        bindings = _object(raw.get("PortBindings"), "PortBindings")
        add = []
        for port, entries in bindings.items():
            if entries is None:
                entries = [{}]
            if not isinstance(entries, list):
                raise InvalidArgument("invalid PortBindings: expected a list per port")
            for entry in entries:
                item = _object(entry, "PortBindings entry")
                add.append(
                    PortBindingRequest(
                        str(port),
                        _str(item, "HostIp", "PortBindings"),
                        _str(item, "HostPort", "PortBindings"),
                    )
                )
        return cls(tuple(add), _strings(raw, "Remove", "ports update request"))


# --- answers ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NetworkContainer:
    """One entry of a network's ``Containers``."""

    name: str
    endpoint_id: str
    mac_address: str
    ipv4_address: str  # "172.18.0.2/16"
    ipv6_address: str = ""

    def to_wire(self) -> dict[str, str]:
        return {
            "Name": self.name,
            "EndpointID": self.endpoint_id,
            "MacAddress": self.mac_address,
            "IPv4Address": self.ipv4_address,
            "IPv6Address": self.ipv6_address,
        }


@dataclass(frozen=True, slots=True)
class NetworkResource:
    id: str
    name: str
    created: float
    driver: str
    enable_ipv6: bool
    ipam_config: tuple[IPAMPool, ...]
    ipam_options: tuple[tuple[str, str], ...]
    internal: bool
    attachable: bool
    options: tuple[tuple[str, str], ...]
    labels: tuple[tuple[str, str], ...]
    containers: tuple[tuple[str, NetworkContainer], ...] = ()

    def to_wire(self) -> dict[str, Any]:
        return {
            "Name": self.name,
            "Id": self.id,
            "Created": created_text(self.created),
            "Scope": "local",
            "Driver": self.driver,
            "EnableIPv4": True,
            "EnableIPv6": self.enable_ipv6,
            "IPAM": {
                "Driver": "default",
                "Options": dict(self.ipam_options) if self.driver == "bridge" else None,
                "Config": [pool.to_wire() for pool in self.ipam_config],
            },
            "Internal": self.internal,
            "Attachable": self.attachable,
            "Ingress": False,
            "ConfigFrom": {"Network": ""},
            "ConfigOnly": False,
            "Containers": {cid: c.to_wire() for cid, c in self.containers},
            "Options": dict(self.options),
            "Labels": dict(self.labels),
        }


@dataclass(frozen=True, slots=True)
class NetworkCreateResponse:
    id: str
    warning: str = ""

    def to_wire(self) -> dict[str, str]:
        return {"Id": self.id, "Warning": self.warning}


# --- a container's view -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HostBinding:
    host_ip: str
    host_port: str


@dataclass(frozen=True, slots=True)
class PortEntry:
    """``"80/tcp"``: its host bindings, or None when the port is only exposed."""

    port: str
    bindings: tuple[HostBinding, ...] | None

    @property
    def number(self) -> int:
        return int(self.port.partition("/")[0])

    @property
    def protocol(self) -> str:
        return self.port.partition("/")[2] or "tcp"


def ports_wire(entries: tuple[PortEntry, ...]) -> dict[str, Any]:
    return {
        entry.port: None
        if entry.bindings is None
        else [{"HostIp": b.host_ip, "HostPort": b.host_port} for b in entry.bindings]
        for entry in entries
    }


def ports_summary(entries: tuple[PortEntry, ...]) -> list[dict[str, Any]]:
    """``ps``'s ``Ports``: one row per binding, or a bare row for an exposed port."""
    rows: list[dict[str, Any]] = []
    for entry in entries:
        if not entry.bindings:
            rows.append({"PrivatePort": entry.number, "Type": entry.protocol})
            continue
        for binding in entry.bindings:
            rows.append(
                {
                    "IP": binding.host_ip,
                    "PrivatePort": entry.number,
                    "PublicPort": int(binding.host_port),
                    "Type": entry.protocol,
                }
            )
    return rows


@dataclass(frozen=True, slots=True)
class EndpointView:
    """One network of a container, as ``NetworkSettings.Networks[name]`` shows it."""

    network_id: str
    endpoint_id: str = ""
    gateway: str = ""
    ip_address: str = ""
    ip_prefix_len: int = 0
    ipv6_gateway: str = ""
    global_ipv6_address: str = ""
    global_ipv6_prefix_len: int = 0
    mac_address: str = ""
    aliases: tuple[str, ...] = ()
    dns_names: tuple[str, ...] = ()
    ipam_ipv4: str = ""
    ipam_ipv6: str = ""

    def to_wire(self) -> dict[str, Any]:
        ipam = {
            key: value
            for key, value in (("IPv4Address", self.ipam_ipv4), ("IPv6Address", self.ipam_ipv6))
            if value
        }
        return {
            "IPAMConfig": ipam or None,
            "Links": None,
            "Aliases": list(self.aliases) or None,
            "MacAddress": self.mac_address,
            "DriverOpts": None,
            "NetworkID": self.network_id,
            "EndpointID": self.endpoint_id,
            "Gateway": self.gateway,
            "IPAddress": self.ip_address,
            "IPPrefixLen": self.ip_prefix_len,
            "IPv6Gateway": self.ipv6_gateway,
            "GlobalIPv6Address": self.global_ipv6_address,
            "GlobalIPv6PrefixLen": self.global_ipv6_prefix_len,
            "DNSNames": list(self.dns_names) or None,
        }


@dataclass(frozen=True, slots=True)
class NetworkSettings:
    """A container's ``NetworkSettings``; the top-level address fields repeat the default
    ``bridge`` network's endpoint, as Docker's do."""

    sandbox_id: str = ""
    sandbox_key: str = ""
    ports: tuple[PortEntry, ...] = ()
    networks: tuple[tuple[str, EndpointView], ...] = ()

    def to_wire(self) -> dict[str, Any]:
        bridge = dict(self.networks).get("bridge", EndpointView(network_id=""))
        return {
            "Bridge": "",
            "SandboxID": self.sandbox_id,
            "SandboxKey": self.sandbox_key,
            "Ports": ports_wire(self.ports),
            "HairpinMode": False,
            "LinkLocalIPv6Address": "",
            "LinkLocalIPv6PrefixLen": 0,
            "SecondaryIPAddresses": None,
            "SecondaryIPv6Addresses": None,
            "EndpointID": bridge.endpoint_id,
            "Gateway": bridge.gateway,
            "GlobalIPv6Address": bridge.global_ipv6_address,
            "GlobalIPv6PrefixLen": bridge.global_ipv6_prefix_len,
            "IPAddress": bridge.ip_address,
            "IPPrefixLen": bridge.ip_prefix_len,
            "IPv6Gateway": bridge.ipv6_gateway,
            "MacAddress": bridge.mac_address,
            "Networks": {name: view.to_wire() for name, view in self.networks},
        }

    def summary_wire(self) -> dict[str, Any]:
        return {"Networks": {name: view.to_wire() for name, view in self.networks}}
