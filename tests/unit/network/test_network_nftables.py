from __future__ import annotations

from collections.abc import Sequence
from ipaddress import ip_address, ip_network

import pytest

from wharf.errdefs import EngineFailure, InvalidArgument
from wharf.network.iptables import (
    IptablesFirewall,
    hooked_chains,
    render_iptables,
    render_iptables_removal,
)
from wharf.network.nftables import (
    BridgeRules,
    Firewall,
    LibNftables,
    NftCommand,
    PortMapping,
    PortProtocol,
    group_bridges,
    render_removal,
    render_ruleset,
)

TCP, UDP = PortProtocol.TCP, PortProtocol.UDP

A4 = BridgeRules("br-a", ip_network("172.18.0.0/16"), internal=False)
A6 = BridgeRules("br-a", ip_network("fd77::/64"), internal=False)
INTERNAL = BridgeRules("br-i", ip_network("10.9.0.0/24"), internal=True)
DEFAULT = BridgeRules("wharf0", ip_network("172.17.0.0/16"), internal=False, icc=False)


def port(
    host_port: int,
    container: str,
    cport: int = 80,
    *,
    host: str | None = None,
    proto: PortProtocol = TCP,
    bridge: str = "br-a",
) -> PortMapping:
    return PortMapping(
        proto,
        None if host is None else ip_address(host),
        host_port,
        ip_address(container),
        cport,
        bridge,
    )


GOLDEN = """\
table inet wharf
delete table inet wharf
table inet wharf {
\tchain forward {
\t\ttype filter hook forward priority filter; policy accept;
\t\toifname vmap { "br-a" : jump to-br-a, "br-i" : jump to-br-i }
\t\tiifname { "br-i" } drop
\t}
\tchain to-br-a {
\t\tct state established,related accept
\t\tiifname "br-a" accept
\t\tip daddr 172.18.0.2 tcp dport 80 ct status dnat accept
\t\tdrop
\t}
\tchain to-br-i {
\t\tiifname "br-i" accept
\t\tdrop
\t}
\tchain input {
\t\ttype filter hook input priority filter; policy accept;
\t\tiifname "br-i" ip daddr != 10.9.0.0/24 drop
\t\tiifname "br-i" ip6 daddr != { fe80::/10, ff00::/8 } drop
\t}
\tchain prerouting {
\t\ttype nat hook prerouting priority dstnat; policy accept;
\t\tfib daddr type local jump ports
\t}
\tchain output {
\t\ttype nat hook output priority -100; policy accept;
\t\tip6 daddr ::1 return
\t\tfib daddr type local jump ports
\t}
\tchain ports {
\t\tip daddr 127.0.0.1 tcp dport 8080 dnat ip to 172.18.0.2:80
\t\tmeta nfproto ipv4 tcp dport 9090 dnat ip to 172.18.0.2:80
\t}
\tchain postrouting {
\t\ttype nat hook postrouting priority srcnat; policy accept;
\t\tip saddr 172.18.0.0/16 oifname != "br-a" masquerade
\t\toifname "br-a" ip saddr 127.0.0.0/8 masquerade
\t\toifname "br-a" ip saddr 172.18.0.0/16 ct status dnat masquerade
\t}
}
"""


def test_golden_ruleset() -> None:
    ports = [port(9090, "172.18.0.2"), port(8080, "172.18.0.2", host="127.0.0.1")]
    assert render_ruleset("wharf", [A4, INTERNAL], ports) == GOLDEN


def test_ruleset_does_not_depend_on_input_order() -> None:
    ports = [port(9090, "172.18.0.2"), port(8080, "172.18.0.3", host="127.0.0.1")]
    one = render_ruleset("t", [A4, INTERNAL, DEFAULT], ports)
    two = render_ruleset("t", [DEFAULT, INTERNAL, A4], list(reversed(ports)))
    assert one == two


def test_nothing_wanted_only_deletes_our_table() -> None:
    assert render_ruleset("wharf", [], []) == render_removal("wharf")
    assert render_removal("wharf") == "table inet wharf\ndelete table inet wharf\n"


def test_only_our_table_is_named() -> None:
    text = render_ruleset("wharft1", [A4, INTERNAL, DEFAULT], [port(80, "172.18.0.2")])
    tables = [line for line in text.splitlines() if "table" in line]
    assert tables == [
        "table inet wharft1",
        "delete table inet wharft1",
        "table inet wharft1 {",
    ]
    assert "flush ruleset" not in text


