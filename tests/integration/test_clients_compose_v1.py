"""docker-compose 1.29 (the Python one from PyPI, in ``.venv-compose`` made by scripts/install)
drives wharfd: a two-service busybox app on a user-defined network, the client waiting for the
server's healthcheck and reaching it by service name; then ``ps``, ``logs``, ``exec`` and
``down``, which must leave no container and no network behind.

docker-compose 1.29 talks to the daemon through docker-py: version negotiation, label filters on
``/containers/json``, its own ``/containers/create`` bodies, ``/networks/create`` with
``CheckDuplicate``, attach before start. The project gets a random name and a ``DOCKER_CONFIG`` of
its own, and is taken down in a ``finally``.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from pathlib import Path

import pytest

from support.daemon import REPO_ROOT, WharfDaemon

pytestmark = pytest.mark.integration

COMPOSE_V1 = REPO_ROOT / ".venv-compose" / "bin" / "docker-compose"

# busybox `sh` and `httpd` as PID 1 ignore SIGTERM: stop_signal SIGKILL keeps `down` fast.
APP = """\
version: "2.4"
services:
  server:
    image: busybox
    stop_signal: SIGKILL
    command: ["sh", "-c", "mkdir -p /www && echo hello-from-server > /www/index.html && \
httpd -f -p 8080 -h /www"]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]
      interval: 500ms
      timeout: 2s
      retries: 20
    networks: [back]
  client:
    image: busybox
    stop_signal: SIGKILL
    depends_on:
      server:
        condition: service_healthy
    command: ["sh", "-c", "wget -qO- http://server:8080/ && sleep 300"]
    networks: [back]
networks:
  back: {}
"""


def _compose(
    daemon: WharfDaemon,
    project: str,
    workdir: Path,
    *args: str,
    check: bool = True,
    api_version: str = "auto",
) -> subprocess.CompletedProcess[str]:
    env = {
        **daemon.env,
        "DOCKER_HOST": daemon.host,
        "DOCKER_CONFIG": str(workdir / "docker-config"),
        "COMPOSE_PROJECT_NAME": project,
        "COMPOSE_API_VERSION": api_version,
        # exec and run would otherwise shell out to the docker CLI: test compose's own API calls.
        "COMPOSE_INTERACTIVE_NO_CLI": "1",
    }
    proc = subprocess.run(
        [str(COMPOSE_V1), "--ansi", "never", "-f", str(workdir / "docker-compose.yml"), *args],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    if check:
        assert proc.returncode == 0, f"docker-compose {args}: {proc.stdout}\n{proc.stderr}"
    return proc


def _labelled(daemon: WharfDaemon, kind: str, project: str) -> list[str]:
    """Names of the containers (``kind="ps"``) or networks of the project, as wharf lists them."""
    label = f"label=com.docker.compose.project={project}"
    if kind == "ps":
        out = daemon.wharf("ps", "-a", "--filter", label, "--format", "{{.Names}}").stdout
    else:
        out = daemon.wharf("network", "ls", "--filter", label, "--format", "{{.Name}}").stdout
    return sorted(out.split())


def _ids(daemon: WharfDaemon, project: str) -> dict[str, str]:
    out = daemon.wharf(
        "ps", "-a", "--no-trunc", "--filter", f"label=com.docker.compose.project={project}",
        "--format", "{{.Names}} {{.ID}}",
    ).stdout  # fmt: skip
    return dict(line.split() for line in out.splitlines())


@pytest.mark.skipif(not os.access(COMPOSE_V1, os.X_OK), reason="run scripts/install")
def test_compose_v1_brings_up_a_healthy_two_service_app(
    busybox_daemon: WharfDaemon, tmp_path: Path
) -> None:
    project = "v1" + secrets.token_hex(4)
    (tmp_path / "docker-config").mkdir()
    (tmp_path / "docker-compose.yml").write_text(APP)
    server, client = f"{project}_server_1", f"{project}_client_1"
    down = False
    try:
        up = _compose(busybox_daemon, project, tmp_path, "up", "-d")
        assert f'Creating network "{project}_back"' in up.stderr
        # The client fetches once, without retrying: it gets the page only if compose waited for
        # the server's healthcheck (depends_on: service_healthy) before starting it.
        assert f"Creating {client}" in up.stderr

        deadline = time.monotonic() + 20
        while True:
            logs = _compose(busybox_daemon, project, tmp_path, "logs", "--no-color", "client")
            if "client_1  | hello-from-server" in logs.stdout:
                break
            assert time.monotonic() < deadline, f"client never reached the server: {logs}"
            time.sleep(0.2)

        ps = _compose(busybox_daemon, project, tmp_path, "ps").stdout.splitlines()
        rows = {line.split()[0]: line for line in ps[2:] if line.strip()}
        assert set(rows) == {server, client}, ps
        assert "Up (healthy)" in rows[server], ps
        assert "Up" in rows[client], ps

        executed = _compose(
            busybox_daemon, project, tmp_path, "exec", "-T", "server", "cat", "/www/index.html"
        )
        assert executed.stdout == "hello-from-server\n"
        failed = _compose(
            busybox_daemon, project, tmp_path, "exec", "-T", "server", "sh", "-c", "exit 3",
            check=False,
        )  # fmt: skip
        assert failed.returncode == 3

        # Recreating reads the image's ContainerConfig, which dockerd stopped sending at API
        # 1.45 (compose 1.29 then fails against Docker 26+); wharfd keeps it at every version.
        before = _ids(busybox_daemon, project)
        recreated = _compose(
            busybox_daemon, project, tmp_path, "up", "-d", "--force-recreate", "--no-deps",
            "server",
        )  # fmt: skip
        assert f"Recreating {server}" in recreated.stderr
        after = _ids(busybox_daemon, project)
        assert after[client] == before[client] and after[server] != before[server]

        assert _labelled(busybox_daemon, "ps", project) == [client, server]
        assert _labelled(busybox_daemon, "network", project) == [f"{project}_back"]

        _compose(busybox_daemon, project, tmp_path, "down", "-t", "0")
        down = True
        assert _labelled(busybox_daemon, "ps", project) == []
        assert _labelled(busybox_daemon, "network", project) == []
    finally:
        if not down:
            _compose(busybox_daemon, project, tmp_path, "down", "-v", "-t", "0", check=False)
