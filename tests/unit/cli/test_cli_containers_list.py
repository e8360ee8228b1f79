"""ps, stats, logs, diff, top, inspect and the one-request container commands, with docker's
output shapes, against a scripted daemon."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from cli_harness import NOW, RunWharf

from wharf.cli.containers import displayable_ports, go_quote
from wharf.cli.formatting import go_time
from wharf.cli.logs import go_timestamp, parse_go_duration
from wharf.cli.stats import entry_for, render_stats
from wharf.client.container_models import PortSummary, StatsSample
from wharf.client.fake import FakeTransport, error_response, json_lines, json_response, response
from wharf.client.streams import StreamKind, encode_frame

CID = "3b" + "0" * 62
IMAGE_ID = "sha256:" + "a" * 64


def summary(**extra: Any) -> dict[str, Any]:
    return {
        "Id": CID,
        "Names": ["/web"],
        "Image": "busybox",
        "ImageID": IMAGE_ID,
        "Command": "sh -c 'sleep 1000'",
        "Created": int(NOW - 3),
        "State": "running",
        "Status": "Up 3 seconds",
        "Ports": [],
        "Labels": {},
        **extra,
    }


def ps_daemon(*items: dict[str, Any]) -> FakeTransport:
    return FakeTransport().on("GET", "/containers/json", lambda _r: json_response(list(items)))


# --- ps


def test_ps_table_is_docker_s(wharf: RunWharf) -> None:
    daemon = ps_daemon(
        summary(),
        summary(
            Id="9" * 64,
            Names=["/old"],
            Command="sh -c 'while true; do sleep 1; done'",
            Created=int(NOW - 7200),
            Status="Exited (0) 2 seconds ago",
            Image="docker.io/library/alpine:3.19@sha256:" + "b" * 64,
            Ports=[
                {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
                {"PrivatePort": 443, "Type": "tcp"},
            ],
        ),
    )
    result = wharf(daemon, "ps", "-a")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "CONTAINER ID   IMAGE         COMMAND                  CREATED         STATUS"
        "                     PORTS                           NAMES",
        "3b0000000000   busybox       \"sh -c 'sleep 1000'\"     3 seconds ago   Up 3 seconds"
        "                                               web",
        '999999999999   alpine:3.19   "sh -c \'while true; …"   2 hours ago     Exited (0) 2 '
        "seconds ago   443/tcp, 0.0.0.0:8080->80/tcp   old",
    ]
    assert daemon.calls()[0].query == (("all", "1"),)


def test_ps_quiet_latest_filters_and_no_trunc(wharf: RunWharf) -> None:
    daemon = ps_daemon(summary())
    result = wharf(
        daemon,
        "container",
        "ls",
        "-q",
        "-l",
        "--no-trunc",
        "--filter",
        "status=exited",
        "-f",
        "label=a=b",
    )
    assert result.stdout == CID + "\n"
    assert daemon.calls()[0].query == (
        ("filters", '{"label":{"a=b":true},"status":{"exited":true}}'),
        ("limit", "1"),
    )


def test_ps_json_and_template_formats(wharf: RunWharf) -> None:
    result = wharf(ps_daemon(summary(Labels={"b": "2", "a": "1"})), "ps", "--format", "json")
    row = json.loads(result.stdout)
    assert row["ID"] == "3b0000000000"
    assert row["Command"] == "\"sh -c 'sleep 1000'\""
    assert row["Labels"] == "a=1,b=2"
    assert row["Names"] == "web"
    assert row["CreatedAt"] == go_time(NOW - 3)
    daemon = ps_daemon(summary(SizeRw=2, SizeRootFs=4261550))
    templated = wharf(daemon, "ps", "--format", "{{.Names}}: {{.Size}}")
    assert templated.stdout == "web: 2B (virtual 4.26MB)\n"
    assert daemon.calls()[0].query == (("size", "1"),)  # .Size in the template asks for it


def test_ps_size_column(wharf: RunWharf) -> None:
    result = wharf(ps_daemon(summary(SizeRw=0)), "ps", "-s")
    assert result.stdout.splitlines()[0].endswith("NAMES     SIZE")
    assert result.stdout.splitlines()[1].endswith("web       0B")


def test_ps_with_nothing_prints_the_header(wharf: RunWharf) -> None:
    result = wharf(ps_daemon(), "ps")
    assert result.stdout == (
        "CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES\n"
    )


def test_displayable_ports_groups_ranges_like_docker() -> None:
    ports = [
        PortSummary("", 9001, 0, "tcp"),
        PortSummary("", 9000, 0, "tcp"),
        PortSummary("", 9002, 0, "tcp"),
        PortSummary("0.0.0.0", 80, 80, "tcp"),
        PortSummary("::", 80, 80, "tcp"),
        PortSummary("", 53, 0, "udp"),
    ]
    assert displayable_ports(ports) == (
        "53/udp, 0.0.0.0:80->80/tcp, [::]:80->80/tcp, 9000-9002/tcp"
    )


def test_go_quote() -> None:
    assert go_quote('a "b"\n\x01é') == '"a \\"b\\"\\n\\x01é"'


# --- lifecycle commands


def test_stop_prints_names_then_errors(wharf: RunWharf) -> None:
    daemon = (
        FakeTransport()
        .on("POST", "/containers/a/stop", lambda _r: response(204))
        .on("POST", "/containers/b/stop", error_response(404, "No such container: b"))
    )
    result = wharf(daemon, "stop", "-t", "1", "-s", "SIGINT", "a", "b")
    assert result.exit_code == 1
    assert result.stdout == "a\n"
    assert result.stderr == "Error response from daemon: No such container: b\n"
    assert daemon.calls()[0].query == (("signal", "SIGINT"), ("t", "1"))


def test_rm_force_of_a_missing_container_is_not_a_failure(wharf: RunWharf) -> None:
    daemon = (
        FakeTransport()
        .on("DELETE", "/containers/gone", error_response(404, "No such container: gone"))
        .on("DELETE", "/containers/up", lambda _r: response(204))
    )
    result = wharf(daemon, "rm", "-f", "-v", "gone", "up")
    assert result.exit_code == 0
    assert result.stdout == "up\n"
    assert result.stderr == "Error response from daemon: No such container: gone\n"
    assert daemon.calls()[1].query == (("force", "1"), ("v", "1"))


def test_rm_of_a_running_container_fails(wharf: RunWharf) -> None:
    message = (
        'cannot remove container "/up": container is running: stop the container before '
        "removing or force remove"
    )
    daemon = FakeTransport().on("DELETE", "/containers/up", error_response(409, message))
    result = wharf(daemon, "container", "rm", "up")
    assert result.exit_code == 1
    assert result.stderr == f"Error response from daemon: {message}\n"


def test_start_reports_failures_docker_s_way(wharf: RunWharf) -> None:
    daemon = (
        FakeTransport()
        .on("POST", "/containers/a/start", lambda _r: response(204))
        .on("POST", "/containers/b/start", error_response(404, "No such container: b"))
    )
    result = wharf(daemon, "start", "a", "b")
    assert result.exit_code == 1
    assert result.stdout == "a\n"
    assert result.stderr == (
        "Error response from daemon: No such container: b\nError: failed to start containers: b\n"
    )


def test_kill_restart_pause_unpause_rename_wait(wharf: RunWharf) -> None:
    daemon = FakeTransport()
    for verb in ("kill", "restart", "pause", "unpause", "rename"):
        daemon.on("POST", f"/containers/c/{verb}", lambda _r: response(204))
    daemon.on("POST", "/containers/c/wait", lambda _r: json_response({"StatusCode": 137}))
    assert wharf(daemon, "kill", "-s", "HUP", "c").stdout == "c\n"
    assert wharf(daemon, "restart", "-t", "0", "c").stdout == "c\n"
    assert wharf(daemon, "pause", "c").stdout == "c\n"
    assert wharf(daemon, "unpause", "c").stdout == "c\n"
    assert wharf(daemon, "rename", "c", "d").stdout == ""
    assert wharf(daemon, "wait", "c").stdout == "137\n"
    queries = {c.path: c.query for c in daemon.calls()}
    assert queries["/containers/c/kill"] == (("signal", "HUP"),)
    assert queries["/containers/c/restart"] == (("t", "0"),)
    assert queries["/containers/c/rename"] == (("name", "d"),)
    assert queries["/containers/c/wait"] == ()


def test_diff_top_commit_export(wharf: RunWharf, tmp_path: Any) -> None:
    daemon = (
        FakeTransport()
        .on(
            "GET",
            "/containers/c/changes",
            json_response(
                [
                    {"Path": "/etc", "Kind": 0},
                    {"Path": "/etc/x", "Kind": 1},
                    {"Path": "/tmp/y", "Kind": 2},
                ]
            ),
        )
        .on(
            "GET",
            "/containers/c/top",
            json_response(
                {"Titles": ["UID", "PID", "CMD"], "Processes": [["root", "1", "sleep 100"]]}
            ),
        )
        .on("POST", "/commit", json_response({"Id": "sha256:" + "e" * 64}, 201))
        .on("GET", "/containers/c/export", lambda _r: response(200, b"TARDATA"))
    )
    assert wharf(daemon, "diff", "c").stdout == "C /etc\nA /etc/x\nD /tmp/y\n"
    assert wharf(daemon, "top", "c").stdout == (
        "UID                 PID                 CMD\n"
        "root                1                   sleep 100\n"
    )
    commit = wharf(daemon, "commit", "-m", "msg", "-a", "me", "-c", 'CMD ["sh"]', "c", "img")
    assert commit.stdout == "sha256:" + "e" * 64 + "\n"
    query = dict(daemon.calls("POST", "/commit")[0].query)
    assert query["repo"] == "docker.io/library/img" and query["tag"] == "latest"
    assert (query["comment"], query["author"], query["changes"]) == ("msg", "me", 'CMD ["sh"]')
    assert wharf(daemon, "export", "c").stdout_bytes == b"TARDATA"
    target = tmp_path / "out.tar"
    assert wharf(daemon, "export", "-o", str(target), "c").exit_code == 0
    assert target.read_bytes() == b"TARDATA"
    refused = wharf(daemon, "export", "c", stdout_tty=True)
    assert refused.exit_code == 1 and "cowardly refusing" in refused.stderr


def test_container_prune_asks_first(wharf: RunWharf) -> None:
    daemon = FakeTransport().on(
        "POST",
        "/containers/prune",
        lambda _r: json_response({"ContainersDeleted": ["a1", "b2"], "SpaceReclaimed": 2048}),
    )
    declined = wharf(daemon, "container", "prune", input="n\n")
    assert declined.exit_code == 0 and daemon.calls() == []
    result = wharf(daemon, "container", "prune", "-f", "--filter", "until=1h")
    assert result.stdout == "Deleted Containers:\na1\nb2\n\nTotal reclaimed space: 2.048kB\n"
    assert daemon.calls()[0].query == (("filters", '{"until":{"1h":true}}'),)


# --- inspect


def test_inspect_tries_containers_then_images_then_volumes(wharf: RunWharf) -> None:
    daemon = (
        FakeTransport()
        .on("GET", "/containers/web/json", lambda _r: json_response({"Id": CID, "Name": "/web"}))
        .on("GET", "/containers/busybox/json", error_response(404, "No such container: busybox"))
        .on("GET", "/images/busybox/json", json_response({"Id": IMAGE_ID}))
        .on("GET", "/containers/data/json", error_response(404, "No such container: data"))
        .on("GET", "/images/data/json", error_response(404, "No such image: data"))
        .on("GET", "/volumes/data", json_response({"Name": "data"}))
        .on("GET", "/containers/none/json", error_response(404, "No such container: none"))
        .on("GET", "/images/none/json", error_response(404, "No such image: none"))
        .on("GET", "/volumes/none", error_response(404, "no such volume"))
    )
    result = wharf(
        daemon, "inspect", "--format", "{{.Id}}{{.Name}}", "web", "busybox", "data", "none"
    )
    assert result.exit_code == 1
    assert result.stdout == f"{CID}/web\n{IMAGE_ID}<no value>\n<no value>data\n"
    assert result.stderr == "Error: No such object: none\n"


def test_inspect_type_container_and_size(wharf: RunWharf) -> None:
    daemon = FakeTransport().on(
        "GET", "/containers/web/json", lambda _r: json_response({"Id": CID, "SizeRw": 5})
    )
    result = wharf(daemon, "inspect", "--type", "container", "-s", "web")
    assert json.loads(result.stdout) == [{"Id": CID, "SizeRw": 5}]
    assert daemon.calls()[0].query == (("size", "1"),)
    assert wharf(daemon, "container", "inspect", "-f", "{{.SizeRw}}", "web").stdout == "5\n"


# --- logs


def logs_daemon(tty: bool, body: bytes) -> FakeTransport:
    return (
        FakeTransport()
        .on(
            "GET",
            "/containers/web/json",
            lambda _r: json_response({"Id": CID, "Config": {"Tty": tty}}),
        )
        .on("GET", f"/containers/{CID}/logs", lambda _r: response(200, chunks=[body[:5], body[5:]]))
    )


def test_logs_demultiplexes_to_stdout_and_stderr(wharf: RunWharf) -> None:
    body = encode_frame(StreamKind.STDOUT, b"to out\n") + encode_frame(
        StreamKind.STDERR, b"to err\n"
    )
    daemon = logs_daemon(False, body)
    result = wharf(daemon, "logs", "-f", "-t", "--tail", "5", "--details", "web")
    assert result.exit_code == 0, result.stderr
    assert (result.stdout, result.stderr) == ("to out\n", "to err\n")
    assert daemon.calls()[1].query == (
        ("details", "1"),
        ("follow", "1"),
        ("stderr", "1"),
        ("stdout", "1"),
        ("tail", "5"),
        ("timestamps", "1"),
    )


def test_logs_of_a_tty_container_are_raw(wharf: RunWharf) -> None:
    result = wharf(logs_daemon(True, b"\x01raw bytes\r\n"), "logs", "web")
    assert result.stdout_bytes == b"\x01raw bytes\r\n"


def test_logs_since_relative_is_sent_as_a_unix_time(wharf: RunWharf) -> None:
    daemon = logs_daemon(False, b"")
    wharf(daemon, "logs", "--since", "10m", "--until", "1700000000.5", "web")
    query = dict(daemon.calls()[1].query)
    assert query["since"] == str(int(NOW - 600))
    assert query["until"] == "1700000000.5"


def test_go_durations_and_timestamps() -> None:
    assert parse_go_duration("1h30m") == 5400
    assert parse_go_duration("1.5s") == 1.5
    assert parse_go_duration("-2m") == -120
    assert parse_go_duration("10") is None
    now = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    assert go_timestamp("2024-01-01T00:00:00Z", now) == "1704067200.000000000"
    assert go_timestamp("2024-01-01T00:00:00.123456789+01:00", now) == "1704063600.123456000"
    assert go_timestamp("42m", now) == str(int(now.timestamp()) - 42 * 60)
    assert go_timestamp("1700000000", now) == "1700000000"


# --- stats


def sample(**extra: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": CID,
        "name": "/web",
        "cpu_stats": {
            "cpu_usage": {"total_usage": 400_000_000, "percpu_usage": [1, 2, 3, 4]},
            "system_cpu_usage": 10_000_000_000,
            "online_cpus": 2,
        },
        "precpu_stats": {
            "cpu_usage": {"total_usage": 300_000_000},
            "system_cpu_usage": 9_000_000_000,
        },
        "memory_stats": {
            "usage": 10 * 1024 * 1024,
            "limit": 64 * 1024 * 1024,
            "stats": {"total_inactive_file": 2 * 1024 * 1024, "inactive_file": 1},
        },
        "pids_stats": {"current": 7},
        "networks": {
            "eth0": {"rx_bytes": 1000, "tx_bytes": 2000},
            "eth1": {"rx_bytes": 500, "tx_bytes": 0},
        },
        "blkio_stats": {
            "io_service_bytes_recursive": [
                {"op": "Read", "value": 4096},
                {"op": "write", "value": 8192},
                {"op": "Total", "value": 1},
            ]
        },
    }
    document.update(extra)
    return document


def test_stats_figures_are_computed_as_the_docker_cli_does() -> None:
    entry = entry_for("web", StatsSample.from_wire(sample()))
    assert entry.cpu_percentage == pytest.approx(100_000_000 / 1_000_000_000 * 2 * 100)
    assert entry.memory == 8 * 1024 * 1024  # cgroup v1: usage - total_inactive_file
    assert entry.memory_percentage == pytest.approx(12.5)
    assert (entry.network_rx, entry.network_tx) == (1500, 2000)
    assert (entry.block_read, entry.block_write) == (4096, 8192)
    v2 = entry_for(
        "web",
        StatsSample.from_wire(
            sample(memory_stats={"usage": 100, "limit": 0, "stats": {"inactive_file": 40}})
        ),
    )
    assert (v2.memory, v2.memory_percentage) == (60, 0.0)
    no_online = sample()
    no_online["cpu_stats"]["online_cpus"] = 0
    assert entry_for("web", StatsSample.from_wire(no_online)).cpu_percentage == pytest.approx(40.0)


def test_stats_no_stream_table(wharf: RunWharf) -> None:
    daemon = (
        FakeTransport()
        .on("GET", "/containers/json", json_response([{"Id": CID}]))
        .on("GET", f"/containers/{CID[:12]}/stats", lambda _r: json_lines(sample()))
    )
    result = wharf(daemon, "stats", "--no-stream")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O       "
        "BLOCK I/O        PIDS",
        "3b0000000000   web       20.00%    8MiB / 64MiB        12.50%    1.5kB / 2kB   "
        "4.1kB / 8.19kB   7",
    ]
    assert daemon.calls()[1].query == (("stream", "0"),)


def test_stats_format_and_errors(wharf: RunWharf) -> None:
    daemon = (
        FakeTransport()
        .on("GET", "/containers/web/stats", lambda _r: json_lines(sample()))
        .on("GET", "/containers/gone/stats", error_response(404, "No such container: gone"))
    )
    ok = wharf(
        daemon, "stats", "--no-stream", "--format", "{{.Container}} {{.CPUPerc}} {{.PIDs}}", "web"
    )
    assert ok.stdout == "web 20.00% 7\n"
    failed = wharf(daemon, "stats", "--no-stream", "gone")
    assert failed.exit_code == 1
    assert failed.stderr == "Error response from daemon: No such container: gone\n"


def test_stats_render_invalid_entry() -> None:
    from wharf.cli.stats import invalid_entry

    text = render_stats("", [invalid_entry("web")], trunc=True)
    assert text.splitlines()[1].split() == ["--", "--", "--", "/", "--", "--", "--", "--", "--"]


# --- volumes


def test_volume_commands(wharf: RunWharf) -> None:
    volumes = [
        {"Name": "v10", "Driver": "local"},
        {"Name": "v2", "Driver": "local"},
        {"Name": "a", "Driver": "local"},
    ]
    daemon = (
        FakeTransport()
        .on(
            "POST",
            "/volumes/create",
            lambda r: json_response(
                {"Name": json.loads(r.body or b"")["Name"] or "anon", "Driver": "local"}, 201
            ),
        )
        .on("GET", "/volumes", lambda _r: json_response({"Volumes": volumes, "Warnings": []}))
        .on("GET", "/volumes/a", lambda _r: json_response(volumes[2]))
        .on("DELETE", "/volumes/a", lambda _r: response(204))
        .on("DELETE", "/volumes/used", error_response(409, "remove used: volume is in use"))
        .on(
            "POST",
            "/volumes/prune",
            lambda _r: json_response({"VolumesDeleted": None, "SpaceReclaimed": 0}),
        )
    )
    created = wharf(daemon, "volume", "create", "--label", "x=y", "-o", "type=tmpfs", "data")
    assert created.stdout == "data\n"
    body = json.loads(daemon.calls("POST", "/volumes/create")[0].body or b"")
    assert body == {
        "Name": "data",
        "Driver": "local",
        "DriverOpts": {"type": "tmpfs"},
        "Labels": {"x": "y"},
    }
    assert wharf(daemon, "volume", "ls").stdout == (
        "DRIVER    VOLUME NAME\nlocal     a\nlocal     v2\nlocal     v10\n"
    )
    assert wharf(daemon, "volume", "ls", "-q").stdout == "a\nv2\nv10\n"
    assert json.loads(wharf(daemon, "volume", "inspect", "a").stdout) == [volumes[2]]
    removed = wharf(daemon, "volume", "rm", "a", "used")
    assert removed.exit_code == 1 and removed.stdout == "a\n"
    assert removed.stderr == "Error response from daemon: remove used: volume is in use\n"
    pruned = wharf(daemon, "volume", "prune", "-a", "-f")
    assert pruned.stdout == "Total reclaimed space: 0B\n"
    assert daemon.calls("POST", "/volumes/prune")[0].query == (
        ("filters", '{"all":{"true":true}}'),
    )
