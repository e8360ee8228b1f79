"""kill -9 of wharfd in the middle of `load`: the next start finds a consistent store.

The upload is driven by hand over the daemon's socket so the kill lands at a known point:
mid-blob (a partial ingest exists) or after every blob but before the names (orphan blobs).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import socket
import tarfile
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost")
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(self._path)
        self.sock = sock


def _big_image_archive(daemon, tmp_path: Path) -> Path:
    """An image with a 24 MiB incompressible layer, saved as an archive."""
    rootfs = tmp_path / "rootfs.tar"
    with tarfile.open(rootfs, "w") as tar:
        payload = tmp_path / "payload"
        payload.write_bytes(os.urandom(24 << 20))
        tar.add(payload, arcname="payload")
    daemon.wharf("import", str(rootfs), "big:1")
    archive = tmp_path / "big.tar"
    daemon.wharf("save", "-o", str(archive), "big:1")
    daemon.wharf("rmi", "big:1")
    return archive


def _ingests(data_root: Path) -> list[Path]:
    ingest = data_root / "content" / "ingest"
    return list(ingest.iterdir()) if ingest.exists() else []


def _wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def _send_partial_load(daemon, data: bytes) -> _UnixConnection:
    connection = _UnixConnection(str(daemon.socket))
    connection.putrequest("POST", "/v1.45/images/load")
    connection.putheader("Content-Type", "application/x-tar")
    connection.putheader("Content-Length", str(len(data) + 1_000_000))
    connection.endheaders()
    connection.send(data)
    return connection


def _assert_consistent(daemon) -> None:
    blobs = daemon.data_root / "content" / "blobs" / "sha256"
    for blob in blobs.iterdir() if blobs.exists() else []:
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name
    assert _ingests(daemon.data_root) == []
    listed = daemon.wharf("images", "--format", "json").stdout.splitlines()
    for line in listed:
        row = json.loads(line)
        daemon.wharf("image", "inspect", row["ID"])


@pytest.mark.parametrize("cut", ["mid-blob", "before-names"])
def test_kill9_during_load_leaves_a_consistent_store(daemon, base_image_tars, tmp_path, cut):
    daemon.wharf("import", "-c", 'CMD ["sh"]', str(base_image_tars.busybox), "busybox:latest")
    before_ids = daemon.wharf("images", "-q").stdout.split()
    archive = _big_image_archive(daemon, tmp_path).read_bytes()

    if cut == "mid-blob":
        connection = _send_partial_load(daemon, archive[: len(archive) // 2])
        _wait_for(
            lambda: any(
                (p / "data").exists() and (p / "data").stat().st_size > 0
                for p in _ingests(daemon.data_root)
            )
        )
    else:
        # Everything but the last 8 KiB: every blob is committed, index.json and
        # manifest.json (written last by save) never arrive, so no name is recorded.
        connection = _send_partial_load(daemon, archive[:-8192])
        blobs = daemon.data_root / "content" / "blobs" / "sha256"
        _wait_for(lambda: len(list(blobs.iterdir())) >= 4)
    daemon.kill9()
    connection.close()

    daemon.restart()
    _assert_consistent(daemon)
    assert daemon.wharf("images", "-q").stdout.split() == before_ids
    inspect = daemon.wharf("image", "inspect", "big:1", check=False)
    assert inspect.returncode == 1 and "No such image" in inspect.stderr
    # Only busybox's blobs remain: the big layer never got a name, so it was collected.
    blobs = daemon.data_root / "content" / "blobs" / "sha256"
    assert all(blob.stat().st_size < (20 << 20) for blob in blobs.iterdir())
