"""MetadataDB: the engine's SQLite database, its schema, and its migrations.

Layer L1. Imports: stdlib, ``wharf.errdefs``. Never ``wharf.content``.

Schema (``<data-root>/metadata.db``), version 1::

    schema_version                      one row per applied migration
      version      INTEGER PRIMARY KEY  1, 2, ... in order, none skipped
      description  TEXT NOT NULL
      applied_at   REAL NOT NULL        seconds since the epoch

    images                              image names -> the manifest/index they point at
      name         TEXT PRIMARY KEY     fully qualified: "docker.io/library/busybox:latest",
                                        "docker.io/library/busybox@sha256:<hex>"
      media_type   TEXT NOT NULL        of the target (OCI/Docker manifest or index)
      digest       TEXT NOT NULL        "sha256:<hex>" of the target; index images_by_digest
      size         INTEGER NOT NULL     of the target, >= 0
      created_at   REAL NOT NULL
      updated_at   REAL NOT NULL
      labels       TEXT NOT NULL        JSON object of string -> string, "{}" when none

  v2 containers
      id           TEXT PRIMARY KEY     64 hex
      name         TEXT UNIQUE          without the leading "/"
      image_id     TEXT                 config digest of the image it was created from
      created_at   REAL
      config       TEXT                 JSON: the container's immutable configuration
      state        TEXT                 JSON: its mutable state (status, pid, exit code, times)
  v2 volumes
      name, driver, created_at, labels (JSON), options (JSON), anonymous (0/1)

  v3 build_cache                        one row per cached build step (``buildcache``)
      key          TEXT PRIMARY KEY     "sha256:<hex>" of the step's inputs (builder.cache)
      parent_id    TEXT                 image ID the step stood on; index build_cache_by_parent
      instruction  TEXT                 the expanded instruction, to explain misses
      inputs       TEXT                 JSON {"sources": [[name, digest]], "args": [..]}
      manifest_digest, media_type, size the step's image (manifest NULL: scratch-only)
      image_id     TEXT                 its config digest
      created_at, last_used  REAL
  v3 networks
      id (64 hex), name UNIQUE, driver, created_at, config (JSON: subnets, options, labels)
  v3 endpoints                          a container's attachment to a network
      network_id -> networks.id, container_id, config (JSON: address, mac, aliases)

Later versions append to ``MIGRATIONS`` (networks, build cache, leases);
a migration is never edited once released, and a database newer than the code is refused.

Invariants:

- Migrations run at open, all pending ones in one ``BEGIN IMMEDIATE`` transaction: a
  database is always at exactly one recorded version, never between two.
- Every connection runs with ``foreign_keys=ON``, a busy timeout, WAL journaling and
  ``synchronous=NORMAL`` (in WAL mode that survives kill -9 at any moment; a power loss
  may drop the last commits but never corrupts).
- Threads: each thread gets its own connection (``threading.local``), so readers never
  block each other; writers serialize on ``BEGIN IMMEDIATE`` plus the busy timeout.
  ``transaction()`` nests on one thread through savepoints. ``close()`` closes every
  thread's connection and must be called once the other threads are done with the DB.
- ``sqlite3`` errors do not escape: they become ``EngineFailure`` (or ``InvalidArgument``
  for a database path that cannot be opened or written).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wharf.errdefs import EngineFailure, InvalidArgument


@dataclass(frozen=True, slots=True)
class Migration:
    """One step of the schema; ``statements`` run in order inside the migration transaction."""

    version: int
    description: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "image names",
        (
            """
            CREATE TABLE images (
                name       TEXT PRIMARY KEY,
                media_type TEXT NOT NULL,
                digest     TEXT NOT NULL,
                size       INTEGER NOT NULL CHECK (size >= 0),
                created_at REAL NOT NULL,
                updated_at REAL NOT NULL,
                labels     TEXT NOT NULL DEFAULT '{}'
            )
            """,
            "CREATE INDEX images_by_digest ON images (digest)",
        ),
    ),
    Migration(
        2,
        "containers and volumes",
        (
            """
            CREATE TABLE containers (
                id         TEXT PRIMARY KEY,
                name       TEXT NOT NULL UNIQUE,
                image_id   TEXT NOT NULL,
                created_at REAL NOT NULL,
                config     TEXT NOT NULL,
                state      TEXT NOT NULL
            )
            """,
            "CREATE INDEX containers_by_image ON containers (image_id)",
            """
            CREATE TABLE volumes (
                name       TEXT PRIMARY KEY,
                driver     TEXT NOT NULL DEFAULT 'local',
                created_at REAL NOT NULL,
                labels     TEXT NOT NULL DEFAULT '{}',
                options    TEXT NOT NULL DEFAULT '{}',
                anonymous  INTEGER NOT NULL DEFAULT 0
            )
            """,
        ),
    ),
    Migration(
        3,
        "build cache, networks and endpoints",
        (
            """
            CREATE TABLE build_cache (
                key             TEXT PRIMARY KEY,
                parent_id       TEXT NOT NULL,
                instruction     TEXT NOT NULL,
                inputs          TEXT NOT NULL DEFAULT '{}',
                manifest_digest TEXT,
                media_type      TEXT NOT NULL,
                size            INTEGER NOT NULL,
                image_id        TEXT NOT NULL,
                created_at      REAL NOT NULL,
                last_used       REAL NOT NULL
            )
            """,
            "CREATE INDEX build_cache_by_parent ON build_cache (parent_id)",
            """
            CREATE TABLE networks (
                id         TEXT PRIMARY KEY,
                name       TEXT NOT NULL UNIQUE,
                driver     TEXT NOT NULL,
                created_at REAL NOT NULL,
                config     TEXT NOT NULL
            )
            """,
            """
            CREATE TABLE endpoints (
                network_id   TEXT NOT NULL REFERENCES networks (id),
                container_id TEXT NOT NULL,
                config       TEXT NOT NULL,
                PRIMARY KEY (network_id, container_id)
            )
            """,
            "CREATE INDEX endpoints_by_container ON endpoints (container_id)",
        ),
    ),
)

_SCHEMA_VERSION_TABLE = """
    CREATE TABLE IF NOT EXISTS schema_version (
        version     INTEGER PRIMARY KEY,
        description TEXT NOT NULL,
        applied_at  REAL NOT NULL
    )
