"""The bridge driver: networks as Linux bridges, containers plugged in with veths, NAT and
published ports kept in the firewall.

Layer L1. Imports: stdlib, ``wharf.errdefs`` and the other ``wharf.network`` modules
(``links`` for netlink, ``nftables``/``iptables`` for the rules, ``ipam`` for types).

The engine keeps the records (networks, endpoints, port mappings in metadata) and drives this
class; the driver keeps only the firewall's wanted state in memory. At daemon start the
engine calls ``create_network`` for each network it knows (idempotent; recreates bridges
after a reboot) and ``restore`` once with every network and published port its records hold.

Global kernel settings changed here (and never put back: Docker does not either, running
containers depend on them):

    net/ipv4/ip_forward            0 on this host before Wharf; set to 1 when a non-internal
                                   network is created (containers reach the outside).
    net/ipv6/conf/all/forwarding   0 before; set to 1 only for a non-internal network with an
                                   IPv6 subnet. Side effect: interfaces with accept_ra=1 stop
                                   taking router advertisements (set accept_ra=2 where needed).

Per-bridge settings (gone with the bridge): ``net/ipv4/conf/<bridge>/route_localnet=1`` on
non-internal bridges, so ``127.0.0.1:<port>`` can be DNATed to a container (see
``nftables``). ``bridge-nf-call-iptables`` is left as the host has it; the rules work both
ways (``nftables`` explains).

Invariants:
- The firewall always holds exactly the rules for ``restore``d/created networks and
  published ports; a change that the firewall refuses is rolled back in memory too.
- ``create_network`` either completes or removes the bridge it created.
- Two published ports never claim the same protocol and host port on overlapping host
  addresses.
"""

from __future__ import annotations

import errno
import socket
import threading
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from wharf.errdefs import Conflict, InvalidArgument
from wharf.network import links as links_module
from wharf.network.ipam import IPAddress, IPInterface, Subnet
from wharf.network.nftables import BridgeRules, PacketFilter, PortMapping, PortProtocol
from wharf.network.nftables import select_firewall as select_firewall  # the engine's import

EPHEMERAL_PORTS = (49153, 60999)
"""Docker's range for random host ports (``-p 80``, ``-P``)."""


class LinkOps(Protocol):
    """The netlink and sysctl operations the driver uses (the ``links`` module provides them)."""

    def ensure_bridge(
        self, name: str, addresses: Sequence[IPInterface], *, mtu: int = ...
    ) -> bool: ...

    def delete_link(self, name: str) -> None: ...

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
        ipv6: IPInterface | None = ...,
        gateway6: IPAddress | None = ...,
    ) -> str: ...

    def detach_veth(self, host_name: str) -> None: ...

    def list_links(self, prefix: str, *, owned_only: bool = ...) -> list[str]: ...

    def write_sysctl(self, key: str, value: str) -> str: ...


def _host(host_ip: IPAddress | None) -> str:
    return "0.0.0.0" if host_ip is None else str(host_ip)


def port_in_use(protocol: PortProtocol, host_ip: IPAddress | None, host_port: int) -> Conflict:
    """Docker's message for a host port that is taken."""
    return Conflict(f"Bind for {_host(host_ip)}:{host_port} failed: port is already allocated")


def _clash(a: PortMapping, b: PortMapping) -> bool:
    """Same protocol, port and family, on the same host address or a wildcard."""
    return (
        a.protocol == b.protocol
        and a.host_port == b.host_port
        and a.container_ip.version == b.container_ip.version
        and (a.host_ip is None or b.host_ip is None or a.host_ip == b.host_ip)
    )


