"""apply_layer: DiffIDs, metadata, whiteouts, truncation, and tars built to escape the target."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import stat
import tarfile
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wharf.archive.compression import open_compressor, open_decompressed
from wharf.archive.extract import AppliedLayer, WhiteoutMode, apply_layer, normalise_entry_name
from wharf.errdefs import InvalidArgument
from wharf.oci.mediatypes import Compression

Entry = tuple[tarfile.TarInfo, bytes]


def reg(name: str, data: bytes = b"", **attrs: object) -> Entry:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    for key, value in attrs.items():
        setattr(info, key, value)
    return info, data


def dir_(name: str, **attrs: object) -> Entry:
    info, _ = reg(name, b"", **{"mode": 0o755, **attrs})
    info.type = tarfile.DIRTYPE
    return info, b""


def sym(name: str, target: str, **attrs: object) -> Entry:
    info, _ = reg(name, b"", **attrs)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    return info, b""


def hard(name: str, target: str) -> Entry:
    info, _ = reg(name)
    info.type = tarfile.LNKTYPE
    info.linkname = target
    return info, b""


def make_tar(*entries: Entry) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for info, data in entries:
            archive.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return out.getvalue()


def apply(tar: bytes, target: Path, mode: WhiteoutMode = WhiteoutMode.OVERLAY) -> AppliedLayer:
    return apply_layer(io.BytesIO(tar), target, whiteouts=mode)


@pytest.fixture
def box(tmp_path: Path) -> tuple[Path, Path]:
    """(target, outside): a layer target and a sibling directory that must stay untouched."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("secret")
    return tmp_path / "target", outside


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


# -- DiffID -------------------------------------------------------------------------------


def test_diff_id_is_sha256_of_all_bytes_read(tmp_path: Path) -> None:
    tar = make_tar(dir_("usr"), reg("usr/a", b"hello" * 1000)) + bytes(4096)  # extra padding
    result = apply(tar, tmp_path / "t")
    assert result.diff_id.hex == hashlib.sha256(tar).hexdigest()
    assert result.size == len(tar)
    assert (tmp_path / "t/usr/a").read_bytes() == b"hello" * 1000


def test_empty_layer(tmp_path: Path) -> None:
    tar = make_tar()
    result = apply(tar, tmp_path / "t")
    assert result.size == len(tar) and list((tmp_path / "t").iterdir()) == []


def test_large_file_content(tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    apply(make_tar(reg("big", data)), tmp_path / "t")
    assert (tmp_path / "t/big").read_bytes() == data


def test_applies_from_compressed_stream(tmp_path: Path) -> None:
    tar = make_tar(reg("a", b"x" * 100_000), reg("b", b"y"))
    blob = io.BytesIO()
    with open_compressor(blob, Compression.ZSTD) as writer:
        writer.write(tar)
    reader = open_decompressed(io.BytesIO(blob.getvalue()), Compression.ZSTD)
    result = apply_layer(reader, tmp_path / "t")
    assert result.diff_id.hex == hashlib.sha256(tar).hexdigest()


# -- truncation and corruption -------------------------------------------------------------


def _offsets(tar: bytes) -> list[int]:
    """Header and data offsets of each member, and where the end-of-archive blocks start."""
    found = []
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        for member in archive:
            found += [member.offset, member.offset_data]
            end = member.offset_data + (member.size + 511) // 512 * 512
    return [*found, end]


def test_truncated_tar_is_an_error(tmp_path: Path) -> None:
    tar = make_tar(reg("a", b"a" * 700), reg("b", b"b" * 300, pax_headers={"comment": "x"}))
    offsets = _offsets(tar)
    cuts = {1, 511, *offsets, *(o + 100 for o in offsets[:-1]), offsets[-1] - 1}
    for cut in sorted(cuts - {0}):
        with pytest.raises(InvalidArgument, match=r"^invalid layer tar: unexpected end of data$"):
            apply(tar[:cut], tmp_path / f"t{cut}")
    apply(tar[: offsets[-1] + 512], tmp_path / "complete")  # one zero block ends it, as in Go


def test_empty_stream_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="unexpected end of data"):
        apply(b"", tmp_path / "t")


