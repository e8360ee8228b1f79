"""``system df`` counts what a fresh daemon holds (an image, a container's written file and
logs, a volume's data, the build cache) and ``system prune -a --volumes`` frees all of it;
the docker CLI reads our ``/system/df``."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from support.daemon import WharfDaemon
from support.rootfs import BUSYBOX_REF, BaseImageTars

pytestmark = pytest.mark.integration

WRITTEN = 300_000  # bytes the container writes into its rootfs
IN_VOLUME = 200_000  # and into its anonymous volume
BUILT = 400_000  # bytes of the built image's one big layer (incompressible)


def _df(daemon: WharfDaemon, query: str = "") -> dict[str, Any]:
    reply = daemon.request("GET", f"/v1.45/system/df{query}")
    assert reply.status == 200, reply.body
    result: dict[str, Any] = reply.json()
    return result


def _docker(daemon: WharfDaemon, *args: str) -> subprocess.CompletedProcess[str]:
    docker = shutil.which("docker")
    assert docker is not None, "the docker CLI is part of this machine's toolset"
    env = {**daemon.env, "DOCKER_HOST": daemon.host, "DOCKER_CONFIG": str(daemon.root)}
    return subprocess.run(
        [docker, *args], env=env, capture_output=True, text=True, check=True, timeout=60
    )


def _summary(text: str) -> dict[str, list[str]]:
    """``system df`` lines by type: [TOTAL, ACTIVE, SIZE, RECLAIMABLE...]."""
    rows = {}
    for line in text.splitlines()[1:]:
        cells = line.split("  ")
        cells = [cell.strip() for cell in cells if cell.strip()]
        rows[cells[0]] = cells[1:]
    return rows


def test_df_counts_everything_and_prune_frees_it(
    daemon: WharfDaemon, base_image_tars: BaseImageTars, tmp_path: Path
) -> None:
    daemon.ensure_image(BUSYBOX_REF, base_image_tars.busybox, cmd='["sh"]')
    daemon.wharf(
        "run", "--name", "writer", "--network", "none", "-v", "/data", BUSYBOX_REF, "sh", "-c",
        f"echo some log output; head -c {WRITTEN} /dev/zero > /written;"
        f" head -c {IN_VOLUME} /dev/zero > /data/blob",
    )  # fmt: skip
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(
        f"FROM {BUSYBOX_REF}\nRUN head -c {BUILT} /dev/urandom > /big\nENV STEP=two\n"
    )
    daemon.wharf("build", "-q", "-t", "df-built", context)

    usage = _df(daemon)
    by_tag = {tuple(image["RepoTags"]): image for image in usage["Images"]}
    assert set(by_tag) == {("busybox:latest",), ("df-built:latest",)}
    busybox, built = by_tag[("busybox:latest",)], by_tag[("df-built:latest",)]
    assert (busybox["Containers"], built["Containers"]) == (1, 0)
    # The built image stands on busybox: it shares all but busybox's manifest and config.
    assert 0 < busybox["Size"] - busybox["SharedSize"] < 10_000 < busybox["SharedSize"]
    assert built["Size"] - built["SharedSize"] >= BUILT
    assert usage["LayersSize"] == busybox["Size"] + built["Size"] - built["SharedSize"]
    (container,) = usage["Containers"]
    assert container["Names"] == ["/writer"] and container["State"] == "exited"
    assert container["SizeRw"] >= WRITTEN
    assert container["SizeRootFs"] > container["SizeRw"]
    assert container["SizeLogs"] > 0 and usage["LogsSize"] == container["SizeLogs"]
    (volume,) = usage["Volumes"]
    assert volume["UsageData"]["RefCount"] == 1 and volume["UsageData"]["Size"] >= IN_VOLUME
    cache = usage["BuildCache"]
    assert cache and all(record["Type"] == "regular" for record in cache)
    # While the image holds the steps' layers, the cache keeps only their small documents.
    assert sum(r["Size"] for r in cache if not r["Shared"]) < BUILT
    (listed,) = daemon.request("GET", "/containers/json?all=1&size=1").json()
    assert (listed["SizeRw"], listed["SizeRootFs"]) == (
        container["SizeRw"],
        container["SizeRootFs"],
    )
    assert "SizeRw" not in daemon.request("GET", "/containers/json?all=1").json()[0]
    only_containers = _df(daemon, "?type=container")
    assert only_containers["Images"] is None and only_containers["BuildCache"] is None
    assert len(only_containers["Containers"]) == 1
    assert daemon.request("GET", "/system/df?type=nonsense").status == 400

    daemon.wharf("rmi", "df-built")
    cache = _df(daemon, "?type=build-cache")["BuildCache"]
    assert sum(r["Size"] for r in cache if not r["Shared"]) >= BUILT  # now the cache's alone

    rows = _summary(daemon.wharf("system", "df").stdout)
    assert list(rows) == ["Images", "Containers", "Local Volumes", "Build Cache", "Container logs"]
    assert rows["Images"][:2] == ["1", "1"] and rows["Containers"][:2] == ["1", "0"]
    assert rows["Local Volumes"][:2] == ["1", "1"]
    assert rows["Containers"][3].endswith("(100%)")  # an exited container's layer is reclaimable
    assert rows["Container logs"][:2] == ["1", "0"]
    verbose = daemon.wharf("system", "df", "-v").stdout
    assert "Images space usage:" in verbose and "\nContainer logs usage: " in verbose
    assert "writer" in verbose

    docker_rows = _summary(_docker(daemon, "system", "df").stdout)
    assert list(docker_rows) == ["Images", "Containers", "Local Volumes", "Build Cache"]
    assert docker_rows["Images"] == rows["Images"]
    assert docker_rows["Containers"] == rows["Containers"]
    assert "Build cache usage:" in _docker(daemon, "system", "df", "-v").stdout

    pruned = daemon.wharf("system", "prune", "-a", "--volumes", "-f").stdout
    for section in ("Deleted Containers:", "Deleted Volumes:", "Deleted Images:"):
        assert section in pruned
    assert "Deleted build cache objects:" in pruned
    assert "Total reclaimed space: 0B" not in pruned

    usage = _df(daemon)
    assert usage["Images"] == [] and usage["Containers"] == [] and usage["Volumes"] == []
    assert usage["BuildCache"] == [] and usage["LayersSize"] == 0 and usage["LogsSize"] == 0
    blobs = daemon.data_root / "content" / "blobs" / "sha256"
    assert not any(blobs.iterdir()) if blobs.is_dir() else True
    after = _summary(daemon.wharf("system", "df").stdout)
    assert all(row[:3] == ["0", "0", "0B"] for row in after.values())
