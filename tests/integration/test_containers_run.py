"""`wharf run` and the lifecycle commands end to end on a real wharfd with a real runtime:
isolation shown by what a container can and cannot see and do, exit codes, logs, exec."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def _name(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def run(daemon, *args: str, check: bool = True, input: str | None = None):
    return daemon.wharf("run", *args, check=check, input=input)


def test_exit_code_is_the_containers(busybox_daemon) -> None:
    result = run(busybox_daemon, "--rm", "busybox", "sh", "-c", "exit 3", check=False)
    assert result.returncode == 3
    ok = run(busybox_daemon, "--rm", "busybox", "echo", "hello")
    assert ok.stdout == "hello\n"


def test_stdout_and_stderr_are_separate(busybox_daemon) -> None:
    result = run(busybox_daemon, "--rm", "busybox", "sh", "-c", "echo out; echo err >&2")
    assert result.stdout == "out\n"
    assert result.stderr == "err\n"


def test_pid_namespace_shows_only_the_containers_processes(busybox_daemon) -> None:
    # "; true" keeps sh as PID 1 (busybox sh execs a lone last command).
    result = run(busybox_daemon, "--rm", "busybox", "sh", "-c", "ps -o pid,comm; true")
    rows = [line.split() for line in result.stdout.strip().splitlines()[1:]]
    assert rows[0] == ["1", "sh"], rows
    assert {row[1] for row in rows} == {"sh", "ps"}, rows


def test_host_filesystem_and_hostname_are_not_visible(busybox_daemon, tmp_path) -> None:
    marker = Path("/tmp") / f"wharf-host-marker-{uuid.uuid4().hex}"
    marker.write_text("host")
    try:
        result = run(
            busybox_daemon,
            "--rm",
            "busybox",
            "sh",
            "-c",
            f"hostname; test -e {marker} && echo VISIBLE || echo hidden; ls /",
        )
    finally:
        marker.unlink()
    lines = result.stdout.splitlines()
    assert lines[0] != socket.gethostname()
    assert len(lines[0]) == 12  # the container ID prefix, as Docker names it
    assert lines[1] == "hidden"
    assert "work" not in lines[2:]  # the host's /work is not in the container's root


def test_hostname_flag(busybox_daemon) -> None:
    result = run(busybox_daemon, "--rm", "--hostname", "box1", "busybox", "hostname")
    assert result.stdout.strip() == "box1"


def test_writes_stay_in_the_container(busybox_daemon) -> None:
    first = _name()
    run(busybox_daemon, "--name", first, "busybox", "sh", "-c", "echo mine > /written")
    second = run(busybox_daemon, "--rm", "busybox", "sh", "-c", "cat /written || echo absent")
    assert second.stdout.strip().endswith("absent")
    diff = busybox_daemon.wharf("diff", first).stdout.split("\n")
    assert "A /written" in diff
    busybox_daemon.wharf("rm", first)


def test_read_only_rootfs_refuses_writes(busybox_daemon) -> None:
    result = run(
        busybox_daemon,
        "--rm",
        "--read-only",
        "busybox",
        "sh",
        "-c",
        "touch /x && echo wrote || echo refused; touch /tmp/y 2>&1 || true",
        check=False,
    )
    assert "refused" in result.stdout
    assert "Read-only file system" in result.stdout + result.stderr


def test_memory_limit_gets_the_process_oom_killed(busybox_daemon) -> None:
    name = _name("oom")
    result = run(
        busybox_daemon,
        "--name",
        name,
        "--memory",
        "32m",
        "busybox",
        "sh",
        "-c",
        "head -c 67108864 /dev/zero | tail > /dev/null",
        check=False,
    )
    assert result.returncode == 137, result
    state = json.loads(busybox_daemon.wharf("inspect", name).stdout)[0]["State"]
    assert state["OOMKilled"] is True
    assert state["ExitCode"] == 137
    busybox_daemon.wharf("rm", name)


def test_pids_limit_stops_a_fork_bomb(busybox_daemon) -> None:
    script = "i=0; while [ $i -lt 60 ]; do sleep 30 & i=$((i+1)); done; echo all-forked"
    limited = run(
        busybox_daemon, "--rm", "--pids-limit", "20", "busybox", "sh", "-c", script, check=False
    )
    assert limited.returncode != 0
    assert "all-forked" not in limited.stdout
    assert "fork" in limited.stderr, limited.stderr
    # The same script with room for it forks all 60 (so the limit, not the script, stopped it).
    roomy = run(busybox_daemon, "--rm", "--pids-limit", "100", "busybox", "sh", "-c", script)
    assert roomy.stdout.strip() == "all-forked"


def test_dropped_capability_really_fails(busybox_daemon) -> None:
    allowed = run(busybox_daemon, "--rm", "busybox", "sh", "-c", "mknod /tmp/n c 1 3 && echo ok")
    assert allowed.stdout.strip() == "ok"
    dropped = run(
        busybox_daemon,
        "--rm",
        "--cap-drop",
        "MKNOD",
        "busybox",
        "sh",
        "-c",
        "mknod /tmp/n c 1 3 && echo ok || echo denied",
    )
    assert dropped.stdout.strip() == "denied"


def test_non_root_user_cannot_write_root_files(busybox_daemon) -> None:
    result = run(
        busybox_daemon,
        "--rm",
        "-u",
        "1000",
        "busybox",
        "sh",
        "-c",
        "id -u; echo x >> /etc/passwd && echo wrote || echo denied",
    )
    assert result.stdout.split() == ["1000", "denied"]


def test_detached_logs_exec_stop_rm_round_trip(busybox_daemon) -> None:
    name = _name("life")
    container_id = run(
        busybox_daemon,
        "-d",
        "--name",
        name,
        "busybox",
        "sh",
        "-c",
        "echo started; trap 'echo bye; exit 0' TERM; while true; do sleep 0.1; done",
    ).stdout.strip()
    assert len(container_id) == 64
    deadline = time.monotonic() + 10
    while "started" not in busybox_daemon.wharf("logs", name).stdout:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    ps = busybox_daemon.wharf("ps", "--filter", f"name={name}", "--format", "json").stdout
    assert json.loads(ps.splitlines()[0])["State"] == "running"
    executed = busybox_daemon.wharf(
        "exec", name, "sh", "-c", "echo in-$((20+22)); exit 4", check=False
    )
    assert executed.stdout == "in-42\n"
    assert executed.returncode == 4
    busybox_daemon.wharf("stop", "-t", "5", name)
    state = json.loads(busybox_daemon.wharf("inspect", name).stdout)[0]["State"]
    assert state["Status"] == "exited" and state["ExitCode"] == 0
    assert busybox_daemon.wharf("logs", name).stdout == "started\nbye\n"
    busybox_daemon.wharf("rm", name)
    missing = busybox_daemon.wharf("inspect", name, check=False)
    assert missing.returncode == 1


def test_logs_follow_streams_until_exit(busybox_daemon) -> None:
    name = _name("follow")
    run(
        busybox_daemon,
        "-d",
        "--name",
        name,
        "busybox",
        "sh",
        "-c",
        "for i in 1 2 3; do echo line$i; sleep 0.2; done",
    )
    followed = busybox_daemon.wharf("logs", "-f", name)
    assert followed.stdout == "line1\nline2\nline3\n"
    busybox_daemon.wharf("rm", name)


def test_twenty_containers_at_once(busybox_daemon) -> None:
    names = [_name("many") for _ in range(20)]
    for name in names:
        run(busybox_daemon, "-d", "--name", name, "busybox", "sleep", "60")
    running = busybox_daemon.wharf("ps", "-q", "--no-trunc").stdout.split()
    ids = {json.loads(busybox_daemon.wharf("inspect", n).stdout)[0]["Id"] for n in names}
    assert ids <= set(running)
    busybox_daemon.wharf("rm", "-f", *names)
    assert not ids & set(busybox_daemon.wharf("ps", "-aq", "--no-trunc").stdout.split())


def test_interactive_shell_through_a_pty(busybox_daemon) -> None:
    import pty

    primary, secondary = pty.openpty()
    process = subprocess.Popen(
        [str(busybox_daemon.wharf_path), "run", "-it", "--rm", "busybox", "sh"],
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        env=busybox_daemon.env,
        start_new_session=True,
    )
    os.close(secondary)
    output = b""

    def read_until(token: bytes, timeout: float = 15.0) -> None:
        nonlocal output
        deadline = time.monotonic() + timeout
        while token not in output:
            assert time.monotonic() < deadline, output
            import select

            ready, _, _ = select.select([primary], [], [], 0.2)
            if ready:
                try:
                    output += os.read(primary, 4096)
                except OSError:
                    break

    os.write(primary, b"echo hello-$((40+2))\n")
    read_until(b"hello-42")
    os.write(primary, b"exit 5\n")
    assert process.wait(timeout=20) == 5
    os.close(primary)


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["nosuchimage:1"], 125, "Unable to find image"),
        (["busybox", "nosuchcommand"], 127, "executable file not found"),
        (["--memory", "abc", "busybox", "true"], 125, "invalid"),
        (["-p", "garbage", "busybox", "true"], 125, "invalid"),
        (["-v", "relative/path:/x", "busybox", "true"], 125, "absolute path"),
    ],
)
def test_bad_run_input(busybox_daemon, args, code, message) -> None:
    before = set(busybox_daemon.wharf("ps", "-aq", "--no-trunc").stdout.split())
    result = run(busybox_daemon, "--rm", *args, check=False)
    assert result.returncode == code, result
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    time.sleep(0.2)
    after = set(busybox_daemon.wharf("ps", "-aq", "--no-trunc").stdout.split())
    assert after == before


def test_conflicts_are_docker_errors(busybox_daemon) -> None:
    name = _name("conf")
    run(busybox_daemon, "-d", "--name", name, "busybox", "sleep", "60")
    taken = run(busybox_daemon, "--name", name, "busybox", "true", check=False)
    assert taken.returncode == 125
    assert "is already in use by container" in taken.stderr
    refused = busybox_daemon.wharf("rm", name, check=False)
    assert refused.returncode == 1
    assert "container is running" in refused.stderr
    busybox_daemon.wharf("stop", "-t", "0", name)
    stopped_exec = busybox_daemon.wharf("exec", name, "true", check=False)
    assert stopped_exec.returncode != 0
    assert "is not running" in stopped_exec.stderr
    busybox_daemon.wharf("rm", name)


def test_failures_leak_nothing(busybox_daemon) -> None:
    for args in (["busybox", "nosuchcommand"], ["--read-only", "busybox", "sh", "-c", "exit 2"]):
        run(busybox_daemon, "--rm", *args, check=False)
    time.sleep(0.3)
    exec_root = busybox_daemon.exec_root
    mounts = Path("/proc/self/mountinfo").read_text()
    containers = set(busybox_daemon.wharf("ps", "-aq", "--no-trunc").stdout.split())
    state_dirs = {p.name for p in (exec_root / "containers").iterdir()}
    assert state_dirs <= containers
    for line in mounts.splitlines():
        mount_point = line.split()[4]
        if mount_point.startswith(str(exec_root)):
            assert any(cid in mount_point for cid in containers), mount_point
