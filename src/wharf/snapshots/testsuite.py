"""Conformance checks every Snapshotter backend must pass (containerd's snapshots/testsuite).

Imports: stdlib, ``wharf.errdefs``, ``wharf.snapshots.snapshotter``. No pytest: a backend's
test module parametrises over ``CHECKS``::

    @pytest.mark.parametrize("check", testsuite.CHECKS, ids=lambda c: c.__name__)
    def test_conformance(check, tmp_path):
        check(OverlaySnapshotter, tmp_path)

Each check gets a factory (root directory -> snapshotter) and an empty scratch directory; it
keeps everything it creates inside that directory and unmounts whatever it mounts. Checks
that mount need root and a kernel with overlayfs.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from wharf.errdefs import Conflict, InvalidArgument, NotFound, WharfError
from wharf.snapshots.snapshotter import SnapshotKind, Snapshotter

SnapshotterFactory = Callable[[Path], Snapshotter]
Check = Callable[[SnapshotterFactory, Path], None]


def _expect(error: type[WharfError], action: Callable[[], object]) -> WharfError:
    try:
        action()
    except error as exc:
        return exc
    raise AssertionError(f"expected {error.__name__}")


def _layer(snapshotter: Snapshotter, name: str, parent: str | None, files: dict[str, str]) -> str:
    """Commit a snapshot holding ``files`` (relative path -> text) under ``name``."""
    fs = snapshotter.prepare(f"extract-{name}", parent)
    for relative, text in files.items():
        path = fs / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    snapshotter.commit(name, f"extract-{name}")
    return name


@contextmanager
def _mounted(snapshotter: Snapshotter, key: str, target: Path) -> Iterator[Path]:
    target.mkdir(parents=True, exist_ok=True)
    snapshotter.mount(key, target)
    try:
        yield target
    finally:
        snapshotter.unmount(target)


def check_prepare_gives_empty_active_dir(make: SnapshotterFactory, tmp: Path) -> None:
    snapshotter = make(tmp / "root")
    fs = snapshotter.prepare("c1", None)
    assert fs.is_dir() and list(fs.iterdir()) == []
    info = snapshotter.stat("c1")
    assert (info.key, info.parent, info.kind) == ("c1", None, SnapshotKind.ACTIVE)
    assert snapshotter.exists("c1") and not snapshotter.exists("c2")


def check_commit_replaces_active(make: SnapshotterFactory, tmp: Path) -> None:
    snapshotter = make(tmp / "root")
    base = _layer(snapshotter, "base", None, {"etc/os-release": "base"})
    fs = snapshotter.prepare("work", base)
    (fs / "new").write_text("new")
    snapshotter.commit("top", "work")
    assert not snapshotter.exists("work")
    info = snapshotter.stat("top")
    assert (info.parent, info.kind) == ("base", SnapshotKind.COMMITTED)
    assert info.size is not None and info.size > 0
    with _mounted(snapshotter, "top", tmp / "view") as view:
        assert (view / "new").read_text() == "new"
        assert (view / "etc/os-release").read_text() == "base"
        try:
            (view / "other").write_text("x")
        except OSError as exc:
            assert exc.errno == errno.EROFS
        else:
            raise AssertionError("a committed snapshot mounted writable")


def check_prepare_errors(make: SnapshotterFactory, tmp: Path) -> None:
    snapshotter = make(tmp / "root")
    snapshotter.prepare("c1", None)
    _expect(Conflict, lambda: snapshotter.prepare("c1", None))
    _expect(NotFound, lambda: snapshotter.prepare("c2", "missing"))
    _expect(Conflict, lambda: snapshotter.prepare("c3", "c1"))  # parent must be committed
    for bad in ("", "a/b", "..x/", "x" * 129, "sp ace", "é"):

        def prepare_bad(key: str = bad) -> object:
            return snapshotter.prepare(key, None)

        _expect(InvalidArgument, prepare_bad)
    assert [info.key for info in snapshotter.walk()] == ["c1"]


def check_commit_errors(make: SnapshotterFactory, tmp: Path) -> None:
    snapshotter = make(tmp / "root")
    _expect(NotFound, lambda: snapshotter.commit("name", "missing"))
    _layer(snapshotter, "l1", None, {"a": "1"})
    _expect(Conflict, lambda: snapshotter.commit("l2", "l1"))  # not active
    snapshotter.prepare("work", "l1")
    _expect(Conflict, lambda: snapshotter.commit("l1", "work"))  # name taken
    assert snapshotter.stat("work").kind is SnapshotKind.ACTIVE


def check_remove(make: SnapshotterFactory, tmp: Path) -> None:
    snapshotter = make(tmp / "root")
    _expect(NotFound, lambda: snapshotter.remove("missing"))
    _layer(snapshotter, "base", None, {"a": "1"})
    _layer(snapshotter, "mid", "base", {"b": "2"})
    snapshotter.prepare("container", "mid")
    _expect(Conflict, lambda: snapshotter.remove("base"))
    _expect(Conflict, lambda: snapshotter.remove("mid"))
    snapshotter.remove("container")
    snapshotter.remove("mid")
    snapshotter.remove("base")
    assert snapshotter.walk() == []
    assert not snapshotter.exists("base")
    _expect(NotFound, lambda: snapshotter.stat("base"))


def check_walk_and_reopen(make: SnapshotterFactory, tmp: Path) -> None:
    snapshotter = make(tmp / "root")
    _layer(snapshotter, "l2", None, {"a": "1"})
    _layer(snapshotter, "l1", "l2", {"b": "2"})
    snapshotter.prepare("c", "l1")
    for view in (snapshotter, make(tmp / "root")):
        listed = [(i.key, i.parent, i.kind) for i in view.walk()]
        assert listed == [
            ("c", "l1", SnapshotKind.ACTIVE),
            ("l1", "l2", SnapshotKind.COMMITTED),
            ("l2", None, SnapshotKind.COMMITTED),
        ]


def check_mount_stack(make: SnapshotterFactory, tmp: Path) -> None:
    snapshotter = make(tmp / "root")
    _layer(snapshotter, "base", None, {"a": "base", "b": "base", "dir/x": "base"})
    _layer(snapshotter, "mid", "base", {"b": "mid", "c": "mid"})
    upper = snapshotter.prepare("container", "mid")
    with _mounted(snapshotter, "container", tmp / "rootfs") as rootfs:
        assert {p.name for p in rootfs.iterdir()} == {"a", "b", "c", "dir"}
        assert [(rootfs / n).read_text() for n in "abc"] == ["base", "mid", "mid"]
        (rootfs / "a").write_text("container")
        (rootfs / "dir/x").unlink()
    assert (upper / "a").read_text() == "container"
    with _mounted(snapshotter, "base", tmp / "base") as base:
        assert (base / "a").read_text() == "base" and (base / "dir/x").exists()
    with _mounted(snapshotter, "container", tmp / "again") as rootfs:
        assert not (rootfs / "dir/x").exists() and (rootfs / "a").read_text() == "container"


def check_mount_without_parent(make: SnapshotterFactory, tmp: Path) -> None:
    snapshotter = make(tmp / "root")
    fs = snapshotter.prepare("scratch", None)
    with _mounted(snapshotter, "scratch", tmp / "rootfs") as rootfs:
        (rootfs / "hello").write_text("hi")
    assert (fs / "hello").read_text() == "hi"
    assert not (tmp / "rootfs/hello").exists()


def check_deep_stack(make: SnapshotterFactory, tmp: Path) -> None:
    """120 layers: absolute lowerdir paths overflow a page; the backend must cope."""
    snapshotter = make(tmp / "root")
    parent: str | None = None
    for index in range(120):
        files = {f"f{index}": str(index), "shared": str(index)}
        parent = _layer(snapshotter, f"layer-{index:03d}", parent, files)
    snapshotter.prepare("container", parent)
    with _mounted(snapshotter, "container", tmp / "rootfs") as rootfs:
        names = set(os.listdir(rootfs))
        assert names == {f"f{i}" for i in range(120)} | {"shared"}
        assert (rootfs / "f0").read_text() == "0"
        assert (rootfs / "shared").read_text() == "119"


def check_usage(make: SnapshotterFactory, tmp: Path) -> None:
    snapshotter = make(tmp / "root")
    fs = snapshotter.prepare("work", None)
    before = snapshotter.usage("work")
    (fs / "big").write_bytes(os.urandom(1 << 20))
    os.link(fs / "big", fs / "big-link")
    grown = snapshotter.usage("work") - before
    assert (1 << 20) <= grown < (2 << 20)
    snapshotter.commit("layer", "work")
    info = snapshotter.stat("layer")
    assert info.size is not None and (1 << 20) <= info.size < (2 << 20)
    assert snapshotter.usage("layer") == info.size


def check_cleanup_keeps_snapshots(make: SnapshotterFactory, tmp: Path) -> None:
    snapshotter = make(tmp / "root")
    _layer(snapshotter, "base", None, {"a": "1"})
    snapshotter.prepare("c", "base")
    before = snapshotter.walk()
    fresh = make(tmp / "root")
    fresh.cleanup()
    assert fresh.walk() == before
    with _mounted(fresh, "c", tmp / "rootfs") as rootfs:
        assert (rootfs / "a").read_text() == "1"


def check_unmount_errors(make: SnapshotterFactory, tmp: Path) -> None:
    snapshotter = make(tmp / "root")
    (tmp / "empty").mkdir()
    _expect(NotFound, lambda: snapshotter.unmount(tmp / "empty"))


CHECKS: tuple[Check, ...] = (
    check_prepare_gives_empty_active_dir,
    check_commit_replaces_active,
    check_prepare_errors,
    check_commit_errors,
    check_remove,
    check_walk_and_reopen,
    check_mount_stack,
    check_mount_without_parent,
    check_deep_stack,
    check_usage,
    check_cleanup_keeps_snapshots,
    check_unmount_errors,
)
