"""The network service's shared ground: records as typed values, name resolution of network
references, the locks, the embedded DNS tables and listeners, and the host-wide allocation
lock.

Locking: one service lock (``_lock``, re-entrant) guards every change to networks and
endpoints, so address and port allocation never race within a daemon. Across daemons on one
host (parallel test daemons, or two data roots), picking a subnet and creating its bridge
happen under an ``flock`` on one file (``ALLOCATION_LOCK``): the bridge's route is what the
next daemon sees in ``host_routes``, so two daemons never pick the same pool.

Files: a container's network namespace is ``<exec-root>/netns/<container id>`` (drawn in
``wharf.network.netns``).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path
from typing import TypeVar

from wharf.engine.network_model import (
    ContainerDirectory,
    DeviceNames,
    Driver,
    Endpoint,
    KernelOps,
    LoopRunner,
    Network,
    NetworkConfig,
)
from wharf.errdefs import EngineFailure, InvalidArgument, NotFound, WharfError
from wharf.events.model import EventType, Publish, no_publish
from wharf.metadata.networks import EndpointRow, NetworkRecords
from wharf.network import etcfiles
from wharf.network.bridge import BridgeDriver
from wharf.network.dns import DnsServer, Records
from wharf.network.ipam import IPNetwork

log = logging.getLogger("wharf.engine.networks")
T = TypeVar("T")

ALLOCATION_LOCK = Path("/run/wharf-networks.lock")
_DNS_TIMEOUT = 10.0


class EventLoopRunner:
    """``LoopRunner`` for the daemon: runs coroutines on its event loop from worker threads."""

    def __init__(self, loop: asyncio.AbstractEventLoop, *, timeout: float = _DNS_TIMEOUT) -> None:
        self._loop = loop
        self._timeout = timeout

    def call(self, factory: Callable[[], Awaitable[T]]) -> T:
        async def run() -> T:
            return await factory()

        future = asyncio.run_coroutine_threadsafe(run(), self._loop)
        return future.result(self._timeout)


class HostKernel:
    """``KernelOps`` for real: ``wharf.network.netns`` and ``links`` (imported on first use:
    pyroute2 costs ~100 ms to import)."""

    def create_netns(self, path: Path) -> None:
        from wharf.network import netns

        netns.create_netns(path)

    def remove_netns(self, path: Path) -> None:
        from wharf.network import netns

        netns.remove_netns(path)

    def host_routes(self) -> list[IPNetwork]:
        from wharf.network import links

        return list(links.host_routes())

    def ipv6_enabled(self) -> bool:
        try:
            return Path("/proc/sys/net/ipv6/conf/all/disable_ipv6").read_text().strip() == "0"
        except OSError:
            return False


class NetworkStore:
    """Records, DNS state and locks shared by the network service's parts."""

    def __init__(
        self,
        *,
        records: NetworkRecords,
        driver: BridgeDriver,
        netns_dir: Path,
        names: DeviceNames | None = None,
        kernel: KernelOps | None = None,
        host_resolv_conf: Path = Path(etcfiles.HOST_RESOLV_CONF),
        host_hosts: Path = Path("/etc/hosts"),
        allocation_lock: Path | None = ALLOCATION_LOCK,
        clock: Callable[[], float] = time.time,
        publish: Publish = no_publish,
    ) -> None:
        self._publish_event = publish
        self._records = records
        self._driver = driver
        self._netns_dir = netns_dir
        self._names = names if names is not None else DeviceNames()
        self._kernel: KernelOps = kernel if kernel is not None else HostKernel()
        self._host_resolv_conf = host_resolv_conf
        self._host_hosts = host_hosts
        self._allocation_lock = allocation_lock
        self._clock = clock
        self._lock = threading.RLock()
        self._containers: ContainerDirectory | None = None
        self._runner: LoopRunner | None = None
        self.dns_records = Records()
        self.dns = DnsServer(self.dns_records, upstreams=self._upstreams(()))

    def bind_containers(self, containers: ContainerDirectory) -> None:
        """The container service, given once it exists (each needs the other)."""
        self._containers = containers

    @property
    def names(self) -> DeviceNames:
        return self._names

    @property
    def containers(self) -> ContainerDirectory:
        if self._containers is None:
            raise EngineFailure("the network service has no container service bound")
        return self._containers

    def _network_event(self, action: str, network: Network, container_id: str = "") -> None:
        """Publish a network event with Docker's attributes (name, driver, container)."""
        attributes = {"name": network.name, "type": network.driver.value}
        if container_id:
            attributes["container"] = container_id
        self._publish_event(EventType.NETWORK, action, network.id, attributes)

    def _endpoint_events(self, action: str, container_id: str, endpoints: list[Endpoint]) -> None:
        for endpoint in endpoints:
            with contextlib.suppress(NotFound):
                self._network_event(action, self._network(endpoint.network_id), container_id)

    # ------------------------------------------------------------------ records

    def _network(self, network_id: str) -> Network:
        row = self._records.get(network_id)
        return _network_from_row(row.id, row.name, row.driver, row.created_at, row.config)

    def _all_networks(self) -> list[Network]:
        return [
            _network_from_row(r.id, r.name, r.driver, r.created_at, r.config)
            for r in self._records.list()
        ]

    def find_network(self, reference: str) -> Network:
        """A network by full ID, name, or unique ID prefix (Docker's order)."""
        if not reference:
            raise InvalidArgument("network name must not be empty")
        row = self._records.find(reference) or self._records.find_by_name(reference)
        if row is None:
            matches = [r for r in self._records.list() if r.id.startswith(reference)]
            if len(matches) > 1:
                raise InvalidArgument(
                    f"network {reference} is ambiguous ({len(matches)} matches found based on ID"
                    " prefix)"
                )
            if not matches:
                raise NotFound(f"network {reference} not found")
            row = matches[0]
        return _network_from_row(row.id, row.name, row.driver, row.created_at, row.config)

    def _endpoints_of_container(self, container_id: str) -> list[Endpoint]:
        return [_endpoint(row) for row in self._records.endpoints_of_container(container_id)]

    def _endpoints_of_network(self, network_id: str) -> list[Endpoint]:
        return [_endpoint(row) for row in self._records.endpoints_of_network(network_id)]

    def _all_endpoints(self) -> list[Endpoint]:
        return [_endpoint(row) for row in self._records.endpoints()]

    def _save_endpoint(self, endpoint: Endpoint) -> None:
        self._records.put_endpoint(
            EndpointRow(endpoint.network_id, endpoint.container_id, endpoint.to_json())
        )

    # ------------------------------------------------------------------ host-wide lock

    @contextlib.contextmanager
    def _host_allocation(self) -> Iterator[None]:
        """Hold the host-wide lock for picking a subnet and creating its bridge."""
        if self._allocation_lock is None:
            yield
            return
        fd = os.open(self._allocation_lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing drops the lock

    # ------------------------------------------------------------------ DNS

    def _upstreams(self, dns: tuple[str, ...] | list[str]) -> list[str]:
        try:
            text = self._host_resolv_conf.read_text()
        except OSError:
            text = ""
        return etcfiles.upstream_nameservers(text, dns=tuple(dns))

    def _host_resolv_text(self) -> str:
        try:
            return self._host_resolv_conf.read_text()
        except OSError:
            return ""

    def attach_loop(self, runner: LoopRunner) -> None:
        """The daemon's event loop is up: serve DNS on every user network (call from a
        worker thread, never from the loop itself)."""
        with self._lock:
            self._runner = runner
            for network in self._all_networks():
                if network.has_dns:
                    self._ensure_listener(network)

    def detach_loop(self) -> None:
        """Stop serving DNS (daemon shutdown; call from a worker thread)."""
        with self._lock:
            runner, self._runner = self._runner, None
        if runner is not None:
            with contextlib.suppress(WharfError, TimeoutError, OSError):
                runner.call(self.dns.close)

    def _ensure_listener(self, network: Network) -> None:
        subnet = network.ipv4
        if self._runner is None or subnet is None or not network.has_dns:
            return
        internal = network.config.internal

        async def add() -> int:
            return await self.dns.add_listener(network.id, subnet.gateway, internal=internal)

        try:
            self._runner.call(add)
        except (WharfError, OSError, TimeoutError) as exc:
            message = exc.message if isinstance(exc, WharfError) else str(exc)
            log.warning("no DNS for network %s: %s", network.name, message)

    def _drop_listener(self, network_id: str) -> None:
        if self._runner is None:
            return

        async def remove() -> None:
            await self.dns.remove_listener(network_id)

        with contextlib.suppress(WharfError, OSError, TimeoutError):
            self._runner.call(remove)

    def _refresh_dns(self, network: Network) -> None:
        """Rebuild a user network's name table from its active endpoints."""
        if not network.has_dns:
            return
        endpoints = [ep for ep in self._endpoints_of_network(network.id) if ep.active is not None]
        table: dict[str, list[IPv4Address | IPv6Address]] = {}
        # First names first: the first name given for an address is its PTR answer.
        for ep in endpoints:
            assert ep.active is not None
            if ep.active.dns_names:
                table.setdefault(ep.active.dns_names[0], []).extend(ep.active.addresses())
        for ep in endpoints:
            assert ep.active is not None
            for name in ep.active.dns_names[1:]:
                table.setdefault(name, []).extend(ep.active.addresses())
        self.dns_records.set_network(network.id, table, domain=network.name)

    def _register_clients(self, container_id: str, dns: tuple[str, ...]) -> None:
        """Queries from each of the container's addresses search all its user networks and
        forward to its ``--dns`` servers (if any)."""
        endpoints = [ep for ep in self._endpoints_of_container(container_id) if ep.active]
        networks = []
        for ep in endpoints:
            with contextlib.suppress(NotFound):
                if self._network(ep.network_id).has_dns:
                    networks.append(ep.network_id)
        upstreams = self._upstreams(dns) if dns else None
        for ep in endpoints:
            assert ep.active is not None
            for address in ep.active.addresses():
                self.dns.set_client(address, networks=networks, upstreams=upstreams)

    def _drop_clients(self, endpoints: list[Endpoint]) -> None:
        for ep in endpoints:
            if ep.active is not None:
                for address in ep.active.addresses():
                    self.dns.drop_client(address)


def _network_from_row(
    network_id: str, name: str, driver: str, created_at: float, config: str
) -> Network:
    try:
        return Network(
            id=network_id,
            name=name,
            driver=Driver(driver),
            created_at=created_at,
            config=NetworkConfig.from_json(config),
        )
    except (ValueError, KeyError, TypeError, WharfError) as exc:
        raise EngineFailure(f"metadata for network {name} is corrupt: {exc}") from exc


def _endpoint(row: EndpointRow) -> Endpoint:
    return Endpoint.from_json(row.network_id, row.container_id, row.config)
