"""A pull cut in the middle of a layer (wharfd killed with -9) resumes at the next pull and
downloads only the rest of that layer (HTTP Range), counted at a proxy in front of the
registry."""

from __future__ import annotations

import os
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from support.throttle_proxy import ThrottleProxy
from wharf.registry.testing import registry_process

pytestmark = pytest.mark.integration

LAYER = 24 << 20


def _ingested(data_root: Path) -> int:
    ingest = data_root / "content" / "ingest"
    return (
        max(
            ((p / "data").stat().st_size for p in ingest.iterdir() if (p / "data").exists()),
            default=0,
        )
        if ingest.exists()
        else 0
    )


def test_interrupted_pull_resumes_with_range(daemon, tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs.tar"
    payload = tmp_path / "payload"
    payload.write_bytes(os.urandom(LAYER))
    with tarfile.open(rootfs, "w") as tar:
        tar.add(payload, arcname="payload")
    with (
        registry_process(tmp_path / "registry") as registry,
        ThrottleProxy(registry.host, bytes_per_second=6 << 20) as proxy,
    ):
        name = f"{proxy.host}/big/layer:1"
        daemon.wharf("import", str(rootfs), name)
        daemon.wharf("push", name)
        image_id = daemon.wharf("image", "inspect", "--format", "{{.Id}}", name).stdout.strip()
        daemon.wharf("rmi", name)
        proxy.reset()

        puller = subprocess.Popen(
            [str(daemon.wharf_path), "pull", name],
            env=daemon.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while _ingested(daemon.data_root) < LAYER // 3:
            assert time.monotonic() < deadline, "the pull never got going"
            time.sleep(0.05)
        daemon.kill9()
        puller.wait(timeout=30)
        first_part = _ingested(daemon.data_root)
        assert 0 < first_part < LAYER

        daemon.start()
        proxy.reset()
        daemon.wharf("pull", name)
        assert daemon.wharf("image", "inspect", "--format", "{{.Id}}", name).stdout.strip() == (
            image_id
        )
        assert any(r.startswith("bytes=") and not r.startswith("bytes=0-") for r in proxy.ranges)
        # Only the rest of the big layer crossed the wire the second time.
        assert proxy.blob_bytes() < LAYER - first_part + (2 << 20)
        daemon.wharf("rmi", name)
