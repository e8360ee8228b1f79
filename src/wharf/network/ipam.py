"""Address management for bridge networks: subnets, gateways, container addresses, MACs.

Pure code (layer L1, but no kernel and no I/O): imports the stdlib and ``wharf.errdefs`` only.
The engine keeps what is allocated (in metadata) and passes it in as ``used``; nothing here
remembers anything between calls, so a daemon restart cannot disagree with the records.

Default pools, as Docker's (``libnetwork/ipamutils``), tried in this order::

    172.17.0.0/16  172.18.0.0/16  ...  172.31.0.0/16     15 networks of /16
    192.168.0.0/20 192.168.16.0/20 ... 192.168.240.0/20  16 networks of /20

The default ``bridge`` network takes the first free one (172.17.0.0/16 on a clean host),
user networks the next ones. A candidate is skipped when it overlaps a network we already
use or a route of the host (the host's default routes excepted), as Docker does.

IPv6 has no automatic pool in Docker before 27; ours is the ULA prefix fd77:6861:7266::/48
("wharf" in ASCII after ``fd``), cut into /64s, used only when ``--ipv6`` is given without
``--subnet``.

Invariants:
- A ``Subnet``'s gateway and ip_range lie inside its network (``validate_subnet`` checks,
  ``Subnet.__post_init__`` asserts the same so no inconsistent value can be built).
- ``allocate_address`` never returns the network address, the gateway or the IPv4 broadcast
  address, and never one in ``used``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from ipaddress import (
    IPv4Address,
    IPv4Interface,
    IPv4Network,
    IPv6Address,
    IPv6Interface,
    IPv6Network,
)

from wharf.errdefs import Conflict, Forbidden, InvalidArgument

IPNetwork = IPv4Network | IPv6Network
IPAddress = IPv4Address | IPv6Address
IPInterface = IPv4Interface | IPv6Interface

POOL_OVERLAP = "invalid pool request: Pool overlaps with other one on this address space"


@dataclass(frozen=True, slots=True)
class Subnet:
    """One address family's configuration of a network: Docker's ``IPAM.Config`` entry."""

    network: IPNetwork
    gateway: IPAddress
    ip_range: IPNetwork | None = None

    def __post_init__(self) -> None:
        if self.gateway not in self.network:
            raise InvalidArgument(f"no matching subnet for gateway {self.gateway}")
        if self.ip_range is not None and not _contains(self.network, self.ip_range):
            raise InvalidArgument(f"no matching subnet for range {self.ip_range}")

    @property
    def gateway_interface(self) -> IPInterface:
        """The gateway with the subnet's prefix length: the address the bridge carries."""
        return ipaddress.ip_interface(f"{self.gateway}/{self.network.prefixlen}")

    def interface(self, address: IPAddress) -> IPInterface:
        """``address`` with the subnet's prefix length: what a container's interface carries."""
        return ipaddress.ip_interface(f"{address}/{self.network.prefixlen}")


@dataclass(frozen=True, slots=True)
class PoolSpec:
    """A base network cut into subnets of prefix length ``size`` (default-address-pools)."""

    base: IPNetwork
    size: int

    def __post_init__(self) -> None:
        if not self.base.prefixlen <= self.size <= self.base.max_prefixlen:
            raise InvalidArgument(f"invalid pool size {self.size} for base {self.base}")


DEFAULT_POOLS: tuple[PoolSpec, ...] = (
    *(PoolSpec(IPv4Network(f"172.{n}.0.0/16"), 16) for n in range(17, 32)),
    PoolSpec(IPv4Network("192.168.0.0/16"), 20),
)
DEFAULT_IPV6_POOLS: tuple[PoolSpec, ...] = (PoolSpec(IPv6Network("fd77:6861:7266::/48"), 64),)


class AddressPool:
    """Hands out the next free subnet from an ordered list of pools."""

    def __init__(self, pools: Sequence[PoolSpec] = DEFAULT_POOLS) -> None:
        if not pools:
            raise InvalidArgument("an address pool needs at least one base network")
        self.pools = tuple(pools)

    @classmethod
    def ipv6(cls) -> AddressPool:
        return cls(DEFAULT_IPV6_POOLS)

    def candidates(self) -> Iterator[IPNetwork]:
        for pool in self.pools:
            yield from pool.base.subnets(new_prefix=pool.size)

    def next_free(
        self, used: Iterable[IPNetwork], host_routes: Iterable[IPNetwork] = ()
    ) -> IPNetwork:
        """The first candidate overlapping neither ``used`` nor a host route.

        Default routes (prefix length 0) are ignored: they overlap everything.
        """
        taken = [n for n in (*used, *host_routes) if n.prefixlen > 0]
        version = self.pools[0].base.version
        for candidate in self.candidates():
            if not any(overlaps(candidate, n) for n in taken):
                return candidate
        raise Conflict(
            f"could not find an available, non-overlapping IPv{version} address pool "
            "among the defaults to assign to the network"
        )


