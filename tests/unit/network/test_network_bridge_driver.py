from __future__ import annotations

import socket
from collections.abc import Sequence
from ipaddress import ip_address, ip_interface, ip_network
from pathlib import Path

import pytest

from wharf.errdefs import Conflict, EngineFailure, InvalidArgument
from wharf.network.bridge import BridgeDriver
from wharf.network.ipam import IPAddress, IPInterface, validate_subnet
from wharf.network.nftables import BridgeRules, PortMapping, PortProtocol

TCP = PortProtocol.TCP


class FakeLinks:
    def __init__(self) -> None:
        self.bridges: dict[str, list[IPInterface]] = {}
        self.veths: dict[str, str] = {}
        self.sysctls: dict[str, str] = {}
        self.calls: list[str] = []

    def ensure_bridge(
        self, name: str, addresses: Sequence[IPInterface], *, mtu: int = 1500
    ) -> bool:
        self.calls.append(f"ensure_bridge {name}")
        created = name not in self.bridges
        self.bridges[name] = list(addresses)
        return created

    def delete_link(self, name: str) -> None:
        self.calls.append(f"delete_link {name}")
        self.bridges.pop(name, None)
        self.veths.pop(name, None)

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
        self.veths[host_name] = bridge
        return mac or "02:42:00:00:00:01"

    def detach_veth(self, host_name: str) -> None:
        self.veths.pop(host_name, None)

    def list_links(self, prefix: str, *, owned_only: bool = True) -> list[str]:
        return sorted(n for n in [*self.bridges, *self.veths] if n.startswith(prefix))

    def write_sysctl(self, key: str, value: str) -> str:
        previous = self.sysctls.get(key, "0")
        self.sysctls[key] = value
        return previous


class FakeFirewall:
    def __init__(self) -> None:
        self.synced: list[tuple[list[BridgeRules], list[PortMapping]]] = []
        self.fail = False

    def sync(self, bridges: Sequence[BridgeRules], ports: Sequence[PortMapping]) -> None:
        if self.fail:
            raise EngineFailure("nftables refused the change: boom")
        self.synced.append((list(bridges), list(ports)))

    def remove(self) -> None:
        pass

    def available(self) -> bool:
        return True

    @property
    def last(self) -> tuple[list[BridgeRules], list[PortMapping]]:
        return self.synced[-1]


@pytest.fixture
def fw() -> FakeFirewall:
    return FakeFirewall()


@pytest.fixture
def fl() -> FakeLinks:
    return FakeLinks()


@pytest.fixture
def driver(fw: FakeFirewall, fl: FakeLinks) -> BridgeDriver:
    return BridgeDriver(fw, links=fl)


SUB = validate_subnet("172.18.0.0/16")
SUB6 = validate_subnet("fd77::/64")


def mapping(host_port: int, container: str = "172.18.0.2", host: str | None = None) -> PortMapping:
    h = None if host is None else ip_address(host)
    return PortMapping(TCP, h, host_port, ip_address(container), 80, "br-a")


def test_create_network_sets_bridge_sysctls_and_rules(
    driver: BridgeDriver, fw: FakeFirewall, fl: FakeLinks
) -> None:
    driver.create_network("br-a", SUB, internal=False, ipv6_subnet=SUB6)
    assert fl.bridges["br-a"] == [ip_interface("172.18.0.1/16"), ip_interface("fd77::1/64")]
    assert fl.sysctls == {
        "net/ipv4/conf/br-a/route_localnet": "1",
        "net/ipv4/ip_forward": "1",
        "net/ipv6/conf/all/forwarding": "1",
    }
    assert fw.last == (
        [
            BridgeRules("br-a", SUB.network, False),
            BridgeRules("br-a", SUB6.network, False),
        ],
        [],
    )


def test_internal_network_changes_no_global_sysctl(
    driver: BridgeDriver, fw: FakeFirewall, fl: FakeLinks
) -> None:
    driver.create_network("br-i", SUB, internal=True, icc=False)
    assert fl.sysctls == {}
    assert fw.last[0] == [BridgeRules("br-i", SUB.network, True, icc=False)]


def test_create_network_rolls_back_when_the_firewall_refuses(
    driver: BridgeDriver, fw: FakeFirewall, fl: FakeLinks
) -> None:
    fw.fail = True
    with pytest.raises(EngineFailure):
        driver.create_network("br-a", SUB, internal=False)
    assert "br-a" not in fl.bridges
    assert driver.bridges() == []


def test_create_network_is_idempotent(driver: BridgeDriver, fw: FakeFirewall) -> None:
    driver.create_network("br-a", SUB, internal=False)
    driver.create_network("br-a", SUB, internal=False)
    assert driver.bridges() == [BridgeRules("br-a", SUB.network, False)]
    assert len(fw.synced) == 2


def test_create_network_validates(driver: BridgeDriver) -> None:
    with pytest.raises(InvalidArgument):
        driver.create_network("a-name-way-too-long", SUB, internal=False)
    with pytest.raises(InvalidArgument):
        driver.create_network("br-a", SUB6, internal=False)


