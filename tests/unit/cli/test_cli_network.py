"""``network create|ls|inspect|rm|prune|connect|disconnect`` and ``port`` (with ``port add|rm``):
what they send and what they print, against a scripted daemon."""

from __future__ import annotations

import json
from typing import Any

from cli_harness import RunWharf

from wharf.client.fake import FakeTransport, error_response, json_response, response

NET_ID = "ab" * 32


def network(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "Name": name,
        "Id": (name[:1] * 64) if name != "app" else NET_ID,
        "Created": "2024-01-01T00:00:00.000000000Z",
        "Scope": "local",
        "Driver": "bridge",
        "EnableIPv6": False,
        "IPAM": {"Driver": "default", "Config": [{"Subnet": "172.18.0.0/16"}]},
        "Internal": False,
        "Containers": {},
        "Labels": {},
        "Options": {},
        **extra,
    }


def test_create_sends_docker_s_body(wharf: RunWharf) -> None:
    daemon = FakeTransport().on(
        "POST", "/networks/create", json_response({"Id": NET_ID, "Warning": ""}, status=201)
    )
    result = wharf(
        daemon, "network", "create", "--subnet", "10.9.0.0/24", "--gateway", "10.9.0.254",
        "--internal", "--label", "team=a", "-o", "com.docker.network.bridge.name=b0", "app",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output == f"{NET_ID}\n"
    body = json.loads(daemon.requests[-1].body or b"{}")
    assert body["Name"] == "app" and body["Internal"] is True
    assert body["IPAM"]["Config"] == [{"Subnet": "10.9.0.0/24", "Gateway": "10.9.0.254"}]
    assert body["Labels"] == {"team": "a"}
    assert body["Options"] == {"com.docker.network.bridge.name": "b0"}
    orphan = wharf(FakeTransport(), "network", "create", "--gateway", "10.9.0.1", "x")
    assert orphan.exit_code != 0 and "corresponding subnet" in orphan.output


def test_ls_is_sorted_and_truncated(wharf: RunWharf) -> None:
    listing = [network("none", Driver="null"), network("app")]
    daemon = FakeTransport().on("GET", "/networks", lambda _r: json_response(listing))
    result = wharf(daemon, "network", "ls")
    assert result.output.splitlines() == [
        "NETWORK ID     NAME      DRIVER    SCOPE",
        f"{NET_ID[:12]}   app       bridge    local",
        f"{'n' * 12}   none      null      local",
    ]
    quiet = wharf(daemon, "network", "ls", "-q", "--no-trunc", "-f", "driver=bridge")
    assert quiet.output == f"{NET_ID}\n{'n' * 64}\n"
    assert json.loads(daemon.requests[-1].param("filters") or "{}") == {"driver": {"bridge": True}}


def test_inspect_rm_prune_connect_disconnect(wharf: RunWharf) -> None:
    daemon = (
        FakeTransport()
        .on("GET", "/networks/app", json_response(network("app")))
        .on("GET", "/networks/nope", error_response(404, "network nope not found"))
        .on("DELETE", "/networks/app", response(204))
        .on("DELETE", "/networks/nope", error_response(404, "network nope not found"))
        .on("POST", "/networks/prune", json_response({"NetworksDeleted": ["old"]}))
        .on("POST", "/networks/app/connect", response(200))
        .on("POST", "/networks/app/disconnect", response(200))
    )
    inspected = wharf(daemon, "network", "inspect", "-f", "{{.Name}} {{.Driver}}", "app")
    assert inspected.output == "app bridge\n"
    missing = wharf(daemon, "network", "inspect", "nope")
    assert missing.exit_code == 1 and "network nope not found" in missing.output
    assert wharf(daemon, "network", "rm", "app").output == "app\n"
    assert wharf(daemon, "network", "rm", "-f", "nope").exit_code == 0
    assert wharf(daemon, "network", "rm", "nope").exit_code == 1
    pruned = wharf(daemon, "network", "prune", "-f")
    assert pruned.output == "Deleted Networks:\nold\n\n"
    connected = wharf(
        daemon, "network", "connect", "--alias", "db", "--ip", "10.9.0.9", "app", "c1"
    )
    assert connected.exit_code == 0, connected.output
    sent = json.loads(daemon.requests[-1].body or b"{}")
    assert sent == {
        "Container": "c1",
        "EndpointConfig": {"Aliases": ["db"], "IPAMConfig": {"IPv4Address": "10.9.0.9"}},
    }
    assert wharf(daemon, "network", "disconnect", "-f", "app", "c1").exit_code == 0
    assert json.loads(daemon.requests[-1].body or b"{}") == {"Container": "c1", "Force": True}


def test_port_lists_and_changes_mappings(wharf: RunWharf) -> None:
    ports = {
        "443/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8443"}],
        "80/tcp": [
            {"HostIp": "127.0.0.1", "HostPort": "8080"},
            {"HostIp": "::", "HostPort": "8080"},
        ],
        "53/udp": None,
    }
    document = {"Id": "c" * 64, "NetworkSettings": {"Ports": ports}}
    changed = {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "9000"}]}
    daemon = (
        FakeTransport()
        .on("GET", "/containers/web/json", lambda _r: json_response(document))
        .on("POST", "/containers/web/ports", lambda _r: json_response(changed))
    )
    listing = wharf(daemon, "port", "web")
    assert listing.output == (
        "80/tcp -> 127.0.0.1:8080\n80/tcp -> [::]:8080\n443/tcp -> 0.0.0.0:8443\n"
    )
    assert wharf(daemon, "port", "web", "443").output == "0.0.0.0:8443\n"
    unpublished = wharf(daemon, "port", "web", "53/udp")
    assert unpublished.exit_code == 1
    assert "No public port '53/udp' published for web" in unpublished.output
    added = wharf(daemon, "port", "add", "web", "9000:80")
    assert added.output == "80/tcp -> 0.0.0.0:9000\n"
    assert json.loads(daemon.requests[-1].body or b"{}") == {
        "PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "9000"}]},
        "Remove": [],
    }
    assert wharf(daemon, "port", "rm", "web", "80").exit_code == 0
    assert json.loads(daemon.requests[-1].body or b"{}") == {
        "PortBindings": {},
        "Remove": ["80/tcp"],
    }
    bad = wharf(daemon, "port", "add", "web", "x:y")
    assert bad.exit_code != 0 and "invalid" in bad.output


def test_run_network_flags_reach_the_create_body() -> None:
    from wharf.cli.run_options import CreateFlags, build_spec

    flags = CreateFlags(
        network=("app",),
        network_alias=("db",),
        ip="10.9.0.9",
        mac_address="02:00:00:00:00:01",
        dns=("10.0.0.53",),
        dns_search=("example.test",),
        add_host=("gw:host-gateway",),
        publish=("127.0.0.1:8080:80",),
        publish_all=True,
    )
    body = build_spec(flags, "busybox", ["true"], cwd="/").to_wire()
    assert body["HostConfig"]["NetworkMode"] == "app"
    assert body["NetworkingConfig"] == {
        "EndpointsConfig": {"app": {"Aliases": ["db"], "IPAMConfig": {"IPv4Address": "10.9.0.9"}}}
    }
    assert body["MacAddress"] == "02:00:00:00:00:01"
    assert body["HostConfig"]["PortBindings"] == {
        "80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}]
    }
    assert body["HostConfig"]["PublishAllPorts"] is True
    assert body["HostConfig"]["DnsSearch"] == ["example.test"]
    assert body["HostConfig"]["ExtraHosts"] == ["gw:host-gateway"]
