"""``update`` on a real wharfd: a running container's cgroup takes the new limits at once (read
back from ``inspect``, from the host's cgroup files and from inside the container), a stopped
or paused one keeps them for its next start, a new restart policy governs the next exit, the
docker CLI drives the same endpoint, and bad input gets Docker's errors."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from support.daemon import WharfDaemon
from wharf.runtime import cgroups

pytestmark = pytest.mark.integration

MiB = 1 << 20
DOCKER = shutil.which("docker") or "/usr/local/bin/docker"


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _inspect(daemon: WharfDaemon, name: str) -> dict[str, Any]:
    return json.loads(daemon.wharf("inspect", name).stdout)[0]


def _wait_for(predicate: Any, timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _cgroup_file(container_id: str, controller: str, name: str) -> Path:
    dirs = cgroups.locate(f"/wharf/{container_id}")
    if dirs.version is cgroups.CgroupVersion.V2:
        assert dirs.unified is not None
        return dirs.unified / name
    directory = dirs.controller(controller)
    assert directory is not None, f"no {controller} cgroup"
    return directory / name


def _v1() -> bool:
    return cgroups.host_layout().version is cgroups.CgroupVersion.V1


def _sleeper(daemon: WharfDaemon, *flags: str) -> tuple[str, str]:
    name = _name("upd")
    container_id = daemon.wharf("run", "-d", "--name", name, *flags, "busybox", "sleep", "600")
    return name, container_id.stdout.strip()


def test_a_running_container_takes_new_limits_at_once(busybox_daemon: WharfDaemon) -> None:
    if not _v1():
        pytest.skip("reads cgroup v1 files")
    name, container_id = _sleeper(busybox_daemon, "-m", "48m", "--pids-limit", "100")
    try:
        limit = _cgroup_file(container_id, "memory", "memory.limit_in_bytes")
        assert int(limit.read_text()) == 48 * MiB
        result = busybox_daemon.wharf(
            "update", "-m", "64m", "--cpu-shares", "512", "--pids-limit", "50", name
        )
        assert result.stdout == f"{name}\n"
        host_config = _inspect(busybox_daemon, name)["HostConfig"]
        assert host_config["Memory"] == 64 * MiB
        assert host_config["MemorySwap"] == 96 * MiB  # the swap set at run (2 x 48m) stays
        assert (host_config["CpuShares"], host_config["PidsLimit"]) == (512, 50)
        assert int(limit.read_text()) == 64 * MiB
        memsw = _cgroup_file(container_id, "memory", "memory.memsw.limit_in_bytes")
        if memsw.exists():
            assert int(memsw.read_text()) == 96 * MiB
        assert _cgroup_file(container_id, "cpu", "cpu.shares").read_text().strip() == "512"
        assert _cgroup_file(container_id, "pids", "pids.max").read_text().strip() == "50"
        inside = busybox_daemon.wharf(
            "exec", name, "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes"
        )
        assert int(inside.stdout) == 64 * MiB

        # CFS period and quota given apart from --cpus, and the pids limit lifted.
        busybox_daemon.wharf(
            "container", "update", "--cpu-period", "50000", "--cpu-quota", "25000",
            "--pids-limit", "-1", name,
        )  # fmt: skip
        assert _cgroup_file(container_id, "cpu", "cpu.cfs_period_us").read_text().strip() == (
            "50000"
        )
        assert _cgroup_file(container_id, "cpu", "cpu.cfs_quota_us").read_text().strip() == (
            "25000"
        )
        assert _cgroup_file(container_id, "pids", "pids.max").read_text().strip() == "max"
        assert _inspect(busybox_daemon, name)["HostConfig"]["PidsLimit"] == 0
    finally:
        busybox_daemon.wharf("rm", "-f", name, check=False)


def test_a_stopped_container_gets_its_limits_at_the_next_start(
    busybox_daemon: WharfDaemon,
) -> None:
    if not _v1():
        pytest.skip("reads cgroup v1 files")
    name = _name("upd")
    busybox_daemon.wharf("create", "--name", name, "busybox", "sleep", "600")
    try:
        busybox_daemon.wharf("update", "-m", "32m", "--memory-swap", "64m", "--cpus", "0.5", name)
        host_config = _inspect(busybox_daemon, name)["HostConfig"]
        assert (host_config["Memory"], host_config["MemorySwap"]) == (32 * MiB, 64 * MiB)
        assert host_config["NanoCpus"] == 500_000_000
        busybox_daemon.wharf("start", name)
        container_id = _inspect(busybox_daemon, name)["Id"]
        limit = _cgroup_file(container_id, "memory", "memory.limit_in_bytes")
        assert int(limit.read_text()) == 32 * MiB
        quota = _cgroup_file(container_id, "cpu", "cpu.cfs_quota_us")
        assert quota.read_text().strip() == "50000"

        # Paused: the limits still reach the cgroup now.
        busybox_daemon.wharf("pause", name)
        busybox_daemon.wharf("update", "-m", "40m", name)
        assert int(limit.read_text()) == 40 * MiB
        busybox_daemon.wharf("unpause", name)
    finally:
        busybox_daemon.wharf("rm", "-f", name, check=False)


def test_a_new_restart_policy_governs_the_next_exit(busybox_daemon: WharfDaemon) -> None:
    name, _ = _sleeper(busybox_daemon)
    try:
        assert _inspect(busybox_daemon, name)["HostConfig"]["RestartPolicy"]["Name"] == "no"
        busybox_daemon.wharf("update", "--restart", "always", name)
        assert _inspect(busybox_daemon, name)["HostConfig"]["RestartPolicy"] == {
            "Name": "always",
            "MaximumRetryCount": 0,
        }
        first_pid = _inspect(busybox_daemon, name)["State"]["Pid"]
        os.kill(first_pid, signal.SIGKILL)

        def restarted() -> bool:
            state = _inspect(busybox_daemon, name)
            return (
                state["RestartCount"] == 1
                and state["State"]["Running"]
                and state["State"]["Pid"] not in (0, first_pid)
            )

        _wait_for(restarted, what="the restart the new policy asks for")

        busybox_daemon.wharf("update", "--restart", "no", name)
        second_pid = _inspect(busybox_daemon, name)["State"]["Pid"]
        os.kill(second_pid, signal.SIGKILL)
        _wait_for(lambda: not _inspect(busybox_daemon, name)["State"]["Running"], what="the exit")
        time.sleep(0.5)  # a restart (wrongly) scheduled would have happened by now
        state = _inspect(busybox_daemon, name)
        assert state["State"]["Status"] == "exited" and state["RestartCount"] == 1
    finally:
        busybox_daemon.wharf("rm", "-f", name, check=False)


def test_bad_input_gets_docker_s_errors(busybox_daemon: WharfDaemon) -> None:
    name, container_id = _sleeper(busybox_daemon)
    removed, _ = _sleeper(busybox_daemon, "--rm")
    try:

        def refused(*args: str) -> str:
            result = busybox_daemon.wharf("update", *args, check=False)
            assert result.returncode == 1, result
            assert result.stdout == ""
            return result.stderr.strip()

        assert refused("-m", "64m", name) == (
            f"Error response from daemon: Cannot update container {container_id}: Memory limit "
            "should be smaller than already set memoryswap limit, update the memoryswap at the "
            "same time"
        )
        assert refused("--cpus", "0.5", "--cpu-quota", "50000", name) == (
            "Error response from daemon: Conflicting options: Nano CPUs and CPU Quota cannot "
            "both be set"
        )
        assert refused("-m", "4m", "--memory-swap", "8m", name) == (
            "Error response from daemon: Minimum memory limit allowed is 6MB"
        )
        assert "Restart policy cannot be updated because AutoRemove is enabled" in refused(
            "--restart", "always", removed
        )
        assert refused("--cpu-shares", "2", "no-such-container") == (
            "Error response from daemon: No such container: no-such-container"
        )
        assert refused(name) == "you must provide one or more flags when using this command"
        # Nothing refused was recorded.
        host_config = _inspect(busybox_daemon, name)["HostConfig"]
        assert (host_config["Memory"], host_config["NanoCpus"], host_config["CpuQuota"]) == (
            0,
            0,
            0,
        )
        reply = busybox_daemon.request(
            "POST", f"/v1.45/containers/{name}/update", b'{"CpuPeriod": 10}'
        )
        assert reply.status == 400
        assert "CPU cfs period can not be less than 1ms" in reply.json()["message"]
    finally:
        busybox_daemon.wharf("rm", "-f", name, removed, check=False)


@pytest.mark.skipif(not Path(DOCKER).exists(), reason="no docker CLI")
def test_the_docker_cli_updates_through_the_same_endpoint(
    busybox_daemon: WharfDaemon, tmp_path: Path
) -> None:
    name, container_id = _sleeper(busybox_daemon, "-m", "48m")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")},
        "DOCKER_HOST": busybox_daemon.host,
        "DOCKER_CONFIG": str(tmp_path),
    }

    def docker(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [DOCKER, *args], capture_output=True, text=True, env=env, timeout=60, check=False
        )

    try:
        result = docker("update", "--memory", "64m", "--restart", "on-failure:2", name)
        assert result.returncode == 0, result.stderr
        assert result.stdout == f"{name}\n"
        host_config = _inspect(busybox_daemon, name)["HostConfig"]
        assert host_config["Memory"] == 64 * MiB
        assert host_config["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 2}
        if _v1():
            limit = _cgroup_file(container_id, "memory", "memory.limit_in_bytes")
            assert int(limit.read_text()) == 64 * MiB
        shown = docker("inspect", "-f", "{{.HostConfig.Memory}}", name)
        assert shown.stdout.strip() == str(64 * MiB)
        refused = docker("update", "--cpus", "64", name)
        assert refused.returncode == 1
        assert "Range of CPUs is from 0.01 to" in refused.stderr
    finally:
        busybox_daemon.wharf("rm", "-f", name, check=False)
