"""COPY/ADD destination rules, ownership and modes, archives, and hostile symlinks."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import stat
import tarfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from wharf.builder.context.copy import copy_sources, is_archive, normalize_dest, write_heredoc_file
from wharf.builder.context.sources import Source, resolve_sources
from wharf.errdefs import InvalidArgument

MTIME = 1_600_000_000


@pytest.fixture
def ctx(tmp_path: Path) -> Path:
    root = tmp_path / "ctx"
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "a.txt").write_text("A")
    (root / "b.txt").write_text("B")
    (root / "tool").write_text("#!/bin/sh\n")
    (root / "tool").chmod(0o4755)
    (root / "src" / "main.py").write_text("main")
    (root / "src" / "pkg" / "mod.py").write_text("mod")
    (root / "src" / "rel-link").symlink_to("main.py")
    (root / "src" / "abs-link").symlink_to("/etc/passwd")
    os.link(root / "src" / "main.py", root / "src" / "hard.py")
    (root / "link-to-a").symlink_to("a.txt")
    os.mkfifo(root / "src" / "pipe", 0o640)
    os.setxattr(root / "src" / "main.py", "user.origin", b"context")
    for path in [
        root / "a.txt",
        root / "src" / "pkg" / "mod.py",
        root / "src" / "pkg",
        root / "src",
    ]:
        os.utime(path, (MTIME, MTIME))
    (root / "src" / "pkg").chmod(0o750)
    return root


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("root:x:0:0\n")
    (root / "work").mkdir()
    (root / "app-link").symlink_to("/etc")
    return root


def copy(
    ctx: Path,
    rootfs: Path,
    patterns: Sequence[str],
    dest: str,
    *,
    workdir: str = "/",
    owner: tuple[int, int] | None = None,
    chmod: int | None = None,
    hint: bool = False,
    add: bool = False,
) -> list[str]:
    sources = resolve_sources(ctx, patterns)
    return copy_sources(
        sources,
        rootfs,
        dest,
        workdir=workdir,
        owner=owner,
        chmod=chmod,
        dest_is_dir_hint=hint,
        expand_archives=add,
    )


def owner_of(path: Path) -> tuple[int, int]:
    st = os.lstat(path)
    return st.st_uid, st.st_gid


def mode_of(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


# -- destination rules -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("patterns", "dest", "workdir", "expected"),
    [
        (["a.txt"], "/dest.txt", "/", "dest.txt"),  # file -> file
        (["a.txt"], "/new/dir/", "/", "new/dir/a.txt"),  # file -> dir/
        (["a.txt"], "/etc", "/", "etc/a.txt"),  # file -> existing dir
        (["a.txt"], "/app-link", "/", "etc/a.txt"),  # ... through an image symlink
        (["a.txt"], "rel.txt", "/work", "work/rel.txt"),  # relative to WORKDIR
        (["a.txt"], ".", "/work", "work/a.txt"),
        (["a.txt"], "./", "/new", "new/a.txt"),
        (["a.txt", "b.txt"], "/multi/", "/", "multi/b.txt"),
        (["*.txt"], "/many/", "/", "many/a.txt"),
        (["link-to-a"], "/d/", "/", "d/link-to-a"),  # a symlink source is followed
    ],
)
def test_destination_table(
    ctx: Path, rootfs: Path, patterns: list[str], dest: str, workdir: str, expected: str
) -> None:
    copy(ctx, rootfs, patterns, dest, workdir=workdir)
    target = rootfs / expected
    assert target.is_file() and not target.is_symlink()
    assert target.read_text() in ("A", "B")


def test_file_to_file_keeps_mode_and_mtime_and_is_root_owned(ctx: Path, rootfs: Path) -> None:
    written = copy(ctx, rootfs, ["a.txt"], "/opt/deep/a-copy")
    target = rootfs / "opt" / "deep" / "a-copy"
    assert written == ["/opt", "/opt/deep", "/opt/deep/a-copy"]
    assert target.read_text() == "A"
    assert target.stat().st_mtime == MTIME
    assert mode_of(target) == mode_of(ctx / "a.txt")
    assert owner_of(target) == (0, 0)
    assert mode_of(rootfs / "opt") == 0o755


def test_existing_file_is_overwritten(ctx: Path, rootfs: Path) -> None:
    copy(ctx, rootfs, ["a.txt"], "/etc/passwd")
    assert (rootfs / "etc" / "passwd").read_text() == "A"


def test_directory_copies_its_contents(ctx: Path, rootfs: Path) -> None:
    written = copy(ctx, rootfs, ["src"], "/app")
    app = rootfs / "app"
    assert not (app / "src").exists()
    assert (app / "main.py").read_text() == "main"
    assert (app / "pkg" / "mod.py").read_text() == "mod"
    assert mode_of(app / "pkg") == 0o750
    assert (app / "pkg").stat().st_mtime == MTIME
    assert mode_of(app) == 0o755  # a created destination: 0755, as the classic builder
    assert stat.S_ISFIFO(os.lstat(app / "pipe").st_mode)
    assert mode_of(app / "pipe") == 0o640
    assert os.getxattr(app / "main.py", "user.origin") == b"context"
    assert os.readlink(app / "rel-link") == "main.py"
    assert os.readlink(app / "abs-link") == "/etc/passwd"  # copied, never followed
    assert (app / "hard.py").stat().st_ino == (app / "main.py").stat().st_ino
    assert written[0] == "/app"
    assert set(written) >= {"/app/main.py", "/app/pkg", "/app/pkg/mod.py", "/app/rel-link"}


def test_directory_merges_into_an_existing_directory(ctx: Path, rootfs: Path) -> None:
    (rootfs / "work" / "main.py").write_text("old")
    (rootfs / "work" / "keep").write_text("keep")
    (rootfs / "work").chmod(0o700)
    copy(ctx, rootfs, ["src/"], "/work/")
    assert (rootfs / "work" / "main.py").read_text() == "main"
    assert (rootfs / "work" / "keep").read_text() == "keep"
    assert mode_of(rootfs / "work") == 0o700  # the existing destination keeps its metadata


def test_several_sources_need_a_directory(ctx: Path, rootfs: Path) -> None:
    with pytest.raises(InvalidArgument) as info:
        copy(ctx, rootfs, ["a.txt", "b.txt"], "/nodir")
    assert str(info.value) == (
        "When using COPY with more than one source file, the destination must be a "
        "directory and end with a /"
    )
    with pytest.raises(InvalidArgument, match="When using ADD"):
        copy(ctx, rootfs, ["*.txt"], "/nodir", add=True)
    assert not (rootfs / "nodir").exists()
    copy(ctx, rootfs, ["a.txt", "b.txt"], "/etc")  # an existing directory is accepted
    assert (rootfs / "etc" / "b.txt").read_text() == "B"


def test_wildcard_hint_makes_the_destination_a_directory(ctx: Path, rootfs: Path) -> None:
    copy(ctx, rootfs, ["a*.txt"], "/wild", hint=True)
    assert (rootfs / "wild" / "a.txt").read_text() == "A"
    copy(ctx, rootfs, ["a*.txt"], "/single")
    assert (rootfs / "single").read_text() == "A"


def test_directory_over_file_is_refused(ctx: Path, rootfs: Path) -> None:
    with pytest.raises(InvalidArgument, match=r"^cannot copy to non-directory: /etc/passwd$"):
        copy(ctx, rootfs, ["src"], "/etc/passwd")
    (rootfs / "app" / "pkg").mkdir(parents=True)
    (rootfs / "app" / "pkg").rmdir()
    (rootfs / "app" / "pkg").write_text("file where a directory goes")
    with pytest.raises(InvalidArgument, match=r"cannot copy to non-directory: /app/pkg"):
        copy(ctx, rootfs, ["src"], "/app")


def test_file_over_directory_is_refused(ctx: Path, rootfs: Path) -> None:
    (rootfs / "app" / "main.py").mkdir(parents=True)
    with pytest.raises(
        InvalidArgument, match=r"cannot replace to directory /app/main.py with file"
    ):
        copy(ctx, rootfs, ["src"], "/app")
    (rootfs / "d" / "a.txt").mkdir(parents=True)
    with pytest.raises(InvalidArgument, match=r"cannot replace to directory /d/a.txt with file"):
        copy(ctx, rootfs, ["a.txt"], "/d/")


def test_file_into_a_path_under_a_file_is_refused(ctx: Path, rootfs: Path) -> None:
    with pytest.raises(InvalidArgument, match=r"mkdir /etc/passwd: not a directory"):
        copy(ctx, rootfs, ["a.txt"], "/etc/passwd/x")


# -- ownership and modes ---------------------------------------------------------------------


def test_chown_applies_to_everything_written(ctx: Path, rootfs: Path) -> None:
    written = copy(ctx, rootfs, ["src", "tool"], "/opt/app/", owner=(1000, 1001))
    for container_path in written:
        assert owner_of(rootfs / container_path.lstrip("/")) == (1000, 1001), container_path
    assert "/opt" in written and "/opt/app/rel-link" in written
    assert owner_of(rootfs / "etc") == (0, 0)  # untouched
    assert mode_of(rootfs / "opt" / "app" / "tool") == 0o4755  # setuid survives the chown


def test_chmod_applies_to_files_and_directories(ctx: Path, rootfs: Path) -> None:
    copy(ctx, rootfs, ["src"], "/app", chmod=0o640)
    app = rootfs / "app"
    assert mode_of(app / "main.py") == 0o640
    assert mode_of(app / "pkg") == 0o640
    assert mode_of(app) == 0o640
    assert stat.S_ISLNK(os.lstat(app / "rel-link").st_mode)


def test_heredoc_files(rootfs: Path) -> None:
    assert (
        write_heredoc_file(rootfs, "/etc/motd", b"hello\n", workdir="/", owner=None, chmod=None)
        == "/etc/motd"
    )
    assert (rootfs / "etc" / "motd").read_bytes() == b"hello\n"
    assert mode_of(rootfs / "etc" / "motd") == 0o644
    assert owner_of(rootfs / "etc" / "motd") == (0, 0)
    path = write_heredoc_file(
        rootfs, "scripts/", b"#!/bin/sh\n", workdir="/work", owner=(5, 6), chmod=0o755, name="RUNME"
    )
    assert path == "/work/scripts/RUNME"
    assert mode_of(rootfs / "work" / "scripts" / "RUNME") == 0o755
    assert owner_of(rootfs / "work" / "scripts" / "RUNME") == (5, 6)
    assert owner_of(rootfs / "work" / "scripts") == (5, 6)
    assert (
        write_heredoc_file(rootfs, "/etc", b"x", workdir="/", owner=None, chmod=None) == "/etc/EOF"
    )


@pytest.mark.parametrize(
    ("dest", "workdir", "expected"),
    [
        ("/a/b", "/w", ("/a/b", False)),
        ("/a/b/", "/w", ("/a/b", True)),
        ("x", "/w", ("/w/x", False)),
        ("x/", "/w", ("/w/x", True)),
        (".", "/w", ("/w", True)),
        ("..", "/w/v", ("/w", True)),
        ("x/.", "", ("/x", True)),
        ("../../..", "/w", ("/", True)),
    ],
)
def test_normalize_dest(dest: str, workdir: str, expected: tuple[str, bool]) -> None:
    assert normalize_dest(dest, workdir) == expected


# -- hostile symlinks ------------------------------------------------------------------------


def test_image_symlinks_are_followed_inside_the_rootfs(
    ctx: Path, rootfs: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "host"
    outside.mkdir()
    (outside / "victim").write_text("safe")
    (rootfs / "abs-escape").symlink_to(outside)
    (rootfs / "rel-escape").symlink_to("../../../../../..")
    (rootfs / "file-escape").symlink_to(outside / "victim")

    copy(ctx, rootfs, ["a.txt"], "/abs-escape/")
    copy(ctx, rootfs, ["src"], "/rel-escape/host")
    copy(ctx, rootfs, ["b.txt"], "/file-escape")
    copy(ctx, rootfs, ["src"], "/app-link/sub")

    assert sorted(p.name for p in outside.iterdir()) == ["victim"]
    assert (outside / "victim").read_text() == "safe"
    inside = rootfs / str(outside).lstrip("/")
    assert (inside / "a.txt").read_text() == "A"
    assert (inside / "victim").read_text() == "B"
    assert (rootfs / "host" / "main.py").read_text() == "main"
    assert (rootfs / "etc" / "sub" / "main.py").read_text() == "main"


def test_context_symlinks_cannot_be_used_to_write_outside(tmp_path: Path, rootfs: Path) -> None:
    outside = tmp_path / "host"
    outside.mkdir()
    first = tmp_path / "first"
    first.mkdir()
    (first / "x").symlink_to(outside)  # the copied link points at the host directory
    second = tmp_path / "second"
    (second / "x").mkdir(parents=True)
    (second / "x" / "planted").write_text("p")
    sources = [Source("first", first, True), Source("second", second, True)]

    def run() -> None:
        copy_sources(
            sources, rootfs, "/dst/", workdir="/", owner=None, chmod=None, dest_is_dir_hint=False
        )

    # <rootfs>/<outside> does not exist, so the link leads nowhere a directory could merge.
    with pytest.raises(InvalidArgument, match="cannot copy to non-directory: /dst/x"):
        run()
    assert os.readlink(rootfs / "dst" / "x") == str(outside)
    inside = rootfs / str(outside).lstrip("/")
    inside.mkdir(parents=True)
    run()
    assert list(outside.iterdir()) == []
    # The second source merged through the link as a chroot'ed copy would: inside the rootfs.
    assert (inside / "planted").read_text() == "p"


def test_symlink_in_the_way_of_a_directory_to_a_file_is_refused(ctx: Path, rootfs: Path) -> None:
    (rootfs / "app").mkdir()
    (rootfs / "app" / "pkg").symlink_to("/etc/passwd")
    with pytest.raises(InvalidArgument, match="cannot copy to non-directory: /app/pkg"):
        copy(ctx, rootfs, ["src"], "/app")
    assert (rootfs / "etc" / "passwd").read_text() == "root:x:0:0\n"


# -- ADD archives ----------------------------------------------------------------------------


def _tar(*entries: tuple[str, bytes | None, dict[str, object]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, data, attrs in entries:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
            else:
                info.size = len(data)
                info.mode = 0o644
            for key, value in attrs.items():
                setattr(info, key, value)
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


ARCHIVE = _tar(
    ("pkg/", None, {"uid": 1234, "gid": 4321}),
    ("pkg/data.txt", b"data", {"uid": 1234, "gid": 4321, "mtime": MTIME}),
    ("pkg/up", None, {"type": tarfile.SYMTYPE, "linkname": "/"}),
    ("pkg/up/etc/through-link", b"t", {}),
)

COMPRESSORS = {
    "plain": lambda d: d,
    "gzip": gzip.compress,
    "bzip2": bz2.compress,
    "xz": lzma.compress,
}


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_add_unpacks_local_archives_by_content(ctx: Path, rootfs: Path, kind: str) -> None:
    (ctx / "bundle.bin").write_bytes(COMPRESSORS[kind](ARCHIVE))
    assert is_archive(ctx / "bundle.bin")
    written = copy(ctx, rootfs, ["bundle.bin"], "/opt", add=True)
    assert (rootfs / "opt" / "pkg" / "data.txt").read_bytes() == b"data"
    assert owner_of(rootfs / "opt" / "pkg" / "data.txt") == (1234, 4321)  # the archive's own
    assert (rootfs / "opt" / "pkg" / "data.txt").stat().st_mtime == MTIME
    # The archive's "/" symlink is the destination directory, as under chroot.
    assert (rootfs / "opt" / "etc" / "through-link").read_bytes() == b"t"
    assert not (rootfs / "etc" / "through-link").exists()
    assert "/opt/pkg/data.txt" in written and "/opt/etc/through-link" in written


def test_add_with_chown_overrides_archive_owners(ctx: Path, rootfs: Path) -> None:
    (ctx / "bundle.tgz").write_bytes(gzip.compress(ARCHIVE))
    copy(ctx, rootfs, ["bundle.tgz"], "/opt/", add=True, owner=(7, 8))
    assert owner_of(rootfs / "opt" / "pkg" / "data.txt") == (7, 8)
    assert owner_of(rootfs / "opt" / "pkg") == (7, 8)


def test_copy_and_remote_files_are_never_unpacked(ctx: Path, rootfs: Path) -> None:
    (ctx / "bundle.tar").write_bytes(ARCHIVE)
    copy(ctx, rootfs, ["bundle.tar"], "/copied")
    assert (rootfs / "copied").read_bytes() == ARCHIVE
    remote = Source("bundle.tar", ctx / "bundle.tar", False, from_url=True)
    copy_sources(
        [remote],
        rootfs,
        "/remote/",
        workdir="/",
        owner=None,
        chmod=None,
        dest_is_dir_hint=False,
        expand_archives=True,
    )
    assert (rootfs / "remote" / "bundle.tar").read_bytes() == ARCHIVE


def test_add_copies_files_that_only_look_like_archives(ctx: Path, rootfs: Path) -> None:
    (ctx / "fake.tar.gz").write_text("not an archive" * 100)
    (ctx / "empty.tar").write_bytes(b"")
    (ctx / "zeros.tar").write_bytes(b"\0" * 1024)
    for name in ("fake.tar.gz", "empty.tar", "zeros.tar"):
        assert not is_archive(ctx / name)
    copy(ctx, rootfs, ["fake.tar.gz", "empty.tar", "zeros.tar"], "/files/", add=True)
    assert (rootfs / "files" / "fake.tar.gz").read_text().startswith("not an archive")
    assert (rootfs / "files" / "zeros.tar").stat().st_size == 1024


def test_add_refuses_escaping_archive_entries(ctx: Path, rootfs: Path, tmp_path: Path) -> None:
    (ctx / "evil.tar").write_bytes(_tar(("../../../evil", b"x", {})))
    with pytest.raises(InvalidArgument, match="outside of the target"):
        copy(ctx, rootfs, ["evil.tar"], "/opt", add=True)
    assert not (rootfs / "evil").exists()
    assert not (tmp_path / "evil").exists()


def test_add_into_an_existing_file_is_refused(ctx: Path, rootfs: Path) -> None:
    (ctx / "bundle.tar").write_bytes(ARCHIVE)
    with pytest.raises(InvalidArgument, match="not a directory"):
        copy(ctx, rootfs, ["bundle.tar"], "/etc/passwd", add=True)
