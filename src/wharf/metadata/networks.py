"""NetworkRecords: networks and their endpoints, in the ``networks`` and ``endpoints`` tables
(schema v3, drawn in ``metadata.db``).

Layer L1. Imports: stdlib, ``wharf.errdefs``, ``wharf.metadata.db``.

Columns::

    networks   id (64 hex), name (UNIQUE), driver ("bridge" | "host" | "null"),
               created_at (seconds since the epoch), config (JSON document owned by the
               engine: subnets, bridge device, options, labels, flags)
    endpoints  (network_id -> networks.id, container_id) primary key, config (JSON document
               owned by the engine: aliases and requested address, plus, while the container
               runs, what was allocated: address, MAC, veth, published ports)

As with containers, the engine owns the JSON documents' shape and types them; this module
keeps names unique, rows consistent (an endpoint always names an existing network: the
foreign key) and every change atomic. Each method is one transaction of its own, or part of
the caller's when called inside ``transaction()``.
"""

from __future__ import annotations

import builtins
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from wharf.errdefs import Conflict, InvalidArgument, NotFound
from wharf.metadata.db import MetadataDB

__all__ = ["EndpointRow", "NetworkRecords", "NetworkRow"]

_NETWORK_COLUMNS = "id, name, driver, created_at, config"
_ENDPOINT_COLUMNS = "network_id, container_id, config"


@dataclass(frozen=True, slots=True)
class NetworkRow:
    id: str
    name: str
    driver: str
    created_at: float
    config: str


@dataclass(frozen=True, slots=True)
class EndpointRow:
    network_id: str
    container_id: str
    config: str


class NetworkRecords:
    """The repository of network and endpoint rows over a MetadataDB."""

    def __init__(self, db: MetadataDB) -> None:
        self._db = db

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group several calls into one transaction (rolled back if the block raises)."""
        with self._db.transaction():
            yield

    # ------------------------------------------------------------------ networks

    def insert(self, row: NetworkRow) -> None:
        """Add a network; a name or ID already in use is a Conflict."""
        if not row.id or not row.name or not row.driver:
            raise InvalidArgument("a network needs an id, a name and a driver")
        with self._db.transaction() as conn:
            try:
                conn.execute(
                    f"INSERT INTO networks ({_NETWORK_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
                    (row.id, row.name, row.driver, row.created_at, row.config),
                )
            except sqlite3.IntegrityError as exc:
                raise Conflict(f"network with name {row.name} already exists") from exc

    def get(self, network_id: str) -> NetworkRow:
        rows = self._db.query(
            f"SELECT {_NETWORK_COLUMNS} FROM networks WHERE id = ?", (network_id,)
        )
        if not rows:
            raise NotFound(f"network {network_id} not found")
        return _network(rows[0])

    def find(self, network_id: str) -> NetworkRow | None:
        rows = self._db.query(
            f"SELECT {_NETWORK_COLUMNS} FROM networks WHERE id = ?", (network_id,)
        )
        return _network(rows[0]) if rows else None

    def find_by_name(self, name: str) -> NetworkRow | None:
        rows = self._db.query(f"SELECT {_NETWORK_COLUMNS} FROM networks WHERE name = ?", (name,))
        return _network(rows[0]) if rows else None

    def list(self) -> builtins.list[NetworkRow]:
        """Every network, oldest first (the default networks come first)."""
        rows = self._db.query(f"SELECT {_NETWORK_COLUMNS} FROM networks ORDER BY created_at, id")
        return [_network(row) for row in rows]

    def update_config(self, network_id: str, config: str) -> None:
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE networks SET config = ? WHERE id = ?", (config, network_id)
            )
            if cursor.rowcount == 0:
                raise NotFound(f"network {network_id} not found")

    def delete(self, network_id: str) -> None:
        """Remove a network and every endpoint row that names it (one transaction)."""
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM endpoints WHERE network_id = ?", (network_id,))
            if conn.execute("DELETE FROM networks WHERE id = ?", (network_id,)).rowcount == 0:
                raise NotFound(f"network {network_id} not found")

    # ------------------------------------------------------------------ endpoints

    def put_endpoint(self, row: EndpointRow) -> None:
        """Insert an endpoint or replace its config; its network must exist (else NotFound)."""
        with self._db.transaction() as conn:
            try:
                conn.execute(
                    f"INSERT INTO endpoints ({_ENDPOINT_COLUMNS}) VALUES (?, ?, ?)"
                    " ON CONFLICT (network_id, container_id)"
                    " DO UPDATE SET config = excluded.config",
                    (row.network_id, row.container_id, row.config),
                )
            except sqlite3.IntegrityError as exc:  # the foreign key: no such network
                raise NotFound(f"network {row.network_id} not found") from exc

    def endpoint(self, network_id: str, container_id: str) -> EndpointRow | None:
        rows = self._db.query(
            f"SELECT {_ENDPOINT_COLUMNS} FROM endpoints WHERE network_id = ? AND container_id = ?",
            (network_id, container_id),
        )
        return _endpoint(rows[0]) if rows else None

    def endpoints(self) -> builtins.list[EndpointRow]:
        """Every endpoint, in the order they were added."""
        rows = self._db.query(f"SELECT {_ENDPOINT_COLUMNS} FROM endpoints ORDER BY rowid")
        return [_endpoint(row) for row in rows]

    def endpoints_of_network(self, network_id: str) -> builtins.list[EndpointRow]:
        rows = self._db.query(
            f"SELECT {_ENDPOINT_COLUMNS} FROM endpoints WHERE network_id = ? ORDER BY container_id",
            (network_id,),
        )
        return [_endpoint(row) for row in rows]

    def endpoints_of_container(self, container_id: str) -> builtins.list[EndpointRow]:
        """A container's endpoints in the order they were added (rowid order)."""
        rows = self._db.query(
            f"SELECT {_ENDPOINT_COLUMNS} FROM endpoints WHERE container_id = ? ORDER BY rowid",
            (container_id,),
        )
        return [_endpoint(row) for row in rows]

    def delete_endpoint(self, network_id: str, container_id: str) -> bool:
        """Remove one endpoint; False when there was none."""
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "DELETE FROM endpoints WHERE network_id = ? AND container_id = ?",
                (network_id, container_id),
            )
            return cursor.rowcount > 0

    def delete_endpoints_of_container(self, container_id: str) -> int:
        """Remove every endpoint of a container; returns how many there were."""
        with self._db.transaction() as conn:
            cursor = conn.execute("DELETE FROM endpoints WHERE container_id = ?", (container_id,))
            return int(cursor.rowcount)


def _network(row: tuple[Any, ...]) -> NetworkRow:
    network_id, name, driver, created_at, config = row
    return NetworkRow(
        id=str(network_id),
        name=str(name),
        driver=str(driver),
        created_at=float(created_at),
        config=str(config),
    )


def _endpoint(row: tuple[Any, ...]) -> EndpointRow:
    network_id, container_id, config = row
    return EndpointRow(
        network_id=str(network_id), container_id=str(container_id), config=str(config)
    )
