"""Smoke tests of the integration harness itself (support/daemon.py, support/rootfs.py).

The rootfs and leak-detection tests need no daemon; the others need a wharfd that answers
``GET /_ping`` (and, for the busybox test, ``wharf import`` and ``wharf image inspect``).
"""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from support.daemon import CommandFailed, LeakError, WharfDaemon
from support.rootfs import (
    BUSYBOX_REF,
    FIXED_MTIME,
    BaseImageTars,
    build_busybox_rootfs,
    busybox_applets,
)

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounts need root")


def _mounted_under(root: Path) -> bool:
    text = Path("/proc/self/mountinfo").read_text()
    return any(line.split(" ")[4].startswith(f"{root}/") for line in text.splitlines())


# -- rootfs tars --------------------------------------------------------------------------------


def test_busybox_rootfs_is_byte_identical_across_builds(tmp_path: Path) -> None:
    first = build_busybox_rootfs(tmp_path / "a.tar")
    second = build_busybox_rootfs(tmp_path / "b.tar")
    assert first.read_bytes() == second.read_bytes()


def test_busybox_rootfs_layout(base_image_tars: BaseImageTars) -> None:
    with tarfile.open(base_image_tars.busybox) as tar:
        members = {m.name: m for m in tar.getmembers()}
        names = [m.name for m in tar.getmembers()]
        passwd = tar.extractfile("etc/passwd")
        assert passwd is not None
        users = [line.split(":")[0] for line in passwd.read().decode().splitlines()]

    assert names == sorted(names)
    assert all(m.uid == 0 and m.gid == 0 and m.mtime == FIXED_MTIME for m in members.values())
    assert not any(n.startswith(("./", "/")) or ".." in n.split("/") for n in names)
    assert members["bin/busybox"].isfile() and members["bin/busybox"].mode == 0o755
    for applet in busybox_applets():
        link = members[f"bin/{applet}"]
        assert link.issym() and link.linkname == "busybox"
    assert members["tmp"].mode == 0o1777
    assert members["root"].mode == 0o700
    assert all(members[d].isdir() for d in ("proc", "sys", "dev", "etc"))
    assert users == ["root", "nobody"]


# -- leak detection (no daemon needed) ----------------------------------------------------------


@needs_root
def test_close_unmounts_and_reports_a_leaked_mount() -> None:
    d = WharfDaemon()
    target = d.root / "data" / "leaked mount"  # a space: mountinfo escapes it as \040
    target.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(target)], check=True)
    assert _mounted_under(d.root)

    with pytest.raises(LeakError, match="leaked mount"):
        d.close()
    assert not _mounted_under(d.root)
    assert not d.root.exists()


def test_close_kills_and_reports_a_leaked_process() -> None:
    d = WharfDaemon()
    straggler = subprocess.Popen(["sleep", "600"], cwd=d.root)
    try:
        with pytest.raises(LeakError, match=f"process {straggler.pid}"):
            d.close()
        assert straggler.wait(timeout=10) == -9
    finally:
        straggler.kill()
        straggler.wait()
    assert not d.root.exists()


def test_cli_failure_shows_its_stderr() -> None:
    d = WharfDaemon()
    try:
        with pytest.raises(CommandFailed) as info:
            d.wharf("no-such-command")
        assert info.value.returncode != 0
        assert "--- stderr ---" in str(info.value)
        assert info.value.stderr.strip() in str(info.value)
    finally:
        d.close()


# -- a real daemon ------------------------------------------------------------------------------


def test_daemon_answers_ping_on_its_private_socket(daemon: WharfDaemon) -> None:
    reply = daemon.request("GET", "/_ping")
    assert reply.status == 200
    assert reply.body == b"OK"
    assert daemon.socket.is_socket()
    assert len(str(daemon.socket).encode()) < 108
    assert daemon.env["WHARF_HOST"] == f"unix://{daemon.socket}"
    assert daemon.env["WHARF_NO_AUTOSTART"] == "1"


def test_daemon_survives_kill9_and_restarts_on_the_same_dirs(daemon: WharfDaemon) -> None:
    first_pid = daemon.pid
    daemon.kill9()
    assert not daemon.ping()

    daemon.restart()
    assert daemon.ping()
    assert daemon.pid != first_pid

    daemon.restart()  # a graceful stop this time
    assert daemon.ping()
    assert daemon.data_root.is_dir() and daemon.exec_root.is_dir()


def test_busybox_layer_is_the_same_in_every_daemon(
    busybox_daemon: WharfDaemon, daemon: WharfDaemon, base_image_tars: BaseImageTars
) -> None:
    daemon.ensure_image(BUSYBOX_REF, base_image_tars.busybox, cmd='["sh"]')
    # The config (and so the image ID) carries the import time, as in Docker; the layer
    # is the deterministic tar, so its diff ID must match.
    layers = [
        json.loads(d.wharf("image", "inspect", BUSYBOX_REF).stdout)[0]["RootFS"]["Layers"]
        for d in (busybox_daemon, daemon)
    ]
    assert len(layers[0]) == 1 and layers[0][0].startswith("sha256:")
    assert layers[0] == layers[1]
