"""Events on a real wharfd: a container's life seen through ``wharf events``, the raw
``GET /events`` and the docker CLI's ``docker events``; network, volume and image events; a
live stream and a health status change.

Windows (``--since``/``--until`` around what a test did) keep these deterministic: the daemon
replays its buffered events and ends the stream. Each test filters by names of its own, since
the daemon is shared with other tests.
"""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from support.daemon import WharfDaemon

pytestmark = pytest.mark.integration


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _filters(**values: list[str]) -> str:
    return quote(json.dumps(values))


def _api_events(d: WharfDaemon, since: float, until: float, **filters: list[str]) -> list[Any]:
    path = f"/v1.45/events?since={since:.9f}&until={until:.9f}"
    if filters:
        path += f"&filters={_filters(**filters)}"
    reply = d.request("GET", path)
    assert reply.status == 200, reply.body
    assert reply.headers["Content-Type"] == "application/json"
    return [json.loads(line) for line in reply.body.splitlines() if line.strip()]


def _cli_events(d: WharfDaemon, since: float, until: float, *flags: str) -> list[Any]:
    out = d.wharf(
        "events", "--since", f"{since:.9f}", "--until", f"{until:.9f}",
        "--format", "{{json .}}", *flags,
    ).stdout  # fmt: skip
    return [json.loads(line) for line in out.splitlines()]


def _docker(d: WharfDaemon, *args: str) -> subprocess.CompletedProcess[str]:
    docker = shutil.which("docker")
    assert docker is not None, "the docker CLI is part of this machine's toolset"
    env = {**d.env, "DOCKER_HOST": d.host, "DOCKER_CONFIG": str(d.root)}
    return subprocess.run(
        [docker, *args], env=env, capture_output=True, text=True, check=True, timeout=60
    )


def _actions(events: list[Any], kind: str = "container") -> list[str]:
    return [event["Action"] for event in events if event["Type"] == kind]


def test_a_containers_life_in_order_through_the_cli_and_the_api(busybox_daemon) -> None:
    d = busybox_daemon
    name = _name("evlife")
    since = time.time()
    run = d.wharf(
        "run", "--rm", "--name", name, "-l", "evtest=life", "busybox", "sh", "-c", "exit 3",
        check=False,
    )  # fmt: skip
    assert run.returncode == 3, run.stderr
    until = time.time()

    seen = _cli_events(d, since, until, "--filter", f"container={name}")
    assert _actions(seen) == ["create", "attach", "start", "die", "destroy"]
    container_id = seen[0]["Actor"]["ID"]
    assert len(container_id) == 64
    for event in seen:
        assert event["Actor"]["Attributes"]["name"] == name
        assert event["Actor"]["Attributes"]["image"] == "busybox"
        assert event["Actor"]["Attributes"]["evtest"] == "life"
        assert (event["status"], event["id"], event["from"]) == (
            event["Action"],
            container_id,
            "busybox",
        )
        assert event["scope"] == "local"
        assert event["time"] == event["timeNano"] // 1_000_000_000
        assert since * 1e9 <= event["timeNano"] <= until * 1e9
    die = seen[3]["Actor"]["Attributes"]
    assert die["exitCode"] == "3" and die["execDuration"].isdigit()
    assert [e["timeNano"] for e in seen] == sorted(e["timeNano"] for e in seen)

    everything = _api_events(d, since, until)
    mine = [
        event
        for event in everything
        if container_id in (event["Actor"]["ID"], event["Actor"]["Attributes"].get("container"))
    ]
    assert [(e["Type"], e["Action"]) for e in mine] == [
        ("container", "create"),
        ("container", "attach"),
        ("network", "connect"),
        ("container", "start"),
        ("container", "die"),
        ("network", "disconnect"),
        ("container", "destroy"),
    ]
    connect = mine[2]
    assert connect["Actor"]["Attributes"] == {
        "container": container_id,
        "name": "bridge",
        "type": "bridge",
    }
    assert not {"status", "id", "from"} & set(connect)
    assert [e for e in mine if e["Type"] == "container"] == seen

    only_die = _api_events(d, since, until, container=[name], event=["die"])
    assert [e["Action"] for e in only_die] == ["die"]


def test_docker_events_sees_them_too(busybox_daemon) -> None:
    d = busybox_daemon
    name = _name("evdocker")
    since = time.time()
    d.wharf("run", "--name", name, "busybox", "true")
    d.wharf("rm", name)
    until = time.time()
    window = ("--since", f"{since:.9f}", "--until", f"{until:.9f}", "--filter", f"container={name}")
    as_json = _docker(d, "events", *window, "--format", "{{json .}}").stdout.splitlines()
    events = [json.loads(line) for line in as_json]
    assert [e["Action"] for e in events] == ["create", "attach", "start", "die", "destroy"]
    container_id = events[0]["Actor"]["ID"]
    assert events[3]["Actor"]["Attributes"]["exitCode"] == "0"
    pretty = _docker(d, "events", *window).stdout.splitlines()
    assert len(pretty) == 5
    assert pretty[0].endswith(f" container create {container_id} (image=busybox, name={name})")
    assert " container die " in pretty[3] and "exitCode=0" in pretty[3]
    actions = _docker(d, "events", *window, "--filter", "event=start", "--format", "{{.Action}}")
    assert actions.stdout == "start\n"


