"""Healthchecks run by the engine: State.Health in inspect, (healthy) in ps, the image's
HEALTHCHECK inherited, --no-healthcheck, timeouts, and the health filter."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest

from support.daemon import WharfDaemon

pytestmark = pytest.mark.integration


def _health(d: WharfDaemon, name: str) -> dict | None:  # type: ignore[type-arg]
    return json.loads(d.wharf("inspect", name).stdout)[0]["State"].get("Health")


def _until(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.1)


def test_health_goes_unhealthy_then_healthy_and_shows_in_ps(busybox_daemon, tmp_path):
    d = busybox_daemon
    name = f"health-{abs(hash(tmp_path)) % 10**8}"
    d.wharf(
        "run", "-d", "--name", name, "--health-cmd", "test -f /tmp/ok && echo fine",
        "--health-interval", "200ms", "--health-retries", "2", "busybox", "sleep", "120",
    )  # fmt: skip
    try:
        assert _health(d, name)["Status"] in ("starting", "unhealthy")  # type: ignore[index]
        _until(lambda: _health(d, name)["Status"] == "unhealthy")  # type: ignore[index]
        assert "(unhealthy)" in d.wharf("ps", "--filter", f"name={name}").stdout
        d.wharf("exec", name, "touch", "/tmp/ok")
        _until(lambda: _health(d, name)["Status"] == "healthy")  # type: ignore[index]
        health = _health(d, name)
        assert health is not None and health["FailingStreak"] == 0
        assert health["Log"][-1]["ExitCode"] == 0 and health["Log"][-1]["Output"] == "fine\n"
        assert 1 <= len(health["Log"]) <= 5
        listed = d.wharf("ps", "--filter", "health=healthy", "--format", "{{.Names}} {{.Status}}")
        assert f"{name} Up" in listed.stdout and "(healthy)" in listed.stdout
        assert name not in d.wharf("ps", "--filter", "health=unhealthy").stdout
    finally:
        d.wharf("rm", "-f", name)


def test_image_healthcheck_is_inherited_and_no_healthcheck_disables_it(busybox_daemon, tmp_path):
    d = busybox_daemon
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(
        "FROM busybox\nHEALTHCHECK --interval=200ms --timeout=300ms --retries=1 CMD sleep 5\n"
    )
    tag = f"healthimg-{abs(hash(tmp_path)) % 10**8}:test"
    d.wharf("build", "-q", "-t", tag, context)
    name = f"inherit-{abs(hash(tmp_path)) % 10**8}"
    d.wharf("run", "-d", "--name", name, tag, "sleep", "120")
    plain = name + "-off"
    d.wharf("run", "-d", "--name", plain, "--no-healthcheck", tag, "sleep", "120")
    try:
        config = json.loads(d.wharf("inspect", name).stdout)[0]["Config"]
        assert config["Healthcheck"]["Test"] == ["CMD-SHELL", "sleep 5"]
        # The probe outlives its timeout: killed, counted as -1, unhealthy after one retry.
        _until(lambda: _health(d, name)["Status"] == "unhealthy")  # type: ignore[index]
        last = _health(d, name)["Log"][-1]  # type: ignore[index]
        assert last["ExitCode"] == -1 and "exceeded timeout" in last["Output"]
        assert _health(d, plain) is None
        assert "(health" not in d.wharf("ps", "--filter", f"name={plain}").stdout
    finally:
        d.wharf("rm", "-f", name, plain)
        d.wharf("rmi", tag)


def test_bad_health_flags_are_refused(busybox_daemon):
    bad = busybox_daemon.wharf(
        "run", "--rm", "--health-interval", "soon", "busybox", "true", check=False
    )
    assert bad.returncode == 125 and "time: invalid duration" in bad.stderr
    both = busybox_daemon.wharf(
        "run", "--rm", "--no-healthcheck", "--health-cmd", "true", "busybox", "true", check=False
    )
    assert both.returncode == 125 and "conflicts" in both.stderr
