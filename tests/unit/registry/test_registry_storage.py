"""RegistryStore: links, manifests, tags, referrers, deletes; and online GC."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from wharf.content.local import LocalStore
from wharf.content.store import write_blob
from wharf.distribution.errors import ErrorCode, RegistryError
from wharf.distribution.names import ManifestReference
from wharf.errdefs import InvalidArgument
from wharf.oci import mediatypes
from wharf.oci.descriptor import Descriptor
from wharf.oci.digest import Digest
from wharf.oci.manifest import Index, Manifest
from wharf.registry import layout
from wharf.registry.filesystem import FilesystemDriver
from wharf.registry.gc import Collector
from wharf.registry.memory import MemoryDriver
from wharf.registry.storage import RegistryStore

TAG = ManifestReference(tag="latest")


@pytest.fixture
def store(tmp_path: Path) -> RegistryStore:
    return RegistryStore(FilesystemDriver(tmp_path / "meta"), LocalStore(tmp_path / "content"))


def push_blob(store: RegistryStore, name: str, data: bytes) -> Descriptor:
    digest = write_blob(store.blobs, f"t/{Digest.of_bytes(data).hex}", data)
    with store.guard.shared():
        store.link_blob(name, digest)
    return Descriptor(mediatypes.OCI_LAYER, digest, len(data))


def image(store: RegistryStore, name: str, payload: bytes, **kw: object) -> Manifest:
    config = push_blob(store, name, b'{"architecture":"amd64","os":"linux"}')
    layer = push_blob(store, name, payload)
    return Manifest(
        config=Descriptor(mediatypes.OCI_CONFIG, config.digest, config.size),
        layers=(layer,),
        **kw,  # type: ignore[arg-type]
    )


def put(
    store: RegistryStore, name: str, manifest: Manifest | Index, ref: ManifestReference = TAG
) -> Digest:
    return store.put_manifest(name, ref, manifest.to_bytes(), manifest.media_type).digest


def test_manifest_roundtrip_and_tags(store: RegistryStore) -> None:
    manifest = image(store, "a/b", b"layer")
    digest = put(store, "a/b", manifest)
    got = store.get_manifest("a/b", TAG)
    assert got.data == manifest.to_bytes()
    assert got.revision.digest == digest
    assert got.revision.media_type == mediatypes.OCI_MANIFEST
    assert store.get_manifest("a/b", ManifestReference(digest=digest)).data == got.data
    assert store.tags("a/b") == ["latest"]
    assert store.catalog() == ["a/b"]


def test_repositories_are_isolated(store: RegistryStore) -> None:
    layer = push_blob(store, "one", b"secret")
    with pytest.raises(RegistryError) as info:
        store.blob_info("two", layer.digest)
    assert info.value.code is ErrorCode.BLOB_UNKNOWN
    assert store.mount_blob("two", layer.digest, "nothere") is False
    assert store.mount_blob("two", layer.digest, "one") is True
    assert store.blob_info("two", layer.digest).size == 6


def test_manifest_refers_to_unknown_blob(store: RegistryStore) -> None:
    manifest = image(store, "a", b"x")
    with pytest.raises(RegistryError) as info:
        put(store, "b", manifest)  # blobs are linked in "a" only
    assert info.value.code is ErrorCode.MANIFEST_BLOB_UNKNOWN


def test_index_needs_its_manifests(store: RegistryStore) -> None:
    manifest = image(store, "a", b"x")
    data = manifest.to_bytes()
    child = Descriptor(mediatypes.OCI_MANIFEST, Digest.of_bytes(data), len(data))
    index = Index(manifests=(child,))
    with pytest.raises(RegistryError) as info:
        put(store, "a", index)
    assert info.value.code is ErrorCode.MANIFEST_BLOB_UNKNOWN
    put(store, "a", manifest, ManifestReference(digest=child.digest))
    put(store, "a", index)


def test_digest_and_validation_errors(store: RegistryStore) -> None:
    manifest = image(store, "a", b"x")
    wrong = ManifestReference(digest=Digest.of_bytes(b"other"))
    with pytest.raises(RegistryError) as info:
        put(store, "a", manifest, wrong)
    assert info.value.code is ErrorCode.DIGEST_INVALID
    with pytest.raises(RegistryError) as info:
        store.put_manifest("a", TAG, b"{not json", None)
    assert info.value.code is ErrorCode.MANIFEST_INVALID
    small = RegistryStore(store.driver, store.blobs, max_manifest_bytes=10)
    with pytest.raises(RegistryError) as info:
        put(small, "a", manifest)
    assert info.value.status == 413


def test_subject_does_not_need_to_exist_and_referrers(store: RegistryStore) -> None:
    subject = Descriptor(mediatypes.OCI_MANIFEST, Digest.of_bytes(b"future"), 6)
    sig = image(
        store,
        "a",
        b"sig",
        subject=subject,
        artifact_type="application/x-sig",
        annotations={"k": "v"},
    )
    sbom = image(store, "a", b"sbom", subject=subject)
    result = store.put_manifest("a", ManifestReference(tag="sig"), sig.to_bytes(), None)
    assert result.subject == subject.digest
    put(store, "a", sbom, ManifestReference(tag="sbom"))
    found = store.referrers("a", subject.digest)
    assert len(found) == 2
    by_type = {d.artifact_type: d for d in found}
    assert by_type["application/x-sig"].annotations == {"k": "v"}
    assert mediatypes.OCI_CONFIG in by_type  # no artifactType: the config's media type
    assert [d.digest for d in store.referrers("a", subject.digest, "application/x-sig")] == [
        result.digest
    ]
    assert store.referrers("a", Digest.of_bytes(b"none")) == []
    store.delete_manifest("a", ManifestReference(digest=result.digest))
    assert len(store.referrers("a", subject.digest)) == 1


def test_delete_tag_and_digest(store: RegistryStore) -> None:
    digest = put(store, "a", image(store, "a", b"x"))
    put(store, "a", image(store, "a", b"x"), ManifestReference(tag="also"))
    store.delete_manifest("a", ManifestReference(tag="also"))
    assert store.tags("a") == ["latest"]
    with pytest.raises(RegistryError):
        store.delete_manifest("a", ManifestReference(tag="also"))
    store.delete_manifest("a", ManifestReference(digest=digest))
    assert store.tags("a") == []
    with pytest.raises(RegistryError) as info:
        store.get_manifest("a", ManifestReference(digest=digest))
    assert info.value.code is ErrorCode.MANIFEST_UNKNOWN
    with pytest.raises(RegistryError) as info:
        store.tags("nope")
    assert info.value.code is ErrorCode.NAME_UNKNOWN


def test_extra_tags_and_bad_extra_tag(store: RegistryStore) -> None:
    manifest = image(store, "a", b"x")
    ref = ManifestReference(digest=Digest.of_bytes(manifest.to_bytes()))
    store.put_manifest("a", ref, manifest.to_bytes(), None, ("t1", "t2"))
    assert store.tags("a") == ["t1", "t2"]
    with pytest.raises(RegistryError) as info:
        store.put_manifest("a", ref, manifest.to_bytes(), None, ("bad tag",))
    assert info.value.code is ErrorCode.TAG_INVALID


def test_catalog_nested_names(store: RegistryStore) -> None:
    for name in ("a", "a/b", "a/b/c", "z"):
        push_blob(store, name, name.encode())
    assert store.catalog() == ["a", "a/b", "a/b/c", "z"]


def test_schema_version_is_checked(tmp_path: Path) -> None:
    driver = MemoryDriver()
    driver.write(layout.VERSION_KEY, b"99")
    with pytest.raises(InvalidArgument):
        RegistryStore(driver, LocalStore(tmp_path))


def test_concurrent_puts_of_one_manifest(store: RegistryStore) -> None:
    manifest = image(store, "a", b"x")
    errors: list[BaseException] = []

    def go() -> None:
        try:
            put(store, "a", manifest)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=go) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


# -- garbage collection -----------------------------------------------------------------


def age(store: RegistryStore, tmp_path: Path, seconds: float = 10_000) -> None:
    """Make every blob and link look old."""
    for base in (tmp_path / "content" / "blobs", tmp_path / "meta"):
        for dirpath, _dirs, files in os.walk(base):
            for f in files:
                p = os.path.join(dirpath, f)
                st = os.stat(p)
                os.utime(p, (st.st_atime - seconds, st.st_mtime - seconds))


def test_gc_keeps_referenced_and_removes_unreferenced(store: RegistryStore, tmp_path: Path) -> None:
    manifest = image(store, "a", b"kept layer")
    put(store, "a", manifest)
    orphan = push_blob(store, "a", b"orphan")
    mounted = push_blob(store, "b", b"orphan2")
    assert store.mount_blob("c", mounted.digest, "b")
    age(store, tmp_path)
    report = Collector(store, store.blobs, grace=60).collect()
    assert report.blobs_deleted == 2
    assert not store.blobs.exists(orphan.digest)
    assert not store.driver.exists(layout.layer_link("c", mounted.digest))
    assert store.blobs.exists(manifest.layers[0].digest)
    assert store.get_manifest("a", TAG).data == manifest.to_bytes()


def test_gc_grace_protects_fresh_blobs(store: RegistryStore, tmp_path: Path) -> None:
    orphan = push_blob(store, "a", b"just pushed")
    assert Collector(store, store.blobs, grace=60).collect().blobs_deleted == 0
    age(store, tmp_path)
    # Re-linking (a new push of the same bytes) refreshes the link: still protected.
    with store.guard.shared():
        store.link_blob("a", orphan.digest)
    assert Collector(store, store.blobs, grace=60).collect().blobs_deleted == 0
    age(store, tmp_path)
    assert Collector(store, store.blobs, grace=60).collect(dry_run=True).blobs_deleted == 1
    assert store.blobs.exists(orphan.digest)


def test_gc_spares_blobs_touched_during_collection(store: RegistryStore, tmp_path: Path) -> None:
    orphan = push_blob(store, "a", b"racing")
    age(store, tmp_path)
    collector = Collector(store, store.blobs, grace=60)
    original = store.catalog

    def catalog_then_push() -> list[str]:
        names = original()
        # A manifest push lands while the collector marks: its blobs are touched.
        store.guard.touch([orphan.digest])
        return names

    store.catalog = catalog_then_push  # type: ignore[method-assign]
    assert collector.collect().blobs_deleted == 0
    assert store.blobs.exists(orphan.digest)


def test_gc_delete_untagged(store: RegistryStore, tmp_path: Path) -> None:
    tagged = put(store, "a", image(store, "a", b"v2"))
    untagged_manifest = image(store, "a", b"v1")
    untagged = put(
        store,
        "a",
        untagged_manifest,
        ManifestReference(digest=Digest.of_bytes(untagged_manifest.to_bytes())),
    )
    sig = image(store, "a", b"sig", subject=Descriptor(mediatypes.OCI_MANIFEST, tagged, 1))
    signature = put(store, "a", sig, ManifestReference(digest=Digest.of_bytes(sig.to_bytes())))
    age(store, tmp_path)
    report = Collector(store, store.blobs, grace=60, delete_untagged=True).collect()
    assert report.manifests_deleted == 1
    revisions = {r.digest for r in store.revisions("a")}
    assert revisions == {tagged, signature}
    assert untagged not in revisions
    assert not store.blobs.exists(untagged_manifest.layers[0].digest)


def test_gc_purges_stale_uploads_only(store: RegistryStore, tmp_path: Path) -> None:
    stale = store.blobs.writer(layout.upload_ref("a", "old"))
    stale.write(b"abc")
    stale.close()
    live = store.blobs.writer(layout.upload_ref("a", "live"))
    live.write(b"abc")
    status_dir = tmp_path / "content" / "ingest"
    for entry in status_dir.iterdir():
        (entry / "updatedat").write_text("0.0")  # LocalStore ages ingests by this record
        for f in entry.iterdir():
            os.utime(f, (0, 0))
    report = Collector(store, store.blobs, grace=60, upload_purge_after=60).collect()
    assert report.uploads_purged == 1
    assert [s.ref for s in store.blobs.ingests()] == [layout.upload_ref("a", "live")]
    live.close()


def test_revision_link_records_subject(store: RegistryStore) -> None:
    subject = Descriptor(mediatypes.OCI_MANIFEST, Digest.of_bytes(b"s"), 1)
    digest = put(store, "a", image(store, "a", b"x", subject=subject))
    record = json.loads(store.driver.read(layout.revision_link("a", digest)))
    assert record["subject"] == str(subject.digest)