def test_dual_stack_bridge_is_one_bridge_with_two_subnets() -> None:
    text = render_ruleset("t", [A4, A6], [port(80, "fd77::2", host="fd00::2")])
    assert text.count("chain to-br-a {") == 1
    assert '\t\tip6 saddr fd77::/64 oifname != "br-a" masquerade\n' in text
    assert "\t\tip6 daddr fd00::2 tcp dport 80 dnat ip6 to [fd77::2]:80\n" in text
    assert "\t\tip6 daddr fd77::2 tcp dport 80 ct status dnat accept\n" in text
    (view,) = group_bridges([A6, A4, A4])
    assert view.subnets == (A4.subnet, A6.subnet)


def test_conflicting_bridge_settings_are_refused() -> None:
    with pytest.raises(InvalidArgument, match="conflicting"):
        group_bridges([A4, BridgeRules("br-a", ip_network("fd77::/64"), internal=True)])


def test_icc_off_drops_traffic_inside_the_bridge() -> None:
    text = render_ruleset("t", [DEFAULT], [])
    assert (
        '\tchain to-wharf0 {\n\t\tct state established,related accept\n\t\tiifname "wharf0" drop\n'
        in text
    )


def test_internal_bridges_get_no_nat_and_no_published_ports() -> None:
    text = render_ruleset("t", [INTERNAL], [port(8080, "10.9.0.2", bridge="br-i")])
    assert "masquerade" not in text
    assert "dnat" not in text
    assert "chain ports" not in text
    assert '\t\tiifname { "br-i" } drop\n' in text


def test_port_on_unknown_bridge_is_a_bug() -> None:
    with pytest.raises(InvalidArgument, match="unknown bridge br-x"):
        render_ruleset("t", [A4], [port(80, "172.18.0.2", bridge="br-x")])


def test_published_port_53_leaves_the_gateway_dns_alone() -> None:
    without = render_ruleset("t", [A4], [port(80, "172.18.0.2")])
    assert "dport 53 return" not in without
    text = render_ruleset("t", [A4], [port(53, "172.18.0.2", 53, proto=UDP)])
    ports_chain = text[text.index("chain ports") :]
    lines = [line.strip() for line in ports_chain.splitlines()[1:4]]
    assert lines == [
        'iifname "br-a" ip daddr 172.18.0.0/16 udp dport 53 return',
        'iifname "br-a" ip daddr 172.18.0.0/16 tcp dport 53 return',
        "meta nfproto ipv4 udp dport 53 dnat ip to 172.18.0.2:53",
    ]


def test_forward_accept_is_deduplicated_per_container_port() -> None:
    ports = [port(8080, "172.18.0.2"), port(8081, "172.18.0.2")]
    text = render_ruleset("t", [A4], ports)
    assert text.count("ip daddr 172.18.0.2 tcp dport 80 ct status dnat accept") == 1
    assert text.count("dnat ip to 172.18.0.2:80") == 2


@pytest.mark.parametrize("name", ["", "1abc", "a b", "a;b", "x" * 65])
def test_table_name_is_validated(name: str) -> None:
    with pytest.raises(InvalidArgument):
        Firewall(table=name)


def test_port_mapping_is_validated() -> None:
    with pytest.raises(InvalidArgument):
        port(0, "172.18.0.2")
    with pytest.raises(InvalidArgument):
        port(80, "172.18.0.2", 70000)
    with pytest.raises(InvalidArgument, match="families"):
        port(80, "172.18.0.2", host="::1")
    with pytest.raises(InvalidArgument):
        BridgeRules('br"; flush ruleset', ip_network("10.0.0.0/8"), internal=False)


class FakeRunner:
    def __init__(self, fail: bool = False) -> None:
        self.batches: list[str] = []
        self.fail = fail

    def run(self, commands: str) -> str:
        self.batches.append(commands)
        if self.fail:
            raise EngineFailure("nftables refused the change: boom")
        return "table inet wharf\n" if commands.startswith("list tables") else ""


def test_firewall_sends_one_batch_per_change() -> None:
    runner = FakeRunner()
    fw = Firewall(table="wharf", runner=runner)
    fw.sync([A4, INTERNAL], [port(9090, "172.18.0.2"), port(8080, "172.18.0.2", host="127.0.0.1")])
    fw.remove()
    assert runner.batches == [GOLDEN, render_removal("wharf")]
    assert fw.available()
    assert not Firewall(runner=FakeRunner(fail=True)).available()


