"""ContainerRecords: containers' immutable config and mutable state, in the ``containers``
table (schema drawn in ``metadata.db``).

Layer L1. Imports: stdlib, ``wharf.errdefs``, ``wharf.metadata.db``. Config and state are
stored as the JSON documents the engine gives (it owns their shape and types them); this
module keeps names unique and updates atomic. Names are stored without Docker's leading "/".
"""

from __future__ import annotations

import builtins
import re
import sqlite3
from dataclasses import dataclass

from wharf.errdefs import Conflict, NotFound
from wharf.metadata.db import MetadataDB

_COLUMNS = "id, name, image_id, created_at, config, state"
_HEX = re.compile(r"[0-9a-f]{1,64}")


@dataclass(frozen=True, slots=True)
class ContainerRow:
    id: str
    name: str
    image_id: str
    created_at: float
    config: str
    state: str


class ContainerRecords:
    def __init__(self, db: MetadataDB) -> None:
        self._db = db

    def insert(self, row: ContainerRow) -> None:
        """Add a container; a name already in use is a Conflict naming its holder."""
        existing = self._db.query("SELECT id FROM containers WHERE name = ?", (row.name,))
        if existing:
            raise _name_conflict(row.name, str(existing[0][0]))
        try:
            with self._db.transaction() as conn:
                conn.execute(
                    f"INSERT INTO containers ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                    (row.id, row.name, row.image_id, row.created_at, row.config, row.state),
                )
        except sqlite3.IntegrityError as exc:  # lost a race for the name
            raise Conflict(f"container name /{row.name} is already in use") from exc

    def get(self, container_id: str) -> ContainerRow:
        rows = self._db.query(f"SELECT {_COLUMNS} FROM containers WHERE id = ?", (container_id,))
        if not rows:
            raise NotFound(f"No such container: {container_id}")
        return _row(rows[0])

    def list(self) -> builtins.list[ContainerRow]:
        rows = self._db.query(f"SELECT {_COLUMNS} FROM containers ORDER BY created_at DESC")
        return [_row(row) for row in rows]

    def lookup(self, reference: str) -> builtins.list[str]:
        """IDs ``reference`` may name, by index rather than by reading every row: the one whose
        full ID or name it is, else up to two whose ID it is a prefix of (two say "ambiguous")."""
        for column, value in (("id", reference), ("name", reference.lstrip("/"))):
            rows = self._db.query(f"SELECT id FROM containers WHERE {column} = ?", (value,))
            if rows:
                return [str(rows[0][0])]
        if not _HEX.fullmatch(reference):
            return []
        # IDs are lowercase hex, so "g" sorts after every ID that starts with the prefix.
        rows = self._db.query(
            "SELECT id FROM containers WHERE id >= ? AND id < ? ORDER BY id LIMIT 2",
            (reference, reference + "g"),
        )
        return [str(row[0]) for row in rows]

    def names(self) -> set[str]:
        return {str(row[0]) for row in self._db.query("SELECT name FROM containers")}

    def ids_with_image(self, image_id: str) -> builtins.list[str]:
        rows = self._db.query("SELECT id FROM containers WHERE image_id = ?", (image_id,))
        return [str(row[0]) for row in rows]

    def update_state(self, container_id: str, state: str) -> None:
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE containers SET state = ? WHERE id = ?", (state, container_id)
            )
            if cursor.rowcount == 0:
                raise NotFound(f"No such container: {container_id}")

    def rename(self, container_id: str, new_name: str) -> None:
        existing = self._db.query("SELECT id FROM containers WHERE name = ?", (new_name,))
        if existing and existing[0][0] != container_id:
            raise _name_conflict(new_name, str(existing[0][0]))
        with self._db.transaction() as conn:
            conn.execute("UPDATE containers SET name = ? WHERE id = ?", (new_name, container_id))

    def update_config(self, container_id: str, config: str) -> None:
        with self._db.transaction() as conn:
            conn.execute("UPDATE containers SET config = ? WHERE id = ?", (config, container_id))

    def delete(self, container_id: str) -> None:
        with self._db.transaction() as conn:
            if conn.execute("DELETE FROM containers WHERE id = ?", (container_id,)).rowcount == 0:
                raise NotFound(f"No such container: {container_id}")


def _name_conflict(name: str, holder: str) -> Conflict:
    return Conflict(
        f'Conflict. The container name "/{name}" is already in use by container "{holder}". '
        "You have to remove (or rename) that container to be able to reuse that name."
    )


def _row(row: tuple[object, ...]) -> ContainerRow:
    container_id, name, image_id, created_at, config, state = row
    return ContainerRow(
        id=str(container_id),
        name=str(name),
        image_id=str(image_id),
        created_at=float(created_at),  # type: ignore[arg-type]
        config=str(config),
        state=str(state),
    )
