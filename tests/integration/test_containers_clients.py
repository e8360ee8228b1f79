"""Docker's own clients run containers on wharfd: the docker CLI on the machine and the
Docker SDK for Python (`docker` from PyPI), pointed at the daemon's socket."""

from __future__ import annotations

import shutil
import subprocess
import uuid

import pytest

pytestmark = pytest.mark.integration


def _docker(daemon, *args: str, input: str | None = None, check: bool = True):
    docker = shutil.which("docker")
    assert docker is not None, "the docker CLI is part of this machine's toolset"
    env = {**daemon.env, "DOCKER_HOST": daemon.host, "DOCKER_CONFIG": str(daemon.root)}
    return subprocess.run(
        [docker, *args],
        env=env,
        input=input,
        capture_output=True,
        text=True,
        check=check,
        timeout=120,
    )


def test_docker_cli_runs_logs_execs_and_removes(busybox_daemon) -> None:
    result = _docker(
        busybox_daemon,
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 7",
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (7, "out\n", "err\n")
    piped = _docker(
        busybox_daemon, "run", "--rm", "-i", "busybox", "tr", "a-z", "A-Z", input="shout\n"
    )
    assert piped.stdout == "SHOUT\n"
    name = f"dcli-{uuid.uuid4().hex[:8]}"
    _docker(
        busybox_daemon, "run", "-d", "--name", name, "busybox", "sh", "-c", "echo ready; sleep 600"
    )
    logs = _docker(busybox_daemon, "logs", name)
    assert "ready" in logs.stdout
    executed = _docker(
        busybox_daemon, "exec", name, "sh", "-c", "echo from-exec; exit 3", check=False
    )
    assert (executed.returncode, executed.stdout) == (3, "from-exec\n")
    fed = _docker(busybox_daemon, "exec", "-i", name, "cat", input="fed\n")
    assert fed.stdout == "fed\n"
    listed = _docker(busybox_daemon, "ps", "--format", "{{.Names}} {{.Status}}").stdout
    assert any(line.startswith(f"{name} Up") for line in listed.splitlines())
    inspected = _docker(busybox_daemon, "inspect", "--format", "{{.State.Running}}", name)
    assert inspected.stdout.strip() == "true"
    _docker(busybox_daemon, "rm", "-f", name)
    gone = _docker(busybox_daemon, "inspect", name, check=False)
    assert gone.returncode == 1 and "No such" in gone.stderr


def test_docker_cli_errors(busybox_daemon) -> None:
    missing = _docker(busybox_daemon, "run", "--rm", "busybox", "nosuchcmd", check=False)
    assert missing.returncode == 127
    assert "executable file not found" in missing.stderr


def test_docker_sdk_runs_logs_execs_and_removes(busybox_daemon) -> None:
    import docker

    client = docker.DockerClient(base_url=busybox_daemon.host, version="auto")
    try:
        output = client.containers.run("busybox", ["sh", "-c", "echo sdk-run"], remove=True)
        assert output == b"sdk-run\n"
        container = client.containers.run(
            "busybox",
            ["sh", "-c", "echo started; sleep 600"],
            detach=True,
            environment={"GREETING": "hi"},
            name=f"sdk-{uuid.uuid4().hex[:8]}",
        )
        try:
            container.reload()
            assert container.status == "running"
            exit_code, output = container.exec_run(["sh", "-c", "echo $GREETING; exit 2"])
            assert (exit_code, output) == (2, b"hi\n")
            exit_code, (out, err) = container.exec_run(
                ["sh", "-c", "echo o; echo e >&2"], demux=True
            )
            assert (exit_code, out, err) == (0, b"o\n", b"e\n")
            stream = container.exec_run(["sh", "-c", "echo a; echo b"], stream=True)
            assert b"".join(stream.output) == b"a\nb\n"
            deadline_logs = container.logs()
            assert b"started" in deadline_logs
        finally:
            container.remove(force=True)
        listed = client.containers.list(all=True, ignore_removed=True)
        assert container.id not in [c.id for c in listed]
    finally:
        client.close()