def test_corrupt_second_header_is_an_error(tmp_path: Path) -> None:
    tar = bytearray(make_tar(reg("a", b"1"), reg("b", b"2")))
    header = tar.find(b"b\x00", 512 * 3)  # the ustar header of "b" after a's pax, header, data
    tar[header + 100] ^= 0xFF  # inside the mode field: checksum no longer matches
    with pytest.raises(InvalidArgument, match="invalid layer tar"):
        apply(bytes(tar), tmp_path / "t")


def test_garbage_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="invalid layer tar"):
        apply(b"this is not a tar file" * 100, tmp_path / "t")


# -- escapes -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../x", "a/../../x", "./../x", "/../x", "a/b/../../../x"])
def test_dotdot_escape_is_refused(box: tuple[Path, Path], name: str) -> None:
    target, outside = box
    with pytest.raises(InvalidArgument) as raised:
        apply(make_tar(reg(name, b"pwned")), target)
    assert str(raised.value) == f"layer tar entry escapes the root: {name}"
    assert _tree(outside.parent) == ["outside", "outside/secret", "target"]


def test_absolute_and_dotted_names_land_inside(box: tuple[Path, Path]) -> None:
    target, outside = box
    apply(make_tar(reg(f"{outside}/secret", b"pwned"), reg("./x/../y", b"y")), target)
    assert (outside / "secret").read_text() == "secret"
    assert (target / str(outside).lstrip("/") / "secret").read_bytes() == b"pwned"
    assert (target / "y").read_bytes() == b"y"


def test_file_through_symlink_to_outside_dir_stays_inside(box: tuple[Path, Path]) -> None:
    target, outside = box
    apply(make_tar(sym("evil", str(outside)), reg("evil/secret", b"pwned")), target)
    assert (outside / "secret").read_text() == "secret"
    assert os.readlink(target / "evil") == str(outside)  # the symlink itself is kept as data
    assert (target / str(outside).lstrip("/") / "secret").read_bytes() == b"pwned"


def test_symlink_to_etc_then_file(box: tuple[Path, Path]) -> None:
    target, _ = box
    before = Path("/etc/passwd").read_bytes()
    # Inside a chroot, etc -> /etc points at itself.
    with pytest.raises(InvalidArgument, match="too many levels of symbolic links"):
        apply(make_tar(sym("etc", "/etc"), reg("etc/passwd", b"root::0:0::/:/bin/sh\n")), target)
    assert Path("/etc/passwd").read_bytes() == before
    assert _tree(target) == ["etc"] and (target / "etc").is_symlink()


def test_symlink_to_host_etc_then_file(box: tuple[Path, Path]) -> None:
    target, _ = box
    before = Path("/etc/passwd").read_bytes()
    apply(make_tar(sym("hostetc", "/etc"), reg("hostetc/passwd", b"pwned")), target)
    assert Path("/etc/passwd").read_bytes() == before
    assert (target / "etc/passwd").read_bytes() == b"pwned"


def test_relative_symlink_climbing_out_stays_inside(box: tuple[Path, Path]) -> None:
    target, outside = box
    depth = "../" * 30
    tar = make_tar(sym("up", depth + str(outside).lstrip("/")), reg("up/new", b"pwned"))
    apply(tar, target)
    assert not (outside / "new").exists()
    assert (target / str(outside).lstrip("/") / "new").read_bytes() == b"pwned"


def test_symlink_chain_then_file(box: tuple[Path, Path]) -> None:
    target, outside = box
    tar = make_tar(
        sym("a", "b"), sym("b", "c/../d"), sym("d", str(outside)), reg("a/planted", b"pwned")
    )
    apply(tar, target)
    assert sorted(os.listdir(outside)) == ["secret"]
    assert (target / str(outside).lstrip("/") / "planted").exists()


