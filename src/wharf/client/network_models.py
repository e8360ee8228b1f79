"""Typed results of the network calls (``client.networks``), decoded at the boundary.

Apart from ``client.networks`` so that commands that never touch networks do not pay for
defining these dataclasses (CLI start-up time); the mixin imports this module on first use.
``Network`` keeps the decoded document in ``raw`` for ``inspect`` and ``--format``.

Imports only the standard library, ``wharf.errdefs`` and ``client.wire``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from wharf.client.wire import Fields, as_list
from wharf.errdefs import EngineFailure


@dataclass(frozen=True, slots=True)
class IPAMConfig:
    subnet: str
    gateway: str = ""
    ip_range: str = ""


@dataclass(frozen=True, slots=True)
class NetworkEndpoint:
    """One entry of a network's ``Containers``."""

    container_id: str
    name: str
    endpoint_id: str
    mac_address: str
    ipv4_address: str
    ipv6_address: str


@dataclass(frozen=True, slots=True)
class Network:
    """``GET /networks/{id}`` and the items of ``GET /networks``."""

    id: str
    name: str
    created: str
    driver: str
    scope: str
    enable_ipv6: bool
    internal: bool
    attachable: bool
    ingress: bool
    ipam: tuple[IPAMConfig, ...]
    labels: tuple[tuple[str, str], ...]
    options: tuple[tuple[str, str], ...]
    containers: tuple[NetworkEndpoint, ...]
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_wire(cls, raw: object) -> Network:
        f = Fields(raw, "network")
        members = f.obj("Containers")
        return cls(
            id=f.text("Id"),
            name=f.text("Name"),
            created=f.text("Created"),
            driver=f.text("Driver"),
            scope=f.text("Scope"),
            enable_ipv6=f.flag("EnableIPv6"),
            internal=f.flag("Internal"),
            attachable=f.flag("Attachable"),
            ingress=f.flag("Ingress"),
            ipam=tuple(
                IPAMConfig(p.text("Subnet"), p.text("Gateway"), p.text("IPRange"))
                for p in f.obj("IPAM").objs("Config")
            ),
            labels=f.str_map("Labels"),
            options=f.str_map("Options"),
            containers=tuple(
                NetworkEndpoint(
                    container_id=cid,
                    name=(m := members.obj(cid)).text("Name"),
                    endpoint_id=m.text("EndpointID"),
                    mac_address=m.text("MacAddress"),
                    ipv4_address=m.text("IPv4Address"),
                    ipv6_address=m.text("IPv6Address"),
                )
                for cid in f.keys_of("Containers")
            ),
            raw=f.raw(),
        )

    @classmethod
    def list_from_wire(cls, raw: object) -> list[Network]:
        return [cls.from_wire(item) for item in as_list(raw, "network list")]


@dataclass(frozen=True, slots=True)
class PortMapping:
    """One line of ``docker port``: ``80/tcp -> 0.0.0.0:8080``."""

    port: str  # "80/tcp"
    host_ip: str
    host_port: str


def port_mappings(ports: object) -> list[PortMapping]:
    """A ``NetworkSettings.Ports`` map, flattened (exposed-only ports left out)."""
    if ports is None:
        return []
    if not isinstance(ports, dict):
        raise EngineFailure("malformed daemon response: Ports is not an object")
    found = []
    for port, bindings in ports.items():
        for binding in bindings or ():
            b = Fields(binding, "port binding")
            found.append(PortMapping(str(port), b.text("HostIp"), b.text("HostPort")))
    return found