def test_network_and_volume_events(busybox_daemon) -> None:
    d = busybox_daemon
    network, volume, name = _name("evnet"), _name("evvol"), _name("evconn")
    since = time.time()
    network_id = d.wharf("network", "create", network).stdout.strip()
    d.wharf("volume", "create", volume)
    container_id = d.wharf(
        "run", "-d", "--name", name, "-v", f"{volume}:/data", "busybox", "sleep", "60"
    ).stdout.strip()
    try:
        d.wharf("network", "connect", network, name)
        d.wharf("network", "disconnect", network, name)
    finally:
        d.wharf("rm", "-f", name)
    d.wharf("network", "rm", network)
    d.wharf("volume", "rm", volume)
    until = time.time()

    on_network = _api_events(d, since, until, network=[network])
    assert [e["Action"] for e in on_network] == ["create", "connect", "disconnect", "destroy"]
    assert {e["Actor"]["ID"] for e in on_network} == {network_id}
    assert on_network[1]["Actor"]["Attributes"] == {
        "container": container_id,
        "name": network,
        "type": "bridge",
    }
    on_volume = _cli_events(d, since, until, "-f", "type=volume", "-f", f"volume={volume}")
    assert [e["Action"] for e in on_volume] == ["create", "mount", "destroy"]
    assert on_volume[0]["Actor"] == {"ID": volume, "Attributes": {"driver": "local"}}
    mount = on_volume[1]["Actor"]["Attributes"]
    assert (mount["container"], mount["destination"], mount["read/write"]) == (
        container_id,
        "/data",
        "true",
    )
    killed = _api_events(d, since, until, container=[name], event=["kill"])
    assert [e["Actor"]["Attributes"]["signal"] for e in killed] == ["9"]


def test_image_tag_and_untag_events(busybox_daemon) -> None:
    d = busybox_daemon
    repository = _name("evtag")
    image_id = d.wharf("image", "inspect", "--format", "{{.Id}}", "busybox").stdout.strip()
    since = time.time()
    d.wharf("tag", "busybox", f"{repository}:1")
    d.wharf("rmi", f"{repository}:1")
    until = time.time()
    events = _api_events(d, since, until, type=["image"], image=[repository])
    assert [(e["Action"], e["Actor"]["Attributes"]["name"]) for e in events] == [
        ("tag", f"{repository}:1"),
        ("untag", f"{repository}:1"),
    ]
    assert {(e["Actor"]["ID"], e["id"], e["status"]) for e in events} == {
        (image_id, image_id, "tag"),
        (image_id, image_id, "untag"),
    }
    assert all("from" not in e for e in events)


class _Stream:
    """A raw ``GET /events`` left open: lines are read as the daemon sends them."""

    def __init__(self, d: WharfDaemon, path: str) -> None:
        self.conn = http.client.HTTPConnection("localhost", timeout=30)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(30)
        sock.connect(str(d.socket))
        self.conn.sock = sock
        self.conn.request("GET", path)
        self.response = self.conn.getresponse()  # the daemon has subscribed by now

    def next_event(self) -> Any:
        return json.loads(self.response.readline())

    def close(self) -> None:
        self.conn.close()


def test_a_live_stream_gets_events_as_they_happen(busybox_daemon) -> None:
    d = busybox_daemon
    name = _name("evlive")
    stream = _Stream(d, f"/events?filters={_filters(container=[name])}")
    try:
        assert stream.response.status == 200
        d.wharf("create", "--name", name, "busybox", "true")
        assert stream.next_event()["Action"] == "create"
        d.wharf("rename", name, f"{name}-2")
        renamed = stream.next_event()
        assert renamed["Action"] == "rename"
        assert renamed["Actor"]["Attributes"]["oldName"] == f"/{name}"
        assert renamed["Actor"]["Attributes"]["name"] == f"{name}-2"
    finally:
        stream.close()
        d.wharf("rm", "-f", f"{name}-2", check=False)


def _exec_monitors_gone(container_id: str, timeout: float = 15.0) -> None:
    """Wait for the monitors of the container's execs (healthcheck probes) to exit: they can
    outlive ``rm -f`` by a moment, and the shared daemon's teardown counts them as leaks."""
    marker = f"/containers/{container_id}/exec/".encode()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = False
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    alive = alive or marker in (entry / "cmdline").read_bytes()
                except OSError:
                    continue
        if not alive:
            return
        time.sleep(0.05)


def test_health_status_changes_are_events(busybox_daemon) -> None:
    d = busybox_daemon
    name = _name("evhealth")
    filters = _filters(container=[name], event=["health_status"])
    stream = _Stream(d, f"/events?filters={filters}")
    container_id = ""
    try:
        # One probe a second: the removal below comes well before a second one is under way.
        container_id = d.wharf(
            "run", "-d", "--name", name, "--health-cmd", "true", "--health-interval", "1s",
            "busybox", "sleep", "60",
        ).stdout.strip()  # fmt: skip
        event = stream.next_event()
        assert event["Action"] == "health_status: healthy"
        assert event["Actor"]["ID"] == container_id
        assert event["Actor"]["Attributes"]["name"] == name
    finally:
        stream.close()
        d.wharf("rm", "-f", name, check=False)
        if container_id:
            _exec_monitors_gone(container_id)
