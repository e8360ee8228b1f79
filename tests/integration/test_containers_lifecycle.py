"""The rest of the container lifecycle on a real wharfd: crash survival, restart policies,
signals, pause, rename, top, stats, cp, commit, export, volumes, prune, and images in use."""

from __future__ import annotations

import json
import os
import signal
import tarfile
import time
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _state(daemon, name: str) -> dict:
    return json.loads(daemon.wharf("inspect", name).stdout)[0]["State"]


def _wait_for(predicate, timeout: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_containers_survive_a_daemon_kill9_and_logs_keep_everything(daemon, base_image_tars):
    daemon.wharf("import", "-c", 'CMD ["sh"]', str(base_image_tars.busybox), "busybox:latest")
    name = _name("survivor")
    daemon.wharf(
        "run",
        "-d",
        "--name",
        name,
        "busybox",
        "sh",
        "-c",
        "i=0; while true; do echo line$i; i=$((i+1)); sleep 0.1; done",
    )
    pid = _state(daemon, name)["Pid"]
    assert pid > 0
    daemon.kill9()
    time.sleep(1.0)  # the container keeps writing while no daemon runs
    os.kill(pid, 0)  # still alive
    daemon.start()
    state = _state(daemon, name)
    assert state["Running"] is True and state["Pid"] == pid
    assert (
        json.loads(daemon.wharf("ps", "--format", "json").stdout.splitlines()[0])["Names"] == name
    )
    lines = daemon.wharf("logs", name).stdout.split()
    numbers = [int(line[4:]) for line in lines]
    assert numbers == list(range(len(numbers)))  # nothing lost, nothing repeated
    assert len(numbers) >= 10
    daemon.wharf("stop", "-t", "1", name)
    assert _state(daemon, name)["Status"] == "exited"
    # An exit that happens while the daemon is down is recorded at the next start.
    daemon.wharf("start", name)
    pid = _state(daemon, name)["Pid"]
    daemon.kill9()
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)
    daemon.start()
    _wait_for(lambda: _state(daemon, name)["Status"] == "exited", what="exit")
    assert _state(daemon, name)["ExitCode"] == 137
    daemon.wharf("rm", name)


def test_restart_policies(daemon, base_image_tars) -> None:
    daemon.wharf("import", "-c", 'CMD ["sh"]', str(base_image_tars.busybox), "busybox:latest")
    failing = _name("onfail")
    daemon.wharf(
        "run", "-d", "--name", failing, "--restart", "on-failure:2", "busybox", "sh", "-c", "exit 3"
    )
    _wait_for(
        lambda: (
            json.loads(daemon.wharf("inspect", failing).stdout)[0]["RestartCount"] == 2
            and _state(daemon, failing)["Status"] == "exited"
        ),
        timeout=20,
        what="two restarts",
    )
    always = _name("always")
    daemon.wharf("run", "-d", "--name", always, "--restart", "always", "busybox", "sleep", "600")
    stopped = _name("unless")
    daemon.wharf(
        "run", "-d", "--name", stopped, "--restart", "unless-stopped", "busybox", "sleep", "600"
    )
    daemon.wharf("stop", "-t", "0", stopped)
    # The `always` container dies while no daemon runs (as at a host reboot); the next
    # daemon start brings it back, but not the `unless-stopped` one the user stopped.
    always_pid = _state(daemon, always)["Pid"]
    daemon.stop()
    os.kill(always_pid, signal.SIGKILL)
    time.sleep(0.5)
    daemon.start()
    _wait_for(lambda: _state(daemon, always)["Running"], what="always restart")
    assert _state(daemon, always)["Pid"] != always_pid
    assert _state(daemon, stopped)["Running"] is False
    daemon.wharf("rm", "-f", always, stopped, failing)


