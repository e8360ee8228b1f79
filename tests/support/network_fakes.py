"""Fakes for the network service's seams: the kernel (links, namespaces, routes), the
firewall, the container service and the event loop. Constructor seams only (no monkeypatch).

``make_service(tmp_path)`` builds a ``NetworkService`` over a real SQLite database and a real
``BridgeDriver`` whose links and firewall are these fakes, so the service logic and the
driver's port bookkeeping run for real while nothing touches the host.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Network, ip_network
from pathlib import Path
from typing import Any, TypeVar

from wharf.apitypes.containers import ContainerConfig as WireConfig
from wharf.apitypes.containers import HostConfig, PortBinding
from wharf.engine.container_model import ContainerConfig, ContainerState, Status
from wharf.engine.network_model import DeviceNames
from wharf.engine.networks import NetworkService
from wharf.errdefs import EngineFailure, NotFound
from wharf.metadata.db import MetadataDB
from wharf.metadata.networks import NetworkRecords
from wharf.network.bridge import BridgeDriver
from wharf.network.ipam import IPAddress, IPInterface, IPNetwork, mac_for
from wharf.network.nftables import BridgeRules, PortMapping

T = TypeVar("T")


@dataclass
class FakeLink:
    kind: str
    addresses: list[IPInterface] = field(default_factory=list)
    bridge: str = ""
    netns: Path | None = None
    ifname: str = ""
    gateway: IPAddress | None = None
    mac: str = ""


class FakeLinks:
    """``LinkOps`` in memory; ``fail_attach`` makes the next veth fail."""

    def __init__(self) -> None:
        self.links: dict[str, FakeLink] = {}
        self.sysctls: dict[str, str] = {}
        self.fail_attach = False
        self.fail_bridge = False

    def ensure_bridge(
        self, name: str, addresses: Sequence[IPInterface], *, mtu: int = 1500
    ) -> bool:
        if self.fail_bridge:
            raise EngineFailure(f"cannot set up bridge {name}: injected")
        created = name not in self.links
        self.links[name] = FakeLink("bridge", list(addresses))
        return created

    def delete_link(self, name: str) -> None:
        self.links.pop(name, None)
        for other in [n for n, link in self.links.items() if link.bridge == name]:
            del self.links[other]

    def attach_veth(
        self,
        *,
        bridge: str,
        host_name: str,
        netns_path: Path,
        container_ifname: str,
        address: IPInterface,
        gateway: IPAddress | None,
        mac: str | None,
        mtu: int,
        ipv6: IPInterface | None = None,
        gateway6: IPAddress | None = None,
    ) -> str:
        if bridge not in self.links:
            raise NotFound(f"no such bridge: {bridge}")
        if self.fail_attach:
            self.fail_attach = False
            raise EngineFailure("cannot create veth: injected")
        mac = mac or mac_for(address.ip)
        addresses = [address] if ipv6 is None else [address, ipv6]
        self.links[host_name] = FakeLink(
            "veth", addresses, bridge, netns_path, container_ifname, gateway, mac
        )
        return mac

    def detach_veth(self, host_name: str) -> None:
        self.links.pop(host_name, None)

    def list_links(self, prefix: str, *, owned_only: bool = True) -> list[str]:
        return sorted(name for name in self.links if name.startswith(prefix))

    def write_sysctl(self, key: str, value: str) -> str:
        previous = self.sysctls.get(key, "0")
        self.sysctls[key] = value
        return previous

    def veths(self) -> dict[str, FakeLink]:
        return {n: link for n, link in self.links.items() if link.kind == "veth"}


class FakeFirewall:
    """``PacketFilter`` that keeps the last synced state; ``refuse`` makes syncs fail."""

    def __init__(self) -> None:
        self.bridges: list[BridgeRules] = []
        self.ports: list[PortMapping] = []
        self.syncs = 0
        self.removed = False
        self.refuse = False

    def sync(self, bridges: Sequence[BridgeRules], ports: Sequence[PortMapping]) -> None:
        if self.refuse:
            raise EngineFailure("nftables refused the change: injected")
        self.bridges = list(bridges)
        self.ports = list(ports)
        self.syncs += 1

    def remove(self) -> None:
        self.removed = True
        self.bridges, self.ports = [], []

    def available(self) -> bool:
        return True


class FakeKernel:
    """Namespaces as files; host routes and IPv6 as given. Removing a namespace deletes the
    veths plugged into it (with ``links`` set), as the kernel does."""

    def __init__(self, routes: Sequence[IPNetwork] = (), links: FakeLinks | None = None) -> None:
        self.routes = list(routes)
        self.ipv6 = True
        self.created: list[Path] = []
        self.links = links

    def create_netns(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("netns")
        self.created.append(path)

    def remove_netns(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        if self.links is not None:
            for name, link in list(self.links.links.items()):
                if link.netns == path:
                    del self.links.links[name]

    def host_routes(self) -> list[IPNetwork]:
        return list(self.routes)

    def ipv6_enabled(self) -> bool:
        return self.ipv6


class FakeContainers:
    """``ContainerDirectory`` over a dict of configs and states."""

    def __init__(self) -> None:
        self.items: dict[str, tuple[ContainerConfig, ContainerState]] = {}
        self._locks: dict[str, threading.RLock] = {}

    def add(self, config: ContainerConfig, *, running: bool = False) -> ContainerConfig:
        state = ContainerState(status=Status.RUNNING if running else Status.CREATED)
        self.items[config.id] = (config, state)
        return config

    def set_running(self, container_id: str, running: bool) -> None:
        config, _ = self.items[container_id]
        status = Status.RUNNING if running else Status.EXITED
        self.items[container_id] = (config, ContainerState(status=status))

    def resolve_id(self, reference: str) -> str:
        for cid, (config, _) in self.items.items():
            if reference in (cid, config.name):
                return cid
        raise NotFound(f"No such container: {reference}")

    def config_and_state(self, reference: str) -> tuple[ContainerConfig, ContainerState]:
        return self.items[self.resolve_id(reference)]

    @contextlib.contextmanager
    def _held(self, container_id: str) -> Iterator[None]:
        with self._locks.setdefault(container_id, threading.RLock()):
            yield

    def container_lock(self, container_id: str) -> contextlib.AbstractContextManager[object]:
        return self._held(container_id)

    def all_containers(self) -> list[tuple[ContainerConfig, ContainerState]]:
        return list(self.items.values())

    def data_dir(self, container_id: str) -> Path:
        # No /etc files here: the service only rewrites files that exist.
        return Path("/nonexistent/wharf-fake-containers") / container_id


class ThreadLoop:
    """``LoopRunner`` over a private event loop run by a background thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def call(self, factory: Callable[[], Awaitable[T]]) -> T:
        async def run() -> T:
            return await factory()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()


