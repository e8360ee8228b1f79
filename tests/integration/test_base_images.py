"""scripts/base-images against a private daemon: busybox from the host's busybox-static and
debian:bookworm-slim from a (cached) debootstrap, both through `wharf import`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "base-images"


def test_base_images_script_makes_busybox_and_debian(daemon) -> None:
    first = subprocess.run(
        [str(SCRIPT)], env=daemon.env, capture_output=True, text=True, timeout=900
    )
    assert first.returncode == 0, first.stderr

    listing = daemon.wharf("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    assert sorted(listing) == ["busybox:latest", "debian:bookworm-slim"]

    debian = json.loads(daemon.wharf("image", "inspect", "debian:bookworm-slim").stdout)[0]
    assert debian["Config"]["Cmd"] == ["bash"]
    assert any(env.startswith("PATH=") for env in debian["Config"]["Env"])
    assert debian["Size"] > 20_000_000  # a real Debian userland, not a stub

    ids = daemon.wharf("images", "-q").stdout.split()
    again = subprocess.run(
        [str(SCRIPT)], env=daemon.env, capture_output=True, text=True, timeout=900
    )
    assert again.returncode == 0, again.stderr
    # Idempotent: existing images are kept, not re-imported.
    assert daemon.wharf("images", "-q").stdout.split() == ids
