"""VolumeRecords: what the engine knows about each volume, in the ``volumes`` table (schema v2).

Layer L1. Imports: stdlib, ``wharf.errdefs``, ``wharf.metadata.db``.

Columns (see ``db``): ``name`` (primary key, as the user gave it or 64 random hex digits),
``driver`` ("local"), ``created_at`` (seconds since the epoch), ``labels`` and ``options`` (JSON
objects of string -> string, ``"{}"`` when none), ``anonymous`` (1 for a volume created without
a name, which ``volume prune`` removes by default).

The files live elsewhere (``wharf.volumes``); this module stores facts only and does not
validate names (the driver does). Each method is one transaction of its own, or part of the
caller's when called inside ``MetadataDB.transaction()``.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from wharf.errdefs import EngineFailure, InvalidArgument, NotFound
from wharf.metadata.db import MetadataDB

__all__ = ["VolumeRecord", "VolumeRecords"]

_COLUMNS = "name, driver, created_at, labels, options, anonymous"


@dataclass(frozen=True, slots=True)
class VolumeRecord:
    """One volume. ``labels`` and ``options`` are read-only copies."""

    name: str
    driver: str
    created_at: float
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)
    options: Mapping[str, str] = field(default_factory=dict, hash=False)
    anonymous: bool = False

    def __post_init__(self) -> None:
        # A frozen record must not share a mutable dict with its caller.
        object.__setattr__(self, "labels", MappingProxyType(dict(self.labels)))
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))


class VolumeRecords:
    """The repository of volume records over a MetadataDB."""

    def __init__(self, db: MetadataDB) -> None:
        self._db = db

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group several calls into one transaction (rolled back if the block raises)."""
        with self._db.transaction():
            yield

    def put(self, record: VolumeRecord) -> None:
        """Insert ``record``, or replace every field of the record with the same name."""
        if not record.name:
            raise InvalidArgument("volume name must not be empty")
        if not record.driver:
            raise InvalidArgument(f"volume {record.name}: driver must not be empty")
        with self._db.transaction() as conn:
            conn.execute(
                f"INSERT INTO volumes ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET driver = excluded.driver,"
                " created_at = excluded.created_at, labels = excluded.labels,"
                " options = excluded.options, anonymous = excluded.anonymous",
                (
                    record.name,
                    record.driver,
                    record.created_at,
                    json.dumps(dict(record.labels), sort_keys=True),
                    json.dumps(dict(record.options), sort_keys=True),
                    int(record.anonymous),
                ),
            )

    def get(self, name: str) -> VolumeRecord:
        rows = self._db.query(f"SELECT {_COLUMNS} FROM volumes WHERE name = ?", (name,))
        if not rows:
            raise NotFound(f"no such volume: {name}")
        return _record(rows[0])

    def find(self, name: str) -> VolumeRecord | None:
        """The record named ``name``, or None."""
        rows = self._db.query(f"SELECT {_COLUMNS} FROM volumes WHERE name = ?", (name,))
        return _record(rows[0]) if rows else None

    def list(self) -> builtins.list[VolumeRecord]:
        """Every record, sorted by name."""
        rows = self._db.query(f"SELECT {_COLUMNS} FROM volumes ORDER BY name")
        return [_record(row) for row in rows]

    def delete(self, name: str) -> None:
        with self._db.transaction() as conn:
            if conn.execute("DELETE FROM volumes WHERE name = ?", (name,)).rowcount == 0:
                raise NotFound(f"no such volume: {name}")


def _string_map(text: str, what: str) -> dict[str, str]:
    decoded = json.loads(text)
    if not isinstance(decoded, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in decoded.items()
    ):
        raise ValueError(f"{what} are not a JSON object of strings")
    return decoded


def _record(row: tuple[Any, ...]) -> VolumeRecord:
    name, driver, created_at, labels, options, anonymous = row
    try:
        return VolumeRecord(
            name=str(name),
            driver=str(driver),
            created_at=float(created_at),
            labels=_string_map(labels, "labels"),
            options=_string_map(options, "options"),
            anonymous=bool(anonymous),
        )
    except (ValueError, TypeError) as exc:
        raise EngineFailure(f"metadata for volume {name} is corrupt: {exc}") from exc
