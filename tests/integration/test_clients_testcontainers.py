"""testcontainers-python (from PyPI, in .venv) drives wharfd: it starts a busybox web server with a
published port, waits for a log line and for the port, fetches a page through the mapped port on
127.0.0.1, and stops (removes) the container.

testcontainers reads its settings once, at import, into a module-level object, and its
``DockerClient`` writes ``DOCKER_HOST`` into ``os.environ``: the test sets both through
``monkeypatch`` so nothing leaks into the other tests of the xdist worker. Ryuk (the reaper
container) is disabled: its image lives on Docker Hub, which this machine cannot reach.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path

import docker.errors
import pytest
from testcontainers.core.config import ConnectionMode, testcontainers_config
from testcontainers.core.container import DockerContainer
from testcontainers.core.wait_strategies import LogMessageWaitStrategy
from testcontainers.core.waiting_utils import wait_for_logs

from support.daemon import WharfDaemon

pytestmark = pytest.mark.integration

SERVE = (
    "sh -c 'mkdir -p /www && echo tc-$HOSTNAME > /www/index.html && echo ready; "
    "httpd -f -p 80 -h /www'"
)


@pytest.fixture
def tc_daemon(
    busybox_daemon: WharfDaemon, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[WharfDaemon]:
    monkeypatch.setenv("DOCKER_HOST", busybox_daemon.host)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    monkeypatch.setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
    monkeypatch.setattr(testcontainers_config, "ryuk_disabled", True)
    # On a unix socket testcontainers would say "localhost", which may resolve to ::1 first; and
    # inside a container (/.dockerenv) it would reach ports through the bridge gateway, as for
    # Docker-in-Docker. wharfd shares this machine's network namespace: 127.0.0.1 is the host.
    monkeypatch.setattr(testcontainers_config, "tc_host_override", "127.0.0.1")
    monkeypatch.setattr(
        testcontainers_config, "connection_mode_override", ConnectionMode.docker_host
    )
    # Poll fast: the defaults (1 s between tries) would make the test slow, not more faithful.
    monkeypatch.setattr(testcontainers_config, "sleep_time", 0.1)
    yield busybox_daemon


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        body: bytes = response.read()
    return body.decode()


def test_testcontainers_waits_for_a_log_line_and_a_port(tc_daemon: WharfDaemon) -> None:
    container = DockerContainer("busybox").with_command(SERVE).with_exposed_ports(80)
    with container:
        waited = wait_for_logs(container, LogMessageWaitStrategy("ready"), timeout=20)
        assert waited < 20
        host = container.get_container_host_ip()
        port = container.get_exposed_port(80)
        assert host == "127.0.0.1"
        assert port != 80
        container_id = container.get_container_id()
        assert _get(f"http://{host}:{port}/") == f"tc-{container_id[:12]}\n"
        stdout, _ = container.get_logs()
        assert b"ready" in stdout
        wrapped = container.get_wrapped_container()
        assert wrapped.status == "running"
        assert wrapped.labels["org.testcontainers.lang"] == "python"
    client = docker.DockerClient(base_url=tc_daemon.host, version="auto")
    try:
        with pytest.raises(docker.errors.NotFound):
            client.containers.get(container_id)
    finally:
        client.close()


def test_testcontainers_wait_strategy_and_exec(tc_daemon: WharfDaemon) -> None:
    container = (
        DockerContainer("busybox")
        .with_command(SERVE)
        .with_exposed_ports(80)
        .with_env("GREETING", "hi")
        .waiting_for(LogMessageWaitStrategy("ready").with_startup_timeout(20))
    )
    with container:
        code, output = container.exec(["sh", "-c", "echo $GREETING; exit 4"])
        assert (code, output) == (4, b"hi\n")
        port = container.get_exposed_port(80)
        assert _get(f"http://127.0.0.1:{port}/").startswith("tc-")
