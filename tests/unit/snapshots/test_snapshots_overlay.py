"""OverlaySnapshotter: the conformance suite plus what is particular to its on-disk layout."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from wharf.errdefs import InvalidArgument
from wharf.snapshots import testsuite
from wharf.snapshots.overlay import OverlaySnapshotter
from wharf.snapshots.snapshotter import Mount, SnapshotKind

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="overlay mounts need root")


@pytest.mark.parametrize("check", testsuite.CHECKS, ids=lambda check: check.__name__)
def test_conformance(check: testsuite.Check, tmp_path: Path) -> None:
    check(OverlaySnapshotter, tmp_path)


def _committed(snapshotter: OverlaySnapshotter, name: str, parent: str | None) -> None:
    fs = snapshotter.prepare(f"x-{name}", parent)
    (fs / name).write_text(name)
    snapshotter.commit(name, f"x-{name}")


def test_layout_and_info_json(tmp_path: Path) -> None:
    snapshotter = OverlaySnapshotter(tmp_path)
    fs = snapshotter.prepare("c1", None)
    snapshot_dir = fs.parent
    assert len(snapshot_dir.name) == 16 and snapshot_dir.parent == tmp_path
    assert (snapshot_dir / "work").is_dir()
    document = json.loads((snapshot_dir / "info.json").read_text())
    assert document == {"schema": 1, "key": "c1", "parent": None, "kind": "active", "size": None}
    snapshotter.commit("layer", "c1")
    assert not snapshot_dir.exists()
    committed = next(p for p in tmp_path.iterdir() if p.name != snapshot_dir.name)
    assert not (committed / "work").exists()
    document = json.loads((committed / "info.json").read_text())
    assert document["kind"] == "committed" and document["key"] == "layer"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_mounts_lists_parents_top_first(tmp_path: Path) -> None:
    snapshotter = OverlaySnapshotter(tmp_path)
    _committed(snapshotter, "base", None)
    _committed(snapshotter, "mid", "base")
    upper = snapshotter.prepare("ctr", "mid")
    (mount,) = snapshotter.mounts("ctr")
    base_fs = tmp_path / snapshotter._id("base") / "fs"
    mid_fs = tmp_path / snapshotter._id("mid") / "fs"
    assert mount == Mount(
        "overlay",
        "overlay",
        (
            "index=off",
            f"lowerdir={mid_fs}:{base_fs}",
            f"upperdir={upper}",
            f"workdir={upper.parent / 'work'}",
        ),
    )
    assert snapshotter.mounts("base") == [Mount("bind", str(base_fs), ("rbind", "ro"))]
    assert snapshotter.mounts("mid")[0].options == (
        "index=off",
        f"lowerdir={mid_fs}:{base_fs}",
        "ro",
    )


def test_cleanup_removes_leftovers_of_a_crash(tmp_path: Path) -> None:
    snapshotter = OverlaySnapshotter(tmp_path)
    _committed(snapshotter, "base", None)
    staging = tmp_path / ".tmp-0123456789abcdef"
    (staging / "fs" / "deep").mkdir(parents=True)
    damaged = tmp_path / ("ab" * 8)
    (damaged / "fs").mkdir(parents=True)
    (damaged / "info.json").write_text("{not json")
    unrelated = tmp_path / "keep-me"
    unrelated.mkdir()
    snapshotter.cleanup()
    assert not staging.exists() and not damaged.exists() and unrelated.exists()
    assert [info.key for info in snapshotter.walk()] == ["base"]


def test_walk_ignores_damaged_entries(tmp_path: Path) -> None:
    snapshotter = OverlaySnapshotter(tmp_path)
    _committed(snapshotter, "base", None)
    (tmp_path / ("cd" * 8)).mkdir()
    (tmp_path / ("ef" * 8)).mkdir()
    (tmp_path / ("ef" * 8) / "info.json").write_text(
        json.dumps({"schema": 1, "key": "wrong-id", "parent": None, "kind": "active"})
    )
    assert [info.key for info in snapshotter.walk()] == ["base"]
    assert not snapshotter.exists("wrong-id")


def test_commit_keeps_parent_and_measures_size(tmp_path: Path) -> None:
    snapshotter = OverlaySnapshotter(tmp_path)
    _committed(snapshotter, "base", None)
    fs = snapshotter.prepare("work", "base")
    (fs / "data").write_bytes(b"x" * 100_000)
    snapshotter.commit("top", "work")
    info = OverlaySnapshotter(tmp_path).stat("top")
    assert info.kind is SnapshotKind.COMMITTED and info.parent == "base"
    assert info.size is not None and 100_000 <= info.size < 200_000


def test_stack_longer_than_a_page_mounts(tmp_path: Path) -> None:
    """Absolute lowerdir paths overflow a page here, so the mount must use relative ones."""
    snapshotter = OverlaySnapshotter(tmp_path / ("long-root-" + "x" * 150))
    parent = None
    for index in range(40):
        name = f"layer{index}"
        fs = snapshotter.prepare(f"x{index}", parent)
        (fs / name).write_text(name)
        snapshotter.commit(name, f"x{index}")
        parent = name
    snapshotter.prepare("ctr", parent)
    (mount,) = snapshotter.mounts("ctr")
    assert len(",".join(mount.options)) > 4096
    target = tmp_path / "rootfs"
    target.mkdir()
    snapshotter.mount("ctr", target)
    try:
        assert sorted(os.listdir(target)) == sorted(f"layer{i}" for i in range(40))
    finally:
        snapshotter.unmount(target)


@pytest.mark.parametrize("key", ["", "../x", "a" * 129, "a:b", "a,b"])
def test_keys_are_validated(tmp_path: Path, key: str) -> None:
    snapshotter = OverlaySnapshotter(tmp_path)
    with pytest.raises(InvalidArgument, match="invalid snapshot key"):
        snapshotter.stat(key)
