"""The network values: device names within Linux's 15 bytes, port requests parsed as Docker
parses them, endpoint and network documents that round-trip, the wire models of the
``/networks`` endpoints, and the router over a fake backend."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Interface, ip_address, ip_network
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import given
from hypothesis import strategies as st

from wharf.api.app import build_app
from wharf.api.routers import networks as networks_router
from wharf.apitypes.containers import CreateRequest
from wharf.apitypes.filters import Filters
from wharf.apitypes.networks import (
    EndpointSettings,
    HostBinding,
    NetworkCreateRequest,
    NetworkCreateResponse,
    NetworkResource,
    PortBindingRequest,
    PortEntry,
    PortsUpdateRequest,
    ports_summary,
    ports_wire,
)
from wharf.engine.network_model import (
    ActiveEndpoint,
    DeviceNames,
    Endpoint,
    NetworkConfig,
    PortKey,
    PortRequest,
    PublishedPort,
)
from wharf.errdefs import InvalidArgument, NotFound
from wharf.network.ipam import Subnet
from wharf.network.nftables import PortProtocol


@pytest.mark.parametrize("prefix", ["", "w", "wt3f9a", "abcdefgh"])
def test_device_names_fit_linux(prefix: str) -> None:
    names = DeviceNames(prefix)
    network_id = "0123456789abcdef" * 4
    for name in (names.default_bridge, names.user_bridge(network_id), names.new_veth()):
        assert 1 <= len(name) <= 15, name
    assert names.new_veth() != names.new_veth()
    assert names.new_veth().startswith(names.veth_prefix)
    assert names.user_bridge(network_id).startswith(names.user_bridge_prefix)
    if not prefix:
        assert names.default_bridge == "wharf0" and names.table == "wharf"
        assert names.user_bridge(network_id) == "br-0123456789ab"
        assert len(names.new_veth()) == 11  # veth + 7 hex, as Docker's


@pytest.mark.parametrize("prefix", ["9x", "WT", "too-long-x", "abcdefghi"])
def test_bad_prefixes(prefix: str) -> None:
    with pytest.raises(InvalidArgument, match="network prefix"):
        DeviceNames(prefix)


@pytest.mark.parametrize(
    ("port", "ip", "host", "expected"),
    [
        ("80/tcp", "", "8080", (80, "tcp", None, (8080, 8080))),
        ("53/udp", "127.0.0.1", "", (53, "udp", "127.0.0.1", None)),
        ("80", "0.0.0.0", "8000-8010", (80, "tcp", None, (8000, 8010))),
        ("80/TCP", "[::1]", "1", (80, "tcp", "::1", (1, 1))),
    ],
)
def test_port_requests(
    port: str, ip: str, host: str, expected: tuple[int, str, str | None, tuple[int, int] | None]
) -> None:
    request = PortRequest.parse(port, ip, host)
    number, proto, host_ip, ports = expected
    assert request.key == PortKey(number, PortProtocol(proto))
    assert request.host_ip == (None if host_ip is None else ip_address(host_ip))
    assert request.host_ports == ports
    wire = request.wire()
    assert PortRequest.parse(wire["port"], wire["host_ip"], wire["host_port"]) == request


@pytest.mark.parametrize(
    ("port", "ip", "host"),
    [("0", "", ""), ("70000", "", ""), ("80/sctp", "", ""), ("80/xyz", "", ""),
     ("80", "banana", ""), ("80", "", "9-1"), ("80", "", "x")],
)  # fmt: skip
def test_bad_port_requests(port: str, ip: str, host: str) -> None:
    with pytest.raises(InvalidArgument):
        PortRequest.parse(port, ip, host)


_ports = st.builds(
    PublishedPort,
    st.builds(PortKey, st.integers(1, 65535), st.sampled_from(list(PortProtocol))),
    st.none() | st.just(ip_address("127.0.0.1")),
    st.integers(1, 65535),
)


@given(
    aliases=st.lists(st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True), max_size=3),
    host=st.integers(2, 250),
    ports=st.lists(_ports, max_size=3),
    active=st.booleans(),
)
def test_endpoint_documents_round_trip(
    aliases: list[str], host: int, ports: list[PublishedPort], active: bool
) -> None:
    endpoint = Endpoint(
        network_id="n" * 64,
        container_id="c" * 64,
        aliases=tuple(aliases),
        ipv4=IPv4Address(f"10.0.0.{host}"),
        published=(PortRequest.parse("80", "", "8080"),),
        unpublished=(PortKey(443, PortProtocol.TCP),),
        active=ActiveEndpoint(
            endpoint_id="e" * 64,
            ifname="eth0",
            veth="veth1234567",
            ipv4=IPv4Interface(f"10.0.0.{host}/24"),
            mac="02:42:0a:00:00:02",
            gateway=IPv4Address("10.0.0.1"),
            dns_names=("web",),
            ports=tuple(ports),
        )
        if active
        else None,
    )
    assert Endpoint.from_json(endpoint.network_id, endpoint.container_id, endpoint.to_json()) == (
        endpoint
    )


def test_network_config_round_trips() -> None:
    config = NetworkConfig(
        subnets=(
            Subnet(ip_network("10.1.0.0/16"), ip_address("10.1.0.1"), ip_network("10.1.2.0/24")),
            Subnet(ip_network("fd00::/64"), ip_address("fd00::1")),
        ),
        bridge="br-x",
        internal=True,
        labels={"a": "b"},
    )
    again = NetworkConfig.from_json(config.to_json())
    assert again.subnets == config.subnets and dict(again.labels) == {"a": "b"}
    assert again.internal and again.bridge == "br-x"


def test_create_request_from_the_wire() -> None:
    request = NetworkCreateRequest.from_wire(
        {
            "Name": "app",
            "Driver": "",
            "Internal": True,
            "IPAM": {
                "Driver": "default",
                "Config": [{"Subnet": "10.9.0.0/24", "Gateway": "10.9.0.1"}],
            },
            "Labels": {"x": "y"},
            "Options": {"com.docker.network.bridge.name": "b0"},
            "CheckDuplicate": True,
        }
    )
    assert request.driver == "bridge" and request.internal
    assert request.ipam_pools[0].subnet == "10.9.0.0/24"
    assert dict(request.options) == {"com.docker.network.bridge.name": "b0"}
    for bad in ({"Name": 3}, {"Name": "x", "IPAM": {"Config": {}}}, [1]):
        with pytest.raises(InvalidArgument):
            NetworkCreateRequest.from_wire(bad)


def test_container_create_carries_networking_config() -> None:
    request = CreateRequest.from_wire(
        {
            "Image": "busybox",
            "MacAddress": "02:00:00:00:00:01",
            "HostConfig": {"NetworkMode": "app", "DnsSearch": ["x"], "DnsOptions": ["ndots:2"]},
            "NetworkingConfig": {
                "EndpointsConfig": {
                    "app": {"Aliases": ["db"], "IPAMConfig": {"IPv4Address": "10.9.0.5"}}
                }
            },
        },
        name="c",
    )
    assert request.networking.endpoints == (
        ("app", EndpointSettings(aliases=("db",), ipv4_address="10.9.0.5")),
    )
    assert request.config.mac_address == "02:00:00:00:00:01"
    assert request.host_config.dns_search == ("x",)
    assert request.host_config.to_wire()["DnsOptions"] == ["ndots:2"]


def test_ports_views() -> None:
    entries = (
        PortEntry("80/tcp", (HostBinding("0.0.0.0", "8080"),)),
        PortEntry("53/udp", None),
    )
    assert ports_wire(entries) == {
        "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}],
        "53/udp": None,
    }
    assert ports_summary(entries) == [
        {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
        {"PrivatePort": 53, "Type": "udp"},
    ]
    update = PortsUpdateRequest.from_wire(
        {"PortBindings": {"80/tcp": [{"HostPort": "1"}], "81": None}, "Remove": ["9/udp"]}
    )
    assert update.add == (PortBindingRequest("80/tcp", "", "1"), PortBindingRequest("81", "", ""))
    assert update.remove == ("9/udp",)


# --- the router ----------------------------------------------------------------------------


class FakeBackend:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def create_network(self, request: NetworkCreateRequest) -> NetworkCreateResponse:
        self.calls.append(("create", request.name))
        return NetworkCreateResponse("a" * 64)

    def list_networks(self, *, filters: Filters) -> list[NetworkResource]:
        self.calls.append(("list", filters.get("driver")))
        return [self.inspect_network("app")]

    def inspect_network(self, reference: str) -> NetworkResource:
        if reference == "nope":
            raise NotFound("network nope not found")
        return NetworkResource(
            "a" * 64, reference, 0.0, "bridge", False, (), (), False, False, (), ()
        )

    def remove_network(self, reference: str) -> None:
        self.calls.append(("remove", reference))

    def prune_networks(self, *, filters: Filters) -> list[str]:
        return ["old"]

    def connect(self, network_ref: str, container_ref: str, settings: EndpointSettings) -> None:
        self.calls.append(("connect", (network_ref, container_ref, settings.aliases)))

    def disconnect(self, network_ref: str, container_ref: str, *, force: bool = False) -> None:
        self.calls.append(("disconnect", (network_ref, container_ref, force)))

    def update_ports(
        self,
        container_ref: str,
        *,
        add: Sequence[PortBindingRequest] = (),
        remove: Sequence[str] = (),
    ) -> tuple[PortEntry, ...]:
        self.calls.append(("ports", (container_ref, tuple(add), tuple(remove))))
        return (PortEntry("80/tcp", (HostBinding("0.0.0.0", "8080"),)),)


def test_router() -> None:
    backend = FakeBackend()

    async def scenario() -> list[tuple[int, Any]]:
        app = build_app(networks_router.routes(backend))
        async with TestClient(TestServer(app)) as client:
            answers = []
            for method, path, body in [
                ("POST", "/v1.45/networks/create", {"Name": "app"}),
                ("GET", '/networks?filters={"driver":["bridge"]}', None),
                ("GET", "/networks/nope", None),
                ("POST", "/networks/app/connect",
                 {"Container": "c1", "EndpointConfig": {"Aliases": ["x"]}}),
                ("POST", "/networks/app/disconnect", {"Container": "c1", "Force": True}),
                ("POST", "/networks/app/connect", {}),
                ("DELETE", "/networks/app", None),
                ("POST", "/networks/prune", None),
                ("POST", "/containers/c1/ports",
                 {"PortBindings": {"80/tcp": [{"HostPort": "8080"}]}}),
            ]:  # fmt: skip
                response = await client.request(
                    method, path, data=None if body is None else json.dumps(body)
                )
                text = await response.text()
                answers.append((response.status, json.loads(text) if text.strip() else None))
            return answers

    answers = asyncio.run(scenario())
    assert [status for status, _ in answers] == [201, 200, 404, 200, 200, 400, 204, 200, 200]
    assert answers[0][1] == {"Id": "a" * 64, "Warning": ""}
    assert answers[1][1][0]["Name"] == "app"
    assert answers[2][1] == {"message": "network nope not found"}
    assert answers[7][1] == {"NetworksDeleted": ["old"]}
    assert answers[8][1] == {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}
    assert ("connect", ("app", "c1", ("x",))) in backend.calls
    assert ("disconnect", ("app", "c1", True)) in backend.calls
    assert ("list", ("bridge",)) in backend.calls
