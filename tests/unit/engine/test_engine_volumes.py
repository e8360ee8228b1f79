"""VolumeService over a real metadata DB and local driver, with container use faked."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from wharf.apitypes.filters import Filters
from wharf.apitypes.volumes import ANONYMOUS_LABEL
from wharf.engine.volumes import VolumeService
from wharf.errdefs import Conflict, InvalidArgument, NotFound
from wharf.metadata.db import MetadataDB
from wharf.metadata.volumes import VolumeRecord, VolumeRecords
from wharf.volumes.local import LocalVolumes

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (chown, mounts)")


class Users:
    """Which containers use which volume: the container service's answer, faked."""

    def __init__(self) -> None:
        self.by_volume: dict[str, list[str]] = {}

    def __call__(self, name: str) -> list[str]:
        return list(self.by_volume.get(name, []))


class Env:
    def __init__(self, tmp_path: Path) -> None:
        self.db = MetadataDB(tmp_path / "metadata.db")
        self.records = VolumeRecords(self.db)
        self.local = LocalVolumes(tmp_path / "volumes")
        self.users = Users()
        self.now = 1_700_000_000.0
        self.service = VolumeService(self.records, self.local, self.users, clock=lambda: self.now)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    environment = Env(tmp_path)
    yield environment
    for name in environment.local.names():
        while environment.local.is_mounted(name):
            subprocess.run(["umount", "-l", str(environment.local.data_path(name))], check=False)
    environment.db.close()


def f(**entries: list[str]) -> Filters:
    return Filters(tuple(sorted((k.replace("_not", "!"), tuple(v)) for k, v in entries.items())))


def names(env: Env, filters: Filters | None = None) -> list[str]:
    return [v.name for v in env.service.list_volumes(filters=filters or Filters()).volumes]


# ---------------------------------------------------------------- create / inspect


def test_create_named(env: Env, tmp_path: Path) -> None:
    volume = env.service.create_volume("data", labels={"team": "a"}, driver_opts=None)
    assert volume.name == "data" and volume.driver == "local" and volume.scope == "local"
    assert volume.mountpoint == str(tmp_path / "volumes" / "data" / "_data")
    assert volume.labels == (("team", "a"),) and volume.options == ()
    assert volume.created_at == env.now and not volume.anonymous
    assert Path(volume.mountpoint).is_dir()
    assert env.records.get("data") == VolumeRecord("data", "local", env.now, {"team": "a"})
    assert env.service.inspect_volume("data") == volume


def test_create_anonymous(env: Env) -> None:
    volume = env.service.create_volume()
    assert re.fullmatch(r"[0-9a-f]{64}", volume.name)
    assert dict(volume.labels) == {ANONYMOUS_LABEL: ""} and volume.anonymous
    assert env.records.get(volume.name).anonymous is True


def test_create_existing_returns_it_unchanged(env: Env) -> None:
    first = env.service.create_volume("data", labels={"v": "1"})
    env.now += 60
    again = env.service.create_volume("data", labels={"v": "2"})
    assert again == first


def test_create_errors_leave_nothing_behind(env: Env) -> None:
    with pytest.raises(NotFound, match=r'plugin "nfsplugin" not found'):
        env.service.create_volume("x1", driver="nfsplugin")
    with pytest.raises(InvalidArgument, match=r'^create a: "a" includes invalid characters'):
        env.service.create_volume("a")
    with pytest.raises(InvalidArgument, match=r'^create x2: invalid option: "bogus"$'):
        env.service.create_volume("x2", driver_opts={"bogus": "1"})
    assert env.records.list() == [] and env.local.names() == []


def test_existing_name_with_another_driver_conflicts(env: Env) -> None:
    env.records.put(VolumeRecord("plugged", "other", 1.0))
    with pytest.raises(Conflict, match="driver 'other' already has volume 'plugged'"):
        env.service.create_volume("plugged")


def test_inspect_missing(env: Env) -> None:
    with pytest.raises(NotFound, match=r"^get nope: no such volume$"):
        env.service.inspect_volume("nope")


# ---------------------------------------------------------------- list


def test_list_filters(env: Env) -> None:
    env.service.create_volume("web-data", labels={"app": "web", "tier": "front"})
    env.service.create_volume("web-logs", labels={"app": "web"})
    env.service.create_volume("db-data", labels={"app": "db"})
    env.users.by_volume["web-data"] = ["c1"]
    assert names(env) == ["db-data", "web-data", "web-logs"]
    assert names(env, f(name=["^web"])) == ["web-data", "web-logs"]
    assert names(env, f(name=["data"])) == ["db-data", "web-data"]
    assert names(env, f(name=["db-data", "logs$"])) == ["db-data", "web-logs"]
    assert names(env, f(name=["[unclosed"])) == []
    assert names(env, f(label=["app=web"])) == ["web-data", "web-logs"]
    assert names(env, f(label=["app=web", "tier"])) == ["web-data"]
    assert names(env, f(label=["app=nope"])) == []
    assert names(env, f(driver=["local"])) == ["db-data", "web-data", "web-logs"]
    assert names(env, f(driver=["other"])) == []
    assert names(env, f(dangling=["true"])) == ["db-data", "web-logs"]
    assert names(env, f(dangling=["0"])) == ["web-data"]