def test_symlink_loop_is_an_error(box: tuple[Path, Path]) -> None:
    target, _ = box
    with pytest.raises(InvalidArgument, match="too many levels of symbolic links"):
        apply(make_tar(sym("l1", "l2"), sym("l2", "l1"), reg("l1/x", b"x")), target)


def test_existing_symlink_is_replaced_not_followed(box: tuple[Path, Path]) -> None:
    target, outside = box
    apply(make_tar(sym("f", str(outside / "secret")), reg("f", b"pwned")), target)
    assert (outside / "secret").read_text() == "secret"
    assert not (target / "f").is_symlink() and (target / "f").read_bytes() == b"pwned"


def test_directory_entry_over_symlink_does_not_follow(box: tuple[Path, Path]) -> None:
    target, outside = box
    apply(make_tar(sym("d", str(outside)), dir_("d", mode=0o700, uid=1234)), target)
    assert (target / "d").is_dir() and not (target / "d").is_symlink()
    assert outside.stat().st_uid == 0 and outside.stat().st_mode & 0o777 != 0o700


def test_hardlink_to_host_file_is_refused(box: tuple[Path, Path]) -> None:
    target, _ = box
    links = os.stat("/etc/passwd").st_nlink
    with pytest.raises(InvalidArgument, match="points to missing /etc/passwd"):
        apply(make_tar(hard("h", "/etc/passwd")), target)
    with pytest.raises(InvalidArgument, match="hardlink escapes the root"):
        apply(make_tar(hard("h", "../../../../../../etc/passwd")), target)
    assert os.stat("/etc/passwd").st_nlink == links
    assert not (target / "h").exists()


def test_hardlink_through_symlink_is_resolved_inside(box: tuple[Path, Path]) -> None:
    target, outside = box
    with pytest.raises(InvalidArgument, match="points to missing"):
        apply(make_tar(sym("s", str(outside)), hard("h", "s/secret")), target)
    assert os.stat(outside / "secret").st_nlink == 1


def test_parent_that_is_a_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="parent a is not a directory"):
        apply(make_tar(reg("a", b"file"), reg("a/b", b"x")), tmp_path / "t")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("/", ()),
        ("./", ()),
        ("a//b/./c/", ("a", "b", "c")),
        ("/abs/x", ("abs", "x")),
        ("a/../b", ("b",)),
        ("..a/b..", ("..a", "b..")),
    ],
)
def test_normalise_entry_name(name: str, expected: tuple[str, ...]) -> None:
    assert normalise_entry_name(name) == expected


_COMPONENTS = st.sampled_from(["a", "b", "..", ".", "", "c", "@OUT", ".wh.a", "..."])
_NAMES = st.lists(_COMPONENTS, min_size=1, max_size=6).map("/".join)
_LINKS = st.one_of(_NAMES, st.sampled_from(["/", "@OUT", "/@OUT", "../../..", "/etc/passwd"]))
_ENTRIES = st.lists(
    st.tuples(st.sampled_from(["reg", "dir", "sym", "hard"]), _NAMES, _LINKS),
    min_size=1,
    max_size=8,
)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(entries=_ENTRIES, mode=st.sampled_from(list(WhiteoutMode)))
def test_generated_entries_never_escape(
    entries: list[tuple[str, str, str]], mode: WhiteoutMode
) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch)
        outside = base / "outside"
        outside.mkdir()
        (outside / "a").write_text("keep")
        target = base / "nest" / "target"
        built = []
        for kind, name, link in entries:
            name = name.replace("@OUT", str(outside))
            link = link.replace("@OUT", str(outside))
            if kind == "reg":
                built.append(reg(name, b"data"))
            elif kind == "dir":
                built.append(dir_(name))
            elif kind == "sym":
                built.append(sym(name, link))
            else:
                built.append(hard(name, link))
        with contextlib.suppress(InvalidArgument):
            apply(make_tar(*built), target, mode)
        assert sorted(os.listdir(base)) == ["nest", "outside"]
        assert os.listdir(base / "nest") == ["target"]
        assert os.listdir(outside) == ["a"] and (outside / "a").read_text() == "keep"
        assert os.stat(outside / "a").st_nlink == 1


