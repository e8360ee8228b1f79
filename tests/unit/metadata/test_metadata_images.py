"""ImageNames: the image-name repository over MetadataDB."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from wharf.errdefs import EngineFailure, InvalidArgument, NotFound
from wharf.metadata.db import MetadataDB
from wharf.metadata.images import ImageNames, ImageRecord
from wharf.oci.digest import Digest

INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
D1 = Digest.of_bytes(b"manifest 1")
D2 = Digest.of_bytes(b"manifest 2")


def record(name: str, digest: Digest = D1, **changes: object) -> ImageRecord:
    base = ImageRecord(name, INDEX, digest, 1234, 100.0, 200.0, {"a": "1"})
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


@pytest.fixture
def db(tmp_path: Path) -> Iterator[MetadataDB]:
    with MetadataDB(tmp_path / "metadata.db") as database:
        yield database


def test_put_get_round_trip(db: MetadataDB) -> None:
    images = ImageNames(db)
    rec = record("docker.io/library/busybox:latest", labels={"x": "y", "ü": "✓"})
    images.put(rec)
    got = images.get("docker.io/library/busybox:latest")
    assert got == rec
    assert isinstance(got.digest, Digest)
    assert dict(got.labels) == {"x": "y", "ü": "✓"}


def test_put_replaces(db: MetadataDB) -> None:
    images = ImageNames(db)
    images.put(record("docker.io/library/busybox:latest"))
    images.put(record("docker.io/library/busybox:latest", D2, media_type=MANIFEST, labels={}))
    got = images.get("docker.io/library/busybox:latest")
    assert (got.digest, got.media_type, dict(got.labels)) == (D2, MANIFEST, {})
    assert len(images.list()) == 1


def test_get_missing(db: MetadataDB) -> None:
    with pytest.raises(NotFound, match=r"^no such image: docker\.io/library/nope:latest$"):
        ImageNames(db).get("docker.io/library/nope:latest")


def test_list_is_sorted(db: MetadataDB) -> None:
    images = ImageNames(db)
    for name in ("docker.io/library/b:1", "docker.io/library/a:2", "ghcr.io/x/y:latest"):
        images.put(record(name))
    assert [r.name for r in images.list()] == [
        "docker.io/library/a:2",
        "docker.io/library/b:1",
        "ghcr.io/x/y:latest",
    ]


def test_delete(db: MetadataDB) -> None:
    images = ImageNames(db)
    images.put(record("docker.io/library/a:1"))
    images.put(record("docker.io/library/a:2"))
    images.delete("docker.io/library/a:1")
    assert [r.name for r in images.list()] == ["docker.io/library/a:2"]
    with pytest.raises(NotFound, match=r"no such image: docker\.io/library/a:1"):
        images.delete("docker.io/library/a:1")


def test_by_digest(db: MetadataDB) -> None:
    images = ImageNames(db)
    images.put(record("docker.io/library/b:latest", D1))
    images.put(record(f"docker.io/library/b@{D1}", D1))
    images.put(record("docker.io/library/c:latest", D2))
    assert [r.name for r in images.by_digest(D1)] == [
        "docker.io/library/b:latest",
        f"docker.io/library/b@{D1}",
    ]
    assert images.by_digest(Digest.of_bytes(b"other")) == []


def test_record_is_frozen_and_copies_labels() -> None:
    labels = {"k": "v"}
    rec = record("n", labels=labels)
    labels["k"] = "changed"
    assert rec.labels["k"] == "v"
    with pytest.raises(TypeError):
        rec.labels["k"] = "x"  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        rec.name = "other"  # type: ignore[misc]
    assert hash(rec) == hash(record("n", labels={"other": "labels"}))


def test_rejects_bad_records(db: MetadataDB) -> None:
    images = ImageNames(db)
    with pytest.raises(InvalidArgument, match="must not be empty"):
        images.put(record(""))
    with pytest.raises(InvalidArgument, match="negative"):
        images.put(record("n", size=-1))
    assert images.list() == []


def test_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "metadata.db"
    with MetadataDB(path) as db:
        ImageNames(db).put(record("docker.io/library/busybox:latest"))
    with MetadataDB(path) as db:
        assert ImageNames(db).get("docker.io/library/busybox:latest") == record(
            "docker.io/library/busybox:latest"
        )


def test_caller_transaction_rolls_back_all_puts(db: MetadataDB) -> None:
    images = ImageNames(db)
    with pytest.raises(RuntimeError), images.transaction():
        images.put(record("docker.io/library/a:1"))
        images.put(record("docker.io/library/a:2"))
        raise RuntimeError("tagging failed half-way")
    assert images.list() == []


def test_corrupt_row_is_an_engine_failure(db: MetadataDB) -> None:
    with db.transaction() as conn:
        conn.execute("INSERT INTO images VALUES ('bad', 'm', 'md5:00', 1, 0, 0, '{}')")
        conn.execute("INSERT INTO images VALUES ('bad2', 'm', ?, 1, 0, 0, '[1]')", (str(D1),))
    with pytest.raises(EngineFailure, match="metadata for image bad is corrupt"):
        ImageNames(db).get("bad")
    with pytest.raises(EngineFailure, match="metadata for image bad2 is corrupt"):
        ImageNames(db).get("bad2")


def test_threads_tag_concurrently(db: MetadataDB) -> None:
    images = ImageNames(db)
    images.put(record("shared", size=0))
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(20):
                images.put(record(f"docker.io/t/{n}:{i}"))
                with db.transaction():  # read-modify-write must not lose updates
                    current = images.get("shared")
                    images.put(dataclasses.replace(current, size=current.size + 1))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert images.get("shared").size == 120
    assert len(images.list()) == 121
    assert db.check()
