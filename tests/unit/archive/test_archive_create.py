"""write_tar: deterministic bytes, round trips through apply_layer, overlay whiteout conversion."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from wharf.archive.create import write_tar
from wharf.archive.extract import WhiteoutMode, apply_layer
from wharf.errdefs import EngineFailure

CAPABILITY = bytes([1, 0, 0, 2, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])


def _build_tree(root: Path) -> None:
    (root / "etc/ssl").mkdir(parents=True)
    (root / "etc/hostname").write_text("box\n")
    (root / "etc/ssl/cert.pem").write_bytes(os.urandom(5000))
    os.chmod(root / "etc/ssl", 0o700)
    (root / "bin").mkdir()
    (root / "bin/ping").write_bytes(b"\x7fELF" + bytes(100))
    os.chmod(root / "bin/ping", 0o4755)
    os.chown(root / "bin/ping", 0, 12)
    os.setxattr(root / "bin/ping", "security.capability", CAPABILITY)
    os.setxattr(root / "etc", "user.note", "é".encode())
    os.setxattr(root / "etc", "trusted.overlay.origin", b"host-internal")
    os.link(root / "bin/ping", root / "bin/ping6")
    os.symlink("../etc/hostname", root / "bin/hostname-link")
    os.lchown(root / "bin/hostname-link", 7, 8)
    os.mkfifo(root / "fifo", 0o640)
    os.mknod(root / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    (root / os.fsdecode(b"caf\xe9-latin1")).write_text("not utf-8 name")
    (root / ("long-" + "x" * 150)).write_text("pax path")
    (root / "tmp").mkdir(mode=0o1777)
    os.chmod(root / "tmp", 0o1777)
    for path in [root / "bin/hostname-link", *root.rglob("*"), root]:
        os.utime(
            path, ns=(1_600_000_000_900_000_000, 1_600_000_000_900_000_000), follow_symlinks=False
        )


def _describe(root: Path) -> dict[str, tuple[object, ...]]:
    """Everything a layer must preserve, per path (mtimes in whole seconds)."""
    found: dict[str, tuple[object, ...]] = {}
    inodes: dict[int, str] = {}
    for path in sorted(root.rglob("*")):
        st = os.lstat(path)
        name = str(path.relative_to(root))
        link = os.readlink(path) if stat.S_ISLNK(st.st_mode) else None
        content = path.read_bytes() if stat.S_ISREG(st.st_mode) else None
        xattrs = {}
        if not stat.S_ISLNK(st.st_mode):
            xattrs = {k: os.getxattr(path, k) for k in sorted(os.listxattr(path))}
        group = inodes.setdefault(st.st_ino, name) if not stat.S_ISDIR(st.st_mode) else None
        found[name] = (
            st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns // 10**9, st.st_rdev,
            link, content, tuple(xattrs.items()), group,
        )  # fmt: skip
    return found


def _tar_bytes(root: Path, **kwargs: bool) -> tuple[bytes, str]:
    out = io.BytesIO()
    digest = write_tar(root, out, **kwargs)
    return out.getvalue(), str(digest)


def test_deterministic_and_digest_matches(tmp_path: Path) -> None:
    _build_tree(tmp_path / "a")
    first, digest = _tar_bytes(tmp_path / "a")
    second, _ = _tar_bytes(tmp_path / "a")
    assert first == second
    assert digest == "sha256:" + hashlib.sha256(first).hexdigest()


def test_round_trip_gives_identical_tree_and_bytes(tmp_path: Path) -> None:
    _build_tree(tmp_path / "a")
    data, digest = _tar_bytes(tmp_path / "a")
    applied = apply_layer(io.BytesIO(data), tmp_path / "b")
    assert str(applied.diff_id) == digest and applied.size == len(data)
    expected = _describe(tmp_path / "a")
    del expected["etc"]  # trusted.overlay.* is never archived
    assert {k: v for k, v in _describe(tmp_path / "b").items() if k != "etc"} == expected
    assert os.listxattr(tmp_path / "b/etc") == ["user.note"]
    assert _tar_bytes(tmp_path / "b")[0] == data


def test_entry_order_and_headers(tmp_path: Path) -> None:
    root = tmp_path / "r"
    for name in ["b", "a/x", "a.b", "A", "a/y/z"]:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(name)
    os.utime(root / "b", ns=(5, 1_000_000_999_999_999))
    os.chown(root / "b", 4242, 4343)
    data, _ = _tar_bytes(root)
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        members = archive.getmembers()
    assert [m.name for m in members] == ["A", "a", "a/x", "a/y", "a/y/z", "a.b", "b"]
    b = members[-1]
    assert (b.mtime, b.uid, b.gid, b.uname, b.gname) == (1_000_000, 4242, 4343, "", "")
    assert members[1].isdir() and not [m for m in members if "atime" in m.pax_headers]


def test_overlay_whiteouts_are_converted_and_come_first(tmp_path: Path) -> None:
    root = tmp_path / "upper"
    (root / "opq").mkdir(parents=True)
    (root / "opq/child").write_text("c")
    os.setxattr(root / "opq", "trusted.overlay.opaque", b"y")
    os.chmod(root / "opq", 0o750)
    (root / "a").write_text("a")
    os.mknod(root / "gone", stat.S_IFCHR | 0o600, os.makedev(0, 0))
    os.chown(root / "gone", 5, 6)
    os.mknod(root / "zdev", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    data, _ = _tar_bytes(root, overlay_whiteouts=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        members = {m.name: m for m in archive.getmembers()}
    assert list(members) == [".wh.gone", "a", "opq", "opq/.wh..wh..opq", "opq/child", "zdev"]
    whiteout = members[".wh.gone"]
    assert whiteout.isreg() and whiteout.size == 0 and whiteout.mode == 0o600
    assert (whiteout.uid, whiteout.gid) == (5, 6)
    assert members["opq/.wh..wh..opq"].mode == 0o750
    assert not any("overlay" in key for m in members.values() for key in m.pax_headers)
    assert members["zdev"].ischr()

    plain, _ = _tar_bytes(root)
    with tarfile.open(fileobj=io.BytesIO(plain)) as archive:
        names = archive.getnames()
    assert names == ["a", "gone", "opq", "opq/child", "zdev"]

    applied = tmp_path / "applied"
    apply_layer(io.BytesIO(data), applied, whiteouts=WhiteoutMode.OVERLAY)
    assert os.getxattr(applied / "opq", "trusted.overlay.opaque") == b"y"
    assert os.lstat(applied / "gone").st_rdev == 0
    assert _tar_bytes(applied, overlay_whiteouts=True)[0] == data


def test_sockets_are_skipped(tmp_path: Path) -> None:
    import socket

    root = tmp_path / "r"
    root.mkdir()
    (root / "f").write_text("f")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(root / "sock"))
        data, _ = _tar_bytes(root)
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        assert archive.getnames() == ["f"]


def test_deep_tree(tmp_path: Path) -> None:
    root = tmp_path / "r"
    path = root
    for _ in range(300):
        path = path / "d"
    path.mkdir(parents=True)
    (path / "leaf").write_text("leaf")
    data, _ = _tar_bytes(root)
    apply_layer(io.BytesIO(data), tmp_path / "out")
    assert (tmp_path / "out" / path.relative_to(root) / "leaf").read_text() == "leaf"


def test_missing_root_is_an_engine_failure(tmp_path: Path) -> None:
    with pytest.raises(EngineFailure, match="cannot archive"):
        write_tar(tmp_path / "missing", io.BytesIO())
