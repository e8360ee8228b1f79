"""Layers unpacked into overlay snapshots behave as the image spec says once mounted."""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from wharf.archive.create import write_tar
from wharf.archive.extract import WhiteoutMode, apply_layer
from wharf.oci.digest import Digest, chain_id
from wharf.snapshots.overlay import OverlaySnapshotter

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="overlay mounts need root")


def _tar(files: dict[str, bytes | None]) -> bytes:
    """name -> content; None makes a directory."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                archive.addfile(info)
            else:
                info.size, info.mode = len(data), 0o644
                archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


LOWER = _tar(
    {
        "etc": None,
        "etc/passwd": b"root",
        "etc/group": b"root",
        "var/cache/a": b"a",
        "var/cache/sub/b": b"b",
        "lib/x": b"x",
    }
)
UPPER = _tar(
    {
        "etc/.wh.passwd": b"",
        "var/cache/.wh..wh..opq": b"",
        "var/cache/new": b"new",
        ".wh.lib": b"",
        "etc/motd": b"hi",
    }
)


def _unpack(snapshotter: OverlaySnapshotter, layers: list[bytes]) -> str:
    diff_ids: list[Digest] = []
    parent = None
    for index, layer in enumerate(layers):
        key = f"extract-{index}"
        fs = snapshotter.prepare(key, parent)
        diff_ids.append(apply_layer(io.BytesIO(layer), fs).diff_id)
        parent = chain_id(diff_ids).hex
        snapshotter.commit(parent, key)
    assert parent is not None
    return parent


@contextmanager
def _container(
    snapshotter: OverlaySnapshotter, top: str, target: Path, upper: list[Path] | None = None
) -> Iterator[Path]:
    """Mount a new container snapshot "ctr" on ``target``; its upper dir goes in ``upper``."""
    fs = snapshotter.prepare("ctr", top)
    if upper is not None:
        upper.append(fs)
    target.mkdir()
    snapshotter.mount("ctr", target)
    try:
        yield target
    finally:
        snapshotter.unmount(target)


def _view(root: Path) -> dict[str, bytes | None]:
    return {
        str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(root.rglob("*"))
    }


def test_whiteouts_and_opaque_dirs_hide_lower_files(tmp_path: Path) -> None:
    snapshotter = OverlaySnapshotter(tmp_path / "snapshots")
    top = _unpack(snapshotter, [LOWER, UPPER])
    with _container(snapshotter, top, tmp_path / "rootfs") as rootfs:
        assert sorted(os.listdir(rootfs)) == ["etc", "var"]
        assert sorted(os.listdir(rootfs / "etc")) == ["group", "motd"]
        assert os.listdir(rootfs / "var/cache") == ["new"]
        assert not (rootfs / "etc/passwd").exists()


def test_delete_mode_flattening_matches_the_overlay_view(tmp_path: Path) -> None:
    flat = tmp_path / "flat"
    for layer in (LOWER, UPPER):
        apply_layer(io.BytesIO(layer), flat, whiteouts=WhiteoutMode.DELETE)
    snapshotter = OverlaySnapshotter(tmp_path / "snapshots")
    top = _unpack(snapshotter, [LOWER, UPPER])
    with _container(snapshotter, top, tmp_path / "rootfs") as rootfs:
        assert _view(rootfs) == _view(flat)


def test_container_changes_round_trip_as_a_layer(tmp_path: Path) -> None:
    """Container writes -> upper dir -> write_tar -> new layer: same view on top of the base."""
    snapshotter = OverlaySnapshotter(tmp_path / "snapshots")
    base = _unpack(snapshotter, [LOWER])
    uppers: list[Path] = []
    with _container(snapshotter, base, tmp_path / "rootfs", uppers) as rootfs:
        (rootfs / "etc/passwd").unlink()
        for path in sorted((rootfs / "var/cache").rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
        (rootfs / "var/cache").rmdir()
        (rootfs / "var/cache").mkdir()  # overlayfs marks the new directory opaque
        (rootfs / "var/cache/fresh").write_bytes(b"fresh")
        (rootfs / "etc/group").write_bytes(b"changed")
        expected = _view(rootfs)
    diff = io.BytesIO()
    write_tar(uppers[0], diff, overlay_whiteouts=True)
    with tarfile.open(fileobj=io.BytesIO(diff.getvalue())) as archive:
        names = archive.getnames()
    assert "etc/.wh.passwd" in names and "var/cache/.wh..wh..opq" in names
    snapshotter.remove("ctr")

    fs = snapshotter.prepare("extract-diff", base)
    apply_layer(io.BytesIO(diff.getvalue()), fs)
    snapshotter.commit("with-diff", "extract-diff")
    with _container(snapshotter, "with-diff", tmp_path / "rootfs2") as rootfs:
        assert _view(rootfs) == expected
