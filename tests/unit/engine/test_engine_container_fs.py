"""container_fs on plain directories: chroot-style resolution, stat, archive (cp out), extract
(cp in), export, and the escape attempts a container can stage with symlinks."""

from __future__ import annotations

import base64
import bz2
import contextlib
import errno
import gzip
import io
import json
import lzma
import os
import stat
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wharf.engine.container_fs import (
    ContainerPathNotFound,
    archive_path,
    export_rootfs,
    extract_to,
    go_file_mode,
    stat_path,
)
from wharf.engine.container_fs.pathstat import rfc3339_nano
from wharf.engine.container_fs.rootdir import RootDir, clean_path
from wharf.engine.container_fs.tarout import _SizedReader
from wharf.errdefs import Conflict, InvalidArgument

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (chown, mknod)")


# ---------------------------------------------------------------- helpers


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    """A small container rootfs, with a decoy "host" tree beside it."""
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("root:x:0:0:inner\n")
    (root / "etc" / "group").write_text("root:x:0:\n")
    (root / "tmp").mkdir()
    (root / "data").mkdir()
    (root / "data" / "a.txt").write_text("alpha")
    (root / "data" / "sub").mkdir()
    (root / "data" / "sub" / "b.txt").write_text("beta")
    host = tmp_path / "host"
    (host / "etc").mkdir(parents=True)
    (host / "etc" / "passwd").write_text("HOST SECRET\n")
    return root


def host_dir(rootfs: Path) -> Path:
    return rootfs.parent / "host"