def test_nft_command_missing_is_unavailable() -> None:
    fw = Firewall(table="wharf", runner=NftCommand("/nonexistent/nft"))
    assert not fw.available()


def test_libnftables_reports_the_error_line() -> None:
    try:
        lib = LibNftables()
    except OSError:
        pytest.skip("libnftables not installed")
    with pytest.raises(EngineFailure, match="syntax error"):
        lib.run("this is not nft\n")  # refused by the parser: never reaches the kernel


IPT_GOLDEN = """\
*filter
:W-FORWARD - [0:0]
:W-INPUT - [0:0]
-A W-FORWARD -o br-a -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A W-FORWARD -i br-a -o br-a -j ACCEPT
-A W-FORWARD -o br-a -d 172.18.0.2/32 -p tcp --dport 80 -m conntrack --ctstate DNAT -j ACCEPT
-A W-FORWARD -o br-a -j DROP
-A W-FORWARD -i br-i -o br-i -j ACCEPT
-A W-FORWARD -o br-i -j DROP
-A W-FORWARD -i br-i -j DROP
-A W-INPUT -i br-i ! -d 10.9.0.0/24 -j DROP
-I INPUT 1 -j W-INPUT
COMMIT
*nat
:W-PREROUTING - [0:0]
:W-OUTPUT - [0:0]
:W-POSTROUTING - [0:0]
:W-PORTS - [0:0]
-A W-PREROUTING -m addrtype --dst-type LOCAL -j W-PORTS
-A W-OUTPUT -m addrtype --dst-type LOCAL -j W-PORTS
-A W-POSTROUTING -s 172.18.0.0/16 ! -o br-a -j MASQUERADE
-A W-POSTROUTING -o br-a -s 127.0.0.0/8 -j MASQUERADE
-A W-POSTROUTING -o br-a -s 172.18.0.0/16 -m conntrack --ctstate DNAT -j MASQUERADE
-A W-PORTS -d 127.0.0.1/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.18.0.2:80
-I PREROUTING 1 -j W-PREROUTING
-I OUTPUT 1 -j W-OUTPUT
-I POSTROUTING 1 -j W-POSTROUTING
COMMIT
"""


def test_iptables_golden_ipv4_only_and_jumps_added_once() -> None:
    ports = [port(8080, "172.18.0.2", host="127.0.0.1"), port(8081, "fd77::2")]
    text = render_iptables("W", [A4, A6, INTERNAL], ports, hooked=frozenset({"filter/FORWARD"}))
    assert text == IPT_GOLDEN


def test_hooked_chains_read_from_iptables_save() -> None:
    saved = (
        "*filter\n:FORWARD ACCEPT [0:0]\n-A FORWARD -j W-FORWARD\n-A INPUT -j OTHER\nCOMMIT\n"
        "*nat\n-A POSTROUTING -j W-POSTROUTING\n-A OUTPUT -j W-FORWARD\nCOMMIT\n"
    )
    assert hooked_chains("W", saved) == {"filter/FORWARD", "nat/POSTROUTING"}


def test_iptables_removal_deletes_only_existing_jumps() -> None:
    text = render_iptables_removal("W", hooked=frozenset({"nat/OUTPUT"}))
    assert "-D OUTPUT -j W-OUTPUT" in text
    assert "-D FORWARD" not in text
    assert "-X W-PORTS" in text and "-X W-FORWARD" in text


def test_iptables_firewall_runs_save_then_restore() -> None:
    calls: list[tuple[tuple[str, ...], str]] = []

    def run(argv: Sequence[str], stdin: str) -> str:
        calls.append((tuple(argv), stdin))
        return "*filter\n-A FORWARD -j W-FORWARD\nCOMMIT\n" if "save" in argv[0] else ""

    fw = IptablesFirewall("W", run=run)
    fw.sync([A4], [])
    assert [c[0] for c in calls] == [("iptables-save",), ("iptables-restore", "--noflush")]
    assert "-I FORWARD 1" not in calls[1][1]
    assert "-I INPUT 1 -j W-INPUT" in calls[1][1]
    with pytest.raises(InvalidArgument):
        IptablesFirewall("bad prefix")
