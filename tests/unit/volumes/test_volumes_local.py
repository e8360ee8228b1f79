"""LocalVolumes: layout, names, removal that never follows a mount, usage, mount options."""

from __future__ import annotations

import os
import re
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wharf.errdefs import Conflict, InvalidArgument, NotFound
from wharf.volumes.local import LocalVolumes, MountOptions, random_name, validate_name

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="mounts need root")


@pytest.fixture
def local(tmp_path: Path) -> LocalVolumes:
    return LocalVolumes(tmp_path / "volumes")


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_layout(local: LocalVolumes, tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        data = local.create("web-data")
    finally:
        os.umask(old)
    assert data == tmp_path / "volumes" / "web-data" / "_data"
    assert data.is_dir() and list(data.iterdir()) == []
    assert (mode(tmp_path / "volumes"), mode(data.parent), mode(data)) == (0o701, 0o701, 0o755)
    if os.geteuid() == 0:
        assert (data.stat().st_uid, data.stat().st_gid) == (0, 0)
    assert local.names() == ["web-data"]
    assert [p.name for p in (tmp_path / "volumes").iterdir()] == ["web-data"]


def test_create_is_idempotent_and_keeps_contents(local: LocalVolumes) -> None:
    data = local.create("v1")
    (data / "f").write_text("kept")
    assert local.create("v1") == data
    assert (data / "f").read_text() == "kept"
    assert local.exists("v1") and not local.exists("v2")


@pytest.mark.parametrize("name", ["a", "", ".", "..", "-x", "_x", "a/b", "a b", "é1", "x" * 256])
def test_invalid_names(local: LocalVolumes, name: str) -> None:
    with pytest.raises(InvalidArgument, match="invalid characters for a local volume name"):
        local.create(name)


@given(st.from_regex(r"[a-zA-Z0-9][a-zA-Z0-9_.-]{1,60}", fullmatch=True))
def test_valid_names_are_single_directory_entries(name: str) -> None:
    validate_name(name)
    assert "/" not in name and name not in (".", "..")


def test_random_names_are_64_hex() -> None:
    names = {random_name() for _ in range(50)}
    assert len(names) == 50
    assert all(re.fullmatch(r"[0-9a-f]{64}", n) for n in names)


def test_remove_deletes_and_is_idempotent(local: LocalVolumes, tmp_path: Path) -> None:
    data = local.create("gone")
    (data / "deep" / "er").mkdir(parents=True)
    (data / "deep" / "er" / "f").write_text("x")
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    (data / "link").symlink_to(outside)
    local.remove("gone")
    local.remove("gone")
    assert not (tmp_path / "volumes" / "gone").exists()
    assert outside.read_text() == "keep me"
    assert [p.name for p in (tmp_path / "volumes").iterdir()] == []


def test_cleanup_and_names_ignore_leftovers(local: LocalVolumes, tmp_path: Path) -> None:
    local.create("real")
    (tmp_path / "volumes" / ".tmp-0123" / "_data").mkdir(parents=True)
    (tmp_path / "volumes" / "stray-file").write_text("")
    assert local.names() == ["real"]
    local.cleanup()
    assert sorted(p.name for p in (tmp_path / "volumes").iterdir()) == ["real", "stray-file"]


def test_usage_counts_hardlinks_once_and_not_symlink_targets(
    local: LocalVolumes, tmp_path: Path
) -> None:
    data = local.create("sized")
    (data / "a").write_bytes(b"x" * 1000)
    os.link(data / "a", data / "a-again")
    (data / "sub").mkdir()
    (data / "sub" / "b").write_bytes(b"y" * 24)
    big = tmp_path / "big"
    big.write_bytes(b"z" * 100_000)
    (data / "link").symlink_to(big)
    assert local.usage("sized") == 1000 + 24 + len(str(big))
    with pytest.raises(NotFound):
        local.usage("missing")


def test_mount_options_are_checked_as_docker_does() -> None:
    assert MountOptions.parse({}) is None
    assert MountOptions.parse({"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}) == (
        MountOptions("tmpfs", "tmpfs", "size=1m")
    )
    cases = {
        'invalid option: "bogus"': {"bogus": "1"},
        'missing required option: "device"': {"type": "nfs"},
        'missing required option: "type"': {"device": "/dev/sda1"},
        "quota size requested but no quota support": {"size": "10m"},
    }
    for message, options in cases.items():
        with pytest.raises(InvalidArgument, match=re.escape(message)):
            MountOptions.parse(options)
    with pytest.raises(InvalidArgument, match="missing required option"):
        MountOptions.parse({"o": "bind"})


@pytest.fixture
def mounted_local(local: LocalVolumes) -> Iterator[LocalVolumes]:
    yield local
    for name in local.names():
        while local.is_mounted(name):
            subprocess.run(["umount", "-l", str(local.data_path(name))], check=False)


@ROOT_ONLY
def test_tmpfs_volume_mounts_and_unmounts(mounted_local: LocalVolumes) -> None:
    local = mounted_local
    local.create("fast")
    options = MountOptions("tmpfs", "tmpfs", "size=1m,mode=0750")
    data = local.mount("fast", options)
    assert local.is_mounted("fast") and mode(data) == 0o750
    assert local.mount("fast", options) == data  # already mounted: nothing more
    local.unmount("fast")
    assert not local.is_mounted("fast")
    local.unmount("fast")


@ROOT_ONLY
def test_remove_unmounts_a_bind_volume_and_keeps_the_host_files(
    mounted_local: LocalVolumes, tmp_path: Path
) -> None:
    local = mounted_local
    source = tmp_path / "host-data"
    source.mkdir()
    (source / "precious").write_text("do not delete")
    local.create("bound")
    local.mount("bound", MountOptions("none", str(source), "bind"))
    assert (local.data_path("bound") / "precious").read_text() == "do not delete"
    local.remove("bound")
    assert (source / "precious").read_text() == "do not delete"
    assert not local.exists("bound")


@ROOT_ONLY
def test_remove_refuses_when_something_else_is_mounted_inside(
    mounted_local: LocalVolumes, tmp_path: Path
) -> None:
    local = mounted_local
    source = tmp_path / "host-data"
    source.mkdir()
    (source / "precious").write_text("do not delete")
    data = local.create("nested")
    (data / "inner").mkdir()
    subprocess.run(["mount", "--bind", str(source), str(data / "inner")], check=True)
    try:
        with pytest.raises(Conflict, match="still mounted"):
            local.remove("nested")
        assert (source / "precious").exists()
    finally:
        subprocess.run(["umount", str(data / "inner")], check=True)
    local.remove("nested")


@ROOT_ONLY
def test_failed_mount_reports_without_passwords(mounted_local: LocalVolumes) -> None:
    local = mounted_local
    local.create("broken")
    with pytest.raises(Exception, match="failed to mount local volume") as caught:
        local.mount("broken", MountOptions("nosuchfs", "dev", "password=hunter2"))
    assert "hunter2" not in str(caught.value)
    assert not local.is_mounted("broken")
