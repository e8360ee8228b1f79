"""BuildCacheRecords: the build cache's key → step image table (``build_cache``, schema v3).

Layer L1. Imports: stdlib, ``wharf.errdefs``, ``wharf.metadata.db``.

A row says "the step whose inputs hash to ``key`` produced the image whose manifest is
``manifest_digest``". The manifests are garbage-collection roots for as long as their rows
live; ``builder prune`` deletes rows, and the next collection frees what only they held.
"""

from __future__ import annotations

import builtins
import json
import time
from dataclasses import dataclass

from wharf.metadata.db import MetadataDB

__all__ = ["BuildCacheRecords", "CacheRow"]

_COLUMNS = (
    "key, parent_id, instruction, inputs, manifest_digest, media_type, size, image_id,"
    " created_at, last_used"
)


@dataclass(frozen=True, slots=True)
class CacheRow:
    key: str
    parent_id: str
    instruction: str
    sources: tuple[tuple[str, str], ...]
    args: tuple[str, ...]
    manifest_digest: str | None
    media_type: str
    size: int
    image_id: str
    created_at: float
    last_used: float


class BuildCacheRecords:
    def __init__(self, db: MetadataDB) -> None:
        self._db = db

    def put(self, row: CacheRow) -> None:
        inputs = json.dumps({"sources": [list(s) for s in row.sources], "args": list(row.args)})
        with self._db.transaction() as conn:
            conn.execute(
                f"INSERT OR REPLACE INTO build_cache ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    row.key,
                    row.parent_id,
                    row.instruction,
                    inputs,
                    row.manifest_digest,
                    row.media_type,
                    row.size,
                    row.image_id,
                    row.created_at,
                    row.last_used,
                ),
            )

    def get(self, key: str) -> CacheRow | None:
        """The row for ``key``, its use recorded (prune by age keeps what builds still hit)."""
        rows = self._db.query(f"SELECT {_COLUMNS} FROM build_cache WHERE key = ?", (key,))
        if not rows:
            return None
        with self._db.transaction() as conn:
            conn.execute("UPDATE build_cache SET last_used = ? WHERE key = ?", (time.time(), key))
        return _row(rows[0])

    def over(self, parent_id: str) -> builtins.list[CacheRow]:
        rows = self._db.query(
            f"SELECT {_COLUMNS} FROM build_cache WHERE parent_id = ? ORDER BY created_at",
            (parent_id,),
        )
        return [_row(row) for row in rows]

    def list(self) -> builtins.list[CacheRow]:
        rows = self._db.query(f"SELECT {_COLUMNS} FROM build_cache ORDER BY last_used")
        return [_row(row) for row in rows]

    def delete(self, keys: builtins.list[str]) -> None:
        with self._db.transaction() as conn:
            conn.executemany("DELETE FROM build_cache WHERE key = ?", [(key,) for key in keys])


def _row(row: tuple[object, ...]) -> CacheRow:
    inputs = json.loads(str(row[3]))
    return CacheRow(
        key=str(row[0]),
        parent_id=str(row[1]),
        instruction=str(row[2]),
        sources=tuple((str(a), str(b)) for a, b in inputs.get("sources", [])),
        args=tuple(str(a) for a in inputs.get("args", [])),
        manifest_digest=str(row[4]) if row[4] is not None else None,
        media_type=str(row[5]),
        size=int(row[6]),  # type: ignore[call-overload]
        image_id=str(row[7]),
        created_at=float(row[8]),  # type: ignore[arg-type]
        last_used=float(row[9]),  # type: ignore[arg-type]
    )
