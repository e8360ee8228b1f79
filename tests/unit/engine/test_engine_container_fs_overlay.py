"""container_fs on a real overlay mount (two lower layers + upper): ``docker diff`` from the
upper dir, ``commit`` layer tars with whiteouts, and ``cp`` both ways through the merged dir
with symlinks planted to escape it."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import stat
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from wharf.engine.container_fs import (
    ChangeKind,
    archive_path,
    changes,
    commit_diff,
    export_rootfs,
    extract_to,
)
from wharf.errdefs import WharfError
from wharf.snapshots.mount import mount, unmount

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="overlay mounts need root")


@dataclass
class Overlay:
    top: Path  # lower layer 1 (upper of the two image layers)
    bottom: Path  # lower layer 2 (base)
    upper: Path
    merged: Path
    host: Path  # a decoy tree outside the container

    @property
    def lowers(self) -> list[Path]:
        return [self.top, self.bottom]


def _whiteout(path: Path) -> None:
    os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(0, 0))


@pytest.fixture
def overlay(tmp_path: Path) -> Iterator[Overlay]:
    bottom, top = tmp_path / "bottom", tmp_path / "top"
    for name, text in {
        "etc/passwd": "root:x:0:0\n",
        "etc/group": "root:x:0:\n",
        "usr/bin/a": "a",
        "usr/share/doc/x": "x",
        "usr/share/doc/z": "z",
        "var/log/old.log": "old",
        "opt/keep": "keep",
        "srv/site": "site",
    }.items():
        (bottom / name).parent.mkdir(parents=True, exist_ok=True)
        (bottom / name).write_text(text)
    (top / "etc").mkdir(parents=True)
    (top / "etc" / "hostname").write_text("image\n")
    (top / "usr" / "bin").mkdir(parents=True)
    (top / "usr" / "bin" / "b").write_text("b")
    (top / "var" / "log").mkdir(parents=True)
    _whiteout(top / "var" / "log" / "old.log")  # the top layer deleted it
    # Directories copied up keep the lower mode; make it explicit for the metadata checks.
    for layer in (bottom, top):
        for directory in [layer, *[p for p in layer.rglob("*") if p.is_dir()]]:
            os.chmod(directory, 0o755)
    upper, work, merged = tmp_path / "upper", tmp_path / "work", tmp_path / "merged"
    for path in (upper, work, merged):
        path.mkdir()
    host = tmp_path / "host"
    (host / "etc").mkdir(parents=True)
    (host / "etc" / "passwd").write_text("HOST SECRET\n")
    mount(
        "overlay",
        merged,
        "overlay",
        options=f"index=off,lowerdir={top}:{bottom},upperdir={upper},workdir={work}",
    )
    try:
        yield Overlay(top, bottom, upper, merged, host)
    finally:
        with contextlib.suppress(WharfError):
            unmount(merged, detach=True)
    assert not os.path.ismount(merged)


def diff(ov: Overlay, **options: object) -> list[str]:
    found = changes(ov.upper, ov.lowers, **options)  # type: ignore[arg-type]
    return [f"{change.kind.letter} {change.path}" for change in found]


def test_no_changes(overlay: Overlay) -> None:
    assert diff(overlay) == []


def test_changes_like_docker_diff(overlay: Overlay) -> None:
    m = overlay.merged
    with open(m / "etc" / "passwd", "a") as handle:
        handle.write("user:x:1000:1000\n")
    (m / "etc" / "new").write_text("new")
    (m / "usr" / "bin" / "a").unlink()
    shutil.rmtree(m / "usr" / "share" / "doc")
    (m / "usr" / "share" / "doc").mkdir()
    (m / "usr" / "share" / "doc" / "y").write_text("y")
    (m / "usr" / "share" / "doc" / "z").write_text("z again")
    (m / "var" / "log" / "old.log").write_text("recreated")
    os.chmod(m / "opt", 0o700)
    (m / "home" / "me").mkdir(parents=True)
    (m / "home" / "me" / "f").write_text("f")
    assert diff(overlay) == [
        "C /etc",
        "A /etc/new",
        "C /etc/passwd",
        "A /home",
        "A /home/me",
        "A /home/me/f",
        "C /opt",
        "C /usr",
        "C /usr/bin",
        "D /usr/bin/a",
        "C /usr/share",
        "C /usr/share/doc",
        "D /usr/share/doc/x",
        "A /usr/share/doc/y",
        "C /usr/share/doc/z",
        "C /var",
        "C /var/log",
        "A /var/log/old.log",
    ]


def test_changes_ignore_paths_and_directories_copied_up_only_for_them(overlay: Overlay) -> None:
    (overlay.merged / "srv" / "mountpoint").write_text("")
    (overlay.merged / "etc" / "resolv.conf").write_text("")
    (overlay.merged / "etc" / "hostname").write_text("changed\n")
    ignore = {"/srv/mountpoint", "/etc/resolv.conf"}
    assert diff(overlay, ignore=ignore) == ["C /etc", "C /etc/hostname"]
    assert "A /srv/mountpoint" in diff(overlay)


def test_change_kinds_are_dockers_numbers(overlay: Overlay) -> None:
    (overlay.merged / "usr" / "bin" / "b").unlink()
    found = changes(overlay.upper, overlay.lowers)
    assert [c.to_wire() for c in found] == [
        {"Path": "/usr", "Kind": 0},
        {"Path": "/usr/bin", "Kind": 0},
        {"Path": "/usr/bin/b", "Kind": 2},
    ]
    assert [k.value for k in ChangeKind] == [0, 1, 2]


def test_commit_diff_writes_whiteouts(overlay: Overlay) -> None:
    m = overlay.merged
    (m / "usr" / "bin" / "a").unlink()
    shutil.rmtree(m / "usr" / "share" / "doc")
    (m / "usr" / "share" / "doc").mkdir()
    (m / "usr" / "share" / "doc" / "y").write_text("y")
    (m / "etc" / "new").write_text("new")
    out = io.BytesIO()
    digest = commit_diff(overlay.upper, out)
    assert digest.hex == hashlib.sha256(out.getvalue()).hexdigest()
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as archive:
        names = archive.getnames()
    assert "usr/bin/.wh.a" in names
    assert "usr/share/doc/.wh..wh..opq" in names
    assert "usr/share/doc/y" in names and "etc/new" in names
    assert not any(n.endswith("/x") for n in names)


def test_cp_out_through_merged_dir_never_reads_the_host(overlay: Overlay) -> None:
    (overlay.merged / "evil").symlink_to(str(overlay.host / "etc"))
    (overlay.merged / "tmp").mkdir()
    (overlay.merged / "tmp" / "up").symlink_to("../../../../../../../../..")
    out = io.BytesIO()
    with pytest.raises(WharfError, match="Could not find the file /evil/"):
        archive_path(overlay.merged, "/evil/", out)  # the host path does not exist inside
    out = io.BytesIO()
    archive_path(overlay.merged, "/tmp/up/etc/passwd", out)
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as archive:
        handle = archive.extractfile("passwd")
        assert handle is not None
        assert handle.read() == b"root:x:0:0\n"


def _one_file_tar(name: str, data: bytes) -> io.BytesIO:
    payload = io.BytesIO()
    with tarfile.open(fileobj=payload, mode="w") as archive:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return io.BytesIO(payload.getvalue())


def test_cp_in_through_planted_symlinks_writes_nothing_outside(overlay: Overlay) -> None:
    (overlay.merged / "tmp").mkdir()
    (overlay.merged / "tmp" / "evil").symlink_to(str(overlay.host / "etc"))
    host_before = sorted(p.name for p in (overlay.host / "etc").iterdir())
    # The link's target does not exist inside the container: not a destination.
    with pytest.raises(WharfError, match="Could not find the file /tmp/evil in container"):
        extract_to(overlay.merged, "/tmp/evil", _one_file_tar("passwd", b"pwned"))
    # Through the link as a parent: the missing directories are made inside the rootfs.
    extract_to(overlay.merged, "/tmp", _one_file_tar("evil/passwd", b"pwned"))
    extract_to(overlay.merged, "/tmp/evil", _one_file_tar("shadow", b"pwned too"))
    assert sorted(p.name for p in (overlay.host / "etc").iterdir()) == host_before
    assert (overlay.host / "etc" / "passwd").read_text() == "HOST SECRET\n"
    inside = Path(str(overlay.host).lstrip("/")) / "etc"
    assert (overlay.merged / inside / "passwd").read_text() == "pwned"
    assert (overlay.upper / inside / "shadow").read_text() == "pwned too"  # the container's layer
    assert f"A /{inside}/passwd" in diff(overlay)


def test_cp_round_trip_and_export_on_merged(overlay: Overlay) -> None:
    out = io.BytesIO()
    archive_path(overlay.merged, "/usr", out)
    (overlay.merged / "copy").mkdir()
    extract_to(overlay.merged, "/copy", io.BytesIO(out.getvalue()))
    assert (overlay.merged / "copy" / "usr" / "bin" / "b").read_text() == "b"
    assert (overlay.merged / "copy" / "usr" / "share" / "doc" / "x").read_text() == "x"
    exported = io.BytesIO()
    export_rootfs(overlay.merged, exported, exclude={"/proc"})
    with tarfile.open(fileobj=io.BytesIO(exported.getvalue())) as archive:
        names = set(archive.getnames())
    assert {"etc/hostname", "etc/passwd", "usr/bin/a", "copy/usr/bin/b"} <= names
    assert "var/log/old.log" not in names  # deleted by the top layer's whiteout