class BridgeDriver:
    """Bridge networks on this host. Thread-safe; every method blocks (call from workers)."""

    def __init__(
        self,
        firewall: PacketFilter,
        *,
        links: LinkOps = links_module,
        ephemeral_ports: tuple[int, int] = EPHEMERAL_PORTS,
    ) -> None:
        self.firewall = firewall
        self._links = links
        self._ephemeral = ephemeral_ports
        self._lock = threading.Lock()
        self._bridges: dict[str, tuple[BridgeRules, ...]] = {}
        self._ports: dict[str, tuple[PortMapping, ...]] = {}
        self._last_port: dict[tuple[PortProtocol, IPAddress | None], int] = {}

    # --- firewall state ---------------------------------------------------------------------

    def _sync_locked(self) -> None:
        bridges = [rule for rules in self._bridges.values() for rule in rules]
        ports = [m for mappings in self._ports.values() for m in mappings]
        self.firewall.sync(bridges, ports)

    def restore(
        self, bridges: Iterable[BridgeRules], ports: Mapping[str, Sequence[PortMapping]]
    ) -> None:
        """Replace the whole wanted state (daemon start) and apply it in one change."""
        grouped: dict[str, list[BridgeRules]] = {}
        for rule in bridges:
            grouped.setdefault(rule.bridge, []).append(rule)
        with self._lock:
            old = self._bridges, self._ports
            self._bridges = {name: tuple(rules) for name, rules in grouped.items()}
            self._ports = {owner: tuple(m) for owner, m in ports.items() if m}
            try:
                self._sync_locked()
            except BaseException:
                self._bridges, self._ports = old
                raise

    def bridges(self) -> list[BridgeRules]:
        with self._lock:
            return [rule for rules in self._bridges.values() for rule in rules]

    def published(self) -> dict[str, tuple[PortMapping, ...]]:
        with self._lock:
            return dict(self._ports)

    # --- networks ---------------------------------------------------------------------------

    def create_network(
        self,
        bridge_name: str,
        subnet: Subnet,
        *,
        internal: bool,
        ipv6_subnet: Subnet | None = None,
        icc: bool = True,
        mtu: int = 1500,
    ) -> None:
        """Bridge up with its gateway addresses, kernel settings, firewall rules.

        Idempotent: calling it again for an existing network (at daemon start, to recreate
        bridges a reboot removed) converges to the given configuration.
        """
        links_module.validate_ifname(bridge_name)
        subnets = [subnet] if ipv6_subnet is None else [subnet, ipv6_subnet]
        if subnet.network.version != 4 or (
            ipv6_subnet is not None and ipv6_subnet.network.version != 6
        ):
            raise InvalidArgument("a bridge network takes an IPv4 subnet and an optional IPv6 one")
        addresses = [s.gateway_interface for s in subnets]
        created = self._links.ensure_bridge(bridge_name, addresses, mtu=mtu)
        rules = tuple(BridgeRules(bridge_name, s.network, internal, icc) for s in subnets)
        try:
            if not internal:
                self._links.write_sysctl(f"net/ipv4/conf/{bridge_name}/route_localnet", "1")
                self._links.write_sysctl("net/ipv4/ip_forward", "1")
                if ipv6_subnet is not None:
                    self._links.write_sysctl("net/ipv6/conf/all/forwarding", "1")
            with self._lock:
                previous = self._bridges.get(bridge_name)
                self._bridges[bridge_name] = rules
                try:
                    self._sync_locked()
                except BaseException:
                    if previous is None:
                        del self._bridges[bridge_name]
                    else:
                        self._bridges[bridge_name] = previous
                    raise
        except BaseException:
            if created:
                self._links.delete_link(bridge_name)
            raise

    def delete_network(self, bridge_name: str) -> None:
        """Rules first (with the ports still published on it), then the bridge. Idempotent."""
        with self._lock:
            old = self._bridges, self._ports
            self._bridges = {k: v for k, v in self._bridges.items() if k != bridge_name}
            self._ports = {
                owner: kept
                for owner, mappings in self._ports.items()
                if (kept := tuple(m for m in mappings if m.bridge != bridge_name))
            }
            try:
                self._sync_locked()
            except BaseException:
                self._bridges, self._ports = old
                raise
        self._links.delete_link(bridge_name)

    # --- endpoints --------------------------------------------------------------------------

    def connect(
        self,
        *,
        bridge_name: str,
        netns_path: Path,
        ifname: str,
        host_veth_name: str,
        address: IPInterface,
        gateway: IPAddress | None,
        mac: str | None,
        mtu: int = 1500,
        address6: IPInterface | None = None,
        gateway6: IPAddress | None = None,
    ) -> str:
        """Plug a container's namespace into the bridge; returns the interface's MAC."""
        return self._links.attach_veth(
            bridge=bridge_name,
            host_name=host_veth_name,
            netns_path=netns_path,
            container_ifname=ifname,
            address=address,
            gateway=gateway,
            mac=mac,
            mtu=mtu,
            ipv6=address6,
            gateway6=gateway6,
        )

    def disconnect(self, host_veth_name: str) -> None:
        """Unplug (the kernel takes ~20 ms to delete a veth; removing the namespace instead
        lets it do that in the background). Idempotent."""
        self._links.detach_veth(host_veth_name)

    def prune_links(self, keep: Collection[str], prefixes: Sequence[str]) -> list[str]:
        """Delete our interfaces with these prefixes that are not in ``keep`` (crash clean-up)."""
        removed = []
        for prefix in prefixes:
            for name in self._links.list_links(prefix, owned_only=True):
                if name not in keep:
                    self._links.delete_link(name)
                    removed.append(name)
        return removed

    # --- published ports --------------------------------------------------------------------

    def publish(self, owner: str, mappings: Sequence[PortMapping]) -> None:
        """Set the ports ``owner`` (a container) publishes, replacing its previous ones.

        Refused with Docker's message when another owner has the port, or a host process
        is bound to it.
        """
        wanted = tuple(dict.fromkeys(mappings))
        for i, m in enumerate(wanted):
            if any(_clash(m, other) for other in wanted[:i]):
                raise port_in_use(m.protocol, m.host_ip, m.host_port)
        with self._lock:
            for m in wanted:
                if m.bridge not in self._bridges:
                    raise InvalidArgument(f"no network with bridge {m.bridge} on this host")
                for other_owner, others in self._ports.items():
                    if other_owner != owner and any(_clash(m, o) for o in others):
                        raise port_in_use(m.protocol, m.host_ip, m.host_port)
            mine = set(self._ports.get(owner, ()))
            for m in wanted:
                if m not in mine and not self.port_free(m.protocol, m.host_ip, m.host_port):
                    raise port_in_use(m.protocol, m.host_ip, m.host_port)
            old = dict(self._ports)
            if wanted:
                self._ports[owner] = wanted
            else:
                self._ports.pop(owner, None)
            try:
                self._sync_locked()
            except BaseException:
                self._ports = old
                raise

    def unpublish(self, owner: str) -> None:
        """Forget every port ``owner`` publishes. Idempotent."""
        self.publish(owner, ())

    def port_free(self, protocol: PortProtocol, host_ip: IPAddress | None, host_port: int) -> bool:
        """True when no host process holds the port (tried by binding a socket to it)."""
        v6 = host_ip is not None and host_ip.version == 6
        kind = socket.SOCK_STREAM if protocol is PortProtocol.TCP else socket.SOCK_DGRAM
        with socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, kind) as sock:
            if protocol is PortProtocol.TCP:
                # Connections in TIME_WAIT do not hold a port for a new listener.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((_host(host_ip), host_port))
            except OSError as exc:
                if exc.errno == errno.EADDRNOTAVAIL:
                    raise InvalidArgument(
                        f"cannot publish on {host_ip}: not an address of this host"
                    ) from exc
                if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                    return False
                raise
        return True

    def allocate_port(
        self, protocol: PortProtocol, host_ip: IPAddress | None, used: Collection[int]
    ) -> int:
        """A free host port from the ephemeral range, after the last one given (as Docker:
        a port just released is not handed out again at once)."""
        low, high = self._ephemeral
        with self._lock:
            taken = set(used) | {
                m.host_port
                for mappings in self._ports.values()
                for m in mappings
                if m.protocol == protocol
                and (host_ip is None or m.host_ip is None or m.host_ip == host_ip)
            }
            start = self._last_port.get((protocol, host_ip), high)
            span = high - low + 1
            for step in range(1, span + 1):
                port = low + (start - low + step) % span
                if port not in taken and self.port_free(protocol, host_ip, port):
                    self._last_port[(protocol, host_ip)] = port
                    return port
        raise Conflict("all ports are allocated")
