"""``system df``'s arithmetic (shares, cache attribution, logs) and its assembly by the system
service, with the other services faked through the constructor; ``ImageService.disk_usage``
over real stores."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wharf.apitypes.containers import ContainerSummary
from wharf.apitypes.diskusage import BuildCacheRecord, CacheRecordType, UsageKind
from wharf.apitypes.images import ImageSummary
from wharf.apitypes.volumes import Volume, VolumeUsage
from wharf.content.local import LocalStore
from wharf.engine.disk_usage import (
    Attributed,
    Holder,
    attribute,
    log_usage,
    share_sizes,
    tree_usage,
)
from wharf.engine.images import ImageService
from wharf.engine.system import DaemonPaths, SystemService
from wharf.errdefs import InvalidArgument
from wharf.metadata.db import MetadataDB
from wharf.metadata.images import ImageNames
from wharf.oci.platform import host_platform
from wharf.snapshots.overlay import OverlaySnapshotter

# --- shares


def test_share_sizes_counts_each_item_once_and_what_others_hold_too() -> None:
    total, shares = share_sizes(
        {
            "base": {"layer:a": 100, "blob:m1": 1},
            "app": {"layer:a": 100, "layer:b": 50, "blob:m2": 2},
            "other": {"layer:c": 7},
        }
    )
    assert total == 100 + 1 + 50 + 2 + 7
    assert (shares["base"].size, shares["base"].shared_size) == (101, 100)
    assert (shares["app"].size, shares["app"].shared_size) == (152, 100)
    assert (shares["other"].size, shares["other"].shared_size) == (7, 0)


# --- build cache attribution


def test_a_step_s_layer_counts_once_although_every_later_step_reaches_it() -> None:
    run = Holder("run", 2, {"layer:base": 10, "layer:run": 500, "blob:m-run": 1}, frozenset(
        {"layer:run", "blob:m-run"}))  # fmt: skip
    env = Holder("env", 2, {"layer:base": 10, "layer:run": 500, "blob:m-env": 2}, frozenset(
        {"blob:m-env"}))  # fmt: skip
    result = attribute([env, run], held_elsewhere={"layer:base"})
    assert result == {"run": Attributed(501, shared=False), "env": Attributed(2, shared=False)}


def test_steps_of_a_tagged_image_are_shared_and_base_layers_belong_to_no_step() -> None:
    run = Holder("run", 2, {"layer:base": 10, "layer:run": 500}, frozenset({"layer:run"}))
    held = {"layer:base", "layer:run"}
    assert attribute([run], held) == {"run": Attributed(500, shared=True)}


def test_a_removed_base_image_s_layers_go_to_the_shallowest_step() -> None:
    shallow = Holder("b", 1, {"layer:base": 10, "blob:m1": 1}, frozenset({"blob:m1"}))
    deep = Holder("a", 2, {"layer:base": 10, "layer:x": 5}, frozenset({"layer:x"}))
    result = attribute([deep, shallow], held_elsewhere=set())
    assert result == {"b": Attributed(11, shared=False), "a": Attributed(5, shared=False)}


def test_a_stale_record_holds_nothing() -> None:
    assert attribute([Holder("gone", 0, {})], set()) == {"gone": Attributed(0, shared=False)}


_items = st.dictionaries(st.sampled_from([f"i{n}" for n in range(8)]), st.integers(0, 1000))


@given(
    st.lists(st.tuples(st.integers(0, 4), _items, st.integers(0, 255)), max_size=6),
    st.sets(st.sampled_from([f"i{n}" for n in range(8)])),
)
def test_unshared_sizes_add_up_to_the_bytes_only_the_cache_keeps(
    specs: list[tuple[int, dict[str, int], int]], held: set[str]
) -> None:
    sizes: dict[str, int] = {}
    holders = []
    for index, (depth, items, mask) in enumerate(specs):
        # An item has one size wherever it is reached.
        items = {item: sizes.setdefault(item, size) for item, size in items.items()}
        introduces = frozenset(item for n, item in enumerate(sorted(items)) if mask >> n & 1)
        holders.append(Holder(f"h{index}", depth, items, introduces))
    result = attribute(holders, held)
    cache_only = sum(size for item, size in sizes.items() if item not in held)
    assert sum(a.size for a in result.values() if not a.shared) == cache_only
    assert set(result) == {holder.key for holder in holders}


# --- logs and trees


def test_log_usage_counts_the_log_and_its_rotations_only(tmp_path: Path) -> None:
    cid = "c" * 64
    (tmp_path / f"{cid}-json.log").write_bytes(b"x" * 10_000)
    (tmp_path / f"{cid}-json.log.1").write_bytes(b"y" * 5_000)
    (tmp_path / "hosts").write_bytes(b"z" * 50_000)
    assert 15_000 <= log_usage(tmp_path, cid) < 50_000
    assert log_usage(tmp_path / "missing", cid) == 0
    assert tree_usage(tmp_path) >= 65_000 and tree_usage(tmp_path / "missing") == 0


# --- the system service's assembly


def _image(image_id: str, containers: int) -> ImageSummary:
    return ImageSummary(image_id, "", (), (), 0, 10, 0, (), containers)


def _container(cid: str, logs: int) -> ContainerSummary:
    return ContainerSummary(
        id=cid, names=("/c",), image="i", image_id="i", command="true", created=0,
        state="exited", status="Exited (0)", labels={}, network_mode="none", mounts=(),
        size_rw=3, size_root_fs=13, size_logs=logs,
    )  # fmt: skip


class Measured:
    """The other services' answers, counting how often each was asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def images(self) -> tuple[int, list[ImageSummary]]:
        self.asked.append("images")
        return 30, [_image("sha256:a", 1), _image("sha256:b", 0)]

    def containers(self) -> list[ContainerSummary]:
        self.asked.append("containers")
        return [_container("1" * 64, 100), _container("2" * 64, 20)]

    def volumes(self) -> list[Volume]:
        self.asked.append("volumes")
        return [Volume("v", "local", "/v", 0.0, usage=VolumeUsage(5, 0))]

    def cache(self) -> list[BuildCacheRecord]:
        self.asked.append("cache")
        return [BuildCacheRecord("k", CacheRecordType.REGULAR, "RUN x", 7, 1.0, 2.0)]