# -- metadata ------------------------------------------------------------------------------


def test_ownership_modes_and_times(tmp_path: Path) -> None:
    target = tmp_path / "t"
    tar = make_tar(
        dir_("d", mode=0o1777, uid=10, gid=20, mtime=1_000_000),
        reg("d/suid", b"#!", mode=0o4755, uid=1, gid=2, mtime=2_000_000),
        reg("d/sgid", b"", mode=0o2711, uid=3, gid=4),
        reg("d/precise", b"", pax_headers={"mtime": "1700000000.123456789", "atime": "5.5"}),
        sym("d/link", "suid", uid=7, gid=8, mtime=3_000_000),
    )
    apply(tar, target)
    d = os.stat(target / "d")
    assert (stat.S_IMODE(d.st_mode), d.st_uid, d.st_gid) == (0o1777, 10, 20)
    assert d.st_mtime_ns == 1_000_000 * 10**9  # set after its children were written
    suid = os.stat(target / "d/suid")
    assert (stat.S_IMODE(suid.st_mode), suid.st_uid, suid.st_gid) == (0o4755, 1, 2)
    assert suid.st_mtime_ns == 2_000_000 * 10**9  # not touched through the symlink
    assert stat.S_IMODE(os.stat(target / "d/sgid").st_mode) == 0o2711
    precise = os.stat(target / "d/precise")
    assert precise.st_mtime_ns == 1_700_000_000_123_456_789
    assert precise.st_atime_ns == 5_500_000_000
    link = os.lstat(target / "d/link")
    assert (link.st_uid, link.st_gid, link.st_mtime_ns) == (7, 8, 3_000_000 * 10**9)


