"""scoped_path, make_dirs and the safe extractor: compressions, escapes, devices, truncation."""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import lzma
import os
import stat
import tarfile
import tempfile
from pathlib import Path

import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wharf.builder.context.tree import (
    extract_context,
    extract_tar,
    make_dirs,
    scoped_path,
)
from wharf.errdefs import InvalidArgument

Entry = tuple[tarfile.TarInfo, bytes]


def reg(name: str, data: bytes = b"", mode: int = 0o644, **attrs: object) -> Entry:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    for key, value in attrs.items():
        setattr(info, key, value)
    return info, data


def dir_(name: str, mode: int = 0o755, **attrs: object) -> Entry:
    info, _ = reg(name, b"", mode, **attrs)
    info.type = tarfile.DIRTYPE
    return info, b""


def link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> Entry:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, b""


def tar_bytes(*entries: Entry) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for info, data in entries:
            archive.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buffer.getvalue()


# -- scoped_path -----------------------------------------------------------------------------


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "root"
    (r / "usr" / "lib").mkdir(parents=True)
    (r / "etc").mkdir()
    (r / "etc" / "passwd").write_text("root\n")
    (r / "abs").symlink_to("/etc")
    (r / "rel").symlink_to("usr/lib")
    (r / "up").symlink_to("../../../../..")
    (r / "usr" / "lib" / "back").symlink_to("../../etc")
    (r / "loop").symlink_to("loop")
    (r / "dangling").symlink_to("/nowhere/file")
    return r


@pytest.mark.parametrize(
    ("rel", "follow", "expected"),
    [
        ("", True, "."),
        ("/", True, "."),
        ("etc/passwd", True, "etc/passwd"),
        ("/etc/passwd", True, "etc/passwd"),
        ("abs", True, "etc"),
        ("abs", False, "abs"),
        ("abs/passwd", False, "etc/passwd"),
        ("rel/x", True, "usr/lib/x"),
        ("up", True, "."),
        ("up/etc", True, "etc"),
        ("../../../etc", True, "etc"),
        ("usr/lib/back/passwd", True, "etc/passwd"),
        ("rel/back", True, "etc"),
        ("rel/..", True, "usr"),
        ("dangling", True, "nowhere/file"),
        ("dangling", False, "dangling"),
        ("missing/../etc", True, "etc"),
        ("etc/passwd/x", True, "etc/passwd/x"),
    ],
)
def test_scoped_path_resolves_as_under_chroot(
    root: Path, rel: str, follow: bool, expected: str
) -> None:
    assert scoped_path(root, rel, follow_final=follow) == root / expected


def test_scoped_path_gives_up_on_loops(root: Path) -> None:
    with pytest.raises(InvalidArgument, match="too many levels"):
        scoped_path(root, "loop/x", follow_final=True)


@given(
    st.lists(st.sampled_from(["..", ".", "abs", "rel", "up", "etc", "x", "back", ""]), max_size=8)
)
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_scoped_path_never_leaves_the_root(root: Path, parts: list[str]) -> None:
    for follow in (True, False):
        result = scoped_path(root, "/".join(parts), follow_final=follow)
        assert result == root or root in result.parents


