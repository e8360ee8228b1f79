"""ImageNames: image names and the content they point at, in the ``images`` table.

Layer L1. Imports: stdlib, ``wharf.errdefs``, ``wharf.oci.digest``, ``wharf.metadata.db``.

A name is stored as given (callers normalize references first, e.g. ``busybox`` ->
``docker.io/library/busybox:latest``); this module does not parse references. Each method
is one transaction of its own, or part of the caller's when called inside
``MetadataDB.transaction()``.
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
from wharf.oci.digest import Digest

_COLUMNS = "name, media_type, digest, size, created_at, updated_at, labels"


@dataclass(frozen=True, slots=True)
class ImageRecord:
    """One image name and the manifest or index it resolves to. ``labels`` is read-only."""

    name: str
    media_type: str
    digest: Digest
    size: int
    created_at: float
    updated_at: float
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        # A frozen record must not share a mutable dict with its caller.
        object.__setattr__(self, "labels", MappingProxyType(dict(self.labels)))


class ImageNames:
    """The repository of image names over a MetadataDB."""

    def __init__(self, db: MetadataDB) -> None:
        self._db = db

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group several calls into one transaction (rolled back if the block raises)."""
        with self._db.transaction():
            yield

    def put(self, record: ImageRecord) -> None:
        """Insert ``record``, or replace every field of the record with the same name."""
        if not record.name:
            raise InvalidArgument("image name must not be empty")
        if record.size < 0:
            raise InvalidArgument(f"image {record.name}: size {record.size} is negative")
        with self._db.transaction() as conn:
            conn.execute(
                f"INSERT INTO images ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET media_type = excluded.media_type,"
                " digest = excluded.digest, size = excluded.size,"
                " created_at = excluded.created_at, updated_at = excluded.updated_at,"
                " labels = excluded.labels",
                (
                    record.name,
                    record.media_type,
                    str(record.digest),
                    record.size,
                    record.created_at,
                    record.updated_at,
                    json.dumps(dict(record.labels), sort_keys=True),
                ),
            )

    def get(self, name: str) -> ImageRecord:
        rows = self._db.query(f"SELECT {_COLUMNS} FROM images WHERE name = ?", (name,))
        if not rows:
            raise NotFound(f"no such image: {name}")
        return _record(rows[0])

    def list(self) -> builtins.list[ImageRecord]:
        """Every name, sorted."""
        rows = self._db.query(f"SELECT {_COLUMNS} FROM images ORDER BY name")
        return [_record(row) for row in rows]

    def delete(self, name: str) -> None:
        with self._db.transaction() as conn:
            if conn.execute("DELETE FROM images WHERE name = ?", (name,)).rowcount == 0:
                raise NotFound(f"no such image: {name}")

    def by_digest(self, digest: Digest) -> builtins.list[ImageRecord]:
        """Every name pointing at ``digest``, sorted."""
        rows = self._db.query(
            f"SELECT {_COLUMNS} FROM images WHERE digest = ? ORDER BY name", (str(digest),)
        )
        return [_record(row) for row in rows]


def _record(row: tuple[Any, ...]) -> ImageRecord:
    name, media_type, digest, size, created_at, updated_at, labels = row
    try:
        decoded = json.loads(labels)
        if not isinstance(decoded, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in decoded.items()
        ):
            raise ValueError("labels are not a JSON object of strings")
        return ImageRecord(
            name=str(name),
            media_type=str(media_type),
            digest=Digest.parse(str(digest)),
            size=int(size),
            created_at=float(created_at),
            updated_at=float(updated_at),
            labels=decoded,
        )
    except (ValueError, InvalidArgument) as exc:
        raise EngineFailure(f"metadata for image {name} is corrupt: {exc}") from exc