def test_xattrs(tmp_path: Path) -> None:
    capability = bytes([1, 0, 0, 2, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    headers = {
        "SCHILY.xattr.user.comment": "héllo",
        "SCHILY.xattr.security.capability": capability.decode("utf-8", "surrogateescape"),
        "SCHILY.xattr.trusted.overlay.redirect": "/elsewhere",
        "SCHILY.xattr.trusted.overlay.opaque": "y",
    }
    apply(make_tar(reg("ping", b"\x7fELF", pax_headers=headers)), tmp_path / "t")
    path = tmp_path / "t/ping"
    assert os.getxattr(path, "user.comment") == "héllo".encode()
    assert os.getxattr(path, "security.capability") == capability
    assert not [name for name in os.listxattr(path) if name.startswith("trusted.overlay.")]


def test_devices_fifos_and_hardlinks(tmp_path: Path) -> None:
    null, _ = reg("dev/null", mode=0o666)
    null.type, null.devmajor, null.devminor = tarfile.CHRTYPE, 1, 3
    loop, _ = reg("dev/loop9", mode=0o660, gid=6)
    loop.type, loop.devmajor, loop.devminor = tarfile.BLKTYPE, 7, 9
    fifo, _ = reg("run/fifo", mode=0o620)
    fifo.type = tarfile.FIFOTYPE
    tar = make_tar(
        (null, b""), (loop, b""), (fifo, b""), reg("bin/a", b"x"), hard("bin/b", "bin/a")
    )
    target = tmp_path / "t"
    apply(tar, target)
    st_null = os.stat(target / "dev/null")
    assert stat.S_ISCHR(st_null.st_mode) and st_null.st_rdev == os.makedev(1, 3)
    assert stat.S_IMODE(st_null.st_mode) == 0o666
    st_loop = os.stat(target / "dev/loop9")
    assert stat.S_ISBLK(st_loop.st_mode) and st_loop.st_rdev == os.makedev(7, 9)
    assert st_loop.st_gid == 6
    st_fifo = os.stat(target / "run/fifo")
    assert stat.S_ISFIFO(st_fifo.st_mode) and stat.S_IMODE(st_fifo.st_mode) == 0o620
    assert os.stat(target / "bin/a").st_ino == os.stat(target / "bin/b").st_ino


def test_root_entry_sets_target_metadata(tmp_path: Path) -> None:
    target = tmp_path / "t"
    apply(make_tar(dir_("./", mode=0o750, uid=5, mtime=42), reg("a", b"")), target)
    root = os.stat(target)
    assert (stat.S_IMODE(root.st_mode), root.st_uid, root.st_mtime) == (0o750, 5, 42)


def test_later_entries_replace_earlier_ones(tmp_path: Path) -> None:
    target = tmp_path / "t"
    tar = make_tar(
        dir_("x"), reg("x/inner", b"1"), reg("x", b"now a file"), reg("y", b"1"), dir_("y")
    )
    apply(tar, target)
    assert (target / "x").read_bytes() == b"now a file"
    assert (target / "y").is_dir()


# -- whiteouts -----------------------------------------------------------------------------


def test_overlay_whiteouts(tmp_path: Path) -> None:
    target = tmp_path / "t"
    tar = make_tar(
        dir_("etc"),
        reg("etc/.wh.passwd", uid=3, gid=4),
        reg("var/.wh..wh..opq"),
        reg("var/new", b"n"),
        reg("keep/.wh..wh.plnk/123", b"aufs bookkeeping"),
    )
    apply(tar, target)
    whiteout = os.lstat(target / "etc/passwd")
    assert stat.S_ISCHR(whiteout.st_mode) and whiteout.st_rdev == 0
    assert (whiteout.st_uid, whiteout.st_gid) == (3, 4)
    assert os.getxattr(target / "var", "trusted.overlay.opaque") == b"y"
    assert sorted(os.listdir(target / "var")) == ["new"]
    assert not (target / "keep").exists()
    assert not any(name.startswith(".wh.") for name in _tree(target))


def test_overlay_directory_replacing_its_whiteout_is_opaque(tmp_path: Path) -> None:
    target = tmp_path / "t"
    apply(make_tar(reg(".wh.cache"), dir_("cache"), reg("cache/fresh", b"")), target)
    assert os.getxattr(target / "cache", "trusted.overlay.opaque") == b"y"


def test_overlay_whiteout_spares_same_layer_entry(tmp_path: Path) -> None:
    target = tmp_path / "t"
    apply(make_tar(reg("a", b"mine"), reg(".wh.a")), target)
    assert (target / "a").read_bytes() == b"mine"


@pytest.mark.parametrize("name", ["dir/.wh.", ".wh.", ".wh..", "x/.wh..."])
def test_invalid_whiteouts(tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidArgument, match="invalid whiteout entry"):
        apply(make_tar(reg(name)), tmp_path / "t")


def test_delete_mode_applies_whiteouts_to_lower_content(tmp_path: Path) -> None:
    target = tmp_path / "t"
    apply(
        make_tar(
            reg("etc/passwd", b"lower"),
            reg("etc/group", b"lower"),
            reg("var/old1", b""),
            dir_("var/olddir"),
            reg("var/olddir/x", b""),
            reg("tmp/lower", b""),
            sym("lnk", "/etc"),
        ),
        target,
        WhiteoutMode.DELETE,
    )
    apply(
        make_tar(
            reg("etc/.wh.passwd"),
            reg("var/kept-before", b"same layer"),
            reg("var/sub/deep", b"same layer"),
            reg("var/.wh..wh..opq"),
            reg("var/new", b"n"),
            reg(".wh.lnk"),
            reg(".wh.missing"),
            reg("tmp/mine", b"m"),
            reg("tmp/.wh.mine"),
        ),
        target,
        WhiteoutMode.DELETE,
    )
    assert not (target / "etc/passwd").exists() and (target / "etc/group").exists()
    assert sorted(os.listdir(target / "var")) == ["kept-before", "new", "sub"]
    assert not os.path.lexists(target / "lnk")
    assert sorted(os.listdir(target / "tmp")) == ["lower", "mine"]
    assert not any(".wh." in name for name in _tree(target))
