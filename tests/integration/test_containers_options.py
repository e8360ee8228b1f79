"""`run` options and the list/log views, end to end: environment, working dir, entrypoint,
hosts, labels and filters, log tail/timestamps, signal forwarding, detach and re-attach."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_env_workdir_entrypoint_hosts(busybox_daemon, tmp_path) -> None:
    env_file = tmp_path / "env"
    env_file.write_text("FROM_FILE=yes\n# a comment\n")
    result = busybox_daemon.wharf(
        "run",
        "--rm",
        "-e",
        "A=1",
        "--env-file",
        str(env_file),
        "-w",
        "/tmp",
        "--add-host",
        "db.local:10.1.2.3",
        "--entrypoint",
        "sh",
        "busybox",
        "-c",
        "echo $A $FROM_FILE; pwd; grep db.local /etc/hosts",
    )
    lines = result.stdout.splitlines()
    assert lines[0] == "1 yes"
    assert lines[1] == "/tmp"
    assert lines[2].split() == ["10.1.2.3", "db.local"]


def test_labels_and_ps_filters(busybox_daemon) -> None:
    mark = uuid.uuid4().hex[:8]
    running = _name("lab")
    exited = _name("lab")
    busybox_daemon.wharf(
        "run", "-d", "--name", running, "-l", f"suite={mark}", "busybox", "sleep", "600"
    )
    busybox_daemon.wharf(
        "run", "--name", exited, "-l", f"suite={mark}", "busybox", "sh", "-c", "exit 5", check=False
    )
    by_label = busybox_daemon.wharf(
        "ps", "-a", "--filter", f"label=suite={mark}", "--format", "{{.Names}}"
    ).stdout.split()
    assert sorted(by_label) == sorted([running, exited])
    only_exited = busybox_daemon.wharf(
        "ps", "-a", "--filter", f"label=suite={mark}", "--filter", "status=exited", "-q"
    ).stdout.split()
    assert len(only_exited) == 1
    code5 = busybox_daemon.wharf(
        "ps", "-a", "--filter", "exited=5", "--format", "{{.Names}}"
    ).stdout.split()
    assert exited in code5
    ancestors = busybox_daemon.wharf(
        "ps", "--filter", "ancestor=busybox", "--format", "{{.Names}}"
    ).stdout.split()
    assert running in ancestors
    inspected = json.loads(busybox_daemon.wharf("inspect", running).stdout)[0]
    assert inspected["Config"]["Labels"]["suite"] == mark
    busybox_daemon.wharf("rm", "-f", running, exited)


def test_logs_tail_and_timestamps(busybox_daemon) -> None:
    name = _name("logs")
    busybox_daemon.wharf(
        "run", "--name", name, "busybox", "sh", "-c", "for i in 1 2 3 4 5; do echo l$i; done"
    )
    assert busybox_daemon.wharf("logs", "--tail", "2", name).stdout == "l4\nl5\n"
    stamped = busybox_daemon.wharf("logs", "-t", "--tail", "1", name).stdout.split()
    assert stamped[1] == "l5" and stamped[0].endswith("Z") and "T" in stamped[0]
    future = busybox_daemon.wharf("logs", "--since", str(int(time.time()) + 3600), name)
    assert future.stdout == ""
    busybox_daemon.wharf("rm", name)


def test_foreground_run_forwards_sigterm(busybox_daemon) -> None:
    process = subprocess.Popen(
        [
            str(busybox_daemon.wharf_path),
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "trap 'echo got-term; exit 9' TERM; echo ready; while true; do sleep 0.1; done",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=busybox_daemon.env,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=20)
    assert "got-term" in out
    assert process.returncode == 9


def test_detach_keys_leave_it_running_and_attach_returns(busybox_daemon) -> None:
    import pty

    name = _name("detach")
    primary, secondary = pty.openpty()
    process = subprocess.Popen(
        [str(busybox_daemon.wharf_path), "run", "-it", "--name", name, "busybox", "sh"],
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        env=busybox_daemon.env,
        start_new_session=True,
    )
    os.close(secondary)

    def read_for(seconds: float) -> bytes:
        data = b""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            ready, _, _ = select.select([primary], [], [], 0.1)
            if ready:
                try:
                    data += os.read(primary, 4096)
                except OSError:
                    break
        return data

    os.write(primary, b"echo before-detach\n")
    assert b"before-detach" in read_for(2.0)
    os.write(primary, b"\x10\x11")  # ctrl-p ctrl-q
    assert process.wait(timeout=20) == 0
    os.close(primary)
    state = json.loads(busybox_daemon.wharf("inspect", name).stdout)[0]["State"]
    assert state["Running"] is True
    busybox_daemon.wharf("rm", "-f", name)


def test_no_cgroup_or_monitor_outlives_its_container(busybox_daemon) -> None:
    name = _name("tidy")
    busybox_daemon.wharf("run", "-d", "--name", name, "--memory", "64m", "busybox", "sleep", "600")
    container_id = json.loads(busybox_daemon.wharf("inspect", name).stdout)[0]["Id"]
    cgroup_dirs = [p for p in Path("/sys/fs/cgroup").glob(f"*/wharf/{container_id}")]
    assert cgroup_dirs, "a running container has its cgroup"
    busybox_daemon.wharf("rm", "-f", name)
    time.sleep(0.3)
    assert not [p for p in Path("/sys/fs/cgroup").glob(f"*/wharf/{container_id}") if p.exists()]
    monitors = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            if b"monitor.py" in cmdline and container_id.encode() in cmdline:
                monitors.append(proc.name)
    assert monitors == []


def test_container_prune_filters_and_reclaimed_space(daemon, base_image_tars) -> None:
    daemon.wharf("import", "-c", 'CMD ["sh"]', str(base_image_tars.busybox), "busybox:latest")
    keep = _name("keep")
    drop = _name("drop")
    daemon.wharf("run", "--name", keep, "-l", "keep=yes", "busybox", "true")
    daemon.wharf("run", "--name", drop, "busybox", "sh", "-c", "head -c 2000000 /dev/zero > /f")
    reply = daemon.request("POST", '/v1.45/containers/prune?filters={"label!":["keep"]}')
    assert reply.status == 200
    body = reply.json()
    kept_id = json.loads(daemon.wharf("inspect", keep).stdout)[0]["Id"]
    assert kept_id not in body["ContainersDeleted"]
    assert len(body["ContainersDeleted"]) == 1
    assert body["SpaceReclaimed"] >= 2_000_000
    assert daemon.wharf("inspect", drop, check=False).returncode == 1
    daemon.wharf("rm", keep)