def test_delete_network_drops_rules_then_bridge(
    driver: BridgeDriver, fw: FakeFirewall, fl: FakeLinks
) -> None:
    driver.create_network("br-a", SUB, internal=False)
    driver.create_network("br-b", validate_subnet("172.19.0.0/16"), internal=False)
    driver.publish("c1", [mapping(8080)])
    driver.delete_network("br-a")
    assert [r.bridge for r in fw.last[0]] == ["br-b"]
    assert fw.last[1] == []
    assert driver.published() == {}
    assert fl.calls[-1] == "delete_link br-a"
    driver.delete_network("br-a")  # idempotent


def test_publish_and_unpublish(driver: BridgeDriver, fw: FakeFirewall) -> None:
    driver.create_network("br-a", SUB, internal=False)
    driver.publish("c1", [mapping(18080, host="127.0.0.1"), mapping(18081)])
    assert len(fw.last[1]) == 2
    driver.publish("c1", [mapping(18081)])  # replaces
    assert fw.last[1] == [mapping(18081)]
    driver.unpublish("c1")
    assert fw.last[1] == []
    assert driver.published() == {}


def test_two_owners_cannot_take_one_port(driver: BridgeDriver, fw: FakeFirewall) -> None:
    driver.create_network("br-a", SUB, internal=False)
    driver.publish("c1", [mapping(18080, host="127.0.0.1")])
    before = len(fw.synced)
    with pytest.raises(Conflict) as info:
        driver.publish("c2", [mapping(18080, "172.18.0.3")])
    assert str(info.value) == "Bind for 0.0.0.0:18080 failed: port is already allocated"
    assert len(fw.synced) == before
    driver.publish("c2", [mapping(18080, "172.18.0.3", host="127.0.0.2")])  # another address
    with pytest.raises(Conflict):
        driver.publish("c3", [mapping(18090), mapping(18090, "172.18.0.4")])


def test_publish_on_a_port_held_by_a_host_process(driver: BridgeDriver) -> None:
    driver.create_network("br-a", SUB, internal=False)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        taken = listener.getsockname()[1]
        assert not driver.port_free(TCP, ip_address("127.0.0.1"), taken)
        with pytest.raises(Conflict, match=f"127.0.0.1:{taken} failed"):
            driver.publish("c1", [mapping(taken, host="127.0.0.1")])
    assert driver.port_free(TCP, ip_address("127.0.0.1"), taken)


def test_publish_failure_restores_previous_ports(driver: BridgeDriver, fw: FakeFirewall) -> None:
    driver.create_network("br-a", SUB, internal=False)
    driver.publish("c1", [mapping(18080)])
    fw.fail = True
    with pytest.raises(EngineFailure):
        driver.publish("c1", [mapping(18081)])
    assert driver.published() == {"c1": (mapping(18080),)}


def test_publish_needs_a_known_bridge(driver: BridgeDriver) -> None:
    with pytest.raises(InvalidArgument):
        driver.publish("c1", [mapping(18080)])


def test_port_free_rejects_foreign_addresses(driver: BridgeDriver) -> None:
    with pytest.raises(InvalidArgument, match="not an address of this host"):
        driver.port_free(TCP, ip_address("203.0.113.77"), 18080)


def test_allocate_port_walks_the_range_without_reuse(fw: FakeFirewall, fl: FakeLinks) -> None:
    driver = BridgeDriver(fw, links=fl, ephemeral_ports=(40100, 40104))
    driver.create_network("br-a", SUB, internal=False)
    first = driver.allocate_port(TCP, None, set())
    assert first == 40100
    assert driver.allocate_port(TCP, None, set()) == 40101  # not 40100 again
    driver.publish("c1", [mapping(40102)])
    assert driver.allocate_port(TCP, None, {40103}) == 40104
    assert driver.allocate_port(TCP, None, set()) == 40100  # wrapped
    with pytest.raises(Conflict, match="all ports are allocated"):
        driver.allocate_port(TCP, None, {40100, 40101, 40103, 40104})


def test_restore_replaces_the_whole_state(driver: BridgeDriver, fw: FakeFirewall) -> None:
    rules = [
        BridgeRules("br-a", SUB.network, False),
        BridgeRules("wharf0", ip_network("172.17.0.0/16"), False),
    ]
    driver.restore(rules, {"c1": [mapping(18080)], "c2": []})
    assert fw.last == (rules, [mapping(18080)])
    assert driver.published() == {"c1": (mapping(18080),)}


def test_connect_and_prune(driver: BridgeDriver, fl: FakeLinks) -> None:
    driver.create_network("br-a", SUB, internal=False)
    mac = driver.connect(
        bridge_name="br-a",
        netns_path=Path("/run/wharf/netns/x"),
        ifname="eth0",
        host_veth_name="veth1234567",
        address=ip_interface("172.18.0.2/16"),
        gateway=ip_address("172.18.0.1"),
        mac=None,
    )
    assert mac == "02:42:00:00:00:01"
    driver.connect(
        bridge_name="br-a",
        netns_path=Path("/run/wharf/netns/y"),
        ifname="eth0",
        host_veth_name="vethdead000",
        address=ip_interface("172.18.0.3/16"),
        gateway=None,
        mac="02:42:ac:12:00:03",
    )
    removed = driver.prune_links(keep={"veth1234567", "br-a"}, prefixes=("veth", "br-"))
    assert removed == ["vethdead000"]
    driver.disconnect("veth1234567")
    assert fl.veths == {}