def test_make_dirs_creates_missing_directories_inside_the_root(root: Path) -> None:
    created: list[Path] = []
    path = make_dirs(root, "/abs/new/deeper", owner=(0, 0), created=created)
    assert path == root / "etc" / "new" / "deeper"
    assert created == [root / "etc" / "new", root / "etc" / "new" / "deeper"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o755
    assert make_dirs(root, "etc", owner=None) == root / "etc"


def test_make_dirs_refuses_a_file_in_the_way(root: Path) -> None:
    with pytest.raises(InvalidArgument, match=r"mkdir /etc/passwd: not a directory"):
        make_dirs(root, "etc/passwd/sub", owner=None)


# -- extraction ------------------------------------------------------------------------------

SIMPLE = tar_bytes(
    dir_("app/", mode=0o750, mtime=1_000_000),
    reg("app/main.py", b"print(1)\n", mode=0o755, mtime=2_000_000),
    link("app/link", "main.py"),
    link("app/hard", "app/main.py", tarfile.LNKTYPE),
    reg("top.txt", b"top", mtime=3_000_000),
)


def _compress(kind: str, data: bytes) -> bytes:
    if kind == "gzip":
        return gzip.compress(data)
    if kind == "bzip2":
        return bz2.compress(data)
    if kind == "xz":
        return lzma.compress(data)
    if kind == "zstd":
        return zstandard.ZstdCompressor().compress(data)
    return data


@pytest.mark.parametrize("kind", ["plain", "gzip", "bzip2", "xz", "zstd"])
def test_extract_context_any_compression(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "ctx"
    extract_context(io.BytesIO(_compress(kind, SIMPLE)), target)
    assert (target / "app" / "main.py").read_bytes() == b"print(1)\n"
    assert stat.S_IMODE((target / "app" / "main.py").stat().st_mode) == 0o755
    assert (target / "app" / "main.py").stat().st_mtime == 2_000_000
    assert stat.S_IMODE((target / "app").stat().st_mode) == 0o750
    assert (target / "app").stat().st_mtime == 1_000_000
    assert os.readlink(target / "app" / "link") == "main.py"
    assert (target / "app" / "hard").stat().st_ino == (target / "app" / "main.py").stat().st_ino
    assert (target / "top.txt").read_bytes() == b"top"


def test_whiteout_names_are_ordinary_files_in_a_context(tmp_path: Path) -> None:
    extract_context(io.BytesIO(tar_bytes(reg(".wh.file", b"x"), reg("d/.wh..wh..opq"))), tmp_path)
    assert (tmp_path / ".wh.file").read_bytes() == b"x"
    assert (tmp_path / "d" / ".wh..wh..opq").is_file()


def test_empty_stream_and_empty_tar_are_empty_contexts(tmp_path: Path) -> None:
    extract_context(io.BytesIO(b""), tmp_path / "a")
    extract_context(io.BytesIO(tar_bytes()), tmp_path / "b")
    assert list((tmp_path / "a").iterdir()) == []
    assert list((tmp_path / "b").iterdir()) == []


@pytest.mark.parametrize(
    "entries",
    [
        [reg("../evil", b"x")],
        [reg("a/../../evil", b"x")],
        [link("hard", "../../outside", tarfile.LNKTYPE)],
    ],
)
def test_names_climbing_out_are_refused(tmp_path: Path, entries: list[Entry]) -> None:
    target = tmp_path / "t" / "ctx"
    with pytest.raises(InvalidArgument, match="outside of the target"):
        extract_context(io.BytesIO(tar_bytes(*entries)), target)
    assert not (tmp_path / "t" / "evil").exists()
    assert not (tmp_path / "evil").exists()


def test_absolute_names_and_symlinked_parents_stay_inside(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    target = tmp_path / "ctx"
    data = tar_bytes(
        reg("/abs.txt", b"a"),
        link("escape", str(outside)),
        reg("escape/planted", b"p"),
        link("dots", "../../../.."),
        reg("dots/tmp/planted2", b"q"),
    )
    extract_context(io.BytesIO(data), target)
    assert (target / "abs.txt").read_bytes() == b"a"
    assert os.readlink(target / "escape") == str(outside)  # kept as a symlink
    assert list(outside.iterdir()) == []
    # Both writes landed inside, where a chroot'ed process would have put them.
    assert (target / str(outside).lstrip("/") / "planted").read_bytes() == b"p"
    assert (target / "tmp" / "planted2").read_bytes() == b"q"


def test_an_existing_symlink_is_replaced_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "victim"
    outside.write_text("safe")
    target = tmp_path / "ctx"
    target.mkdir()
    (target / "f").symlink_to(outside)
    extract_tar(
        io.BytesIO(tar_bytes(reg("f", b"new"))),
        target,
        owner=None,
        implicit_owner=None,
        allow_devices=False,
        what="test",
    )
    assert outside.read_text() == "safe"
    assert not (target / "f").is_symlink()
    assert (target / "f").read_bytes() == b"new"


def test_device_nodes_are_refused_in_a_context(tmp_path: Path) -> None:
    info = tarfile.TarInfo("dev/null")
    info.type = tarfile.CHRTYPE
    info.devmajor, info.devminor = 1, 3
    with pytest.raises(InvalidArgument, match="device node"):
        extract_context(io.BytesIO(tar_bytes((info, b""))), tmp_path)


@pytest.mark.parametrize("cut", [100, 700, 1500])
def test_truncated_tar_is_invalid(tmp_path: Path, cut: int) -> None:
    data = tar_bytes(reg("a", b"x" * 1000), reg("b", b"y" * 10))
    with pytest.raises(InvalidArgument):
        extract_context(io.BytesIO(data[:cut]), tmp_path / str(cut))


@pytest.mark.parametrize("kind", ["gzip", "bzip2", "xz", "zstd"])
def test_truncated_compressed_stream_is_invalid(tmp_path: Path, kind: str) -> None:
    data = _compress(kind, tar_bytes(reg("a", os.urandom(4000))))
    with pytest.raises(InvalidArgument):
        extract_context(io.BytesIO(data[: len(data) // 2]), tmp_path)


def test_garbage_is_invalid(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="invalid build context"):
        extract_context(io.BytesIO(b"this is not a tar archive at all" * 40), tmp_path)


def test_archive_owner_kept_or_overridden(tmp_path: Path) -> None:
    data = tar_bytes(reg("d/f", b"x", uid=1234, gid=5678), link("d/l", "f"))
    keep = tmp_path / "keep"
    keep.mkdir()
    written = extract_tar(
        io.BytesIO(data), keep, owner=None, implicit_owner=(0, 0), allow_devices=True, what="t"
    )
    assert written == [keep / "d" / "f", keep / "d" / "l"]
    assert ((keep / "d" / "f").stat().st_uid, (keep / "d" / "f").stat().st_gid) == (1234, 5678)
    assert (keep / "d").stat().st_uid == 0
    forced = tmp_path / "forced"
    forced.mkdir()
    extract_tar(
        io.BytesIO(data),
        forced,
        owner=(42, 43),
        implicit_owner=(42, 43),
        allow_devices=True,
        what="t",
    )
    assert ((forced / "d" / "f").stat().st_uid, (forced / "d" / "f").stat().st_gid) == (42, 43)
    assert os.lstat(forced / "d" / "l").st_uid == 42
    assert (forced / "d").stat().st_uid == 42


def test_read_only_directory_still_receives_its_children(tmp_path: Path) -> None:
    data = tar_bytes(dir_("ro/", mode=0o555), reg("ro/f", b"x"))
    extract_context(io.BytesIO(data), tmp_path)
    assert (tmp_path / "ro" / "f").read_bytes() == b"x"
    assert stat.S_IMODE((tmp_path / "ro").stat().st_mode) == 0o555


NAME_PARTS = st.sampled_from(["a", "b", "..", ".", "", "link", "up"])
ENTRY = st.tuples(
    st.sampled_from(["file", "dir", "symlink", "hardlink"]),
    st.lists(NAME_PARTS, min_size=1, max_size=4).map("/".join),
    st.sampled_from(["/", "..", "../..", "a", "/a/b", "../../../outside"]),
)


@given(st.lists(ENTRY, max_size=8))
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_no_tar_writes_outside_its_target(
    tmp_path: Path, entries: list[tuple[str, str, str]]
) -> None:
    base = Path(tempfile.mkdtemp(dir=tmp_path))
    outside = base / "outside"
    outside.mkdir()
    target = base / "t" / "ctx"
    built: list[Entry] = []
    for kind, name, where in entries:
        if kind == "file":
            built.append(reg(name or "x", b"data"))
        elif kind == "dir":
            built.append(dir_(name or "x"))
        elif kind == "symlink":
            built.append(link(name or "x", where))
        else:
            built.append(link(name or "x", where, tarfile.LNKTYPE))
    with contextlib.suppress(InvalidArgument):
        extract_context(io.BytesIO(tar_bytes(*built)), target)
    assert list(outside.iterdir()) == []
    assert sorted(p.name for p in base.iterdir()) == ["outside", "t"]
    assert [p.name for p in (base / "t").iterdir()] == ["ctx"]
