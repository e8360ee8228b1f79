"""Network devices over netlink, in-process: bridges, veth pairs, addresses, routes, sysctls.

Layer L1. Imports: stdlib, ``pyroute2`` (imported on first use: it costs ~100 ms to import and
the CLI never needs it), ``wharf.errdefs``, ``wharf.network.ipam`` and ``wharf.network.netns``.

Every call opens its own netlink socket (about 1 ms) and closes it: pyroute2's sockets belong
to the thread that made them, and the engine calls from worker threads. These functions block;
never call them on an asyncio event loop's thread (pyroute2 runs its own loop inside).

Names (Linux allows at most 15 bytes)::

    wharf0             the default network's bridge        (the engine chooses)
    br-<12 hex>        a user network's bridge              (the engine chooses)
    veth<7 hex>        the host end of a container's veth   (the engine chooses)
    eth0, eth1 ...     the container end, inside its namespace

Ownership: every bridge and host-side veth we create carries the interface alias
``wharf`` (``ip link`` shows it as ``alias wharf``). ``list_links`` returns only those by
default, so crash reconciliation can never take a Docker ``br-*`` bridge for one of ours.

Invariants:
- ``attach_veth`` either completes or leaves no veth behind (deleting one end of a pair
  deletes both, wherever the peer lives).
- ``ensure_bridge`` and the delete functions are idempotent.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import re
import secrets
import socket
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from wharf.errdefs import Conflict, EngineFailure, InvalidArgument, NotFound, WharfError
from wharf.network import netns
from wharf.network.ipam import IPAddress, IPInterface, IPNetwork, mac_for

__all__ = [
    "OWNER_ALIAS",
    "attach_veth",
    "delete_link",
    "detach_veth",
    "ensure_bridge",
    "host_addresses",
    "host_routes",
    "list_links",
    "mac_for",
    "read_sysctl",
    "validate_ifname",
    "write_sysctl",
]

OWNER_ALIAS = "wharf"
_IFNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,14}")
_MAC = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}")
_IFA_F_NODAD = 0x02
_RT_TABLE_MAIN = 254
_AF_INET6 = 10
_NETLINK_ROUTE = 0


def validate_ifname(name: str) -> str:
    """An interface name Linux accepts and that needs no quoting anywhere (nft, sysctl paths)."""
    if not _IFNAME.fullmatch(name) or name in (".", ".."):
        raise InvalidArgument(f"invalid interface name {name!r}: 1 to 15 of [A-Za-z0-9_.-]")
    return name


def _validate_mac(mac: str) -> str:
    lowered = mac.lower()
    if not _MAC.fullmatch(lowered):
        raise InvalidArgument(f"invalid MAC address {mac!r}")
    if int(lowered[:2], 16) & 1:
        raise InvalidArgument(f"invalid MAC address {mac!r}: multicast bit set")
    return lowered


def _random_mac() -> str:
    # Locally administered, unicast: a fixed bridge MAC stops the bridge from taking its
    # lowest port's MAC, which changes (and breaks neighbours' caches) as ports come and go.
    raw = bytearray(secrets.token_bytes(6))
    raw[0] = (raw[0] & 0xFE) | 0x02
    return ":".join(f"{b:02x}" for b in raw)


@contextmanager
def _iproute(fileno: int | None = None) -> Iterator[Any]:
    from pyroute2.iproute.linux import IPRoute

    ipr = IPRoute(groups=0, fileno=fileno) if fileno is not None else IPRoute(groups=0)
    try:
        yield ipr
    finally:
        ipr.close()


def _netlink_errno(exc: BaseException) -> int | None:
    from pyroute2.netlink.exceptions import NetlinkError

    return exc.code if isinstance(exc, NetlinkError) else None


def _fail(what: str, exc: BaseException) -> Exception:
    code = _netlink_errno(exc)
    if code == errno.EEXIST:
        return Conflict(f"{what}: already exists")
    if code == errno.ENODEV:
        return NotFound(f"{what}: no such device")
    return EngineFailure(f"{what}: {exc}")


def _index(ipr: Any, name: str) -> int | None:
    found: list[int] = ipr.link_lookup(ifname=name)
    return found[0] if found else None


def _link_kind(ipr: Any, index: int) -> str | None:
    (msg,) = ipr.link("get", index=index)
    kind: str | None = msg.get(("linkinfo", "kind"))
    return kind


def _addresses_of(ipr: Any, index: int) -> set[IPInterface]:
    found: set[IPInterface] = set()
    for msg in ipr.get_addr(index=index):
        iface = ipaddress.ip_interface(f"{msg.get('address')}/{msg['prefixlen']}")
        if not iface.ip.is_link_local:
            found.add(iface)
    return found


def _addr_add(ipr: Any, index: int, iface: IPInterface) -> None:
    # NODAD: a fresh IPv6 address is usable at once instead of after ~1 s of duplicate
    # detection (the subnet is ours, duplicates cannot come from outside it).
    flags = _IFA_F_NODAD if iface.version == 6 else 0
    ipr.addr(
        "add", index=index, address=str(iface.ip), prefixlen=iface.network.prefixlen, flags=flags
    )


def ensure_bridge(name: str, addresses: Sequence[IPInterface], *, mtu: int = 1500) -> bool:
    """Make ``name`` a bridge that is up with exactly ``addresses`` (link-local aside).

    Returns True when this call created the bridge (a caller undoing a failed set-up deletes
    only what it created). A non-bridge device of that name is a Conflict.
    """
    validate_ifname(name)
    created = False
    with _iproute() as ipr:
        try:
            index = _index(ipr, name)
            if index is None:
                ipr.link("add", ifname=name, kind="bridge", mtu=mtu, address=_random_mac())
                created = True
                index = _index(ipr, name)
                assert index is not None
                ipr.link("set", index=index, ifalias=OWNER_ALIAS)
            elif _link_kind(ipr, index) != "bridge":
                raise Conflict(f"interface {name} exists and is not a bridge")
            current = _addresses_of(ipr, index)
            wanted = set(addresses)
            for iface in current - wanted:
                ipr.addr(
                    "del", index=index, address=str(iface.ip), prefixlen=iface.network.prefixlen
                )
            for iface in sorted(wanted - current, key=str):
                _addr_add(ipr, index, iface)
            ipr.link("set", index=index, mtu=mtu, state="up")
        except Conflict:
            raise
        except Exception as exc:
            if created:
                _delete(ipr, name)
            raise _fail(f"cannot set up bridge {name}", exc) from exc
    return created


def _delete(ipr: Any, name: str) -> None:
    index = _index(ipr, name)
    if index is None:
        return
    try:
        ipr.link("del", index=index)
    except Exception as exc:
        if _netlink_errno(exc) != errno.ENODEV:  # gone meanwhile: that is what we wanted
            raise _fail(f"cannot delete interface {name}", exc) from exc


def delete_link(name: str) -> None:
    """Delete a host interface (bridge or veth). Idempotent."""
    validate_ifname(name)
    with _iproute() as ipr:
        _delete(ipr, name)


def attach_veth(
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
    """Plug a namespace into a bridge with a veth pair; return the container side's MAC.

    The pair is created with its peer directly in the namespace under its final name (one
    netlink request, no rename), the host end already enslaved to the bridge and up. Inside:
    link up, addresses, default routes via the gateways given. Returns once the bridge port
    forwards. Any failure deletes the pair.
    """
    for name in (bridge, host_name, container_ifname):
        validate_ifname(name)
    mac = _validate_mac(mac) if mac else mac_for(address.ip)
    ns_fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        with _iproute() as ipr:
            bridge_index = _index(ipr, bridge)
            if bridge_index is None:
                raise NotFound(f"no such bridge: {bridge}")
            peer = {"ifname": container_ifname, "net_ns_fd": ns_fd, "address": mac, "mtu": mtu}
            try:
                ipr.link(
                    "add",
                    ifname=host_name,
                    kind="veth",
                    mtu=mtu,
                    master=bridge_index,
                    state="up",
                    peer=peer,
                )
            except Exception as exc:
                raise _fail(
                    f"cannot create veth {host_name} (peer {container_ifname} in {netns_path})",
                    exc,
                ) from exc
            try:
                ipr.link("set", ifname=host_name, ifalias=OWNER_ALIAS)
                _configure_inside(netns_path, container_ifname, address, gateway, ipv6, gateway6)
                _wait_forwarding(host_name)
            except BaseException as exc:
                _delete(ipr, host_name)
                if isinstance(exc, WharfError) or not isinstance(exc, Exception):
                    raise
                raise _fail(f"cannot configure {container_ifname} in {netns_path}", exc) from exc
    finally:
        os.close(ns_fd)
    return mac


def _configure_inside(
    netns_path: Path,
    ifname: str,
    address: IPInterface,
    gateway: IPAddress | None,
    ipv6: IPInterface | None,
    gateway6: IPAddress | None,
) -> None:
    sock = netns.socket_in(netns_path, socket.AF_NETLINK, socket.SOCK_DGRAM, _NETLINK_ROUTE)
    with _iproute(fileno=sock.detach()) as ipr:
        index = _index(ipr, ifname)
        if index is None:
            raise NotFound(f"no interface {ifname} in {netns_path}")
        # Up first: the carrier reaches the bridge port asynchronously (linkwatch), so the
        # sooner it starts, the less _wait_forwarding waits.
        ipr.link("set", index=index, state="up")
        _addr_add(ipr, index, address)
        if ipv6 is not None:
            _addr_add(ipr, index, ipv6)
        if gateway is not None:
            ipr.route("add", dst="0.0.0.0/0", gateway=str(gateway), oif=index)
        if gateway6 is not None:
            ipr.route("add", dst="::/0", gateway=str(gateway6), oif=index, family=_AF_INET6)


def _wait_forwarding(host_name: str, timeout: float = 1.0) -> None:
    """Return once the bridge port forwards (state 3), or after ``timeout`` regardless.

    The port learns that its peer came up through the kernel's linkwatch work, a little after
    the netlink call returns (0-2 ms here, more under load). A container that sends at once
    would lose its first ARP request to a disabled port and wait a second for the retry.
    """
    state = Path(f"/sys/class/net/{host_name}/brport/state")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if state.read_text().strip() == "3":
                return
        except OSError:
            return  # no sysfs view of this port (another namespace's /sys): cannot wait
        time.sleep(0.0002)


def detach_veth(host_name: str) -> None:
    """Delete a container's veth pair by its host end. Idempotent."""
    delete_link(host_name)