def test_stop_uses_the_stop_signal_then_kills(busybox_daemon) -> None:
    name = _name("stubborn")
    busybox_daemon.wharf(
        "run",
        "-d",
        "--name",
        name,
        "busybox",
        "sh",
        "-c",
        "trap '' TERM; while true; do sleep 0.1; done",
    )
    started = time.monotonic()
    busybox_daemon.wharf("stop", "-t", "1", name)
    assert 0.9 < time.monotonic() - started < 8
    assert _state(busybox_daemon, name)["ExitCode"] == 137
    polite = _name("polite")
    busybox_daemon.wharf(
        "run",
        "-d",
        "--name",
        polite,
        "--stop-signal",
        "USR1",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 42' USR1; while true; do sleep 0.1; done",
    )
    busybox_daemon.wharf("stop", polite)
    assert _state(busybox_daemon, polite)["ExitCode"] == 42
    busybox_daemon.wharf("rm", name, polite)


def test_init_reaps_and_is_pid1(busybox_daemon) -> None:
    result = busybox_daemon.wharf(
        "run", "--rm", "--init", "busybox", "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '"
    )
    assert result.stdout.startswith("/sbin/docker-init -- sh")


def test_privileged_works_within_the_daemons_capabilities(busybox_daemon) -> None:
    result = busybox_daemon.wharf(
        "run", "--rm", "--privileged", "busybox", "sh", "-c", "grep CapEff /proc/self/status"
    )
    effective = int(result.stdout.split()[1], 16)
    assert effective & (1 << 21)  # CAP_SYS_ADMIN


def test_ulimit_above_the_daemons_hard_limit_is_refused(busybox_daemon) -> None:
    ok = busybox_daemon.wharf(
        "run", "--rm", "--ulimit", "nofile=512:1024", "busybox", "sh", "-c", "ulimit -n"
    )
    assert ok.stdout.strip() == "512"
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    too_much = busybox_daemon.wharf(
        "run", "--rm", "--ulimit", f"nofile={hard + 1}:{hard + 1}", "busybox", "true", check=False
    )
    assert too_much.returncode == 125
    assert "nofile" in too_much.stderr


def test_pause_rename_top_stats(busybox_daemon) -> None:
    name = _name("ops")
    busybox_daemon.wharf("run", "-d", "--name", name, "busybox", "sleep", "600")
    top = busybox_daemon.wharf("top", name).stdout.splitlines()
    assert top[0].split()[:3] == ["UID", "PID", "PPID"]
    assert "sleep 600" in top[1]
    busybox_daemon.wharf("pause", name)
    assert _state(busybox_daemon, name)["Status"] == "paused"
    assert "(Paused)" in busybox_daemon.wharf("ps", "--filter", f"name={name}").stdout
    busybox_daemon.wharf("unpause", name)
    assert _state(busybox_daemon, name)["Status"] == "running"
    renamed = _name("renamed")
    busybox_daemon.wharf("rename", name, renamed)
    stats = busybox_daemon.wharf("stats", "--no-stream", renamed).stdout.splitlines()
    assert stats[0].split()[:2] == ["CONTAINER", "ID"]
    assert renamed in stats[1]
    busybox_daemon.wharf("rm", "-f", renamed)


def test_cp_both_ways_and_never_outside(busybox_daemon, tmp_path) -> None:
    name = _name("cp")
    busybox_daemon.wharf(
        "run",
        "-d",
        "--name",
        name,
        "busybox",
        "sh",
        "-c",
        "mkdir -p /data && echo inside > /data/file && ln -s /etc /data/escape && sleep 600",
    )
    _wait_for(
        lambda: (
            busybox_daemon.wharf("exec", name, "test", "-e", "/data/escape", check=False).returncode
            == 0
        ),
        what="setup",
    )
    out = tmp_path / "out"
    busybox_daemon.wharf("cp", f"{name}:/data/file", str(out))
    assert out.read_text() == "inside\n"
    source = tmp_path / "host.txt"
    source.write_text("from host\n")
    busybox_daemon.wharf("cp", str(source), f"{name}:/data/")
    assert busybox_daemon.wharf("exec", name, "cat", "/data/host.txt").stdout == "from host\n"
    # Through a symlink that points at /etc: lands in the container's /etc, not the host's.
    marker = f"wharf-cp-{uuid.uuid4().hex}"
    (tmp_path / marker).write_text("x")
    busybox_daemon.wharf("cp", str(tmp_path / marker), f"{name}:/data/escape/")
    assert not Path("/etc", marker).exists()
    assert busybox_daemon.wharf("exec", name, "cat", f"/etc/{marker}").stdout == "x"
    busybox_daemon.wharf("rm", "-f", name)


