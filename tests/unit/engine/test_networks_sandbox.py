"""A container's network from create to rm over fakes (support/network_fakes.py): endpoints
checked at create, addresses, veths, ports, /etc files and DNS names at start, everything
given back at stop, live connect/disconnect and port changes, and crash reconciliation."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from support.network_fakes import Rig, ThreadLoop, make_container, make_service
from wharf.apitypes.containers import ContainerConfig as WireConfig
from wharf.apitypes.containers import CreateRequest, HostConfig
from wharf.apitypes.networks import (
    EndpointSettings,
    NetworkCreateRequest,
    NetworkingConfig,
    PortBindingRequest,
)
from wharf.engine.container_model import ContainerConfig
from wharf.engine.network_model import SandboxMode
from wharf.errdefs import (
    Conflict,
    Forbidden,
    InvalidArgument,
    NotFound,
    Unavailable,
)
from wharf.network.dns_wire import QType


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return make_service(tmp_path)


def _request(
    mode: str, endpoints: dict[str, EndpointSettings] | None = None, mac: str = ""
) -> CreateRequest:
    return CreateRequest(
        name="",
        config=WireConfig(image="busybox", mac_address=mac),
        host_config=HostConfig(network_mode=mode),
        networking=NetworkingConfig(tuple((endpoints or {}).items())),
    )


def _create(
    rig: Rig, config: ContainerConfig, endpoints: dict[str, EndpointSettings] | None = None
) -> ContainerConfig:
    rig.containers.add(config)
    rig.service.register(
        rig.service.plan(config.id, _request(config.host_config.network_mode, endpoints))
    )
    return config


def _start(rig: Rig, config: ContainerConfig):  # type: ignore[no-untyped-def]
    setup = rig.service.setup(config)
    rig.containers.set_running(config.id, True)
    return setup


def _stop(rig: Rig, config: ContainerConfig) -> None:
    rig.service.release(config.id)
    rig.containers.set_running(config.id, False)


def _network(rig: Rig, name: str, **kwargs: object) -> str:
    return rig.service.create_network(NetworkCreateRequest(name=name, **kwargs)).id  # type: ignore[arg-type]


def _ip(rig: Rig, config: ContainerConfig, network: str = "bridge") -> str:
    settings = rig.service.container_settings(*rig.containers.items[config.id]).to_wire()
    return str(settings["Networks"][network]["IPAddress"])


# --- create-time checks --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "endpoints", "error", "message"),
    [
        ("nope", None, NotFound, "network nope not found"),
        ("default", {"default": EndpointSettings(aliases=("x",))}, InvalidArgument, "alias"),
        ("bridge", {"bridge": EndpointSettings(ipv4_address="172.17.0.9")}, InvalidArgument,
         "user defined networks only"),
        ("app", {"app": EndpointSettings(ipv4_address="10.99.0.9")}, InvalidArgument,
         "no configured subnet"),
        ("app", {"app": EndpointSettings(ipv4_address="banana")}, InvalidArgument, "invalid"),
        ("host", {"app": EndpointSettings()}, InvalidArgument, "cannot be connected"),
        ("container:abc", None, NotFound, "No such container: abc"),
    ],
)  # fmt: skip
def test_plan_refuses_what_docker_refuses(
    rig: Rig,
    mode: str,
    endpoints: dict[str, EndpointSettings] | None,
    error: type[Exception],
    message: str,
) -> None:
    _network(rig, "app")
    with pytest.raises(error, match=message):
        rig.service.plan("c" * 64, _request(mode, endpoints))


def test_plan_merges_the_mode_network_with_its_endpoint_settings(rig: Rig) -> None:
    _network(rig, "app")
    _network(rig, "other")
    endpoints = rig.service.plan(
        "c" * 64,
        _request("app", {"app": EndpointSettings(aliases=("db",)), "other": EndpointSettings()}),
    )
    assert len(endpoints) == 2
    assert endpoints[0].aliases == ("db",)
    with pytest.raises(InvalidArgument, match="MAC"):
        rig.service.plan("c" * 64, _request("app", mac="zz:zz"))


# --- start and stop ------------------------------------------------------------------------


def test_default_bridge_start_and_stop(rig: Rig) -> None:
    web = _create(rig, make_container("web", extra_hosts=("gw:host-gateway", "db:10.1.2.3")))
    setup = _start(rig, web)
    assert setup.mode is SandboxMode.PATH
    assert setup.netns_path == rig.netns(web.id) and setup.netns_path.exists()
    (veth,) = rig.links.veths().values()
    assert veth.bridge == "wharf0" and veth.ifname == "eth0"
    assert str(veth.addresses[0]) == "172.17.0.2/16"
    assert veth.gateway == IPv4Address("172.17.0.1")
    assert f"172.17.0.2\t{web.config.hostname}\n" in setup.hosts
    assert "172.17.0.1\tgw\n" in setup.hosts and "10.1.2.3\tdb\n" in setup.hosts
    # The default bridge has no embedded DNS: the host's resolvers, as Docker.
    assert "nameserver 192.0.2.53" in setup.resolv_conf
    inspect = rig.service.container_settings(*rig.containers.items[web.id]).to_wire()
    assert inspect["IPAddress"] == "172.17.0.2" and inspect["Gateway"] == "172.17.0.1"
    assert inspect["MacAddress"] == "02:42:ac:11:00:02"
    assert inspect["SandboxKey"] == str(rig.netns(web.id))
    second = _create(rig, make_container("second"))
    _start(rig, second)
    assert _ip(rig, second) == "172.17.0.3"
    _stop(rig, web)
    assert not rig.netns(web.id).exists()
    stopped = rig.service.container_settings(*rig.containers.items[web.id]).to_wire()
    assert stopped["Networks"]["bridge"]["IPAddress"] == "" and stopped["SandboxKey"] == ""
    third = _create(rig, make_container("third"))
    _start(rig, third)
    assert _ip(rig, third) == "172.17.0.2"  # the freed address is handed out again
    rig.service.release(web.id)  # idempotent


def test_user_network_names_aliases_and_embedded_dns(rig: Rig) -> None:
    _network(rig, "app")
    web = _create(
        rig,
        make_container("web", network_mode="app", labels={"com.docker.compose.service": "svc"}),
        {"app": EndpointSettings(aliases=("www",))},
    )
    setup = _start(rig, web)
    assert "nameserver 172.18.0.1" in setup.resolv_conf
    assert "options ndots:0" in setup.resolv_conf
    network = rig.service.find_network("app")
    records = rig.service.dns_records
    for name in ("web", "www", "svc", web.id[:12], "web.app"):
        assert records.lookup(network.id, name, QType.A) == [IPv4Address("172.18.0.2")], name
    assert records.reverse(network.id, IPv4Address("172.18.0.2")) == "web.app"
    _stop(rig, web)
    assert records.lookup(network.id, "web", QType.A) == []


def test_rename_moves_the_dns_name(rig: Rig) -> None:
    _network(rig, "app")
    web = _create(rig, make_container("web", network_mode="app"))
    _start(rig, web)
    rig.service.renamed(replace(web, name="api"))
    network = rig.service.find_network("app")
    assert rig.service.dns_records.lookup(network.id, "web", QType.A) == []
    assert rig.service.dns_records.lookup(network.id, "api", QType.A) == [IPv4Address("172.18.0.2")]


def test_requested_ip_and_mac(rig: Rig) -> None:
    _network(rig, "app")
    web = _create(
        rig,
        make_container("web", network_mode="app"),
        {"app": EndpointSettings(ipv4_address="172.18.0.50", mac_address="02:00:00:00:00:aa")},
    )
    _start(rig, web)
    (veth,) = rig.links.veths().values()
    assert str(veth.addresses[0]) == "172.18.0.50/16" and veth.mac == "02:00:00:00:00:aa"
    twin = _create(
        rig,
        make_container("twin", network_mode="app"),
        {"app": EndpointSettings(ipv4_address="172.18.0.50")},
    )
    with pytest.raises(Conflict, match="Address already in use"):
        _start(rig, twin)
    assert not rig.netns(twin.id).exists()
    assert len(rig.links.veths()) == 1


def test_internal_network_has_no_gateway_route(rig: Rig) -> None:
    _network(rig, "closed", internal=True)
    box = _create(rig, make_container("box", network_mode="closed"))
    _start(rig, box)
    (veth,) = rig.links.veths().values()
    assert veth.gateway is None
    settings = rig.service.container_settings(*rig.containers.items[box.id]).to_wire()
    assert settings["Networks"]["closed"]["Gateway"] == ""


def test_two_networks_one_default_route(rig: Rig) -> None:
    _network(rig, "front")
    _network(rig, "back")
    box = _create(
        rig,
        make_container("box", network_mode="front"),
        {"front": EndpointSettings(), "back": EndpointSettings()},
    )
    _start(rig, box)
    veths = sorted(rig.links.veths().values(), key=lambda v: v.ifname)
    assert [v.ifname for v in veths] == ["eth0", "eth1"]
    assert veths[0].gateway is not None and veths[1].gateway is None
    assert set(rig.service.networks_of(box.id)) >= {"front", "back"}


def test_container_mode_joins_the_other_namespace(rig: Rig) -> None:
    _network(rig, "app")
    web = _create(rig, make_container("web", network_mode="app"))
    side = _create(rig, make_container("side", network_mode="container:web"))
    with pytest.raises(Conflict, match="non running container"):
        rig.service.setup(side)
    _start(rig, web)
    setup = _start(rig, side)
    assert setup.mode is SandboxMode.PATH and setup.netns_path == rig.netns(web.id)
    assert "nameserver 172.18.0.1" in setup.resolv_conf and "172.18.0.2\t" in setup.hosts
    assert len(rig.links.veths()) == 1  # no veth of its own
    rig.service.release(side.id)
    assert rig.netns(web.id).exists()  # releasing the joiner leaves the owner's namespace
    lonely = _create(rig, make_container("lonely", network_mode="none"))
    _start(rig, lonely)
    config, state = rig.containers.items[lonely.id]
    rig.containers.items[lonely.id] = (config, replace(state, pid=4242))
    guest = _create(rig, make_container("guest", network_mode="container:lonely"))
    assert rig.service.setup(guest).netns_path == Path("/proc/4242/ns/net")
    with pytest.raises(InvalidArgument, match="conflicting options"):
        rig.service.plan("c" * 64, _request("container:web", {"app": EndpointSettings()}))


def test_host_and_none_modes(rig: Rig) -> None:
    host = _create(rig, make_container("h", network_mode="host", extra_hosts=("db:10.0.0.9",)))
    setup = _start(rig, host)
    assert setup.mode is SandboxMode.HOST and setup.netns_path is None
    assert setup.hosts.startswith("127.0.0.1\tlocalhost\n192.0.2.2\thost.example.test\n")
    assert setup.hosts.endswith("10.0.0.9\tdb\n")
    assert setup.resolv_conf == (rig.tmp / "resolv.conf").read_text()
    none = _create(rig, make_container("n", network_mode="none"))
    setup = _start(rig, none)
    assert setup.mode is SandboxMode.NONE
    assert rig.links.veths() == {}
    inspect = rig.service.inspect_network("host").to_wire()
    assert host.id in inspect["Containers"]


# --- ports ---------------------------------------------------------------------------------


def test_published_ports_and_conflicts(rig: Rig) -> None:
    web = _create(rig, make_container("web", ports=(("80/tcp", "127.0.0.1", "18080"),)))
    _start(rig, web)
    (mapping,) = rig.firewall.ports
    assert (mapping.host_port, str(mapping.container_ip), mapping.container_port) == (
        18080,
        "172.17.0.2",
        80,
    )
    assert str(mapping.host_ip) == "127.0.0.1"
    ports = rig.service.container_settings(*rig.containers.items[web.id]).to_wire()["Ports"]
    assert ports == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18080"}]}
    clash = _create(rig, make_container("clash", ports=(("81/tcp", "", "18080"),)))
    with pytest.raises(
        Conflict, match=r"Bind for 0\.0\.0\.0:18080 failed: port is already allocated"
    ):
        _start(rig, clash)
    # Nothing half-made: no namespace, no veth, no rule, no address held.
    assert not rig.netns(clash.id).exists()
    assert len(rig.links.veths()) == 1 and len(rig.firewall.ports) == 1
    _stop(rig, web)
    assert rig.firewall.ports == []
    _start(rig, clash)  # the port is free again once web stopped
    assert [m.host_port for m in rig.firewall.ports] == [18080]


def test_random_and_exposed_ports(rig: Rig) -> None:
    web = _create(
        rig,
        make_container(
            "web", ports=(("80/tcp", "", ""),), publish_all=True, exposed=("80/tcp", "53/udp")
        ),
    )
    _start(rig, web)
    ports = sorted((m.container_port, m.protocol.value, m.host_port) for m in rig.firewall.ports)
    assert [(p, proto) for p, proto, _ in ports] == [(53, "udp"), (80, "tcp")]
    assert all(40000 <= host <= 40009 for _, _, host in ports)


def test_live_port_add_and_remove(rig: Rig) -> None:
    web = _create(rig, make_container("web", ports=(("80/tcp", "", "18081"),)))
    _start(rig, web)
    entries = rig.service.update_ports("web", add=[PortBindingRequest("443/tcp", "", "18443")])
    assert {e.port for e in entries} == {"80/tcp", "443/tcp"}
    assert sorted(m.host_port for m in rig.firewall.ports) == [18081, 18443]
    rig.service.update_ports("web", remove=["80/tcp"])
    assert [m.host_port for m in rig.firewall.ports] == [18443]
    with pytest.raises(NotFound, match="does not publish port 80/tcp"):
        rig.service.update_ports("web", remove=["80"])
    _stop(rig, web)
    _start(rig, web)  # the changes outlive a restart
    assert [m.host_port for m in rig.firewall.ports] == [18443]
    with pytest.raises(InvalidArgument):
        rig.service.update_ports("web", add=[PortBindingRequest("0/tcp", "", "1")])


# --- live connect and disconnect ---------------------------------------------------------


def test_connect_and_disconnect_a_running_container(rig: Rig) -> None:
    _network(rig, "app")
    web = _create(rig, make_container("web"))
    _start(rig, web)
    rig.service.connect("app", "web", EndpointSettings(aliases=("api",)))
    veths = {v.ifname: v for v in rig.links.veths().values()}
    assert set(veths) == {"eth0", "eth1"} and veths["eth1"].gateway is None
    network = rig.service.find_network("app")
    assert rig.service.dns_records.lookup(network.id, "api", QType.A) == [IPv4Address("172.18.0.2")]
    with pytest.raises(Forbidden, match="already exists in network app"):
        rig.service.connect("app", "web", EndpointSettings())
    rig.service.disconnect("app", "web")
    assert {v.ifname for v in rig.links.veths().values()} == {"eth0"}
    assert rig.service.dns_records.lookup(network.id, "api", QType.A) == []
    with pytest.raises(Forbidden, match="is not connected to network app"):
        rig.service.disconnect("app", "web")
    with pytest.raises(Forbidden):
        rig.service.connect("host", "web", EndpointSettings())


def test_connect_a_stopped_container_takes_effect_at_start(rig: Rig) -> None:
    _network(rig, "app")
    box = _create(rig, make_container("box"))
    rig.service.connect("app", "box", EndpointSettings())
    assert rig.links.veths() == {}
    _start(rig, box)
    assert len(rig.links.veths()) == 2


def test_failed_live_connect_leaves_no_endpoint(rig: Rig) -> None:
    _network(rig, "app")
    web = _create(rig, make_container("web"))
    _start(rig, web)
    rig.links.fail_attach = True
    with pytest.raises(Exception, match="injected"):
        rig.service.connect("app", "web", EndpointSettings())
    assert "app" not in rig.service.networks_of(web.id)
    assert len(rig.links.veths()) == 1


def test_host_mode_containers_cannot_join_networks(rig: Rig) -> None:
    _network(rig, "app")
    _create(rig, make_container("h", network_mode="host"))
    with pytest.raises(Forbidden, match="sharing network namespace"):
        rig.service.connect("app", "h", EndpointSettings())


# --- recovery ------------------------------------------------------------------------------


def test_reconcile_releases_dead_containers_and_unexplained_links(tmp_path: Path) -> None:
    rig = make_service(tmp_path)
    _network(rig, "app")
    alive = _create(rig, make_container("alive", network_mode="app", ports=(("80", "", "18082"),)))
    dead = _create(rig, make_container("dead", network_mode="app"))
    _start(rig, alive)
    _start(rig, dead)
    rig.links.links["br-0123456789ab"] = type(rig.links.links["wharf0"])("bridge")  # a crash's
    rig.links.links["vethdeadbee"] = type(rig.links.links["wharf0"])("veth")
    stray = rig.netns("f" * 64)
    stray.write_text("netns")
    rig.containers.set_running(dead.id, False)  # it died while the daemon was down
    # A new daemon over the same records and kernel.
    again = make_service(
        tmp_path, db=rig.db, links=rig.links, firewall=rig.firewall, kernel=rig.kernel,
        containers=rig.containers,
    )  # fmt: skip
    again.service.reconcile()
    assert "br-0123456789ab" not in rig.links.links and "vethdeadbee" not in rig.links.links
    assert not stray.exists() and not rig.netns(dead.id).exists()
    assert rig.netns(alive.id).exists()
    assert [m.host_port for m in rig.firewall.ports] == [18082]
    network = again.service.find_network("app")
    assert again.service.dns_records.lookup(network.id, "alive", QType.A) != []
    assert again.service.dns_records.lookup(network.id, "dead", QType.A) == []


def test_forget_drops_endpoints_of_a_removed_container(rig: Rig) -> None:
    _network(rig, "app")
    web = _create(rig, make_container("web", network_mode="app"))
    _start(rig, web)
    rig.service.forget(web.id)
    assert rig.service.networks_of(web.id) == []
    assert rig.links.veths() == {} and not rig.netns(web.id).exists()
    rig.service.remove_network("app")


def test_dns_listeners_follow_the_networks(rig: Rig) -> None:
    from wharf.apitypes.networks import IPAMPool
    from wharf.network.dns import resolve_via

    loop = ThreadLoop()
    try:
        rig.service.attach_loop(loop)
        # A loopback subnet: its "gateway" is an address of this host, so the listener binds.
        # Internal, so that no query is ever forwarded off this host.
        _network(rig, "lo", ipam_pools=(IPAMPool("127.77.0.0/24"),), internal=True)
        network = rig.service.find_network("lo")
        assert rig.service.dns.listening(network.id) == [(IPv4Address("127.77.0.1"), 53)]
        web = _create(rig, make_container("web", network_mode="lo"))
        _start(rig, web)
        assert resolve_via("127.77.0.1", 53, "web") == ["127.77.0.2"]
        assert resolve_via("127.77.0.1", 53, "web.lo") == ["127.77.0.2"]
        _stop(rig, web)
        with pytest.raises(Unavailable, match="SERVFAIL"):  # unknown, and never forwarded
            resolve_via("127.77.0.1", 53, "web")
        rig.service.remove_network("lo")
        assert rig.service.dns.listening(network.id) == []
        rig.service.detach_loop()
    finally:
        loop.close()