def _service(tmp_path: Path, measured: Measured) -> SystemService:
    return SystemService(
        DaemonPaths(tmp_path, tmp_path / "exec"),
        count_images=lambda: 0,
        images_usage=measured.images,
        containers_usage=measured.containers,
        volumes_usage=measured.volumes,
        build_cache_usage=measured.cache,
    )


def test_disk_usage_assembles_every_section_with_logs(tmp_path: Path) -> None:
    measured = Measured()
    usage = _service(tmp_path, measured).disk_usage()
    wire = usage.to_wire((1, 47))
    assert wire["LayersSize"] == 30 and wire["LogsSize"] == 120
    assert [c["SizeLogs"] for c in wire["Containers"]] == [100, 20]
    assert wire["Containers"][0]["SizeRw"] == 3 and wire["Containers"][0]["SizeRootFs"] == 13
    assert [i["Containers"] for i in wire["Images"]] == [1, 0]
    assert wire["Volumes"][0]["UsageData"] == {"Size": 5, "RefCount": 0}
    (record,) = wire["BuildCache"]
    assert record == {
        "ID": "k", "Type": "regular", "Description": "RUN x", "InUse": False, "Shared": False,
        "Size": 7, "CreatedAt": "1970-01-01T00:00:01Z", "LastUsedAt": "1970-01-01T00:00:02Z",
        "UsageCount": 1,
    }  # fmt: skip
    assert "BuilderSize" not in wire
    assert sorted(measured.asked) == ["cache", "containers", "images", "volumes"]


def test_disk_usage_measures_only_the_sections_asked_for(tmp_path: Path) -> None:
    measured = Measured()
    kinds = UsageKind.parse_all(["volume", "build-cache"])
    wire = _service(tmp_path, measured).disk_usage(kinds).to_wire((1, 47))
    assert sorted(measured.asked) == ["cache", "volumes"]
    assert wire["Images"] is None and wire["Containers"] is None
    assert "LayersSize" not in wire and "LogsSize" not in wire
    assert len(wire["Volumes"]) == 1 and len(wire["BuildCache"]) == 1


def test_usage_kinds_default_to_all_and_refuse_unknown_ones() -> None:
    assert UsageKind.parse_all([]) == frozenset(UsageKind)
    with pytest.raises(InvalidArgument, match="unknown object type: layers"):
        UsageKind.parse_all(["image", "layers"])


def test_old_api_versions_get_builder_size_and_one_parent() -> None:
    from wharf.apitypes.diskusage import DiskUsage

    records = (
        BuildCacheRecord("a", CacheRecordType.REGULAR, "", 7, 0.5, None, parents=("p",)),
        BuildCacheRecord("b", CacheRecordType.REGULAR, "", 900, 0.0, None, shared=True),
    )
    old = DiskUsage(build_cache=records).to_wire((1, 41))
    assert old["BuilderSize"] == 7
    assert old["BuildCache"][0]["Parent"] == "p" and "Parents" not in old["BuildCache"][0]
    assert old["BuildCache"][0]["CreatedAt"] == "1970-01-01T00:00:00.5Z"
    assert old["BuildCache"][0]["LastUsedAt"] is None
    new = DiskUsage(build_cache=records).to_wire((1, 45))
    assert new["BuildCache"][0]["Parents"] == ["p"] and "Parent" not in new["BuildCache"][0]


# --- ImageService.disk_usage over real stores


def _rootfs(name: str, size: int) -> io.BytesIO:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = size
        tar.addfile(info, io.BytesIO(b"\x7f" * size))
    data.seek(0)
    return data


def test_image_disk_usage_counts_blobs_and_layers(tmp_path: Path) -> None:
    db = MetadataDB(tmp_path / "metadata.db")
    content = LocalStore(tmp_path / "content")
    users = {"one": ["c1", "c2"]}
    service = ImageService(
        content=content,
        names=ImageNames(db),
        snapshotter=OverlaySnapshotter(tmp_path / "snapshots"),
        platform=host_platform(),
        containers_using=lambda image_id: users.get(ids.get(image_id, ""), []),
    )
    try:
        ids: dict[str, str] = {}
        first = service.import_image(
            _rootfs("a", 50_000), repository="one", tag="", changes=[], message=""
        )
        ids[first] = "one"
        service.tag_image("one", "again", "1")
        service.import_image(_rootfs("b", 20_000), repository="two", tag="", changes=[], message="")
        layers_size, images = service.disk_usage()
        assert len(images) == 2
        by_id = {image.id: image for image in images}
        one = by_id[first]
        assert set(one.repo_tags) == {"one:latest", "again:1"} and one.containers == 2
        assert all(image.shared_size == 0 for image in images)
        blobs = sum(blob.size for blob in content.walk())
        unpacked = sum(service.sizes_by_id().values())
        assert unpacked >= 70_000
        assert layers_size == blobs + unpacked == sum(image.size for image in images)
        assert one.size > by_id[next(i for i in by_id if i != first)].size
        assert service.held_items() >= {f"blob:{d.digest}" for d in content.walk()}
    finally:
        db.close()