def test_list_filter_errors(env: Env) -> None:
    with pytest.raises(InvalidArgument, match=r"^invalid filter 'until'$"):
        env.service.list_volumes(filters=f(until=["1h"]))
    with pytest.raises(InvalidArgument, match=r"^invalid filter 'dangling=maybe'$"):
        env.service.list_volumes(filters=f(dangling=["maybe"]))
    with pytest.raises(InvalidArgument, match=r"^invalid filter 'dangling=true,false'$"):
        env.service.list_volumes(filters=f(dangling=["true", "false"]))


def test_list_warns_about_a_missing_directory(env: Env, tmp_path: Path) -> None:
    env.service.create_volume("lost")
    os.rmdir(tmp_path / "volumes" / "lost" / "_data")
    result = env.service.list_volumes(filters=Filters())
    assert [v.name for v in result.volumes] == ["lost"]
    assert len(result.warnings) == 1 and "lost" in result.warnings[0]


# ---------------------------------------------------------------- remove / prune


def test_remove(env: Env, tmp_path: Path) -> None:
    env.service.create_volume("busy")
    env.service.create_volume("free")
    env.users.by_volume["busy"] = ["aaa", "bbb"]
    with pytest.raises(Conflict, match=r"^remove busy: volume is in use - \[aaa bbb\]$"):
        env.service.remove_volume("busy", force=True)
    env.service.remove_volume("free")
    assert not (tmp_path / "volumes" / "free").exists()
    assert names(env) == ["busy"]
    with pytest.raises(NotFound, match=r"^get free: no such volume$"):
        env.service.remove_volume("free")
    env.service.remove_volume("free", force=True)


def _fill(env: Env, name: str, size: int) -> None:
    (Path(env.service.inspect_volume(name).mountpoint) / "blob").write_bytes(b"x" * size)


def test_prune_removes_unused_anonymous_volumes_only(env: Env) -> None:
    anon_free = env.service.create_volume().name
    anon_busy = env.service.create_volume().name
    env.service.create_volume("named")
    _fill(env, anon_free, 1234)
    env.users.by_volume[anon_busy] = ["c1"]
    report = env.service.prune_volumes(filters=Filters())
    assert report.deleted == (anon_free,) and report.space_reclaimed == 1234
    assert sorted(names(env)) == sorted([anon_busy, "named"])


def test_prune_all_and_labels(env: Env) -> None:
    env.service.create_volume("keep", labels={"keep": "yes"})
    env.service.create_volume("go1", labels={"env": "test"})
    env.service.create_volume("go2")
    env.service.create_volume("opts", driver_opts={"type": "tmpfs", "device": "tmpfs"})
    _fill(env, "go1", 10)
    _fill(env, "go2", 5)
    report = env.service.prune_volumes(filters=f(all=["true"], label_not=["keep"]))
    assert sorted(report.deleted) == ["go1", "go2"] and report.space_reclaimed == 15
    assert names(env) == ["keep", "opts"]  # volumes with mount options are never pruned
    report = env.service.prune_volumes(filters=f(all=["1"], label=["keep=no"]))
    assert report.deleted == ()


def test_prune_filter_errors(env: Env) -> None:
    with pytest.raises(InvalidArgument, match=r"^invalid filter 'dangling'$"):
        env.service.prune_volumes(filters=f(dangling=["true"]))
    with pytest.raises(InvalidArgument, match=r"invalid filter 'all': strconv.ParseBool"):
        env.service.prune_volumes(filters=f(all=["yes"]))
    with pytest.raises(InvalidArgument, match="only one value is expected"):
        env.service.prune_volumes(filters=f(all=["true", "false"]))


def test_disk_usage(env: Env) -> None:
    env.service.create_volume("sized")
    env.service.create_volume("opts", driver_opts={"type": "tmpfs", "device": "tmpfs"})
    _fill(env, "sized", 99)
    env.users.by_volume["sized"] = ["c1", "c2"]
    (volume,) = env.service.disk_usage()
    assert volume.name == "sized" and volume.usage is not None
    assert volume.usage.to_wire() == {"Size": 99, "RefCount": 2}


# ---------------------------------------------------------------- for containers


def test_ensure(env: Env) -> None:
    name, path = env.service.ensure("shared")
    assert name == "shared" and path.is_dir() and not env.records.get("shared").anonymous
    assert env.service.ensure("shared") == (name, path)
    anon, anon_path = env.service.ensure(None, anonymous=True)
    assert env.records.get(anon).anonymous and anon_path == env.local.data_path(anon)


def test_remove_anonymous_keeps_named_and_used(env: Env) -> None:
    free = env.service.create_volume().name
    used = env.service.create_volume().name
    env.service.create_volume("named")
    env.users.by_volume[used] = ["c2"]
    assert env.service.remove_anonymous([free, used, "named", "missing"]) == [free]
    assert sorted(names(env)) == sorted([used, "named"])


