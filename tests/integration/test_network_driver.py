"""The bridge driver on this machine's real kernel: namespaces, veths, nftables, DNAT.

Every test builds a small lab: namespaces under its tmp dir, bridges named ``wt<hex>``, host
veths ``vt<hex><n>``, an nftables table ``wharft<hex>`` of its own (so parallel workers never
share one), and random 10.x.y.0/24 subnets that overlap no host route. Traffic goes only to
127.0.0.1 and to the lab's own addresses (containers and bridge gateways), never elsewhere.

The ``lab`` fixture takes a snapshot of links, the nftables ruleset and the mount table before
the test and compares after its clean-up (which runs even when the test fails). Other workers
and other suites change these at the same time on this machine, so the comparison covers what
the lab could have made or touched: nothing carrying its token is left, the host's own links
are there, every nftables table not named ``wharf*`` is unchanged, no mount under its tmp dir.

Left behind on purpose: ``net.ipv4.ip_forward=1`` (set by the driver, as Docker sets it).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, ip_address, ip_interface, ip_network
from pathlib import Path

import pytest

from wharf.errdefs import Conflict, EngineFailure
from wharf.network import links, netns
from wharf.network.bridge import BridgeDriver
from wharf.network.ipam import (
    IPAddress,
    Subnet,
    allocate_address,
    mac_for,
    overlaps,
    validate_subnet,
)
from wharf.network.iptables import IptablesFirewall
from wharf.network.nftables import BridgeRules, Firewall, PortMapping, PortProtocol

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(not os.access("/usr/sbin/nft", os.X_OK), reason="needs nftables"),
]


def _links() -> list[str]:
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True)
    return sorted(line.split(":")[1].strip().split("@")[0] for line in out.stdout.splitlines())


def _ruleset() -> str:
    out = subprocess.run(["nft", "list", "ruleset"], capture_output=True, text=True, check=True)
    return out.stdout


def _mounts() -> list[str]:
    return sorted(line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines())


@dataclass
class Snapshot:
    links: list[str] = field(default_factory=_links)
    ruleset: str = field(default_factory=_ruleset)
    mounts: list[str] = field(default_factory=_mounts)


@dataclass
class Container:
    ns: Path
    address: IPv4Address
    veth: str


class Lab:
    def __init__(self, tmp: Path, token: str) -> None:
        self.tmp = tmp
        self.token = token
        self.table = f"wharft{token}"
        self.firewall = Firewall(table=self.table)
        self.driver = BridgeDriver(self.firewall)
        self.cleanup = contextlib.ExitStack()
        self.cleanup.callback(self.firewall.close)
        self.cleanup.callback(self.firewall.remove)
        self._n = 0
        self.used: dict[str, set[IPv4Address]] = {}

    def _name(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}{self.token}{self._n}"

    def subnet(self) -> Subnet:
        routes = links.host_routes()
        while True:
            raw = secrets.token_bytes(2)
            candidate = IPv4Network(f"10.{raw[0]}.{raw[1]}.0/24")
            if not any(overlaps(candidate, r) for r in routes):
                return validate_subnet(candidate)

    def network(self, *, internal: bool = False, icc: bool = True) -> tuple[str, Subnet]:
        name = self._name("wt")
        subnet = self.subnet()
        self.cleanup.callback(self.driver.delete_network, name)
        self.driver.create_network(name, subnet, internal=internal, icc=icc)
        self.used[name] = set()
        return name, subnet

    def container(self, bridge: str, subnet: Subnet) -> Container:
        ns = self.tmp / self._name("ns")
        self.cleanup.callback(netns.remove_netns, ns)
        netns.create_netns(ns)
        veth = self._name("vt")
        address = allocate_address(subnet, self.used[bridge])
        assert isinstance(address, IPv4Address)
        self.used[bridge].add(address)
        self.cleanup.callback(self.driver.disconnect, veth)
        self.driver.connect(
            bridge_name=bridge,
            netns_path=ns,
            ifname="eth0",
            host_veth_name=veth,
            address=subnet.interface(address),
            gateway=subnet.gateway,
            mac=None,
        )
        return Container(ns, address, veth)


def _foreign_tables(ruleset: str) -> str:
    """The ruleset without any table named wharf*: what no Wharf code may touch."""
    kept: list[str] = []
    skipping = False
    for line in ruleset.splitlines():
        if line.startswith("table "):
            skipping = line.split()[2].startswith("wharf")
        if not skipping:
            kept.append(line)
        if line == "}":
            skipping = False
    return "\n".join(kept)


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    token = secrets.token_hex(3)
    before = Snapshot()
    the_lab = Lab(tmp_path, token)
    try:
        yield the_lab
    finally:
        the_lab.cleanup.close()
    after = Snapshot()
    # Other workers and other suites run on this machine at the same time, so the snapshots
    # are compared for what this lab could have made or touched.
    assert [n for n in after.links if token in n] == []
    assert {"lo", "eth0"} & set(before.links) <= set(after.links)
    assert f"table inet {the_lab.table} " not in after.ruleset
    assert _foreign_tables(after.ruleset) == _foreign_tables(before.ruleset)
    assert [m for m in after.mounts if m.startswith(str(tmp_path))] == []


def _tcp_socket(ns: Path | None, address: IPAddress) -> socket.socket:
    family = socket.AF_INET if address.version == 4 else socket.AF_INET6
    if ns is None:
        return socket.socket(family, socket.SOCK_STREAM)
    return netns.socket_in(ns, family, socket.SOCK_STREAM)


def listen(ns: Path | None, address: IPAddress, port: int = 0) -> socket.socket:
    sock = _tcp_socket(ns, address)
    sock.bind((str(address), port))
    sock.listen(8)
    return sock


def reach(ns: Path | None, address: IPAddress, port: int, timeout: float = 3.0) -> str:
    """Outcome of a TCP connection from ``ns`` (None: the host): ok, refused or dropped.

    Where "dropped" is expected the callers wait 0.5 s, long enough for an answer across a
    host bridge; elsewhere a lost first packet is retried after 1 s, within the 3 s default.
    """
    with _tcp_socket(ns, address) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect((str(address), port))
        except ConnectionRefusedError:
            return "refused"
        except TimeoutError:
            return "dropped"
        except OSError as exc:
            return f"error {exc.errno}"
    return "ok"


def test_netns_is_fast_has_loopback_and_goes_away(tmp_path: Path) -> None:
    path = tmp_path / "ns"
    home = os.stat("/proc/thread-self/ns/net").st_ino
    started = time.perf_counter()
    netns.create_netns(path)
    elapsed = time.perf_counter() - started
    try:
        assert netns.is_netns(path)
        assert elapsed < 0.25, f"create_netns took {elapsed * 1000:.1f} ms"  # ~1 ms idle
        with pytest.raises(Conflict):
            netns.create_netns(path)
        with listen(path, IPv4Address("127.0.0.1")) as server:
            assert reach(path, IPv4Address("127.0.0.1"), server.getsockname()[1]) == "ok"
        inside = subprocess.run(
            ["nsenter", f"--net={path}", "ip", "-o", "link"], capture_output=True, text=True
        ).stdout
        assert inside.count("\n") == 1 and "lo:" in inside and "UP" in inside
        # the daemon's thread is back home
        assert os.stat("/proc/thread-self/ns/net").st_ino == home
    finally:
        netns.remove_netns(path)
    netns.remove_netns(path)
    assert not path.exists()
    assert [m for m in _mounts() if m.startswith(str(tmp_path))] == []


def test_two_containers_on_one_bridge(lab: Lab) -> None:
    bridge, subnet = lab.network()
    a = lab.container(bridge, subnet)
    b = lab.container(bridge, subnet)
    with listen(b.ns, b.address) as server:
        assert reach(a.ns, b.address, server.getsockname()[1]) == "ok"
    assert reach(a.ns, b.address, 9) == "refused"  # reached b, nothing listening
    shown = subprocess.run(
        ["nsenter", f"--net={a.ns}", "ip", "-o", "addr", "show", "eth0"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"inet {a.address}/24" in shown
    route = subprocess.run(
        ["nsenter", f"--net={a.ns}", "ip", "route", "show", "default"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"default via {subnet.gateway} dev eth0" in route
    link = subprocess.run(
        ["nsenter", f"--net={a.ns}", "ip", "-o", "link", "show", "eth0"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert mac_for(a.address) in link
    assert a.veth in links.list_links(f"vt{lab.token}")
    assert bridge in links.list_links("wt")


def test_icc_off_isolates_containers_on_one_bridge(lab: Lab) -> None:
    bridge, subnet = lab.network(icc=False)
    a = lab.container(bridge, subnet)
    b = lab.container(bridge, subnet)
    with listen(b.ns, b.address) as server:
        assert reach(a.ns, b.address, server.getsockname()[1], timeout=0.5) == "dropped"


def test_bridges_are_isolated_but_published_ports_cross(lab: Lab) -> None:
    red, red_subnet = lab.network()
    blue, blue_subnet = lab.network()
    a = lab.container(red, red_subnet)
    b = lab.container(blue, blue_subnet)
    with listen(b.ns, b.address) as server:
        port = server.getsockname()[1]
        assert reach(a.ns, b.address, port, timeout=0.5) == "dropped"
        assert reach(b.ns, a.address, port, timeout=0.5) == "dropped"
        # published on the red gateway (an address of the host that the lab owns)
        host_port = lab.driver.allocate_port(PortProtocol.TCP, red_subnet.gateway, set())
        mapping = PortMapping(
            PortProtocol.TCP, red_subnet.gateway, host_port, b.address, port, blue
        )
        lab.driver.publish("b", [mapping])
        assert reach(a.ns, red_subnet.gateway, host_port) == "ok"
        lab.driver.unpublish("b")
        assert reach(a.ns, red_subnet.gateway, host_port) == "refused"


def test_internal_network_reaches_only_itself(lab: Lab) -> None:
    inner, inner_subnet = lab.network(internal=True)
    outer, outer_subnet = lab.network()
    i1 = lab.container(inner, inner_subnet)
    i2 = lab.container(inner, inner_subnet)
    o = lab.container(outer, outer_subnet)
    with (
        listen(i2.ns, i2.address) as peer,
        listen(o.ns, o.address) as outside,
        listen(None, inner_subnet.gateway) as own_gateway,
        listen(None, outer_subnet.gateway) as other_host_address,
    ):
        assert reach(i1.ns, i2.address, peer.getsockname()[1]) == "ok"
        assert reach(i1.ns, inner_subnet.gateway, own_gateway.getsockname()[1]) == "ok"
        other = other_host_address.getsockname()[1]
        assert reach(i1.ns, outer_subnet.gateway, other, timeout=0.5) == "dropped"
        assert reach(i1.ns, o.address, outside.getsockname()[1], timeout=0.5) == "dropped"
        assert reach(o.ns, i1.address, peer.getsockname()[1], timeout=0.5) == "dropped"
        assert reach(o.ns, outer_subnet.gateway, other) == "ok"  # control: not internal


def test_published_port_on_localhost_reaches_http_server(lab: Lab) -> None:
    bridge, subnet = lab.network()
    c = lab.container(bridge, subnet)
    (lab.tmp / "www").mkdir()
    (lab.tmp / "www" / "hello.txt").write_text(f"hello {lab.token}\n")
    server = subprocess.Popen(
        [
            "nsenter",
            f"--net={c.ns}",
            sys.executable,
            "-m",
            "http.server",
            "--bind",
            str(c.address),
            "8000",
            "--directory",
            str(lab.tmp / "www"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    lab.cleanup.callback(server.wait)
    lab.cleanup.callback(server.kill)
    localhost = IPv4Address("127.0.0.1")
    host_port = lab.driver.allocate_port(PortProtocol.TCP, localhost, set())
    mapping = PortMapping(PortProtocol.TCP, localhost, host_port, c.address, 8000, bridge)
    started = time.perf_counter()
    lab.driver.publish("c", [mapping])
    assert time.perf_counter() - started < 0.5
    url = f"http://127.0.0.1:{host_port}/hello.txt"
    deadline = time.monotonic() + 10
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                body = response.read().decode()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    assert body == f"hello {lab.token}\n"
    listing = lab.firewall.listing()
    assert f"ip daddr 127.0.0.1 tcp dport {host_port} dnat ip to {c.address}:8000" in listing
    assert links.read_sysctl(f"net/ipv4/conf/{bridge}/route_localnet") == "1"
    lab.driver.unpublish("c")
    assert reach(None, localhost, host_port) == "refused"


def test_failed_attach_leaves_no_veth(lab: Lab) -> None:
    bridge, subnet = lab.network()
    c = lab.container(bridge, subnet)
    before = links.list_links(f"vt{lab.token}", owned_only=False)
    with pytest.raises(Conflict):  # eth0 already exists in that namespace
        links.attach_veth(
            bridge=bridge,
            host_name=f"vt{lab.token}x",
            netns_path=c.ns,
            container_ifname="eth0",
            address=ip_interface("10.0.0.9/24"),
            gateway=None,
            mac=None,
            mtu=1500,
        )
    with pytest.raises(EngineFailure):  # gateway off-link: fails inside, after creation
        links.attach_veth(
            bridge=bridge,
            host_name=f"vt{lab.token}y",
            netns_path=c.ns,
            container_ifname="eth1",
            address=subnet.interface(c.address + 1),
            gateway=IPv4Address("198.51.100.1"),
            mac=None,
            mtu=1500,
        )
    inside = subprocess.run(
        ["nsenter", f"--net={c.ns}", "ip", "-o", "link"], capture_output=True, text=True
    ).stdout
    assert "eth1" not in inside
    assert links.list_links(f"vt{lab.token}", owned_only=False) == before


def test_connect_is_fast(lab: Lab) -> None:
    bridge, subnet = lab.network()
    lab.container(bridge, subnet)  # warm-up: imports, first netlink sockets
    ns = lab.tmp / "fast"
    lab.cleanup.callback(netns.remove_netns, ns)
    veth = f"vt{lab.token}f"
    lab.cleanup.callback(links.detach_veth, veth)
    started = time.perf_counter()
    netns.create_netns(ns)
    links.attach_veth(
        bridge=bridge,
        host_name=veth,
        netns_path=ns,
        container_ifname="eth0",
        address=subnet.interface(subnet.network.network_address + 200),
        gateway=subnet.gateway,
        mac=None,
        mtu=1500,
    )
    elapsed = time.perf_counter() - started
    # ~6 ms on this machine when idle; the bound leaves room for a loaded CI with 8 workers
    # and still fails for a fork or a subprocess per call.
    assert elapsed < 0.5, f"netns + veth took {elapsed * 1000:.1f} ms"
    assert subnet.network in links.host_routes()


RULES = [
    BridgeRules("wta", ip_network("172.18.0.0/16"), internal=False),
    BridgeRules("wta", ip_network("fd77::/64"), internal=False),
    BridgeRules("wti", ip_network("10.9.0.0/24"), internal=True),
    BridgeRules("wtq", ip_network("10.8.0.0/24"), internal=False, icc=False),
]
PORTS = [
    PortMapping(PortProtocol.TCP, None, 8080, IPv4Address("172.18.0.2"), 80, "wta"),
    PortMapping(
        PortProtocol.UDP, IPv4Address("127.0.0.1"), 53, IPv4Address("172.18.0.2"), 53, "wta"
    ),
    PortMapping(PortProtocol.TCP, None, 8080, ip_address("fd77::2"), 80, "wta"),
    PortMapping(PortProtocol.TCP, None, 9000, IPv4Address("10.8.0.5"), 90, "wtq"),
]


def test_every_rule_kind_loads_into_the_kernel(tmp_path: Path) -> None:
    """In a scratch namespace: nftables state there is its own, the host's is not touched."""
    ns = tmp_path / "scratch"
    netns.create_netns(ns)
    try:

        def load() -> tuple[str, str]:
            fw = Firewall(table="wharf")
            fw.sync(RULES, PORTS)
            fw.sync(RULES, PORTS)  # replacing works as well as creating
            listing = fw.listing()
            fw.remove()
            fw.remove()
            try:
                return listing, fw.listing()
            finally:
                fw.close()

        listing, after = netns.call_in(ns, load)
    finally:
        netns.remove_netns(ns)
    assert "dnat ip6 to [fd77::2]:80" in listing
    assert 'iifname "wti" ip daddr != 10.9.0.0/24 drop' in listing
    assert after == ""