def list_links(prefix: str, *, owned_only: bool = True) -> list[str]:
    """Names of host interfaces starting with ``prefix``; by default only those we created."""
    with _iproute() as ipr:
        names: list[str] = []
        for msg in ipr.get_links():
            name = msg.get("ifname") or ""
            if name.startswith(prefix) and (not owned_only or msg.get("ifalias") == OWNER_ALIAS):
                names.append(name)
    return sorted(names)


def host_routes() -> list[IPNetwork]:
    """Destinations of the host's main routing table, default routes left out."""
    with _iproute() as ipr:
        routes: set[IPNetwork] = set()
        for msg in ipr.get_routes(table=_RT_TABLE_MAIN):
            if msg["dst_len"] == 0 or msg.get("table") != _RT_TABLE_MAIN:
                continue
            routes.add(ipaddress.ip_network(f"{msg.get('dst')}/{msg['dst_len']}", strict=False))
    return sorted(routes, key=lambda n: (n.version, n))


def host_addresses() -> list[IPAddress]:
    """Every address configured on the host, both families."""
    with _iproute() as ipr:
        found = {ipaddress.ip_address(msg.get("address")) for msg in ipr.get_addr()}
    return sorted(found, key=lambda a: (a.version, a))


def _sysctl_path(key: str) -> Path:
    # Slash-separated on purpose: interface names may contain dots.
    if key.startswith("/") or ".." in key.split("/"):
        raise InvalidArgument(f"invalid sysctl key {key!r}")
    return Path("/proc/sys") / key


def read_sysctl(key: str) -> str:
    return _sysctl_path(key).read_text().strip()


def write_sysctl(key: str, value: str) -> str:
    """Set ``/proc/sys/<key>`` (e.g. ``net/ipv4/ip_forward``); return the previous value."""
    path = _sysctl_path(key)
    try:
        previous = path.read_text().strip()
        if previous != value:
            path.write_text(value)
    except OSError as exc:
        raise EngineFailure(f"cannot set sysctl {key}={value}: {exc}") from exc
    return previous