@pytest.fixture
def image_root(tmp_path: Path) -> Path:
    root = tmp_path / "rootfs"
    data = root / "var" / "lib" / "app"
    (data / "conf").mkdir(parents=True)
    (data / "conf" / "app.ini").write_text("[app]\n")
    (data / "run.sh").write_text("#!/bin/sh\n")
    os.chmod(data / "run.sh", 0o4750)
    os.setxattr(data / "run.sh", "user.origin", b"image")
    (data / "current").symlink_to("conf")
    os.chmod(data, 0o750)
    if os.geteuid() == 0:
        os.chown(data, 999, 998)
        os.chown(data / "conf" / "app.ini", 999, 998)
    return root


def test_populate_copies_image_content_into_an_empty_volume(env: Env, image_root: Path) -> None:
    name, path = env.service.ensure(None, anonymous=True)
    assert env.service.populate(name, image_root, "/var/lib/app") is True
    assert (path / "conf" / "app.ini").read_text() == "[app]\n"
    assert stat.S_IMODE(os.stat(path / "run.sh").st_mode) == 0o4750
    assert os.getxattr(path / "run.sh", "user.origin") == b"image"
    assert os.readlink(path / "current") == "conf"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o750  # the volume root takes the image dir's
    if os.geteuid() == 0:
        assert (os.stat(path).st_uid, os.stat(path).st_gid) == (999, 998)
        assert os.stat(path / "conf" / "app.ini").st_uid == 999
    (path / "conf" / "app.ini").write_text("changed by a container\n")
    assert env.service.populate(name, image_root, "/var/lib/app") is False
    assert (path / "conf" / "app.ini").read_text() == "changed by a container\n"


def test_populate_skips_what_is_not_a_directory(env: Env, image_root: Path) -> None:
    name, path = env.service.ensure("vol")
    assert env.service.populate(name, image_root, "/nope") is False
    assert env.service.populate(name, image_root, "/var/lib/app/run.sh") is False
    assert list(path.iterdir()) == []
    with pytest.raises(NotFound):
        env.service.populate("missing", image_root, "/var/lib/app")


def test_populate_follows_image_symlinks_inside_the_rootfs_only(
    env: Env, image_root: Path, tmp_path: Path
) -> None:
    host_secret = tmp_path / "host-secrets"
    host_secret.mkdir()
    (host_secret / "shadow").write_text("HOST SECRET")
    (image_root / "data").symlink_to(str(host_secret))  # an image planting a host path
    name, path = env.service.ensure(None, anonymous=True)
    assert env.service.populate(name, image_root, "/data") is False  # not there inside
    assert list(path.iterdir()) == []
    (image_root / "link").symlink_to("/var/lib/app")
    assert env.service.populate(name, image_root, "/link") is True
    assert (path / "conf" / "app.ini").exists()


def test_restore_adopts_orphans_and_recreates_lost_directories(env: Env, tmp_path: Path) -> None:
    env.service.create_volume("known")
    (tmp_path / "volumes" / "orphan" / "_data").mkdir(parents=True)
    (tmp_path / "volumes" / "orphan" / "_data" / "f").write_text("data")
    (tmp_path / "volumes" / ".tmp-deadbeef" / "_data").mkdir(parents=True)
    os.rmdir(tmp_path / "volumes" / "known" / "_data")
    os.rmdir(tmp_path / "volumes" / "known")
    env.service.restore()
    assert names(env) == ["known", "orphan"]
    assert env.local.exists("known")
    assert not (tmp_path / "volumes" / ".tmp-deadbeef").exists()
    assert not env.records.get("orphan").anonymous


def test_locked_holds_off_removal(env: Env) -> None:
    env.service.create_volume("contended")
    finished = threading.Event()

    def remove() -> None:
        try:
            env.service.remove_volume("contended")
        except Conflict:
            return
        finished.set()

    with env.service.locked():
        worker = threading.Thread(target=remove)
        worker.start()
        assert not finished.wait(0.2)
        env.users.by_volume["contended"] = ["new-container"]  # recorded under the lock
    worker.join()
    assert not finished.is_set()  # the removal saw the new user and refused
    assert names(env) == ["contended"]


@ROOT_ONLY
def test_mount_refcounts_volumes_with_options(env: Env) -> None:
    env.service.create_volume(
        "fast", driver_opts={"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}
    )
    env.service.create_volume("plain")
    assert env.service.mount("plain", "c1") == env.local.data_path("plain")
    assert not env.local.is_mounted("plain")
    path = env.service.mount("fast", "c1")
    env.service.mount("fast", "c2")
    assert env.local.is_mounted("fast")
    with pytest.raises(Conflict, match=r"volume is in use - \[c1 c2\]"):
        env.service.remove_volume("fast")
    env.service.unmount("fast", "c1")
    assert env.local.is_mounted("fast")
    env.service.unmount("fast", "c2")
    assert not env.local.is_mounted("fast")
    assert path == env.local.data_path("fast")
    env.service.remove_volume("fast")