def test_commit_export_and_diff(busybox_daemon, tmp_path) -> None:
    name = _name("commit")
    busybox_daemon.wharf(
        "run", "--name", name, "busybox", "sh", "-c", "echo committed > /greeting && rm /bin/vi"
    )
    diff = busybox_daemon.wharf("diff", name).stdout.splitlines()
    assert "A /greeting" in diff and "D /bin/vi" in diff
    image = f"committed-{uuid.uuid4().hex[:8]}:v1"
    busybox_daemon.wharf("commit", "-c", 'CMD ["cat", "/greeting"]', name, image)
    assert busybox_daemon.wharf("run", "--rm", image).stdout == "committed\n"
    gone = busybox_daemon.wharf("run", "--rm", image, "sh", "-c", "test -e /bin/vi || echo gone")
    assert gone.stdout.strip() == "gone"
    exported = tmp_path / "export.tar"
    busybox_daemon.wharf("export", "-o", str(exported), name)
    with tarfile.open(exported) as tar:
        names = set(tar.getnames())
    assert "greeting" in names or "./greeting" in names
    busybox_daemon.wharf("rm", name)
    busybox_daemon.wharf("rmi", image)


def test_image_in_use_is_not_removed_without_force(daemon, base_image_tars) -> None:
    daemon.wharf("import", "-c", 'CMD ["sh"]', str(base_image_tars.busybox), "busybox:latest")
    name = _name("user")
    daemon.wharf("create", "--name", name, "busybox", "true")
    refused = daemon.wharf("rmi", "busybox", check=False)
    assert refused.returncode == 1
    assert "container" in refused.stderr and "is using its referenced image" in refused.stderr
    daemon.wharf("rmi", "-f", "busybox")
    # The container still starts: its image was kept, nameless.
    daemon.wharf("start", "-a", name)
    daemon.wharf("rm", name)


def test_volumes_and_container_prune(busybox_daemon) -> None:
    volume = _name("vol")
    busybox_daemon.wharf("volume", "create", volume)
    busybox_daemon.wharf(
        "run", "--rm", "-v", f"{volume}:/data", "busybox", "sh", "-c", "echo kept > /data/f"
    )
    reread = busybox_daemon.wharf(
        "run", "--rm", "-v", f"{volume}:/data", "busybox", "cat", "/data/f"
    )
    assert reread.stdout == "kept\n"
    listed = busybox_daemon.wharf("volume", "ls", "-q").stdout.split()
    assert volume in listed
    inspected = json.loads(busybox_daemon.wharf("volume", "inspect", volume).stdout)[0]
    assert inspected["Driver"] == "local" and inspected["Mountpoint"].endswith("/_data")
    user = _name("voluser")
    busybox_daemon.wharf("create", "--name", user, "-v", f"{volume}:/data", "busybox", "true")
    in_use = busybox_daemon.wharf("volume", "rm", volume, check=False)
    assert in_use.returncode == 1 and "in use" in in_use.stderr
    pruned = busybox_daemon.wharf("container", "prune", "-f").stdout
    assert user in pruned or "Total reclaimed space" in pruned
    busybox_daemon.wharf("volume", "rm", volume)
    assert volume not in busybox_daemon.wharf("volume", "ls", "-q").stdout.split()


def test_container_prune_until_takes_dates_and_go_durations(daemon, base_image_tars) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime, timedelta

    from support.rootfs import BUSYBOX_REF

    daemon.ensure_image(BUSYBOX_REF, base_image_tars.busybox, cmd='["sh"]')
    cid = daemon.wharf("run", "-d", "busybox", "true").stdout.strip()
    daemon.wharf("wait", cid)
    past = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    kept = daemon.wharf("container", "prune", "-f", "--filter", f"until={past}").stdout
    assert cid not in kept
    recent = daemon.wharf("container", "prune", "-f", "--filter", "until=1h30m").stdout
    assert cid not in recent  # created seconds ago: younger than 1h30m
    future = (datetime.now(UTC) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    removed = daemon.wharf("container", "prune", "-f", "--filter", f"until={future}").stdout
    assert cid in removed
    assert daemon.wharf("ps", "-aq").stdout == ""