"""


class MetadataDB:
    """The metadata database at ``path``, migrated to the newest schema on open."""

    def __init__(
        self,
        path: Path,
        *,
        migrations: Sequence[Migration] = MIGRATIONS,
        busy_timeout: float = 10.0,
    ) -> None:
        _check_migrations(migrations)
        self.path = Path(path)
        self._migrations = tuple(migrations)
        self._busy_timeout = busy_timeout
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._closed = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InvalidArgument(
                f"metadata database {self.path} cannot be created: {exc.strerror or exc}"
            ) from exc
        try:
            conn = self._connection()
            # WAL is a property of the file: set once, every later connection uses it.
            conn.execute("PRAGMA journal_mode=WAL").fetchone()
            self._migrate()
        except sqlite3.OperationalError as exc:
            self.close()
            raise InvalidArgument(
                f"metadata database {self.path} cannot be opened for writing: {exc}"
            ) from exc
        except sqlite3.DatabaseError as exc:
            self.close()
            raise EngineFailure(f"metadata database {self.path} is unreadable: {exc}") from exc
        except BaseException:
            self.close()
            raise

    def __repr__(self) -> str:
        return f"MetadataDB({str(self.path)!r})"

    def __enter__(self) -> MetadataDB:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        rows = self.query("SELECT COALESCE(MAX(version), 0) FROM schema_version")
        return int(rows[0][0])

    @property
    def latest_version(self) -> int:
        """The version this code migrates to."""
        return self._migrations[-1].version if self._migrations else 0

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``) on this thread's connection.

        Commits when the block ends, rolls back when it raises. Nested use on one thread
        makes a savepoint, so a repository method can run alone or inside a caller's
        transaction. ``sqlite3`` errors leave as ``EngineFailure``.
        """
        conn = self._connection()
        depth: int = getattr(self._local, "depth", 0)
        savepoint = f"wharf_{depth}"
        try:
            conn.execute("BEGIN IMMEDIATE" if depth == 0 else f"SAVEPOINT {savepoint}")
        except sqlite3.Error as exc:
            raise EngineFailure(f"metadata database {self.path}: begin: {exc}") from exc
        self._local.depth = depth + 1
        try:
            yield conn
        except BaseException as exc:
            self._local.depth = depth
            self._rollback(conn, depth, savepoint)
            if isinstance(exc, sqlite3.Error):
                raise EngineFailure(f"metadata database {self.path}: {exc}") from exc
            raise
        self._local.depth = depth
        try:
            conn.execute("COMMIT" if depth == 0 else f"RELEASE {savepoint}")
        except sqlite3.Error as exc:
            self._rollback(conn, depth, savepoint)
            raise EngineFailure(f"metadata database {self.path}: commit: {exc}") from exc

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        """Run one statement on this thread's connection and return all its rows.

        Outside a transaction a statement is its own snapshot; inside ``transaction()`` it
        sees that transaction's writes.
        """
        try:
            return self._connection().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise EngineFailure(f"metadata database {self.path}: {exc}") from exc

    def check(self) -> bool:
        """Whether SQLite's integrity check finds the database sound."""
        try:
            rows = self._connection().execute("PRAGMA integrity_check").fetchall()
        except sqlite3.DatabaseError:
            return False  # too damaged for the check itself to run
        return rows == [("ok",)]

    def close(self) -> None:
        with self._all_lock:
            self._closed = True
            connections, self._all = self._all, []
        for conn in connections:
            conn.close()

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and not self._closed:
            return conn
        with self._all_lock:
            if self._closed:
                raise EngineFailure(f"metadata database {self.path} is closed")
            try:
                conn = sqlite3.connect(
                    self.path,
                    timeout=self._busy_timeout,
                    isolation_level=None,  # we issue BEGIN/COMMIT ourselves
                    check_same_thread=False,  # only so close() may close it from any thread
                )
            except sqlite3.Error as exc:
                raise InvalidArgument(
                    f"metadata database {self.path} cannot be opened: {exc}"
                ) from exc
            self._all.append(conn)
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(f"PRAGMA busy_timeout={int(self._busy_timeout * 1000)}")
        conn.execute("PRAGMA synchronous=NORMAL")
        self._local.conn = conn
        self._local.depth = 0
        return conn

    def _migrate(self) -> None:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(_SCHEMA_VERSION_TABLE)
            current = int(
                conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0]
            )
            if current > self.latest_version:
                raise EngineFailure(
                    f"metadata database {self.path} has schema version {current}, newer than"
                    f" this version of wharf supports ({self.latest_version})"
                )
            for migration in self._migrations:
                if migration.version <= current:
                    continue
                for statement in migration.statements:
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_version (version, description, applied_at)"
                    " VALUES (?, ?, ?)",
                    (migration.version, migration.description, time.time()),
                )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _rollback(self, conn: sqlite3.Connection, depth: int, savepoint: str) -> None:
        # SQLite may already have rolled the whole transaction back (e.g. on a full disk).
        if not conn.in_transaction:
            return
        try:
            if depth == 0:
                conn.execute("ROLLBACK")
            else:
                conn.execute(f"ROLLBACK TO {savepoint}")
                conn.execute(f"RELEASE {savepoint}")
        except sqlite3.Error as exc:
            raise EngineFailure(f"metadata database {self.path}: rollback: {exc}") from exc


def _check_migrations(migrations: Sequence[Migration]) -> None:
    for index, migration in enumerate(migrations, start=1):
        if migration.version != index:
            raise ValueError(
                f"migration {migration.description!r} has version {migration.version},"
                f" expected {index}: versions run 1, 2, 3... in order"
            )
