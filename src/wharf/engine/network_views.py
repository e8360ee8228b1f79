"""How networks look from outside: Docker's ``NetworkResource``, the ``network ls`` filters,
and a container's ``NetworkSettings`` and ``ps`` ports. Pure functions of typed values."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from wharf.apitypes.filters import Filters
from wharf.apitypes.networks import (
    EndpointView,
    HostBinding,
    IPAMPool,
    NetworkContainer,
    NetworkResource,
    NetworkSettings,
    PortEntry,
)
from wharf.engine.container_model import ContainerConfig
from wharf.engine.network_model import (
    PREDEFINED,
    Driver,
    Endpoint,
    Network,
    PortKey,
    PublishedPort,
)
from wharf.errdefs import InvalidArgument

LIST_FILTERS = ("dangling", "driver", "id", "label", "name", "scope", "type")
PRUNE_FILTERS = ("label", "label!", "until")
_GO_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_GO_FALSE = ("0", "f", "F", "FALSE", "false", "False")


def resource(
    network: Network, containers: Sequence[tuple[str, str, Endpoint]] = ()
) -> NetworkResource:
    """``containers``: (container id, name, endpoint) of the network's active endpoints."""
    pools = tuple(
        IPAMPool(
            subnet=str(s.network),
            ip_range="" if s.ip_range is None else str(s.ip_range),
            gateway=str(s.gateway),
        )
        for s in network.config.subnets
    )
    entries = []
    for container_id, name, ep in containers:
        active = ep.active
        if active is None:
            continue
        entries.append(
            (
                container_id,
                NetworkContainer(
                    name=name,
                    endpoint_id=active.endpoint_id,
                    mac_address=active.mac,
                    ipv4_address="" if active.ipv4 is None else str(active.ipv4),
                    ipv6_address="" if active.ipv6 is None else str(active.ipv6),
                ),
            )
        )
    return NetworkResource(
        id=network.id,
        name=network.name,
        created=network.created_at,
        driver=network.driver.value,
        enable_ipv6=network.config.ipv6,
        ipam_config=pools,
        ipam_options=tuple(sorted(network.config.ipam_options.items())),
        internal=network.config.internal,
        attachable=network.config.attachable,
        options=tuple(sorted(network.config.options.items())),
        labels=tuple(sorted(network.config.labels.items())),
        containers=tuple(entries),
    )


def _go_bool(value: str, key: str) -> bool:
    if value in _GO_TRUE:
        return True
    if value in _GO_FALSE:
        return False
    raise InvalidArgument(f"invalid filter '{key}={value}'")


def labels_match(wanted: Sequence[str], labels: Mapping[str, str]) -> bool:
    for item in wanted:
        key, has_value, value = item.partition("=")
        if key not in labels or (has_value and labels[key] != value):
            return False
    return True


def _matches_text(pattern: str, text: str) -> bool:
    try:
        return re.search(pattern, text) is not None
    except re.error:
        return pattern in text


def matches(network: Network, filters: Filters, *, in_use: bool) -> bool:
    """Docker's ``network ls`` filters (``in_use``: the network has running containers)."""
    drivers = filters.get("driver")
    if drivers and network.driver.value not in drivers:
        return False
    ids = filters.get("id")
    if ids and not any(network.id.startswith(v) or _matches_text(v, network.id) for v in ids):
        return False
    names = filters.get("name")
    if names and not any(_matches_text(v, network.name) for v in names):
        return False
    if not labels_match(filters.get("label"), network.config.labels):
        return False
    scopes = filters.get("scope")
    if scopes and "local" not in scopes:
        return False
    for kind in filters.get("type"):
        if kind not in ("custom", "builtin"):
            raise InvalidArgument(f"invalid filter: 'type'='{kind}'")
    types = filters.get("type")
    if types and ("builtin" if network.predefined else "custom") not in types:
        return False
    for value in filters.get("dangling"):
        dangling = _go_bool(value, "dangling")
        is_dangling = not in_use and not network.predefined
        if dangling != is_dangling:
            return False
    return True


def _host_binding(port: PublishedPort) -> HostBinding:
    host = "0.0.0.0" if port.host_ip is None else str(port.host_ip)
    return HostBinding(host, str(port.host_port))


def port_entries(config: ContainerConfig, endpoints: Sequence[Endpoint]) -> tuple[PortEntry, ...]:
    """Exposed ports (None) and published ones (their host bindings) while running."""
    published: dict[str, list[HostBinding]] = {}
    for ep in endpoints:
        if ep.active is not None:
            for port in ep.active.ports:
                published.setdefault(str(port.key), []).append(_host_binding(port))
    keys: list[str] = []
    for exposed in config.config.exposed_ports:
        try:
            keys.append(str(PortKey.parse(exposed)))
        except InvalidArgument:
            keys.append(exposed)
    keys.extend(published)
    return tuple(
        PortEntry(key, tuple(published[key]) if key in published else None)
        for key in dict.fromkeys(keys)
    )


def settings(
    config: ContainerConfig,
    endpoints: Sequence[Endpoint],
    networks: Mapping[str, Network],
    *,
    running: bool,
    sandbox_key: str,
) -> NetworkSettings:
    """A container's ``NetworkSettings`` (its networks keyed by name)."""
    views = []
    for ep in endpoints:
        network = networks.get(ep.network_id)
        if network is None:
            continue
        active = ep.active if running else None
        view = EndpointView(
            network_id=network.id,
            aliases=ep.aliases,
            ipam_ipv4="" if ep.ipv4 is None else str(ep.ipv4),
            ipam_ipv6="" if ep.ipv6 is None else str(ep.ipv6),
            mac_address=ep.mac,
        )
        if active is not None:
            view = EndpointView(
                network_id=network.id,
                endpoint_id=active.endpoint_id,
                gateway="" if active.gateway is None else str(active.gateway),
                ip_address="" if active.ipv4 is None else str(active.ipv4.ip),
                ip_prefix_len=0 if active.ipv4 is None else active.ipv4.network.prefixlen,
                ipv6_gateway="" if active.gateway6 is None else str(active.gateway6),
                global_ipv6_address="" if active.ipv6 is None else str(active.ipv6.ip),
                global_ipv6_prefix_len=0 if active.ipv6 is None else active.ipv6.network.prefixlen,
                mac_address=active.mac,
                aliases=ep.aliases,
                dns_names=active.dns_names,
                ipam_ipv4=view.ipam_ipv4,
                ipam_ipv6=view.ipam_ipv6,
            )
        views.append((network.name, view))
    bridge_mode = any(
        networks[ep.network_id].driver is Driver.BRIDGE
        for ep in endpoints
        if ep.network_id in networks
    )
    return NetworkSettings(
        sandbox_id=config.id if running else "",
        sandbox_key=sandbox_key if running and bridge_mode else "",
        ports=port_entries(config, endpoints if running else ()),
        networks=tuple(views),
    )


def is_predefined(name: str) -> bool:
    return name in PREDEFINED