@pytest.mark.skipif(shutil.which("iptables-restore") is None, reason="needs iptables")
def test_iptables_fallback_loads_and_removes(tmp_path: Path) -> None:
    ns = tmp_path / "scratch"
    netns.create_netns(ns)
    try:

        def load() -> tuple[str, str]:
            fw = IptablesFirewall("WT")
            assert fw.available()
            fw.sync(RULES, PORTS)
            fw.sync(RULES, PORTS)  # jumps are not added twice
            saved = subprocess.run(["iptables-save"], capture_output=True, text=True).stdout
            fw.remove()
            fw.remove()
            return saved, subprocess.run(["iptables-save"], capture_output=True, text=True).stdout

        saved, after = netns.call_in(ns, load)
    finally:
        netns.remove_netns(ns)
    assert saved.count("-A FORWARD -j WT-FORWARD") == 1
    assert "-A WT-PORTS -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.18.0.2:80" in saved
    assert "fd77" not in saved  # IPv4 only
    assert "WT-" not in after


def test_dual_stack_internal_network(lab: Lab) -> None:
    """IPv6 addresses on the bridge and in containers (internal: the host's global IPv6
    forwarding switch is not flipped by a test)."""
    name = f"wt{lab.token}6"
    v4 = lab.subnet()
    v6 = validate_subnet(f"fd77:{lab.token[:4]}:{lab.token[4:]}::/64")
    lab.cleanup.callback(lab.driver.delete_network, name)
    lab.driver.create_network(name, v4, internal=True, ipv6_subnet=v6)
    spots = []
    for n in (2, 3):
        ns = lab.tmp / f"ns6-{n}"
        lab.cleanup.callback(netns.remove_netns, ns)
        netns.create_netns(ns)
        veth = f"vt{lab.token}6{n}"
        lab.cleanup.callback(lab.driver.disconnect, veth)
        address6 = v6.network.network_address + n
        lab.driver.connect(
            bridge_name=name,
            netns_path=ns,
            ifname="eth0",
            host_veth_name=veth,
            address=v4.interface(v4.network.network_address + n),
            gateway=v4.gateway,
            mac=None,
            address6=v6.interface(address6),
            gateway6=v6.gateway,
        )
        spots.append((ns, address6))
    (a_ns, _), (b_ns, b6) = spots
    with listen(b_ns, b6) as server:
        assert reach(a_ns, b6, server.getsockname()[1]) == "ok"
    on_bridge = subprocess.run(
        ["ip", "-o", "-6", "addr", "show", "dev", name], capture_output=True, text=True, check=True
    ).stdout
    assert f"inet6 {v6.gateway}/64" in on_bridge
    route = subprocess.run(
        ["nsenter", f"--net={a_ns}", "ip", "-6", "route", "show", "default"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"default via {v6.gateway} dev eth0" in route
