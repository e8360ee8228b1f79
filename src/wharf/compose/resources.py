"""Networks and volumes of a project: made before the containers that use them, removed by
``down`` after them.

- A network ``key`` of the model has a real name (``<project>_<key>`` unless named); an
  external one must exist ("network foo declared as external, but could not be found"),
  another is created when missing with compose's labels (``naming.network_labels``) and
  reused when present. ``default`` is ``<project>_default`` even when the file does not declare
  it.
- Volumes likewise (external: "external volume \"x\" not found").
- ``down`` finds what to remove by label (``com.docker.compose.project``), so it works without
  the compose file too; external objects never carry the label, so they are never removed.

Imports the standard library, ``wharf.errdefs``, ``wharf.client`` and ``wharf.compose``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from wharf.compose import naming
from wharf.compose.events import Event, Kind, Reporter, Status
from wharf.errdefs import Conflict, NotFound

if TYPE_CHECKING:
    from wharf.client.api import EngineClient
    from wharf.compose.project import Project, Service


def network_real_name(project: Project, key: str) -> str:
    declared = project.networks.get(key)
    if declared is not None and declared.name:
        return str(declared.name)
    return f"{project.name}_{key}"


def _subnets(config: Any) -> tuple[list[str], list[str], list[str]]:
    """(subnets, gateways, ip ranges) of a network's ipam, whatever shape the model gives."""
    subnets: list[str] = []
    gateways: list[str] = []
    ranges: list[str] = []
    ipam = getattr(config, "ipam", None)
    pools = getattr(ipam, "config", None) if ipam is not None else None
    if pools is None:
        pools = getattr(config, "subnets", None) or getattr(config, "ipam_subnets", None) or ()
    for pool in pools:
        if isinstance(pool, str):
            subnets.append(pool)
            gateways.append("")
            ranges.append("")
            continue
        subnets.append(str(getattr(pool, "subnet", "") or ""))
        gateways.append(str(getattr(pool, "gateway", "") or ""))
        ranges.append(str(getattr(pool, "ip_range", "") or ""))
    return subnets, gateways, ranges


def ensure_network(client: EngineClient, project: Project, key: str, reporter: Reporter) -> str:
    """Make sure the network ``key`` exists; returns its real name."""
    name = network_real_name(project, key)
    declared = project.networks.get(key)
    if declared is not None and declared.external:
        try:
            client.network_inspect(name)
        except NotFound:
            raise NotFound(f"network {name} declared as external, but could not be found") from None
        return name
    try:
        client.network_inspect(name)
        return name
    except NotFound:
        pass
    subnets, gateways, ranges = _subnets(declared)
    labels: Mapping[str, str] = dict(getattr(declared, "labels", None) or {})
    try:
        client.network_create(
            name,
            driver=(getattr(declared, "driver", None) or "bridge"),
            subnets=subnets,
            gateways=gateways,
            ip_ranges=ranges,
            internal=bool(getattr(declared, "internal", False)),
            ipv6=bool(getattr(declared, "enable_ipv6", False)),
            attachable=bool(getattr(declared, "attachable", False)),
            labels=naming.network_labels(project.name, key, labels),
            options=dict(getattr(declared, "driver_opts", None) or {}),
        )
    except Conflict:
        return name  # made meanwhile by a concurrent up: use it
    reporter.event(Event(Kind.NETWORK, name, Status.CREATED))
    return name


def ensure_volume(client: EngineClient, project: Project, key: str, reporter: Reporter) -> str:
    declared = project.volumes.get(key)
    name = str(declared.name) if declared is not None and declared.name else key
    if declared is not None and declared.external:
        try:
            client.volume_inspect(name)
        except NotFound:
            raise NotFound(f'external volume "{name}" not found') from None
        return name
    try:
        client.volume_inspect(name)
        return name
    except NotFound:
        pass
    labels: Mapping[str, str] = dict(getattr(declared, "labels", None) or {})
    client.volume_create(
        name,
        driver=(getattr(declared, "driver", None) or "local"),
        driver_opts=dict(getattr(declared, "driver_opts", None) or {}),
        labels=naming.volume_labels(project.name, key, labels),
    )
    reporter.event(Event(Kind.VOLUME, name, Status.CREATED))
    return name


def network_keys(services: Iterable[Service]) -> list[str]:
    from wharf.compose.specs import network_order

    keys: dict[str, None] = {}
    for service in services:
        if service.network_mode:
            continue
        for key in network_order(service):
            keys[key] = None
    return list(keys)


def volume_keys(project: Project, services: Iterable[Service]) -> list[str]:
    keys: dict[str, None] = {}
    for service in services:
        for volume in service.volumes:
            kind = str(getattr(volume.type, "value", volume.type))
            if kind == "volume" and volume.source and volume.source in project.volumes:
                keys[volume.source] = None
    return list(keys)


def remove_networks(
    client: EngineClient, project: str, reporter: Reporter, *, keep: Iterable[str] = ()
) -> None:
    """Remove the networks labelled as the project's (those ``keep`` names excepted)."""
    kept = set(keep)
    networks = client.network_list(filters={"label": [f"{naming.PROJECT}={project}"]})
    for network in sorted(networks, key=lambda n: n.name):
        if network.name in kept:
            continue
        try:
            client.network_remove(network.id or network.name)
        except NotFound:
            continue
        reporter.event(Event(Kind.NETWORK, network.name, Status.REMOVED))


def remove_volumes(
    client: EngineClient, project: str, reporter: Reporter, *, names: Iterable[str] = ()
) -> None:
    """Remove the project's labelled volumes, plus ``names`` (declared, non-external ones)."""
    wanted = dict.fromkeys(names)
    listed = client.volume_list(filters={"label": [f"{naming.PROJECT}={project}"]})
    for volume in listed.volumes:
        wanted[volume.name] = None
    for name in wanted:
        try:
            client.volume_remove(name)
        except NotFound:
            continue
        except Conflict as exc:
            reporter.warning(f"volume {name}: {exc}")
            continue
        reporter.event(Event(Kind.VOLUME, name, Status.REMOVED))
