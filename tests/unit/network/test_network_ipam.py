from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wharf.errdefs import Conflict, Forbidden, InvalidArgument
from wharf.network.ipam import (
    DEFAULT_POOLS,
    POOL_OVERLAP,
    AddressPool,
    IPAddress,
    PoolSpec,
    Subnet,
    allocate_address,
    check_requested_address,
    mac_for,
    overlaps,
    validate_subnet,
)


def net(text: str) -> IPv4Network | IPv6Network:
    return ip_network(text)


def test_default_pools_follow_docker() -> None:
    candidates = list(AddressPool().candidates())
    assert candidates[0] == net("172.17.0.0/16")
    assert candidates[14] == net("172.31.0.0/16")
    assert candidates[15] == net("192.168.0.0/20")
    assert candidates[16] == net("192.168.16.0/20")
    assert candidates[-1] == net("192.168.240.0/20")
    assert len(candidates) == 15 + 16


def test_next_free_skips_used_and_host_routes() -> None:
    pool = AddressPool()
    assert pool.next_free([]) == net("172.17.0.0/16")
    used = [net("172.17.0.0/16"), net("172.19.5.0/24")]
    routes = [net("0.0.0.0/0"), net("172.18.3.0/24"), net("fd00::/64")]
    # 172.18 overlaps a host route, 172.19 a network of ours; the default route never counts
    assert pool.next_free(used, routes) == net("172.20.0.0/16")


def test_next_free_reaches_the_192_168_pool_then_runs_out() -> None:
    pool = AddressPool()
    used = [net("172.16.0.0/12")]
    assert pool.next_free(used) == net("192.168.0.0/20")
    with pytest.raises(Conflict, match="non-overlapping IPv4 address pool"):
        pool.next_free([*used, net("192.168.0.0/16")])


def test_ipv6_pool_is_ula_slices() -> None:
    pool = AddressPool.ipv6()
    assert pool.next_free([]) == net("fd77:6861:7266::/64")
    assert pool.next_free([net("fd77:6861:7266::/64")]) == net("fd77:6861:7266:1::/64")


def test_pool_spec_rejects_a_size_shorter_than_its_base() -> None:
    with pytest.raises(InvalidArgument):
        PoolSpec(net("10.0.0.0/16"), 8)
    assert DEFAULT_POOLS[0].size == 16


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("10.0.0.0/8", "10.1.0.0/16", True),
        ("10.1.0.0/16", "10.0.0.0/8", True),
        ("10.0.0.0/24", "10.0.1.0/24", False),
        ("10.0.0.0/23", "10.0.1.0/24", True),
        ("10.0.0.0/8", "fd00::/8", False),
    ],
)
def test_overlaps(a: str, b: str, expected: bool) -> None:
    assert overlaps(net(a), net(b)) is expected


def test_validate_subnet_defaults_the_gateway() -> None:
    s = validate_subnet("10.5.0.0/24")
    assert s == Subnet(net("10.5.0.0/24"), ip_address("10.5.0.1"), None)
    assert str(s.gateway_interface) == "10.5.0.1/24"
    assert str(s.interface(ip_address("10.5.0.9"))) == "10.5.0.9/24"


def test_validate_subnet_with_gateway_and_range() -> None:
    s = validate_subnet("10.5.0.0/16", gateway="10.5.255.254", ip_range="10.5.8.0/24")
    assert s.gateway == ip_address("10.5.255.254")
    assert s.ip_range == net("10.5.8.0/24")


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"subnet": "foo"}, "invalid subnet foo: invalid CIDR block notation"),
        ({"subnet": "10.0.0.0"}, "invalid subnet 10.0.0.0: invalid CIDR block notation"),
        ({"subnet": "10.0.0.1/24"}, "invalid subnet 10.0.0.1/24: it should be 10.0.0.0/24"),
        (
            {"subnet": "10.0.0.0/24", "gateway": "10.0.1.1"},
            "no matching subnet for gateway 10.0.1.1",
        ),
        ({"subnet": "10.0.0.0/24", "gateway": "fd00::1"}, "no matching subnet for gateway fd00::1"),
        ({"subnet": "10.0.0.0/24", "gateway": "x"}, "invalid gateway x"),
        ({"subnet": "10.0.0.0/24", "ip_range": "10.0.0.0/16"}, "no matching subnet for range"),
        ({"subnet": "10.0.0.0/24", "ip_range": "10.0.0.8/28"}, "it should be 10.0.0.0/28"),
    ],
)
def test_validate_subnet_errors(kwargs: dict[str, str], error: str) -> None:
    subnet = kwargs.pop("subnet")
    with pytest.raises(InvalidArgument) as info:
        validate_subnet(subnet, **kwargs)  # type: ignore[arg-type]
    assert error in str(info.value)


