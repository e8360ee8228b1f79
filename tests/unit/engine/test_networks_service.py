"""NetworkService's network operations over fakes (support/network_fakes.py): the default
networks, create with Docker's checks and errors, list filters, inspect, rm, prune, and what
a failed create leaves (nothing)."""

from __future__ import annotations

from ipaddress import IPv4Network, ip_network
from pathlib import Path

import pytest

from support.network_fakes import FakeLinks, make_container, make_service, subnet_of
from wharf.apitypes.filters import Filters
from wharf.apitypes.networks import IPAMPool, NetworkCreateRequest
from wharf.errdefs import Conflict, EngineFailure, Forbidden, InvalidArgument, NotFound, Unsupported


def _create(rig, name: str, **kwargs) -> str:  # type: ignore[no-untyped-def]
    return rig.service.create_network(NetworkCreateRequest(name=name, **kwargs)).id


def test_default_networks_exist_once(tmp_path: Path) -> None:
    rig = make_service(tmp_path)
    names = [n.name for n in rig.service.list_networks(filters=Filters())]
    assert names == ["bridge", "host", "none"]
    assert subnet_of(rig, "bridge") == ip_network("172.17.0.0/16")
    assert "wharf0" in rig.links.links
    assert [str(a) for a in rig.links.links["wharf0"].addresses] == ["172.17.0.1/16"]
    rig.service.prepare()  # a restart: the same networks, not new ones
    assert len(rig.service.list_networks(filters=Filters())) == 3
    bridge = rig.service.inspect_network("bridge").to_wire()
    assert bridge["Driver"] == "bridge" and bridge["Scope"] == "local"
    assert bridge["IPAM"]["Config"] == [{"Subnet": "172.17.0.0/16", "Gateway": "172.17.0.1"}]
    assert rig.service.inspect_network("none").to_wire()["Driver"] == "null"


def test_default_bridge_skips_a_pool_the_host_routes(tmp_path: Path) -> None:
    rig = make_service(tmp_path, routes=("172.17.5.0/24",))
    assert subnet_of(rig, "bridge") == ip_network("172.18.0.0/16")


def test_prefix_names_devices_and_table(tmp_path: Path) -> None:
    rig = make_service(tmp_path, prefix="wt1")
    assert "wt10" in rig.links.links
    network_id = _create(rig, "app")
    assert f"wt1-{network_id[:11]}" in rig.links.links
    assert rig.service.names.table == "wharf_wt1"


def test_create_picks_the_next_free_pool_and_names_the_bridge(tmp_path: Path) -> None:
    rig = make_service(tmp_path)
    network_id = _create(rig, "app", labels=(("team", "a"),))
    assert subnet_of(rig, "app") == ip_network("172.18.0.0/16")
    assert f"br-{network_id[:12]}" in rig.links.links
    second = _create(rig, "other")
    assert subnet_of(rig, "other") == ip_network("172.19.0.0/16")
    assert rig.service.find_network(second[:6]).name == "other"
    wire = rig.service.inspect_network("app").to_wire()
    assert wire["Labels"] == {"team": "a"} and wire["Id"] == network_id
    assert any(rule.bridge == f"br-{network_id[:12]}" for rule in rig.firewall.bridges)


def test_create_with_subnet_gateway_range_and_bridge_name(tmp_path: Path) -> None:
    rig = make_service(tmp_path)
    _create(
        rig,
        "custom",
        ipam_pools=(IPAMPool("10.77.0.0/24", "10.77.0.128/25", "10.77.0.254"),),
        options=(("com.docker.network.bridge.name", "mybr0"),),
        internal=True,
    )
    network = rig.service.find_network("custom")
    assert network.ipv4 is not None
    assert str(network.ipv4.gateway) == "10.77.0.254"
    assert network.ipv4.ip_range == ip_network("10.77.0.128/25")
    assert network.config.internal and "mybr0" in rig.links.links
    rules = [r for r in rig.firewall.bridges if r.bridge == "mybr0"]
    assert rules and rules[0].internal


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"driver": "overlay"}, NotFound, 'plugin "overlay" not found'),
        ({"driver": "host"}, Forbidden, 'only one instance of "host" network is allowed'),
        ({"ingress": True}, Unsupported, "swarm"),
        ({"ipam_pools": (IPAMPool("10.1.0.0/33"),)}, InvalidArgument, "invalid subnet"),
        ({"ipam_pools": (IPAMPool("10.1.0.1/24"),)}, InvalidArgument, "10.1.0.0/24"),
        (
            {"ipam_pools": (IPAMPool("10.1.0.0/24", gateway="10.2.0.1"),)},
            InvalidArgument,
            "gateway",
        ),
        ({"ipam_pools": (IPAMPool("172.17.3.0/24"),)}, Forbidden, "overlaps"),
        ({"ipam_pools": (IPAMPool("", gateway="10.1.0.1"),)}, InvalidArgument, "subnet"),
    ],
)
def test_bad_create_input_is_refused_and_leaves_nothing(
    tmp_path: Path, kwargs: dict[str, object], error: type[Exception], message: str
) -> None:
    rig = make_service(tmp_path)
    links_before = set(rig.links.links)
    with pytest.raises(error, match=message):
        _create(rig, "bad", **kwargs)
    assert set(rig.links.links) == links_before
    assert [n.name for n in rig.service.list_networks(filters=Filters())] == [
        "bridge",
        "host",
        "none",
    ]


