"""The network service: ``docker network create/ls/inspect/rm/prune/connect/disconnect``,
live port changes (``wharf port add/rm``), the default networks, and recovery.

The class is built in layers, each a module: ``network_base`` (records, locks, DNS),
``network_setup`` (a container's network from create to rm), ``network_recovery`` (daemon
start and exit), this one (the Engine API's operations); ``network_views`` renders.

Networks are recorded in metadata (``NetworkRecords``), their devices and firewall rules
made by the bridge driver (``wharf.network.bridge``); this service keeps the two in step:

- create: subnet picked and bridge made under the host-wide allocation lock, then the
  record; a failure deletes the bridge (nothing half-made);
- remove: refused while a running container uses the network (Docker's "has active
  endpoints"); the record (with its stopped containers' endpoints) first, then the bridge;
- the default networks ``bridge`` (172.17.0.0/16 unless taken; device ``wharf0``), ``host``
  and ``none`` always exist and cannot be removed.

Recovery (``network_recovery``) at daemon start, in two steps around the container
service's own: ``prepare`` (default networks, every bridge recreated or kept, the firewall
rebuilt from the records) before containers restart, ``reconcile`` after (endpoints of
containers that are not running released, their namespace files removed, interfaces with our
prefixes that no record explains deleted, DNS tables rebuilt). At shutdown with no container
running, ``close`` deletes our bridges and nftables table (the next start makes them again),
so a stopped daemon leaves no trace in ``ip link`` or the ruleset.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from wharf.apitypes.filters import Filters, until_unix
from wharf.apitypes.networks import (
    BRIDGE_NAME_OPTION,
    NAME_RE,
    EndpointSettings,
    NetworkCreateRequest,
    NetworkCreateResponse,
    NetworkResource,
    NetworkSettings,
    PortBindingRequest,
    PortEntry,
)
from wharf.engine import network_views
from wharf.engine.container_model import ContainerConfig, ContainerState
from wharf.engine.network_model import (
    PREDEFINED,
    DeviceNames,
    Driver,
    Endpoint,
    Network,
    NetworkConfig,
    PortKey,
    PortRequest,
)
from wharf.engine.network_recovery import ICC_OPTION, MTU_OPTION, NetworkRecovery
from wharf.engine.network_setup import primary_name
from wharf.errdefs import (
    Conflict,
    Forbidden,
    InvalidArgument,
    NotFound,
    Unavailable,
    Unsupported,
    WharfError,
)
from wharf.events.model import Publish, no_publish
from wharf.metadata.db import MetadataDB
from wharf.metadata.networks import NetworkRecords
from wharf.network import ipam
from wharf.network.bridge import BridgeDriver
from wharf.network.nftables import BridgeRules, PacketFilter, PortMapping, select_firewall

log = logging.getLogger("wharf.engine.networks")


class NetworkService(NetworkRecovery):
    """Networks of the ``bridge`` driver plus the built-in ``host`` and ``none``."""

    # ------------------------------------------------------------------ create

    def create_network(self, request: NetworkCreateRequest) -> NetworkCreateResponse:
        name = request.name
        if not name:
            raise InvalidArgument("network name must not be empty")
        if not NAME_RE.match(name):
            raise InvalidArgument(
                f"invalid network name {name!r}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )
        self._check_driver(request)
        options = dict(request.options)
        icc = options.get(ICC_OPTION, "true").lower() not in ("false", "0")
        try:
            mtu = int(options.get(MTU_OPTION, "1500"))
        except ValueError:
            raise InvalidArgument(f"invalid {MTU_OPTION}: {options[MTU_OPTION]}") from None
        v4_pools = [p for p in request.ipam_pools if ":" not in p.subnet]
        v6_pools = [p for p in request.ipam_pools if ":" in p.subnet]
        if len(v4_pools) > 1 or len(v6_pools) > 1:
            raise Unsupported("only one IPv4 and one IPv6 subnet per network are supported")
        if v6_pools and not request.enable_ipv6:
            raise InvalidArgument("an IPv6 subnet needs --ipv6 (EnableIPv6)")
        if request.enable_ipv6 and not self._kernel.ipv6_enabled():
            raise Unsupported("IPv6 is disabled on this host: cannot create an IPv6 network")
        with self._lock:
            if self._records.find_by_name(name) is not None:
                raise Conflict(f"network with name {name} already exists")
            network_id = secrets.token_hex(32)
            bridge = options.get(BRIDGE_NAME_OPTION) or self._names.user_bridge(network_id)
            if any(n.config.bridge == bridge for n in self._all_networks()):
                raise Conflict(f"bridge name {bridge} is already used by another network")
            with self._host_allocation():
                ours = [net for n in self._all_networks() for net in n.networks()]
                subnets = [self._pick_subnet(v4_pools[0] if v4_pools else None, ours, 4)]
                if request.enable_ipv6:
                    subnets.append(self._pick_subnet(v6_pools[0] if v6_pools else None, ours, 6))
                network = Network(
                    id=network_id,
                    name=name,
                    driver=Driver.BRIDGE,
                    created_at=self._clock(),
                    config=NetworkConfig(
                        subnets=tuple(subnets),
                        bridge=bridge,
                        internal=request.internal,
                        attachable=request.attachable,
                        ipv6=request.enable_ipv6,
                        icc=icc,
                        mtu=mtu,
                        options=options,
                        ipam_options=dict(request.ipam_options),
                        labels=dict(request.labels),
                    ),
                )
                self._make_bridge(network)
                try:
                    self._insert(network)
                except BaseException:
                    with contextlib.suppress(WharfError):
                        self._driver.delete_network(bridge)
                    raise
            self._refresh_dns(network)
            self._ensure_listener(network)
        self._network_event("create", network)
        log.info("created network %s (%s) on %s", name, network_id[:12], bridge)
        return NetworkCreateResponse(network_id)

    def _check_driver(self, request: NetworkCreateRequest) -> None:
        if request.driver in ("host", "null"):
            raise Forbidden(f'only one instance of "{request.driver}" network is allowed')
        if request.driver != "bridge":
            raise NotFound(f'plugin "{request.driver}" not found')
        if request.ipam_driver not in ("", "default"):
            raise NotFound(f'plugin "{request.ipam_driver}" not found')
        if request.ingress:
            raise Unsupported("ingress networks need swarm mode, which wharf does not have")
        if request.config_only or request.config_from:
            raise Unsupported(
                "config-only networks (--config-only, --config-from) are not supported"
            )
        if request.scope not in ("", "local"):
            raise InvalidArgument(f"invalid scope {request.scope!r}: only local is supported")

    def _pick_subnet(self, pool: object, ours: list[ipam.IPNetwork], version: int) -> ipam.Subnet:
        from wharf.apitypes.networks import IPAMPool

        if isinstance(pool, IPAMPool) and pool.subnet:
            return ipam.validate_subnet(
                pool.subnet,
                gateway=pool.gateway or None,
                ip_range=pool.ip_range or None,
                existing=ours,
            )
        if isinstance(pool, IPAMPool) and (pool.gateway or pool.ip_range):
            raise InvalidArgument("a gateway or an IP range needs a subnet (--subnet)")
        pools = ipam.AddressPool() if version == 4 else ipam.AddressPool.ipv6()
        network = pools.next_free(ours, self._kernel.host_routes())
        return ipam.validate_subnet(network)

    # ------------------------------------------------------------------ views

    def _container_names(self) -> dict[str, str]:
        if self._containers is None:
            return {}
        return {config.id: config.name for config, _ in self._containers.all_containers()}

    def _resource(self, network: Network, names: dict[str, str]) -> NetworkResource:
        members = [
            (ep.container_id, names.get(ep.container_id, ""), ep)
            for ep in self._endpoints_of_network(network.id)
            if ep.active is not None and ep.container_id in names
        ]
        return network_views.resource(network, members)

    def list_networks(self, *, filters: Filters) -> list[NetworkResource]:
        filters.check_keys(network_views.LIST_FILTERS)
        active = {ep.network_id for ep in self._all_endpoints() if ep.active is not None}
        found = []
        for network in self._all_networks():
            if network_views.matches(network, filters, in_use=network.id in active):
                found.append(network_views.resource(network))
        return found

    def inspect_network(self, reference: str) -> NetworkResource:
        network = self.find_network(reference)
        return self._resource(network, self._container_names())

    # ------------------------------------------------------------------ remove

    def remove_network(self, reference: str) -> None:
        network = self.find_network(reference)
        if network.predefined:
            raise Forbidden(f"{network.name} is a pre-defined network and cannot be removed")
        with self._lock:
            if any(ep.active is not None for ep in self._endpoints_of_network(network.id)):
                raise Forbidden(
                    f"error while removing network: network {network.name} id {network.id}"
                    " has active endpoints"
                )
            self._records.delete(network.id)
            self._drop_listener(network.id)
            self.dns_records.drop_network(network.id)
            try:
                self._driver.delete_network(network.config.bridge)
            except WharfError as exc:
                log.warning("deleting bridge %s: %s", network.config.bridge, exc.message)
        self._network_event("destroy", network)
        log.info("removed network %s (%s)", network.name, network.id[:12])

    def prune_networks(self, *, filters: Filters) -> list[str]:
        filters.check_keys(network_views.PRUNE_FILTERS)
        now = time.time()
        until = [until_unix(v, now) for v in filters.get("until")]
        removed = []
        for network in self._all_networks():
            if network.predefined:
                continue
            labels = network.config.labels
            if not network_views.labels_match(filters.get("label"), labels):
                continue
            if any(network_views.labels_match([w], labels) for w in filters.get("label!")):
                continue
            if any(network.created_at >= limit for limit in until):
                continue
            try:
                self.remove_network(network.id)
            except (Forbidden, NotFound):
                continue
            removed.append(network.name)
        return removed

    # ------------------------------------------------------------------ connect

    def connect(self, network_ref: str, container_ref: str, settings: EndpointSettings) -> None:
        network = self.find_network(network_ref)
        if network.driver in (Driver.HOST, Driver.NULL):
            raise Forbidden(
                f"container cannot be disconnected from host network or connected to"
                f" {network.name} network"
            )
        directory = self.containers
        container_id = directory.resolve_id(container_ref)
        with directory.container_lock(container_id), self._lock:
            config, state = directory.config_and_state(container_id)
            self._forbid_shared(config)
            if self._records.endpoint(network.id, container_id) is not None:
                raise Forbidden(
                    f"endpoint with name {config.name} already exists in network {network.name}"
                )
            endpoint = self._endpoint_request(container_id, network, settings)
            self._save_endpoint(endpoint)
            if state.running:
                try:
                    self._attach_live(config, endpoint, network)
                except BaseException:
                    with contextlib.suppress(WharfError):
                        current = self._records.endpoint(network.id, container_id)
                        if current is not None:
                            self._detach_live(config, _load(current), network)
                    self._records.delete_endpoint(network.id, container_id)
                    raise
                # As dockerd: a stopped container's connect is told when it starts.
                self._network_event("connect", network, container_id)
        log.info("connected %s to network %s", container_id[:12], network.name)

    def disconnect(self, network_ref: str, container_ref: str, *, force: bool = False) -> None:
        network = self.find_network(network_ref)
        directory = self.containers
        try:
            container_id = directory.resolve_id(container_ref)
        except NotFound:
            if force:
                return
            raise
        with directory.container_lock(container_id), self._lock:
            config, _ = directory.config_and_state(container_id)
            row = self._records.endpoint(network.id, container_id)
            if row is None:
                raise Forbidden(
                    f"container {container_id} is not connected to network {network.name}"
                )
            if network.driver in (Driver.HOST, Driver.NULL):
                raise Forbidden(f"container cannot be disconnected from {network.name} network")
            self._detach_live(config, _load(row), network)
            self._records.delete_endpoint(network.id, container_id)
            self._network_event("disconnect", network, container_id)
        log.info("disconnected %s from network %s", container_id[:12], network.name)

    # ------------------------------------------------------------------ live ports

    def update_ports(
        self,
        container_ref: str,
        *,
        add: Sequence[PortBindingRequest] = (),
        remove: Sequence[str] = (),
    ) -> tuple[PortEntry, ...]:
        """Publish and unpublish ports of a container, at once if it runs (Docker cannot)."""
        directory = self.containers
        container_id = directory.resolve_id(container_ref)
        adding = [PortRequest.parse(b.container_port, b.host_ip, b.host_port) for b in add]
        removing = [PortKey.parse(text) for text in remove]
        with directory.container_lock(container_id), self._lock:
            config, state = directory.config_and_state(container_id)
            endpoints = self._endpoints_for(config)
            primary = endpoints[0]
            network = self._network(primary.network_id)
            if not network.is_bridge:
                raise InvalidArgument(
                    f"ports cannot be published on the {network.name} network (bridge networks"
                    " only)"
                )
            current = self.port_requests(config, primary)
            for key in removing:
                if not any(r.key == key for r in current):
                    raise NotFound(f"container {config.name} does not publish port {key}")
            published = tuple(r for r in primary.published if r.key not in removing)
            unpublished = tuple(dict.fromkeys([*primary.unpublished, *removing]))
            adding_keys = {r.key for r in adding}
            updated = replace(
                primary,
                published=tuple(dict.fromkeys([*published, *adding])),
                unpublished=tuple(k for k in unpublished if k not in adding_keys),
            )
            if state.running and updated.active is not None:
                requests = self.port_requests(config, updated)
                if requests and not network.config.internal:
                    ports = self._map_ports(config.id, requests, updated, network)
                else:
                    self._driver.unpublish(config.id)
                    ports = []
                updated = replace(updated, active=replace(updated.active, ports=tuple(ports)))
            self._save_endpoint(updated)
            return network_views.port_entries(config, [updated] if state.running else [])

    # ------------------------------------------------------------------ container views

    def container_settings(self, config: ContainerConfig, state: ContainerState) -> NetworkSettings:
        endpoints = self._endpoints_of_container(config.id)
        networks = {}
        for ep in endpoints:
            with contextlib.suppress(NotFound):
                networks[ep.network_id] = self._network(ep.network_id)
        return network_views.settings(
            config,
            endpoints,
            networks,
            running=state.running,
            sandbox_key=str(self._netns_dir / config.id),
        )

    def container_settings_many(
        self, items: Sequence[tuple[ContainerConfig, ContainerState]]
    ) -> dict[str, NetworkSettings]:
        """``container_settings`` of many containers in two queries (``ps``)."""
        networks = {n.id: n for n in self._all_networks()}
        by_container: dict[str, list[Endpoint]] = {}
        for ep in self._all_endpoints():
            by_container.setdefault(ep.container_id, []).append(ep)
        netns_dir = str(self._netns_dir)  # joined as text: a Path per row showed in ps
        return {
            config.id: network_views.settings(
                config,
                by_container.get(config.id, []),
                networks,
                running=state.running,
                sandbox_key=f"{netns_dir}/{config.id}",
            )
            for config, state in items
        }

    def networks_of(self, container_id: str) -> list[str]:
        """Names and IDs of the networks a container is on (the ``ps`` network filter)."""
        found = []
        for ep in self._endpoints_of_container(container_id):
            with contextlib.suppress(NotFound):
                network = self._network(ep.network_id)
                found += [network.name, network.id]
        return found


def open_network_service(
    db: MetadataDB, exec_root: Path, *, prefix: str = "", publish: Publish = no_publish
) -> NetworkService:
    """The service over the real kernel: nftables (or iptables) table of our own, bridges and
    veths over netlink, namespaces under ``<exec-root>/netns``."""
    names = DeviceNames(prefix)
    firewall: PacketFilter
    try:
        firewall = select_firewall(names.table)
    except Unavailable as exc:
        log.warning("%s; containers get no NAT and no published ports", exc.message)
        firewall = NoFirewall()
    return NetworkService(
        records=NetworkRecords(db),
        driver=BridgeDriver(firewall),
        netns_dir=exec_root / "netns",
        names=names,
        publish=publish,
    )


class NoFirewall:
    """Where neither nftables nor iptables works: bridges without NAT or published ports."""

    def sync(self, bridges: Sequence[BridgeRules], ports: Sequence[PortMapping]) -> None:
        return None

    def remove(self) -> None:
        return None

    def available(self) -> bool:
        return False


def _load(row: object) -> Endpoint:
    from wharf.metadata.networks import EndpointRow

    assert isinstance(row, EndpointRow)
    return Endpoint.from_json(row.network_id, row.container_id, row.config)


def is_predefined(name: str) -> bool:
    return name in PREDEFINED


__all__ = ["NetworkService", "is_predefined", "primary_name"]
