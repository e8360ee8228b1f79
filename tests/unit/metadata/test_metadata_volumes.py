"""VolumeRecords: the volume repository over MetadataDB (schema v2 ``volumes`` table)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from wharf.errdefs import EngineFailure, InvalidArgument, NotFound
from wharf.metadata.db import MetadataDB
from wharf.metadata.volumes import VolumeRecord, VolumeRecords


def record(name: str, **changes: object) -> VolumeRecord:
    base = VolumeRecord(name, "local", 100.5, {"a": "1"}, {"type": "tmpfs"}, False)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


@pytest.fixture
def db(tmp_path: Path) -> Iterator[MetadataDB]:
    with MetadataDB(tmp_path / "metadata.db") as database:
        yield database


def test_put_get_round_trip(db: MetadataDB) -> None:
    volumes = VolumeRecords(db)
    rec = record("data", labels={"x": "y", "ü": "✓"}, anonymous=True)
    volumes.put(rec)
    got = volumes.get("data")
    assert got == rec
    assert got.anonymous is True and dict(got.options) == {"type": "tmpfs"}
    assert volumes.find("data") == rec
    assert volumes.find("other") is None


def test_put_replaces_every_field(db: MetadataDB) -> None:
    volumes = VolumeRecords(db)
    volumes.put(record("data"))
    volumes.put(record("data", created_at=7.0, labels={}, options={}, anonymous=True))
    got = volumes.get("data")
    assert (got.created_at, dict(got.labels), dict(got.options), got.anonymous) == (
        7.0,
        {},
        {},
        True,
    )
    assert len(volumes.list()) == 1


def test_list_sorted_and_delete(db: MetadataDB) -> None:
    volumes = VolumeRecords(db)
    for name in ("b", "a0", "c"):
        volumes.put(record(name))
    assert [r.name for r in volumes.list()] == ["a0", "b", "c"]
    volumes.delete("b")
    assert [r.name for r in volumes.list()] == ["a0", "c"]
    with pytest.raises(NotFound, match=r"^no such volume: b$"):
        volumes.delete("b")
    with pytest.raises(NotFound, match=r"^no such volume: b$"):
        volumes.get("b")


def test_rejects_bad_records(db: MetadataDB) -> None:
    volumes = VolumeRecords(db)
    with pytest.raises(InvalidArgument, match="must not be empty"):
        volumes.put(record(""))
    with pytest.raises(InvalidArgument, match="driver"):
        volumes.put(record("x", driver=""))
    assert volumes.list() == []


def test_record_is_frozen_and_copies_maps() -> None:
    labels = {"k": "v"}
    rec = record("n", labels=labels)
    labels["k"] = "changed"
    assert rec.labels["k"] == "v"
    with pytest.raises(TypeError):
        rec.options["x"] = "y"  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        rec.name = "m"  # type: ignore[misc]


def test_caller_transaction_rolls_back(db: MetadataDB) -> None:
    volumes = VolumeRecords(db)
    with pytest.raises(RuntimeError), volumes.transaction():
        volumes.put(record("a"))
        raise RuntimeError("half-way")
    assert volumes.list() == []


def test_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "metadata.db"
    with MetadataDB(path) as db:
        VolumeRecords(db).put(record("keep"))
    with MetadataDB(path) as db:
        assert VolumeRecords(db).get("keep") == record("keep")


def test_corrupt_row_is_an_engine_failure(db: MetadataDB) -> None:
    with db.transaction() as conn:
        conn.execute("INSERT INTO volumes VALUES ('bad', 'local', 1, '[1]', '{}', 0)")
        conn.execute("INSERT INTO volumes VALUES ('bad2', 'local', 1, '{}', '{\"o\": 1}', 0)")
    with pytest.raises(EngineFailure, match="metadata for volume bad is corrupt"):
        VolumeRecords(db).get("bad")
    with pytest.raises(EngineFailure, match="metadata for volume bad2 is corrupt"):
        VolumeRecords(db).get("bad2")
