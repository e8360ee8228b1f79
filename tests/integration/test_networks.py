"""Networks end to end on a real wharfd (root, real bridges, veths, nftables, DNS): published
ports answered from the host, names and aliases on user networks, isolation between networks,
internal networks, host and none modes, live connect/disconnect and port changes, 30
containers resolving each other, Docker's errors for bad input with nothing half-made, crash
reconciliation, and a session that leaves ``ip link``, the ruleset and the mounts as it found
them.

Traffic goes only to 127.0.0.1 and to the test's own containers. Each test daemon has its own
network prefix (support/daemon.py), so its bridges and nftables table are its own; no test
looks up a name the embedded DNS does not know on a non-internal network (that would be
forwarded to the host's resolvers).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from support.daemon import CommandFailed, WharfDaemon
from support.rootfs import BUSYBOX_REF

pytestmark = pytest.mark.integration


def _name(prefix: str = "n") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _inspect(daemon: WharfDaemon, name: str) -> dict:
    return json.loads(daemon.wharf("inspect", name).stdout)[0]


def _ip(daemon: WharfDaemon, container: str, network: str) -> str:
    return str(_inspect(daemon, container)["NetworkSettings"]["Networks"][network]["IPAddress"])


def _gateway(daemon: WharfDaemon, network: str) -> str:
    doc = json.loads(daemon.wharf("network", "inspect", network).stdout)[0]
    return str(doc["IPAM"]["Config"][0]["Gateway"])


def _sh(daemon: WharfDaemon, container: str, script: str, *, check: bool = True):  # type: ignore[no-untyped-def]
    return daemon.wharf("exec", container, "sh", "-c", script, check=check)


def _reaches(daemon: WharfDaemon, container: str, target: str) -> bool:
    return _sh(daemon, container, f"ping -c1 -W1 {target}", check=False).returncode == 0


def _sleeper(daemon: WharfDaemon, name: str, *args: str) -> None:
    daemon.wharf("run", "-d", "--name", name, *args, "busybox", "sleep", "600")


@pytest.fixture
def net(busybox_daemon: WharfDaemon):  # type: ignore[no-untyped-def]
    """Factory of user networks on the shared daemon, removed (with their containers) after."""
    made: list[str] = []
    containers: list[str] = []

    def make(*args: str) -> str:
        name = _name("net")
        busybox_daemon.wharf("network", "create", *args, name)
        made.append(name)
        return name

    make.containers = containers  # type: ignore[attr-defined]
    yield make
    for container in containers:
        busybox_daemon.wharf("rm", "-f", container, check=False)
    for name in made:
        busybox_daemon.wharf("network", "rm", name, check=False)


def _track(net, *names: str) -> None:  # type: ignore[no-untyped-def]
    net.containers.extend(names)


# --- published ports -------------------------------------------------------------------------


def test_published_port_answers_on_127_0_0_1(busybox_daemon: WharfDaemon, net) -> None:  # type: ignore[no-untyped-def]
    port = _free_port()
    web = _name("web")
    _track(net, web)
    busybox_daemon.wharf(
        "run", "-d", "--name", web, "-p", f"127.0.0.1:{port}:80",
        "busybox", "sh", "-c", "echo hello-from-httpd > /index.html && httpd -f -p 80 -h /",
    )  # fmt: skip
    body = b""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            body = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read()
            break
        except OSError:
            time.sleep(0.1)
    assert body == b"hello-from-httpd\n"
    assert busybox_daemon.wharf("port", web).stdout == f"80/tcp -> 127.0.0.1:{port}\n"
    assert busybox_daemon.wharf("port", web, "80").stdout == f"127.0.0.1:{port}\n"
    ps = busybox_daemon.wharf("ps", "--filter", f"name={web}", "--format", "{{.Ports}}").stdout
    assert ps.strip() == f"127.0.0.1:{port}->80/tcp"
    # Stopped, the port is free again: nothing answers, and another container may take it.
    busybox_daemon.wharf("stop", "-t", "1", web)
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)


def test_ports_added_and_removed_on_a_running_container(busybox_daemon: WharfDaemon, net) -> None:  # type: ignore[no-untyped-def]
    port = _free_port()
    web = _name("web")
    _track(net, web)
    busybox_daemon.wharf(
        "run", "-d", "--name", web, "busybox", "sh", "-c",
        "echo live > /index.html && httpd -f -p 80 -h /",
    )  # fmt: skip
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
    added = busybox_daemon.wharf("port", "add", web, f"127.0.0.1:{port}:80")
    assert added.stdout == f"80/tcp -> 127.0.0.1:{port}\n"
    assert urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read() == b"live\n"
    busybox_daemon.wharf("port", "rm", web, "80/tcp")
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
    assert busybox_daemon.wharf("port", web).stdout == ""


# --- names, isolation, internal ---------------------------------------------------------------


def test_names_aliases_and_isolation(busybox_daemon: WharfDaemon, net) -> None:  # type: ignore[no-untyped-def]
    app, other = net(), net()
    web, client, outsider = _name("web"), _name("client"), _name("out")
    _track(net, web, client, outsider)
    busybox_daemon.wharf(
        "run", "-d", "--name", web, "--network", app, "--network-alias", "www",
        "busybox", "sh", "-c", "echo by-name > /index.html && httpd -f -p 80 -h /",
    )  # fmt: skip
    _sleeper(busybox_daemon, client, "--network", app)
    _sleeper(busybox_daemon, outsider, "--network", other)
    got = _sh(busybox_daemon, client, f"wget -qO- http://{web}/ && wget -qO- http://www/")
    assert got.stdout == "by-name\nby-name\n"
    assert _reaches(busybox_daemon, client, web)
    resolv = _sh(busybox_daemon, client, "cat /etc/resolv.conf").stdout
    assert f"nameserver {_gateway(busybox_daemon, app)}" in resolv
    hosts = _sh(busybox_daemon, client, "cat /etc/hosts").stdout
    assert _ip(busybox_daemon, client, app) in hosts
    # Another network cannot reach them, even by address.
    assert not _reaches(busybox_daemon, outsider, _ip(busybox_daemon, web, app))
    fetched = _sh(
        busybox_daemon,
        outsider,
        f"wget -T 2 -qO- http://{_ip(busybox_daemon, web, app)}/",
        check=False,
    )
    assert fetched.returncode != 0
    doc = json.loads(busybox_daemon.wharf("network", "inspect", app).stdout)[0]
    assert {c["Name"] for c in doc["Containers"].values()} == {web, client}
    settings = _inspect(busybox_daemon, web)["NetworkSettings"]
    assert settings["Networks"][app]["Aliases"] == ["www"]
    assert settings["SandboxKey"].endswith(_inspect(busybox_daemon, web)["Id"])


def test_internal_network_has_no_way_out(busybox_daemon: WharfDaemon, net) -> None:  # type: ignore[no-untyped-def]
    closed, other = net("--internal"), net()
    a, b = _name("in-a"), _name("in-b")
    _track(net, a, b)
    _sleeper(busybox_daemon, a, "--network", closed)
    _sleeper(busybox_daemon, b, "--network", closed)
    routes = _sh(busybox_daemon, a, "ip route").stdout
    assert "default" not in routes
    assert _reaches(busybox_daemon, a, b)  # inside the network all is well
    assert not _reaches(busybox_daemon, a, _gateway(busybox_daemon, other))
    assert (
        _sh(
            busybox_daemon,
            a,
            f"nc -w 1 {_gateway(busybox_daemon, other)} 80 </dev/null",
            check=False,
        ).returncode
        != 0
    )


def test_none_has_only_loopback_and_host_sees_the_hosts_interfaces(
    busybox_daemon: WharfDaemon,
) -> None:
    none = busybox_daemon.wharf(
        "run", "--rm", "--network", "none", "busybox", "cat", "/proc/net/dev"
    )
    interfaces = {line.split(":")[0].strip() for line in none.stdout.splitlines()[2:]}
    assert interfaces == {"lo"}
    host = busybox_daemon.wharf(
        "run", "--rm", "--network", "host", "busybox", "cat", "/proc/net/dev"
    )
    seen = {line.split(":")[0].strip() for line in host.stdout.splitlines()[2:]}
    assert f"{busybox_daemon.network_prefix}0" in seen  # the daemon's own default bridge
    assert set(os.listdir("/sys/class/net")) & seen >= {"lo", f"{busybox_daemon.network_prefix}0"}


def test_container_mode_shares_the_other_container_s_network(
    busybox_daemon: WharfDaemon, net
) -> None:  # type: ignore[no-untyped-def]
    app = net()
    web = _name("web")
    _track(net, web)
    busybox_daemon.wharf(
        "run", "-d", "--name", web, "--network", app,
        "busybox", "sh", "-c", "echo on-localhost > /index.html && httpd -f -p 127.0.0.1:80 -h /",
    )  # fmt: skip
    time.sleep(0.3)
    got = busybox_daemon.wharf(
        "run", "--rm", "--network", f"container:{web}", "busybox", "sh", "-c",
        "wget -qO- http://127.0.0.1/ && ip -4 -o addr show eth0",
    ).stdout  # fmt: skip
    assert got.startswith("on-localhost\n")
    assert _ip(busybox_daemon, web, app) in got


def test_default_bridge_has_an_address_and_no_names(busybox_daemon: WharfDaemon) -> None:
    out = busybox_daemon.wharf(
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "ip -4 -o addr show eth0; ip route; cat /etc/resolv.conf",
    ).stdout
    assert " eth0 " in out and "inet 1" in out and "default via" in out
    assert "internal resolver" not in out  # the default bridge has no embedded DNS, as Docker


def test_connect_and_disconnect_a_running_container(busybox_daemon: WharfDaemon, net) -> None:  # type: ignore[no-untyped-def]
    first, second = net(), net()
    a, b = _name("a"), _name("b")
    _track(net, a, b)
    _sleeper(busybox_daemon, a, "--network", first)
    _sleeper(busybox_daemon, b, "--network", second)
    b_ip = _ip(busybox_daemon, b, second)
    assert not _reaches(busybox_daemon, a, b_ip)
    busybox_daemon.wharf("network", "connect", "--alias", "again", second, a)
    assert _reaches(busybox_daemon, a, b)  # by name, through second's DNS
    assert _reaches(busybox_daemon, b, "again")
    assert second in _inspect(busybox_daemon, a)["NetworkSettings"]["Networks"]
    busybox_daemon.wharf("network", "disconnect", second, a)
    assert not _reaches(busybox_daemon, a, b_ip)
    assert "eth1" not in _sh(busybox_daemon, a, "ip -o link").stdout


def test_thirty_containers_resolve_each_other(busybox_daemon: WharfDaemon, net) -> None:  # type: ignore[no-untyped-def]
    crowd = net()
    names = [_name(f"c{i}") for i in range(30)]
    _track(net, *names)
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda n: _sleeper(busybox_daemon, n, "--network", crowd), names))
    loop = " ".join(names)
    script = f"for n in {loop}; do nslookup $n >/dev/null 2>&1 || echo MISSING $n; done; echo done"
    for asker in (names[0], names[14], names[29]):
        assert _sh(busybox_daemon, asker, script).stdout == "done\n"
    addresses = {_ip(busybox_daemon, n, crowd) for n in names}
    assert len(addresses) == 30


# --- bad input, nothing half-made ------------------------------------------------------------


def test_bad_input_is_refused_with_docker_errors(busybox_daemon: WharfDaemon, net) -> None:  # type: ignore[no-untyped-def]
    daemon = busybox_daemon
    third = 100 + int(uuid.uuid4().hex[:2], 16) % 100
    first = net("--subnet", f"10.{third}.0.0/24")
    links_before = daemon.network_links()
    overlapping = _name("overlap")
    refused = daemon.wharf(
        "network", "create", "--subnet", f"10.{third}.0.128/25", overlapping, check=False
    )
    assert refused.returncode != 0 and "overlaps" in refused.stderr
    assert overlapping not in daemon.wharf("network", "ls").stdout
    assert daemon.network_links() == links_before
    unknown = daemon.wharf(
        "run", "--rm", "--network", "no-such-net", "busybox", "true", check=False
    )
    assert unknown.returncode == 125 and "network no-such-net not found" in unknown.stderr
    assert "Unable to find image" not in unknown.stderr  # no pull for a missing network
    bad_port = daemon.wharf("run", "--rm", "-p", "80:99999", "busybox", "true", check=False)
    assert bad_port.returncode == 125 and "invalid" in bad_port.stderr.lower()
    holder = _name("holder")
    _track(net, holder)
    _sleeper(daemon, holder, "--network", first)
    in_use = daemon.wharf("network", "rm", first, check=False)
    assert in_use.returncode != 0 and "has active endpoints" in in_use.stderr
    assert first in daemon.wharf("network", "ls").stdout
    port = _free_port()
    owner, latecomer = _name("owner"), _name("late")
    _track(net, owner, latecomer)
    _sleeper(daemon, owner, "-p", f"127.0.0.1:{port}:80")
    veths_before = [n for n in daemon.network_links() if n.startswith(f"{daemon.network_prefix}v")]
    taken = daemon.wharf(
        "run", "-d", "--name", latecomer, "-p", f"127.0.0.1:{port}:81", "busybox", "sleep", "60",
        check=False,
    )  # fmt: skip
    assert taken.returncode != 0
    assert f"Bind for 127.0.0.1:{port} failed: port is already allocated" in taken.stderr
    assert _inspect(daemon, latecomer)["State"]["Running"] is False
    assert not (daemon.exec_root / "netns" / _inspect(daemon, latecomer)["Id"]).exists()
    veths_after = [n for n in daemon.network_links() if n.startswith(f"{daemon.network_prefix}v")]
    assert sorted(veths_after) == sorted(veths_before)
    with pytest.raises(CommandFailed, match="pre-defined network"):
        daemon.wharf("network", "rm", "bridge")


# --- crash and clean-up ----------------------------------------------------------------------


def _nsfs_mounts_under(root: Path) -> list[str]:
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split(" ")
        if fields[fields.index("-") + 1] == "nsfs" and fields[4].startswith(str(root)):
            found.append(fields[4])
    return found


def _nft_tables() -> set[str]:
    out = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, check=True)
    return set(out.stdout.splitlines())


def test_a_whole_session_leaves_links_rules_and_mounts_as_they_were(base_image_tars) -> None:  # type: ignore[no-untyped-def]
    daemon = WharfDaemon()
    tables_before = _nft_tables()
    try:
        daemon.start()
        daemon.ensure_image(BUSYBOX_REF, base_image_tars.busybox, cmd='["sh"]')
        assert daemon.network_links() == [f"{daemon.network_prefix}0"]
        assert f"table inet {daemon.nft_table}" in _nft_tables()
        network = _name("s")
        daemon.wharf("network", "create", network)
        web = _name("web")
        daemon.wharf(
            "run", "-d", "--name", web, "--network", network, "-p", f"127.0.0.1:{_free_port()}:80",
            "busybox", "sleep", "600",
        )  # fmt: skip
        daemon.wharf("network", "connect", "bridge", web)
        daemon.wharf("run", "--rm", "--network", network, "busybox", "ping", "-c1", web)
        assert len(_nsfs_mounts_under(daemon.root)) == 1
        # A crash, then a restart that reconciles: the container still has its network.
        daemon.kill9()
        daemon.start()
        daemon.wharf("run", "--rm", "--network", network, "busybox", "ping", "-c1", "-W2", web)
        daemon.wharf("rm", "-f", web)
        daemon.wharf("network", "rm", network)
        assert _nsfs_mounts_under(daemon.root) == []
    finally:
        daemon.close()  # fails the test (LeakError) if a clean stop left a link or the table
    assert daemon.network_links() == []
    # Other workers' daemons come and go meanwhile: only our own names are this test's business.
    ours = {table for table in _nft_tables() - tables_before if daemon.network_prefix in table}
    assert ours == set()
    assert f"table inet {daemon.nft_table}" not in _nft_tables()


def test_reconcile_after_a_crash_removes_what_dead_containers_held(daemon, base_image_tars) -> None:  # type: ignore[no-untyped-def]
    daemon.ensure_image(BUSYBOX_REF, base_image_tars.busybox, cmd='["sh"]')
    network = _name("r")
    daemon.wharf("network", "create", network)
    box = _name("box")
    daemon.wharf("run", "-d", "--name", box, "--network", network, "busybox", "sleep", "600")
    pid = _inspect(daemon, box)["State"]["Pid"]
    daemon.kill9()
    os.kill(pid, 9)  # the container dies while no daemon watches
    time.sleep(0.5)
    daemon.start()
    assert _inspect(daemon, box)["State"]["Running"] is False
    assert list((daemon.exec_root / "netns").iterdir()) == []
    deadline = time.monotonic() + 5
    while [n for n in daemon.network_links() if n.startswith(f"{daemon.network_prefix}v")]:
        assert time.monotonic() < deadline, daemon.network_links()
        time.sleep(0.05)
    daemon.wharf("start", box)  # and it starts again with a fresh address
    assert _ip(daemon, box, network)
    daemon.wharf("rm", "-f", box)
    daemon.wharf("network", "rm", network)


def test_ipv6_user_network_gives_addresses_and_names(busybox_daemon: WharfDaemon, net) -> None:  # type: ignore[no-untyped-def]
    # Internal, so the host's IPv6 forwarding switch is never touched by the suite.
    network = net("--ipv6", "--internal")
    a, b = _name("six"), _name("six")
    _track(net, a, b)
    _sleeper(busybox_daemon, a, "--network", network)
    _sleeper(busybox_daemon, b, "--network", network)
    settings = _inspect(busybox_daemon, a)["NetworkSettings"]["Networks"][network]
    address = settings["GlobalIPv6Address"]
    assert address and ":" in address and settings["GlobalIPv6PrefixLen"] == 64
    assert _sh(busybox_daemon, b, f"ping6 -c1 -W2 {address}", check=False).returncode == 0
    looked_up = _sh(busybox_daemon, b, f"nslookup -type=AAAA {a}", check=False).stdout
    assert address in looked_up


def test_hosts_file_follows_live_connect_and_disconnect(busybox_daemon: WharfDaemon, net) -> None:  # type: ignore[no-untyped-def]
    network = net()
    box = _name("hosts")
    _track(net, box)
    _sleeper(busybox_daemon, box)
    busybox_daemon.wharf("network", "connect", network, box)
    address = _ip(busybox_daemon, box, network)
    hosts = _sh(busybox_daemon, box, "cat /etc/hosts").stdout
    assert f"{address}\t" in hosts
    busybox_daemon.wharf("network", "disconnect", network, box)
    assert f"{address}\t" not in _sh(busybox_daemon, box, "cat /etc/hosts").stdout