def overlaps(a: IPNetwork, b: IPNetwork) -> bool:
    """True when the two networks share an address (False across address families)."""
    if a.version != b.version:
        return False
    a_first, a_last = _bounds(a)
    b_first, b_last = _bounds(b)
    return a_first <= b_last and b_first <= a_last


def _bounds(network: IPNetwork) -> tuple[int, int]:
    return int(network.network_address), int(network.broadcast_address)


def _contains(outer: IPNetwork, inner: IPNetwork) -> bool:
    if outer.version != inner.version:
        return False
    o_first, o_last = _bounds(outer)
    i_first, i_last = _bounds(inner)
    return o_first <= i_first and i_last <= o_last


def parse_network(text: str, *, what: str = "subnet") -> IPNetwork:
    """A CIDR network with Docker's messages: bad notation, or host bits set."""
    try:
        iface = ipaddress.ip_interface(text.strip())
    except ValueError as exc:
        raise InvalidArgument(f"invalid {what} {text}: invalid CIDR block notation") from exc
    if "/" not in text:
        raise InvalidArgument(f"invalid {what} {text}: invalid CIDR block notation")
    if iface.ip != iface.network.network_address:
        raise InvalidArgument(f"invalid {what} {text}: it should be {iface.network}")
    return iface.network


def parse_address(text: str, *, what: str = "address") -> IPAddress:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError as exc:
        raise InvalidArgument(f"invalid {what} {text}: invalid address") from exc


def validate_subnet(
    subnet: str | IPNetwork,
    *,
    gateway: str | IPAddress | None = None,
    ip_range: str | IPNetwork | None = None,
    existing: Iterable[IPNetwork] = (),
) -> Subnet:
    """Turn ``--subnet/--gateway/--ip-range`` into a ``Subnet``, checked as Docker checks them.

    ``existing`` are the subnets of the other networks: an overlap is refused (Forbidden, as
    Docker answers 403). The gateway defaults to the subnet's first host address.
    """
    network = parse_network(subnet) if isinstance(subnet, str) else subnet
    rng: IPNetwork | None
    if ip_range is None or isinstance(ip_range, IPv4Network | IPv6Network):
        rng = ip_range
    else:
        rng = parse_network(ip_range, what="ip-range")
    if rng is not None and not _contains(network, rng):
        raise InvalidArgument(f"no matching subnet for range {rng}")
    if gateway is None:
        if network.num_addresses < 2:
            raise InvalidArgument(f"invalid subnet {network}: no room for a gateway")
        gw: IPAddress = network.network_address + 1
    else:
        gw = parse_address(gateway, what="gateway") if isinstance(gateway, str) else gateway
        if gw.version != network.version or gw not in network:
            raise InvalidArgument(f"no matching subnet for gateway {gw}")
    check_no_overlap(network, existing)
    return Subnet(network, gw, rng)


def check_no_overlap(network: IPNetwork, existing: Iterable[IPNetwork]) -> None:
    if any(overlaps(network, other) for other in existing):
        raise Forbidden(POOL_OVERLAP)


def _reserved(subnet: Subnet) -> set[IPAddress]:
    net = subnet.network
    reserved: set[IPAddress] = {net.network_address, subnet.gateway}
    if net.version == 4 and net.prefixlen < 31:
        reserved.add(net.broadcast_address)
    return reserved


def allocate_address(subnet: Subnet, used: Collection[IPAddress]) -> IPAddress:
    """The first free address of the ip_range (or the whole subnet), as Docker's IPAM.

    Stops at the first free address, so the work is bounded by ``len(used)`` plus the few
    reserved addresses, whatever the size of the subnet.
    """
    reserved = _reserved(subnet)
    pool = subnet.ip_range or subnet.network
    for address in _addresses(pool):
        if address not in reserved and address not in used:
            return address
    raise Conflict(f"no available IPv{pool.version} addresses on this network's address pools")


def _addresses(network: IPNetwork) -> Iterator[IPAddress]:
    first = int(network.network_address)
    cls = IPv4Address if network.version == 4 else IPv6Address
    for n in range(first, first + network.num_addresses):
        yield cls(n)


def check_requested_address(
    subnet: Subnet, address: IPAddress, used: Collection[IPAddress]
) -> None:
    """Validate a ``--ip`` request: inside the subnet, not reserved, not taken."""
    if address.version != subnet.network.version or address not in subnet.network:
        raise InvalidArgument(f"no configured subnet or ip-range contain the IP address {address}")
    if address in used or address in _reserved(subnet):
        raise Conflict(f"Address already in use: {address}")


def mac_for(address: IPAddress) -> str:
    """Docker's MAC for an IPv4 endpoint: 02:42 and the four address bytes.

    For IPv6 the last four bytes of the address are used (only reached for IPv6-only
    endpoints, which Docker does not have either).
    """
    tail = address.packed[-4:]
    return "02:42:" + ":".join(f"{b:02x}" for b in tail)