def tar_entries(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        return {member.name: member for member in archive.getmembers()}


def tar_file(data: bytes, name: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        handle = archive.extractfile(name)
        assert handle is not None
        return handle.read()


def make_tar(*entries: tuple[str, str, bytes | str]) -> bytes:
    """Entries are (kind, name, data-or-linkname); kind in file, dir, sym, hard."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for kind, name, payload in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 1_000_000_000
            if kind == "file":
                data = payload if isinstance(payload, bytes) else payload.encode()
                info.size = len(data)
                info.mode = 0o644
                archive.addfile(info, io.BytesIO(data))
                continue
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
            elif kind == "sym":
                info.type = tarfile.SYMTYPE
                info.linkname = str(payload)
            elif kind == "hard":
                info.type = tarfile.LNKTYPE
                info.linkname = str(payload)
            archive.addfile(info)
    return out.getvalue()


def archive_bytes(rootfs: Path, path: str) -> bytes:
    out = io.BytesIO()
    archive_path(rootfs, path, out)
    return out.getvalue()


def all_files(top: Path) -> set[str]:
    return {str(p.relative_to(top)) for p in top.rglob("*")}


# ---------------------------------------------------------------- resolution


@pytest.mark.parametrize(
    ("path", "parts", "follow", "base", "text"),
    [
        ("/", (), True, "/", "/"),
        ("", (), True, "/", "/"),
        (".", (), True, ".", "/."),
        ("/.", (), True, ".", "/."),
        ("etc", ("etc",), False, "etc", "/etc"),
        ("/etc/", ("etc",), True, "etc", "/etc/"),
        ("/etc/.", ("etc",), True, ".", "/etc/."),
        ("/a/../b", ("b",), False, "b", "/b"),
        ("/../../x", ("x",), False, "x", "/x"),
        ("//x//y", ("x", "y"), False, "y", "/x/y"),
        ("/a/./b/", ("a", "b"), True, "b", "/a/b/"),
    ],
)
def test_clean_path_as_docker_cleans(
    path: str, parts: tuple[str, ...], follow: bool, base: str, text: str
) -> None:
    clean = clean_path(path)
    assert (clean.parts, clean.follow_final, clean.base, clean.text) == (parts, follow, base, text)


def test_absolute_symlink_resolves_inside_the_root(rootfs: Path) -> None:
    (rootfs / "evil").symlink_to("/etc")
    with RootDir(rootfs) as root:
        located = root.locate(("evil", "passwd"), follow_final=False)
        try:
            assert located.parts == ("etc", "passwd")
            assert os.readlink(f"/proc/self/fd/{located.parent}") == str(rootfs / "etc")
        finally:
            located.close()


def test_dotdot_in_symlinks_stops_at_the_root(rootfs: Path) -> None:
    (rootfs / "data" / "up").symlink_to("../../../../../../..")
    with RootDir(rootfs) as root:
        located = root.locate(("data", "up", "etc", "passwd"), follow_final=True)
        try:
            assert located.parts == ("etc", "passwd")
        finally:
            located.close()


def test_symlink_loop_is_eloop(rootfs: Path) -> None:
    (rootfs / "a").symlink_to("b")
    (rootfs / "b").symlink_to("a")
    with RootDir(rootfs) as root, pytest.raises(OSError) as caught:
        root.locate(("a", "x"), follow_final=True)
    assert caught.value.errno == errno.ELOOP


def test_a_file_as_parent_is_not_a_directory(rootfs: Path) -> None:
    with RootDir(rootfs) as root, pytest.raises(NotADirectoryError):
        root.locate(("etc", "passwd", "x"), follow_final=False)


def test_open_dir_creates_missing_directories_inside_through_symlinks(rootfs: Path) -> None:
    (rootfs / "tmp" / "evil").symlink_to(str(host_dir(rootfs)))
    with RootDir(rootfs) as root:
        fd, parts = root.open_dir(("tmp", "evil", "new", "deeper"), create=True)
        os.close(fd)
    assert parts == (*host_dir(rootfs).parts[1:], "new", "deeper")
    assert (rootfs / str(host_dir(rootfs)).lstrip("/") / "new" / "deeper").is_dir()
    assert not (host_dir(rootfs) / "new").exists()


_NAMES = st.sampled_from(["a", "b", "c", "..", ".", "etc"])
_TARGETS = st.one_of(
    st.lists(_NAMES, min_size=1, max_size=5).map("/".join),
    st.lists(_NAMES, min_size=1, max_size=5).map(lambda parts: "/" + "/".join(parts)),
    st.sampled_from(["/", "..", "../../..", "/proc/self/root", "/tmp", "/etc"]),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    links=st.dictionaries(st.sampled_from(["a", "b", "c", "d/e", "d/f"]), _TARGETS, max_size=5),
    path=st.lists(_NAMES, min_size=1, max_size=6),
    follow=st.booleans(),
)
def test_resolution_never_leaves_the_root(
    tmp_path_factory: pytest.TempPathFactory,
    links: dict[str, str],
    path: list[str],
    follow: bool,
) -> None:
    root_path = tmp_path_factory.mktemp("root")
    (root_path / "d").mkdir()
    (root_path / "etc").mkdir()
    for name, target in links.items():
        (root_path / name).symlink_to(target)
    with RootDir(root_path) as root:
        try:
            located = root.locate(path, follow_final=follow, must_exist=False)
        except OSError:
            return
        try:
            where = Path(os.readlink(f"/proc/self/fd/{located.parent}"))
            assert where == root_path or root_path in where.parents
            assert ".." not in located.parts
        finally:
            located.close()


# ---------------------------------------------------------------- stat


def test_go_file_mode_bits() -> None:
    assert go_file_mode(stat.S_IFREG | 0o644) == 0o644
    assert go_file_mode(stat.S_IFDIR | 0o755) == (1 << 31) | 0o755
    assert go_file_mode(stat.S_IFLNK | 0o777) == (1 << 27) | 0o777
    assert go_file_mode(stat.S_IFCHR | 0o666) == (1 << 26) | (1 << 21) | 0o666
    assert go_file_mode(stat.S_IFBLK | 0o660) == (1 << 26) | 0o660
    assert go_file_mode(stat.S_IFIFO | 0o600) == (1 << 25) | 0o600
    assert go_file_mode(stat.S_IFSOCK | 0o755) == (1 << 24) | 0o755
    assert go_file_mode(stat.S_IFREG | stat.S_ISUID | stat.S_ISGID | 0o755) == (
        (1 << 23) | (1 << 22) | 0o755
    )
    assert go_file_mode(stat.S_IFDIR | stat.S_ISVTX | 0o777) == (1 << 31) | (1 << 20) | 0o777


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_rfc3339_nano_trims_zeros(utc: None) -> None:
    assert rfc3339_nano(1_700_000_000_000_000_000) == "2023-11-14T22:13:20Z"
    assert rfc3339_nano(1_700_000_000_120_000_000) == "2023-11-14T22:13:20.12Z"
    assert rfc3339_nano(1_700_000_000_000_000_001) == "2023-11-14T22:13:20.000000001Z"


def test_rfc3339_nano_local_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        assert rfc3339_nano(1_700_000_000_000_000_000) == "2023-11-15T03:43:20+05:30"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_stat_file_and_header(rootfs: Path, utc: None) -> None:
    os.chmod(rootfs / "etc" / "passwd", 0o640)
    os.utime(rootfs / "etc" / "passwd", ns=(0, 1_700_000_000_500_000_000))
    result = stat_path(rootfs, "/etc/passwd")
    assert (result.name, result.size, result.mode, result.link_target) == (
        "passwd",
        len("root:x:0:0:inner\n"),
        0o640,
        "",
    )
    decoded = json.loads(base64.b64decode(result.header_value()))
    assert decoded == {
        "name": "passwd",
        "size": result.size,
        "mode": result.mode,
        "mtime": "2023-11-14T22:13:20.5Z",
        "linkTarget": "",
    }


def test_stat_directory_and_root(rootfs: Path) -> None:
    assert stat_path(rootfs, "/etc").is_dir
    root = stat_path(rootfs, "/")
    assert root.name == "/" and root.is_dir
    assert stat_path(rootfs, "/data/.").name == "."


def test_stat_symlink_reports_its_target_inside_the_container(rootfs: Path) -> None:
    (rootfs / "evil").symlink_to("/etc")
    (rootfs / "data" / "rel").symlink_to("../etc/passwd")
    (rootfs / "data" / "dangling").symlink_to("/nope/missing")
    evil = stat_path(rootfs, "/evil")
    assert evil.mode & (1 << 27) and evil.link_target == "/etc"
    assert stat_path(rootfs, "/data/rel").link_target == "/etc/passwd"
    assert stat_path(rootfs, "/data/dangling").link_target == "/nope/missing"
    followed = stat_path(rootfs, "/evil/")
    assert followed.is_dir and followed.name == "evil" and followed.link_target == ""


def test_stat_missing_paths(rootfs: Path) -> None:
    with pytest.raises(
        ContainerPathNotFound, match=r"^Could not find the file /nope in container$"
    ):
        stat_path(rootfs, "/nope")
    with pytest.raises(ContainerPathNotFound) as caught:
        stat_path(rootfs, "/etc/passwd/")
    assert caught.value.path == "/etc/passwd/"
    with pytest.raises(InvalidArgument, match="NUL"):
        stat_path(rootfs, "/etc/\0x")


# ---------------------------------------------------------------- archive (cp out)


def test_archive_a_file(rootfs: Path) -> None:
    data = archive_bytes(rootfs, "/etc/passwd")
    entries = tar_entries(data)
    assert list(entries) == ["passwd"]
    assert tar_file(data, "passwd") == b"root:x:0:0:inner\n"


def test_archive_a_directory_is_named_by_its_base(rootfs: Path) -> None:
    entries = tar_entries(archive_bytes(rootfs, "/data"))
    assert list(entries) == ["data", "data/a.txt", "data/sub", "data/sub/b.txt"]
    assert entries["data"].isdir()


def test_archive_contents_only_with_trailing_dot(rootfs: Path) -> None:
    data = archive_bytes(rootfs, "/data/.")
    assert list(tar_entries(data)) == [".", "./a.txt", "./sub", "./sub/b.txt"]
    assert list(tar_entries(archive_bytes(rootfs, "/")))[:3] == [".", "./data", "./data/a.txt"]


def test_archive_keeps_symlinks_as_symlinks(rootfs: Path) -> None:
    (rootfs / "evil").symlink_to(str(host_dir(rootfs) / "etc"))
    entries = tar_entries(archive_bytes(rootfs, "/evil"))
    assert list(entries) == ["evil"]
    assert entries["evil"].issym() and entries["evil"].linkname == str(host_dir(rootfs) / "etc")


def test_archive_through_a_symlink_reads_the_container_not_the_host(rootfs: Path) -> None:
    # The link's text names the host's decoy tree; in the container it is a path under /.
    decoy = host_dir(rootfs)
    (rootfs / "evil").symlink_to(str(decoy / "etc"))
    inside = rootfs / str(decoy).lstrip("/") / "etc"
    inside.mkdir(parents=True)
    (inside / "passwd").write_text("container's own\n")
    data = archive_bytes(rootfs, "/evil/")
    assert list(tar_entries(data)) == ["evil", "evil/passwd"]
    assert tar_file(data, "evil/passwd") == b"container's own\n"
    (rootfs / "tmp" / "up").symlink_to("../../../../../../../../etc")
    assert tar_file(archive_bytes(rootfs, "/tmp/up/passwd"), "passwd") == b"root:x:0:0:inner\n"


def test_archive_hardlinks_fifos_and_sockets(rootfs: Path) -> None:
    os.link(rootfs / "data" / "a.txt", rootfs / "data" / "z-link")
    os.mkfifo(rootfs / "data" / "fifo")
    import socket

    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(rootfs / "data" / "sock"))
        entries = tar_entries(archive_bytes(rootfs, "/data"))
    finally:
        sock.close()
    assert entries["data/z-link"].islnk() and entries["data/z-link"].linkname == "data/a.txt"
    assert entries["data/fifo"].isfifo()
    assert "data/sock" not in entries


def test_archive_keeps_xattrs(rootfs: Path) -> None:
    os.setxattr(rootfs / "data" / "a.txt", "user.note", b"\x00\xffbinary")
    os.setxattr(rootfs / "data" / "a.txt", "trusted.overlay.opaque", b"y")
    entries = tar_entries(archive_bytes(rootfs, "/data/a.txt"))
    headers = entries["a.txt"].pax_headers
    assert headers["SCHILY.xattr.user.note"].encode("utf-8", "surrogateescape") == b"\x00\xffbinary"
    assert "SCHILY.xattr.trusted.overlay.opaque" not in headers


def test_archive_missing_path(rootfs: Path) -> None:
    with pytest.raises(ContainerPathNotFound):
        archive_bytes(rootfs, "/data/nope")


def test_sized_reader_pads_a_file_that_shrank(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    fd = os.open(path, os.O_RDONLY)
    try:
        reader = _SizedReader(fd, 6)
        assert reader.read(4) == b"abc\0"
        assert reader.read(4) == b"\0\0"
        assert reader.read(4) == b""
    finally:
        os.close(fd)


# ---------------------------------------------------------------- export


def test_export_is_flat_and_skips_excluded_contents(rootfs: Path) -> None:
    (rootfs / "proc" / "1").mkdir(parents=True)
    (rootfs / "proc" / "1" / "status").write_text("x")
    out = io.BytesIO()
    export_rootfs(rootfs, out, exclude={"/proc"})
    names = list(tar_entries(out.getvalue()))
    assert names[0] == "data" and "." not in names
    assert "proc" in names and not any(n.startswith("proc/") for n in names)
    assert "etc/passwd" in names


# ---------------------------------------------------------------- extract (cp in)


def extract(rootfs: Path, path: str, data: bytes, **options: object) -> None:
    extract_to(rootfs, path, io.BytesIO(data), **options)  # type: ignore[arg-type]


def test_extract_round_trip_keeps_metadata(rootfs: Path, tmp_path: Path) -> None:
    source = rootfs / "data"
    os.chmod(source / "a.txt", 0o4750)
    os.utime(source / "a.txt", ns=(1_500_000_000_123_456_789, 1_600_000_000_987_654_321))
    os.setxattr(source / "a.txt", "user.k", b"v")
    (source / "link").symlink_to("a.txt")
    os.link(source / "a.txt", source / "sub" / "hard")
    if os.geteuid() == 0:
        os.chown(source / "sub" / "b.txt", 1234, 5678)
    data = archive_bytes(rootfs, "/data")
    target = tmp_path / "other"
    (target / "dest").mkdir(parents=True)
    extract(target, "/dest", data)
    copy = target / "dest" / "data"
    assert (copy / "sub" / "b.txt").read_text() == "beta"
    got = os.stat(copy / "a.txt")
    assert stat.S_IMODE(got.st_mode) == 0o4750
    assert os.getxattr(copy / "a.txt", "user.k") == b"v"
    assert os.readlink(copy / "link") == "a.txt"
    assert os.stat(copy / "sub" / "hard").st_ino == got.st_ino
    if os.geteuid() == 0:
        assert (os.stat(copy / "sub" / "b.txt").st_uid, os.stat(copy / "sub" / "b.txt").st_gid) == (
            1234,
            5678,
        )
    # Times travel in whole seconds in Docker's tars; ours keep what the tar carries.
    assert got.st_mtime_ns // 1_000_000_000 == 1_600_000_000


def test_extract_into_a_symlink_to_a_directory(rootfs: Path) -> None:
    (rootfs / "lnk").symlink_to("/data/sub")
    extract(rootfs, "/lnk", make_tar(("file", "new.txt", "n")))
    assert (rootfs / "data" / "sub" / "new.txt").read_text() == "n"


def test_extract_destination_must_be_an_existing_directory(rootfs: Path) -> None:
    with pytest.raises(ContainerPathNotFound, match="/nope"):
        extract(rootfs, "/nope", make_tar(("file", "x", "x")))
    with pytest.raises(InvalidArgument, match="extraction point is not a directory"):
        extract(rootfs, "/etc/passwd", make_tar(("file", "x", "x")))


def test_extract_refuses_names_above_the_destination(rootfs: Path) -> None:
    before = all_files(rootfs.parent)
    with pytest.raises(InvalidArgument, match="outside of /data"):
        extract(rootfs, "/data", make_tar(("file", "../../escaped", "x")))
    with pytest.raises(InvalidArgument, match="outside of /data"):
        extract(rootfs, "/data", make_tar(("hard", "h", "../etc/passwd")))
    assert all_files(rootfs.parent) == before


def test_container_symlink_to_a_host_path_lands_inside_the_rootfs(rootfs: Path) -> None:
    decoy = host_dir(rootfs)
    (rootfs / "tmp" / "evil").symlink_to(str(decoy / "etc"))
    host_before = all_files(decoy)
    extract(rootfs, "/tmp", make_tar(("file", "evil/passwd", "pwned")))
    extract(rootfs, "/tmp/evil", make_tar(("file", "shadow", "pwned")))
    assert all_files(decoy) == host_before
    assert (decoy / "etc" / "passwd").read_text() == "HOST SECRET\n"
    inside = rootfs / str(decoy).lstrip("/") / "etc"
    assert (inside / "passwd").read_text() == "pwned"
    assert (inside / "shadow").read_text() == "pwned"


def test_tar_symlinks_cannot_lead_later_entries_out(rootfs: Path) -> None:
    decoy = host_dir(rootfs)
    host_before = all_files(decoy)
    data = make_tar(
        ("sym", "out", str(decoy)),
        ("file", "out/etc/passwd", "pwned"),
        ("sym", "up", "../../../../../../.."),
        ("file", "up/escaped", "pwned"),
        ("hard", "h", "out/etc/passwd"),
    )
    extract(rootfs, "/data", data)
    assert all_files(decoy) == host_before
    assert (decoy / "etc" / "passwd").read_text() == "HOST SECRET\n"
    assert (rootfs / str(decoy).lstrip("/") / "etc" / "passwd").read_text() == "pwned"
    assert (rootfs / "escaped").read_text() == "pwned"
    assert not (rootfs.parent / "escaped").exists()
    assert os.path.samefile(rootfs / "data" / "h", rootfs / str(decoy).lstrip("/") / "etc/passwd")


def test_existing_symlink_is_replaced_not_followed(rootfs: Path) -> None:
    (rootfs / "data" / "f").symlink_to("/etc/passwd")
    extract(rootfs, "/data", make_tar(("file", "f", "new")))
    assert not (rootfs / "data" / "f").is_symlink()
    assert (rootfs / "data" / "f").read_text() == "new"
    assert (rootfs / "etc" / "passwd").read_text() == "root:x:0:0:inner\n"


def test_no_overwrite_dir_non_dir(rootfs: Path) -> None:
    with pytest.raises(Conflict, match="cannot overwrite directory /data/sub with non-directory"):
        extract(rootfs, "/data", make_tar(("file", "sub", "x")), no_overwrite_dir_non_dir=True)
    with pytest.raises(
        Conflict, match=r"cannot overwrite non-directory /data/a\.txt with directory"
    ):
        extract(rootfs, "/data", make_tar(("dir", "a.txt", "")), no_overwrite_dir_non_dir=True)
    assert (rootfs / "data" / "sub" / "b.txt").exists()
    extract(rootfs, "/data", make_tar(("file", "sub", "x"), ("dir", "a.txt", "")))
    assert (rootfs / "data" / "sub").read_text() == "x"
    assert (rootfs / "data" / "a.txt").is_dir()


@ROOT_ONLY
def test_owner_overrides_the_tar_ids(rootfs: Path) -> None:
    extract(rootfs, "/data", make_tar(("dir", "d", ""), ("file", "d/f", "x")), owner=(1000, 1001))
    for path in (rootfs / "data" / "d", rootfs / "data" / "d" / "f"):
        assert (path.stat().st_uid, path.stat().st_gid) == (1000, 1001)


def test_whiteout_names_are_plain_files_in_a_copy(rootfs: Path) -> None:
    extract(rootfs, "/data", make_tar(("file", ".wh..wh..opq", ""), ("file", ".wh.a.txt", "")))
    assert (rootfs / "data" / "a.txt").read_text() == "alpha"
    assert (rootfs / "data" / "sub" / "b.txt").exists()
    assert (rootfs / "data" / ".wh..wh..opq").is_file()


def test_dot_entry_sets_the_destination_metadata(rootfs: Path) -> None:
    data = make_tar(("dir", ".", ""), ("file", "./x", "x"))
    os.chmod(rootfs / "data", 0o700)
    extract(rootfs, "/data", data)
    assert stat.S_IMODE((rootfs / "data").stat().st_mode) == 0o755
    with pytest.raises(InvalidArgument, match="would replace the directory"):
        extract(rootfs, "/data", make_tar(("file", ".", "x")))


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lzma.compress])
def test_extract_compressed_archives(rootfs: Path, compress: object) -> None:
    assert callable(compress)
    extract(rootfs, "/tmp", compress(make_tar(("file", "z.txt", "zipped"))))
    assert (rootfs / "tmp" / "z.txt").read_text() == "zipped"


def test_truncated_tar_is_invalid(rootfs: Path) -> None:
    data = make_tar(("file", "one", "1" * 600), ("file", "two", "2" * 600))
    with pytest.raises(InvalidArgument, match="invalid tar archive"):
        extract(rootfs, "/tmp", data[:1100])
    with pytest.raises(InvalidArgument, match="unexpected end of data"):
        extract(rootfs, "/tmp", data[:800])
    with pytest.raises(InvalidArgument, match="invalid tar archive"):
        extract(rootfs, "/tmp", b"not a tar at all" * 40)


def test_archive_excludes_contents_of_named_paths(rootfs: Path) -> None:
    names = list(tar_entries(archive_bytes_excluding(rootfs, "/", {"/data/sub"})))
    assert "./data/sub" in names and "./data/sub/b.txt" not in names
    assert "./data/a.txt" in names


def archive_bytes_excluding(rootfs: Path, path: str, exclude: set[str]) -> bytes:
    out = io.BytesIO()
    archive_path(rootfs, path, out, exclude=exclude)
    return out.getvalue()


_ENTRY_NAMES = st.lists(
    st.sampled_from(["a", "b", "a", "b", "planted0", "planted1", "..", "."]), min_size=1, max_size=4
).map("/".join)


def _escape_targets(decoy: Path) -> st.SearchStrategy[str]:
    return st.one_of(
        _ENTRY_NAMES,
        st.sampled_from(["/", "..", "../../../..", str(decoy), str(decoy) + "/etc", "/etc"]),
    )


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_no_tar_writes_outside_the_rootfs(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    base = tmp_path_factory.mktemp("escape")
    root = base / "rootfs"
    (root / "dest").mkdir(parents=True)
    decoy = base / "decoy"
    (decoy / "etc").mkdir(parents=True)
    (decoy / "etc" / "passwd").write_text("HOST")
    planted = data.draw(st.lists(_escape_targets(decoy), max_size=2))
    for index, target in enumerate(planted):
        (root / "dest" / f"planted{index}").symlink_to(target)
    kinds = st.sampled_from(["file", "dir", "sym", "hard"])
    entries = data.draw(
        st.lists(
            st.tuples(kinds, _ENTRY_NAMES, _escape_targets(decoy)).map(
                lambda e: (e[0], e[1], e[2] if e[0] in ("sym", "hard") else "payload")
            ),
            max_size=8,
        )
    )
    before = sorted(str(p) for p in base.rglob("*") if root not in p.parents and p != root)
    with contextlib.suppress(InvalidArgument, Conflict):
        extract(root, "/dest", make_tar(*entries))
    after = sorted(str(p) for p in base.rglob("*") if root not in p.parents and p != root)
    assert after == before
    assert (decoy / "etc" / "passwd").read_text() == "HOST"