def test_names_are_checked(tmp_path: Path) -> None:
    rig = make_service(tmp_path)
    _create(rig, "app")
    with pytest.raises(Conflict, match="network with name app already exists"):
        _create(rig, "app")
    with pytest.raises(Conflict, match="network with name bridge already exists"):
        _create(rig, "bridge")
    with pytest.raises(InvalidArgument, match="invalid network name"):
        _create(rig, "-x")
    with pytest.raises(NotFound, match="network nope not found"):
        rig.service.inspect_network("nope")


def test_failed_bridge_or_firewall_leaves_no_record_and_no_bridge(tmp_path: Path) -> None:
    rig = make_service(tmp_path)
    rig.links.fail_bridge = True
    with pytest.raises(EngineFailure):
        _create(rig, "app")
    rig.links.fail_bridge = False
    rig.firewall.refuse = True
    with pytest.raises(EngineFailure, match="refused"):
        _create(rig, "app")
    rig.firewall.refuse = False
    assert [n for n in rig.links.links if n.startswith("br-")] == []
    with pytest.raises(NotFound):
        rig.service.find_network("app")
    _create(rig, "app")  # and the name is free


def test_remove(tmp_path: Path) -> None:
    rig = make_service(tmp_path)
    network_id = _create(rig, "app")
    with pytest.raises(Forbidden, match="bridge is a pre-defined network and cannot be removed"):
        rig.service.remove_network("bridge")
    web = rig.containers.add(make_container("web", network_mode="app"), running=True)
    rig.service.register(rig.service.plan(web.id, _request("app")))
    rig.service.setup(web)
    with pytest.raises(
        Forbidden,
        match=f"error while removing network: network app id {network_id} has active endpoints",
    ):
        rig.service.remove_network("app")
    rig.service.release(web.id)
    rig.service.remove_network("app")
    assert f"br-{network_id[:12]}" not in rig.links.links
    assert rig.service.networks_of(web.id) == []  # its (stopped) endpoint went too
    with pytest.raises(NotFound):
        rig.service.remove_network("app")


def test_list_filters(tmp_path: Path) -> None:
    rig = make_service(tmp_path)
    _create(rig, "front", labels=(("tier", "web"),))
    _create(rig, "back", internal=True)

    def names(**filters: list[str]) -> list[str]:
        entries = tuple(sorted((k, tuple(v)) for k, v in filters.items()))
        return sorted(n.name for n in rig.service.list_networks(filters=Filters(entries)))

    assert names(type=["custom"]) == ["back", "front"]
    assert names(type=["builtin"]) == ["bridge", "host", "none"]
    assert names(driver=["null"]) == ["none"]
    assert names(label=["tier=web"]) == ["front"]
    assert names(name=["ro"]) == ["front"]
    assert names(dangling=["true"]) == ["back", "front"]
    assert names(id=[rig.service.find_network("back").id[:5]]) == ["back"]
    with pytest.raises(InvalidArgument):
        names(colour=["red"])


def test_prune_removes_unused_custom_networks(tmp_path: Path) -> None:
    rig = make_service(tmp_path)
    _create(rig, "unused", labels=(("keep", "no"),))
    _create(rig, "kept", labels=(("keep", "yes"),))
    _create(rig, "busy")
    web = rig.containers.add(make_container("web", network_mode="busy"), running=True)
    rig.service.register(rig.service.plan(web.id, _request("busy")))
    rig.service.setup(web)
    removed = rig.service.prune_networks(filters=Filters((("label!", ("keep=yes",)),)))
    assert removed == ["unused"]
    assert {n.name for n in rig.service.list_networks(filters=Filters())} == {
        "bridge",
        "host",
        "none",
        "kept",
        "busy",
    }


def test_close_removes_bridges_and_table_only_when_nothing_runs(tmp_path: Path) -> None:
    rig = make_service(tmp_path)
    _create(rig, "app")
    web = rig.containers.add(make_container("web"), running=True)
    rig.service.close()
    assert "wharf0" in rig.links.links and not rig.firewall.removed
    rig.containers.set_running(web.id, False)
    rig.service.close()
    assert rig.links.links == {} and rig.firewall.removed
    rig.service.prepare()  # the next start makes them again, same subnets
    assert "wharf0" in rig.links.links
    assert subnet_of(rig, "app") == IPv4Network("172.18.0.0/16")


def test_two_daemons_never_pick_the_same_pool(tmp_path: Path) -> None:
    first = make_service(tmp_path / "a", prefix="wa")
    routes = [
        net for link in first.links.links.values() for net in (a.network for a in link.addresses)
    ]
    second_links = FakeLinks()
    (tmp_path / "b").mkdir()
    second = make_service(tmp_path / "b", prefix="wb", links=second_links, routes=())
    second.kernel.routes = routes  # what the first daemon's bridges put in the route table
    second.service.create_network(NetworkCreateRequest(name="app"))
    assert subnet_of(second, "app") not in routes


def _request(network: str, *, aliases: tuple[str, ...] = (), ip: str = ""):  # type: ignore[no-untyped-def]
    from wharf.apitypes.containers import ContainerConfig, CreateRequest, HostConfig
    from wharf.apitypes.networks import EndpointSettings, NetworkingConfig

    return CreateRequest(
        name="",
        config=ContainerConfig(image="busybox"),
        host_config=HostConfig(network_mode=network),
        networking=NetworkingConfig(((network, EndpointSettings(aliases, ip)),)),
    )