def test_validate_subnet_refuses_overlap_as_docker() -> None:
    with pytest.raises(Forbidden) as info:
        validate_subnet("172.18.1.0/24", existing=[net("172.18.0.0/16")])
    assert str(info.value) == POOL_OVERLAP
    assert "Pool overlaps with other one on this address space" in POOL_OVERLAP
    validate_subnet("172.19.0.0/24", existing=[net("172.18.0.0/16")])


def test_subnet_cannot_be_built_inconsistent() -> None:
    with pytest.raises(InvalidArgument):
        Subnet(net("10.0.0.0/24"), ip_address("10.0.1.1"))
    with pytest.raises(InvalidArgument):
        Subnet(net("10.0.0.0/24"), ip_address("10.0.0.1"), net("10.0.1.0/24"))


def test_allocate_skips_network_gateway_broadcast() -> None:
    s = validate_subnet("10.0.0.0/30")  # .0 network, .1 gateway, .2 free, .3 broadcast
    assert allocate_address(s, set()) == ip_address("10.0.0.2")
    with pytest.raises(Conflict) as info:
        allocate_address(s, {ip_address("10.0.0.2")})
    assert str(info.value) == "no available IPv4 addresses on this network's address pools"


def test_allocate_first_free_and_in_range() -> None:
    s = validate_subnet("10.0.0.0/24", gateway="10.0.0.2")
    assert allocate_address(s, set()) == ip_address("10.0.0.1")
    used: set[IPAddress] = {ip_address("10.0.0.1"), ip_address("10.0.0.3")}
    assert allocate_address(s, used) == ip_address("10.0.0.4")
    ranged = validate_subnet("10.0.0.0/16", ip_range="10.0.7.0/24")
    assert allocate_address(ranged, set()) == ip_address("10.0.7.0")


def test_allocate_ipv6_has_no_broadcast() -> None:
    s = validate_subnet("fd00:1::/126")
    used: set[IPAddress] = {ip_address("fd00:1::2")}
    assert allocate_address(s, used) == ip_address("fd00:1::3")
    with pytest.raises(Conflict, match="IPv6"):
        allocate_address(s, {*used, ip_address("fd00:1::3")})


def test_allocate_is_fast_on_a_huge_subnet() -> None:
    s = validate_subnet("fd00::/64")
    used = {ip_address(f"fd00::{n:x}") for n in range(2, 5000)}
    assert allocate_address(s, used) == ip_address("fd00::1388")


@given(st.sets(st.integers(min_value=0, max_value=255), max_size=200))
def test_allocate_never_returns_reserved_or_used(taken: set[int]) -> None:
    s = validate_subnet("10.9.0.0/24")
    used: set[IPAddress] = {ip_address(f"10.9.0.{n}") for n in taken}
    try:
        got = allocate_address(s, used)
    except Conflict:
        assert set(range(2, 255)) <= taken
        return
    assert got not in used
    assert got not in (ip_address("10.9.0.0"), ip_address("10.9.0.1"), ip_address("10.9.0.255"))
    lower = [ip_address(f"10.9.0.{n}") for n in range(2, int(got) & 0xFF)]
    assert all(a in used for a in lower)  # the first free one


def test_check_requested_address() -> None:
    s = validate_subnet("10.0.0.0/24")
    check_requested_address(s, ip_address("10.0.0.7"), set())
    with pytest.raises(Conflict, match="Address already in use"):
        check_requested_address(s, ip_address("10.0.0.7"), {ip_address("10.0.0.7")})
    with pytest.raises(Conflict, match="Address already in use"):
        check_requested_address(s, ip_address("10.0.0.1"), set())
    with pytest.raises(InvalidArgument, match="no configured subnet"):
        check_requested_address(s, ip_address("10.0.1.7"), set())


def test_mac_for_follows_docker() -> None:
    assert mac_for(ip_address("172.17.0.2")) == "02:42:ac:11:00:02"
    assert mac_for(ip_address("10.255.0.1")) == "02:42:0a:ff:00:01"
