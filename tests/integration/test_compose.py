"""``wharf compose`` on a real wharfd with busybox: networks and DNS by service name, convergence
(up twice, a changed service, scale), depends_on conditions, orphans, volumes across down/up,
one-off run, exec, config, attached up, and invalid files.

Every test uses a project of its own (random name, its own directory) and takes it down with
``down -v`` in a ``finally``. Long-running services stop on SIGKILL: busybox ``sh``/``sleep`` as
PID 1 ignore SIGTERM, and waiting out the grace period would only slow the suite.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from support.daemon import WharfDaemon

pytestmark = pytest.mark.integration

SERVER = """\
  server:
    image: busybox
    stop_signal: SIGKILL
    command:
      - sh
      - -c
      - mkdir -p /www && echo hello-$$HOSTNAME > /www/index.html && httpd -f -p 8080 -h /www
"""
CLIENT = """\
  client:
    image: busybox
    stop_signal: SIGKILL
    depends_on: [server]
    command: ["sh", "-c", "until wget -qO- http://server:8080/; do sleep 0.2; done; sleep 300"]
"""


class Compose:
    """One project: ``self("up", "-d")`` runs ``wharf compose -p NAME -f FILE up -d``."""

    def __init__(self, daemon: WharfDaemon, directory: Path, text: str) -> None:
        self.daemon = daemon
        self.name = "t" + secrets.token_hex(5)
        self.directory = directory
        self.file = directory / "compose.yaml"
        self.write(text)

    def write(self, text: str) -> None:
        self.file.write_text(text)

    def __call__(
        self, *args: str, check: bool = True, timeout: float = 120.0
    ) -> subprocess.CompletedProcess[str]:
        return self.daemon.wharf(
            "compose", "-p", self.name, "-f", self.file, *args, check=check, timeout=timeout
        )

    def ids(self) -> dict[str, str]:
        """container name -> ID, for every container of the project."""
        out = self.daemon.wharf(
            "ps", "-a", "--no-trunc", "--filter", f"label=com.docker.compose.project={self.name}",
            "--format", "{{.Names}} {{.ID}}",
        ).stdout  # fmt: skip
        return dict(line.split() for line in out.splitlines())

    def logs(self, *services: str) -> str:
        return self("logs", "--no-color", *services).stdout


@pytest.fixture
def compose(busybox_daemon: WharfDaemon, tmp_path: Path) -> Iterator[Callable[[str], Compose]]:
    made: list[Compose] = []

    def make(text: str) -> Compose:
        directory = tmp_path / f"p{len(made)}"
        directory.mkdir()
        project = Compose(busybox_daemon, directory, text)
        made.append(project)
        return project

    try:
        yield make
    finally:
        for project in made:
            project("down", "-v", "-t", "0", check=False)


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_two_services_talk_by_service_name(compose: Callable[[str], Compose]) -> None:
    app = compose(f"services:\n{SERVER}{CLIENT}networks:\n  default: {{}}\n")
    up = app("up", "-d")
    assert f" ✔ Network {app.name}_default  Created" in up.stderr.splitlines()
    assert f" ✔ Container {app.name}-client-1  Started" in up.stderr.splitlines()
    wait_for(lambda: "client-1  | hello-" in app.logs("client"), "the client to reach the server")

    ps = app("ps").stdout.splitlines()
    assert ps[0].split() == ["NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS"]
    rows = {line.split()[0]: line for line in ps[1:]}
    assert set(rows) == {f"{app.name}-client-1", f"{app.name}-server-1"}
    assert " server " in rows[f"{app.name}-server-1"]
    assert "Up " in rows[f"{app.name}-server-1"]
    assert app("ps", "--services").stdout.split() == ["client", "server"]

    logs = app.logs()
    assert re.search(r"^client-1  \| hello-", logs, re.M), logs

    before = app.ids()
    again = app("up", "-d")
    assert app.ids() == before
    assert f" ✔ Container {app.name}-server-1  Running" in again.stderr.splitlines()


def test_a_changed_service_alone_is_recreated(compose: Callable[[str], Compose]) -> None:
    text = (
        "services:\n"
        "  a:\n    image: busybox\n    stop_signal: SIGKILL\n    command: [sleep, '300']\n"
        "    environment: {V: '1'}\n"
        "  b:\n    image: busybox\n    stop_signal: SIGKILL\n    command: [sleep, '300']\n"
    )
    app = compose(text)
    app("up", "-d")
    before = app.ids()
    app.write(text.replace("V: '1'", "V: '2'"))
    result = app("up", "-d")
    after = app.ids()
    assert after[f"{app.name}-b-1"] == before[f"{app.name}-b-1"]
    assert after[f"{app.name}-a-1"] != before[f"{app.name}-a-1"]
    assert f" ✔ Container {app.name}-a-1  Recreated" in result.stderr.splitlines()
    env = app("exec", "-T", "a", "sh", "-c", "echo $V").stdout
    assert env == "2\n"


def test_scale_and_both_replicas_answer_by_name(compose: Callable[[str], Compose]) -> None:
    probe = "  probe:\n    image: busybox\n    profiles: [tools]\n"
    app = compose(f"services:\n{SERVER}{probe}")
    app("up", "-d", "--scale", "server=2")
    assert sorted(app.ids()) == [f"{app.name}-server-1", f"{app.name}-server-2"]
    replicas = set()
    for name in app.ids():
        document = json.loads(app.daemon.wharf("inspect", name).stdout)[0]
        network = document["NetworkSettings"]["Networks"][f"{app.name}_default"]
        replicas.add(network["IPAddress"])
    lookup = app("run", "--rm", "-T", "probe", "nslookup", "server").stdout
    assert set(re.findall(r"^Address: (\S+)", lookup, re.M)) == replicas, lookup
    # Each replica serves, reached by its container name (an alias on the network).
    script = "; ".join(f"wget -qO- http://{app.name}-server-{n}:8080/" for n in (1, 2))
    answers = app("run", "--rm", "-T", "probe", "sh", "-c", script).stdout.split()
    assert len(set(answers)) == 2 and all(a.startswith("hello-") for a in answers), answers
    app("up", "-d", "--scale", "server=1")
    assert sorted(app.ids()) == [f"{app.name}-server-1"]


def test_depends_on_completed_successfully(compose: Callable[[str], Compose]) -> None:
    app = compose(
        "services:\n"
        "  init:\n    image: busybox\n    command: [sh, -c, 'echo prepared > /shared/ready']\n"
        "    volumes: [shared:/shared]\n"
        "  web:\n    image: busybox\n    stop_signal: SIGKILL\n"
        "    command: [sh, -c, 'cat /shared/ready; sleep 300']\n"
        "    volumes: [shared:/shared]\n"
        "    depends_on:\n      init: {condition: service_completed_successfully}\n"
        "volumes:\n  shared: {}\n"
    )
    up = app("up", "-d")
    assert f" ✔ Container {app.name}-init-1  Exited" in up.stderr.splitlines()
    wait_for(lambda: "web-1  | prepared" in app.logs("web"), "web to see what init wrote")


def test_depends_on_failed_completion_stops_up(compose: Callable[[str], Compose]) -> None:
    app = compose(
        "services:\n"
        "  init:\n    image: busybox\n    command: [sh, -c, 'exit 3']\n"
        "  web:\n    image: busybox\n    command: [sleep, '300']\n"
        "    depends_on:\n      init: {condition: service_completed_successfully}\n"
    )
    up = app("up", "-d", check=False)
    assert up.returncode == 1
    assert 'service "init" didn\'t complete successfully: exit 3' in up.stderr
    status = app("ps", "-a", "--format", "{{.Name}} {{.State}}").stdout
    assert f"{app.name}-web-1 created" in status


def test_orphans_are_warned_then_removed(compose: Callable[[str], Compose]) -> None:
    two = (
        "services:\n"
        "  a:\n    image: busybox\n    stop_signal: SIGKILL\n    command: [sleep, '300']\n"
        "  old:\n    image: busybox\n    stop_signal: SIGKILL\n    command: [sleep, '300']\n"
    )
    app = compose(two)
    app("up", "-d")
    app.write(two.split("  old:")[0])
    warned = app("up", "-d")
    assert f"Found orphan containers ([{app.name}-old-1]) for this project." in warned.stderr
    assert f"{app.name}-old-1" in app.ids()
    app("up", "-d", "--remove-orphans")
    assert sorted(app.ids()) == [f"{app.name}-a-1"]


def test_named_volume_survives_down_but_not_down_v(
    compose: Callable[[str], Compose], busybox_daemon: WharfDaemon
) -> None:
    app = compose(
        "services:\n"
        "  store:\n    image: busybox\n    stop_signal: SIGKILL\n"
        "    command: [sh, -c, 'cat /data/orders 2>/dev/null;"
        " echo order-$$RANDOM >> /data/orders; sleep 300']\n"
        "    volumes: [orders:/data]\n"
        "volumes:\n  orders: {}\n"
    )
    app("up", "-d")
    wait_for(lambda: app("exec", "-T", "store", "cat", "/data/orders").stdout.strip() != "",
             "the first order")  # fmt: skip
    first = app("exec", "-T", "store", "cat", "/data/orders").stdout.strip()
    down = app("down", "-t", "0")
    assert f" ✔ Network {app.name}_default  Removed" in down.stderr.splitlines()
    assert app.ids() == {}
    networks = busybox_daemon.wharf("network", "ls", "--format", "{{.Name}}").stdout.split()
    assert f"{app.name}_default" not in networks
    volumes = busybox_daemon.wharf("volume", "ls", "--format", "{{.Name}}").stdout.split()
    assert f"{app.name}_orders" in volumes

    app("up", "-d")
    wait_for(lambda: first in app.logs("store"), "the old order to be read back")
    app("down", "-v", "-t", "0")
    volumes = busybox_daemon.wharf("volume", "ls", "--format", "{{.Name}}").stdout.split()
    assert f"{app.name}_orders" not in volumes


def test_run_rm_one_off_and_exec(compose: Callable[[str], Compose]) -> None:
    app = compose(
        "services:\n"
        "  web:\n    image: busybox\n    stop_signal: SIGKILL\n    command: [sleep, '300']\n"
        "    environment: {FROM_FILE: yes-it-is}\n"
    )
    app("up", "-d")
    script = "echo $FROM_FILE $EXTRA; exit 5"
    ran = app("run", "--rm", "-T", "-e", "EXTRA=1", "web", "sh", "-c", script, check=False)
    assert ran.returncode == 5
    assert ran.stdout == "yes-it-is 1\n"
    assert [n for n in app.ids() if "-run-" in n] == []  # --rm removed it

    kept = app("run", "-T", "web", "true")
    assert kept.returncode == 0
    oneoffs = [n for n in app.ids() if n.startswith(f"{app.name}-web-run-")]
    assert len(oneoffs) == 1
    labels = json.loads(app.daemon.wharf("inspect", oneoffs[0]).stdout)[0]["Config"]["Labels"]
    assert labels["com.docker.compose.oneoff"] == "True"
    assert labels["com.docker.compose.service"] == "web"

    executed = app("exec", "-T", "web", "sh", "-c", "echo in-$FROM_FILE; exit 7", check=False)
    assert executed.returncode == 7
    assert executed.stdout == "in-yes-it-is\n"


def test_config_prints_the_resolved_project(compose: Callable[[str], Compose]) -> None:
    app = compose(
        "services:\n  web:\n    image: ${IMAGE:-busybox}\n    ports: ['127.0.0.1:8080:80']\n"
    )
    config = app("config").stdout
    assert "image: busybox" in config
    assert f"name: {app.name}" in config
    assert 'published: "8080"' in config or "published: '8080'" in config
    assert app("config", "--services").stdout == "web\n"


def test_invalid_file_fails_and_creates_nothing(
    compose: Callable[[str], Compose], busybox_daemon: WharfDaemon
) -> None:
    app = compose("services:\n  web:\n    image: busybox\n    ports: 'not-a-list'\n")
    result = app("up", "-d", check=False)
    assert result.returncode == 1
    assert "compose.yaml" in result.stderr and "services.web.ports" in result.stderr
    assert app.ids() == {}
    networks = busybox_daemon.wharf("network", "ls", "--format", "{{.Name}}").stdout.split()
    assert f"{app.name}_default" not in networks

    app.write("services:\n  a:\n    image: busybox\n    depends_on: [b]\n"
              "  b:\n    image: busybox\n    depends_on: [a]\n")  # fmt: skip
    cyclic = app("up", "-d", check=False)
    assert cyclic.returncode == 1
    assert "cycle" in cyclic.stderr
    assert app.ids() == {}


def test_attached_up_streams_prefixed_output_until_exit(compose: Callable[[str], Compose]) -> None:
    app = compose(
        "services:\n"
        "  hello:\n    image: busybox\n    command: [sh, -c, 'echo one; echo two']\n"
        "  fail:\n    image: busybox\n    command: [sh, -c, 'sleep 0.5; echo bye; exit 4']\n"
    )
    result = app("up", check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] in ("Attaching to fail-1, hello-1", "Attaching to hello-1, fail-1")
    assert "hello-1  | one" in lines and "hello-1  | two" in lines
    assert "fail-1   | bye" in lines
    assert "hello-1 exited with code 0" in lines
    assert "fail-1 exited with code 4" in lines

    aborted = app("up", "--abort-on-container-exit", "--exit-code-from", "fail", check=False,
                  timeout=60)  # fmt: skip
    assert aborted.returncode == 4, aborted.stdout + aborted.stderr


def test_service_healthy_and_up_wait(compose: Callable[[str], Compose]) -> None:
    """Needs engine-run healthchecks (State.Health in inspect)."""
    app = compose(
        "services:\n"
        "  auth:\n    image: busybox\n    stop_signal: SIGKILL\n    command: [sleep, '300']\n"
        "    healthcheck:\n      test: [CMD, 'true']\n      interval: 1s\n"
        "      start_interval: 200ms\n      start_period: 5s\n"
        "  web:\n    image: busybox\n    stop_signal: SIGKILL\n    command: [sleep, '300']\n"
        "    depends_on:\n      auth: {condition: service_healthy}\n"
    )
    up = app("up", "-d", "--wait", "--wait-timeout", "30")
    lines = up.stderr.splitlines()
    assert f" ✔ Container {app.name}-auth-1  Healthy" in lines
    assert lines.index(f" ✔ Container {app.name}-auth-1  Healthy") < lines.index(
        f" ✔ Container {app.name}-web-1  Started"
    )
    assert "(healthy)" in app("ps").stdout


def test_unhealthy_dependency_blocks_with_a_clear_message(
    compose: Callable[[str], Compose],
) -> None:
    """Needs engine-run healthchecks (State.Health in inspect)."""
    app = compose(
        "services:\n"
        "  auth:\n    image: busybox\n    stop_signal: SIGKILL\n    command: [sleep, '300']\n"
        "    healthcheck:\n      test: [CMD, 'false']\n      interval: 200ms\n      retries: 2\n"
        "  web:\n    image: busybox\n    command: [sleep, '300']\n"
        "    depends_on:\n      auth: {condition: service_healthy}\n"
    )
    up = app("up", "-d", check=False)
    assert up.returncode == 1
    assert f"dependency failed to start: container {app.name}-auth-1 is unhealthy" in up.stderr
    waited = app("up", "-d", "--wait", "auth", check=False)
    assert waited.returncode == 1
    assert f"container {app.name}-auth-1 is unhealthy" in waited.stderr


def test_ctrl_c_on_attached_up_stops_the_services(compose: Callable[[str], Compose]) -> None:
    import os
    import signal

    from support.daemon import WHARF

    app = compose(
        "services:\n"
        "  web:\n    image: busybox\n    stop_signal: SIGKILL\n"
        "    command: [sh, -c, 'echo ready; sleep 300']\n"
    )
    proc = subprocess.Popen(
        [str(WHARF), "compose", "-p", app.name, "-f", str(app.file), "up"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=app.daemon.env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        seen = ""
        deadline = time.monotonic() + 30
        while "web-1  | ready" not in seen:
            assert time.monotonic() < deadline, seen
            seen += proc.stdout.readline()
        os.kill(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert "Gracefully stopping... (press Ctrl+C again to force)" in err
    assert f" ✔ Container {app.name}-web-1  Stopped" in err.splitlines()
    state = app("ps", "-a", "--format", "{{.State}}").stdout.split()
    assert state == ["exited"]


def test_published_port_top_images(compose: Callable[[str], Compose]) -> None:
    import urllib.request

    app = compose(f"services:\n{SERVER}    ports: ['127.0.0.1::8080']\n")
    app("up", "-d")
    host_port = app("port", "server", "8080").stdout.strip()
    assert re.fullmatch(r"127\.0\.0\.1:\d+", host_port), host_port

    def answers() -> bool:
        try:
            with urllib.request.urlopen(f"http://{host_port}/", timeout=2) as reply:
                return reply.read().startswith(b"hello-")
        except OSError:
            return False

    wait_for(answers, "the published port to answer")
    top = app("top").stdout
    assert top.splitlines()[0] == f"{app.name}-server-1"
    assert "httpd" in top
    images = app("images").stdout.splitlines()
    assert images[0].split()[:3] == ["CONTAINER", "REPOSITORY", "TAG"]
    assert images[1].split()[:3] == [f"{app.name}-server-1", "busybox", "latest"]
    ps = app("ps").stdout
    assert f"127.0.0.1:{host_port.split(':')[1]}->8080/tcp" in ps