_counter = iter(range(1, 1_000_000))


def make_container(
    name: str,
    *,
    network_mode: str = "default",
    ports: Sequence[tuple[str, str, str]] = (),
    publish_all: bool = False,
    exposed: Sequence[str] = (),
    labels: dict[str, str] | None = None,
    dns: Sequence[str] = (),
    extra_hosts: Sequence[str] = (),
    hostname: str = "",
) -> ContainerConfig:
    number = next(_counter)
    container_id = f"{number:064x}"
    return ContainerConfig(
        id=container_id,
        name=name,
        created="2024-01-01T00:00:00Z",
        image_ref="busybox",
        image_id="sha256:" + "0" * 64,
        path="sh",
        args=(),
        config=WireConfig(
            image="busybox",
            hostname=hostname or container_id[:12],
            exposed_ports=tuple(exposed),
            labels=dict(labels or {}),
        ),
        host_config=HostConfig(
            network_mode=network_mode,
            port_bindings=tuple(PortBinding(port, ip, host) for port, ip, host in ports),
            publish_all_ports=publish_all,
            dns=tuple(dns),
            extra_hosts=tuple(extra_hosts),
        ),
    )


@dataclass
class Rig:
    service: NetworkService
    links: FakeLinks
    firewall: FakeFirewall
    kernel: FakeKernel
    containers: FakeContainers
    db: MetadataDB
    driver: BridgeDriver
    tmp: Path

    def netns(self, container_id: str) -> Path:
        return self.tmp / "exec" / "netns" / container_id


def make_service(
    tmp_path: Path,
    *,
    routes: Sequence[str] = ("10.0.0.0/8",),
    prefix: str = "",
    db: MetadataDB | None = None,
    links: FakeLinks | None = None,
    firewall: FakeFirewall | None = None,
    kernel: FakeKernel | None = None,
    containers: FakeContainers | None = None,
    prepare: bool = True,
) -> Rig:
    """A service with its default networks made (``prepare``)."""
    db = db or MetadataDB(tmp_path / "metadata.db")
    links = links or FakeLinks()
    firewall = firewall or FakeFirewall()
    kernel = kernel or FakeKernel([ip_network(r) for r in routes], links)
    containers = containers or FakeContainers()
    resolv = tmp_path / "resolv.conf"
    if not resolv.exists():
        resolv.write_text("nameserver 192.0.2.53\nsearch example.test\n")
    hosts = tmp_path / "hosts"
    if not hosts.exists():
        hosts.write_text("127.0.0.1\tlocalhost\n192.0.2.2\thost.example.test\n")
    driver = BridgeDriver(firewall, links=links, ephemeral_ports=(40000, 40009))
    service = NetworkService(
        records=NetworkRecords(db),
        driver=driver,
        netns_dir=tmp_path / "exec" / "netns",
        names=DeviceNames(prefix),
        kernel=kernel,
        host_resolv_conf=resolv,
        host_hosts=hosts,
        allocation_lock=tmp_path / "alloc.lock",
    )
    service.bind_containers(containers)
    if prepare:
        service.prepare()
    return Rig(service, links, firewall, kernel, containers, db, driver, tmp_path)


def subnet_of(rig: Rig, name: str) -> IPv4Network:
    network = rig.service.find_network(name)
    assert network.ipv4 is not None
    net = network.ipv4.network
    assert isinstance(net, IPv4Network)
    return net


def anything(*_: Any, **__: Any) -> None:
    return None
