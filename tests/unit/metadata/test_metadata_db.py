"""MetadataDB: migrations, reopening, transactions, threads, unusable paths."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from wharf.errdefs import EngineFailure, InvalidArgument
from wharf.metadata.db import MIGRATIONS, MetadataDB, Migration


def tables(db: MetadataDB) -> set[str]:
    rows = db.query("SELECT name FROM sqlite_master WHERE type = 'table'")
    return {row[0] for row in rows}


def test_migrates_an_empty_database(tmp_path: Path) -> None:
    with MetadataDB(tmp_path / "metadata.db") as db:
        assert db.schema_version == MIGRATIONS[-1].version == db.latest_version
        assert {"schema_version", "images"} <= tables(db)
        rows = db.query("SELECT version, description, applied_at FROM schema_version")
        assert [(v, d) for v, d, _ in rows] == [(m.version, m.description) for m in MIGRATIONS]
        assert all(applied > 0 for _, _, applied in rows)
        assert db.query("PRAGMA journal_mode") == [("wal",)]
        assert db.query("PRAGMA foreign_keys") == [(1,)]
        assert db.query("PRAGMA busy_timeout")[0][0] > 0
        assert db.check()


def test_creates_the_parent_directory(tmp_path: Path) -> None:
    with MetadataDB(tmp_path / "a" / "b" / "metadata.db") as db:
        assert db.schema_version >= 1


def test_reopen_keeps_data_and_does_not_migrate_again(tmp_path: Path) -> None:
    path = tmp_path / "metadata.db"
    with MetadataDB(path) as db, db.transaction() as conn:
        conn.execute(
            "INSERT INTO images VALUES ('n', 'm', 'sha256:' || hex(zeroblob(32)), 1, 0, 0, '{}')"
        )
    with MetadataDB(path) as db:
        assert db.query("SELECT name FROM images") == [("n",)]
        assert len(db.query("SELECT * FROM schema_version")) == len(MIGRATIONS)


def test_later_migrations_apply_in_order_on_reopen(tmp_path: Path) -> None:
    path = tmp_path / "metadata.db"
    MetadataDB(path).close()
    extra = Migration(
        len(MIGRATIONS) + 1,
        "test: containers",
        (
            "CREATE TABLE t_containers (id TEXT PRIMARY KEY, image TEXT"
            " REFERENCES images (name) ON DELETE RESTRICT)",
        ),
    )
    with MetadataDB(path, migrations=(*MIGRATIONS, extra)) as db:
        assert db.schema_version == extra.version
        assert "t_containers" in tables(db)
        # foreign keys are enforced on every connection
        with pytest.raises(EngineFailure, match="FOREIGN KEY"), db.transaction() as conn:
            conn.execute("INSERT INTO t_containers VALUES ('c', 'no-such-image')")
    with pytest.raises(EngineFailure, match="newer than this version of wharf"):
        MetadataDB(path)  # the released code knows fewer migrations


def test_failed_migration_leaves_the_previous_version(tmp_path: Path) -> None:
    path = tmp_path / "metadata.db"
    MetadataDB(path).close()
    broken = Migration(
        len(MIGRATIONS) + 1,
        "test: broken",
        ("CREATE TABLE half_done (x)", "THIS IS NOT SQL"),
    )
    with pytest.raises(InvalidArgument, match="syntax error"):
        MetadataDB(path, migrations=(*MIGRATIONS, broken))
    with MetadataDB(path) as db:
        assert db.schema_version == len(MIGRATIONS)
        assert "half_done" not in tables(db)


def test_migration_versions_must_be_consecutive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=f"expected {len(MIGRATIONS) + 1}"):
        MetadataDB(tmp_path / "m.db", migrations=(*MIGRATIONS, Migration(5, "gap", ())))


def test_transaction_rolls_back_on_exception(tmp_path: Path) -> None:
    with MetadataDB(tmp_path / "metadata.db") as db:
        with pytest.raises(RuntimeError), db.transaction() as conn:
            conn.execute("CREATE TABLE scratch (x INTEGER)")
            conn.execute("INSERT INTO scratch VALUES (1)")
            raise RuntimeError("boom")
        assert "scratch" not in tables(db)
        with db.transaction() as conn:  # the connection is usable again
            conn.execute("CREATE TABLE scratch (x INTEGER)")
        assert "scratch" in tables(db)


def test_nested_transaction_is_a_savepoint(tmp_path: Path) -> None:
    with MetadataDB(tmp_path / "metadata.db") as db:
        with db.transaction() as conn:
            conn.execute("CREATE TABLE t (x INTEGER)")
            conn.execute("INSERT INTO t VALUES (1)")
            with pytest.raises(RuntimeError), db.transaction() as inner:
                inner.execute("INSERT INTO t VALUES (2)")
                raise RuntimeError("inner fails")
            with db.transaction() as inner:
                inner.execute("INSERT INTO t VALUES (3)")
        assert db.query("SELECT x FROM t ORDER BY x") == [(1,), (3,)]


def test_sqlite_errors_become_engine_failures(tmp_path: Path) -> None:
    with MetadataDB(tmp_path / "metadata.db") as db:
        with pytest.raises(EngineFailure, match="no such table"):
            db.query("SELECT * FROM missing_table")
        with pytest.raises(EngineFailure, match="no such table"), db.transaction() as conn:
            conn.execute("DELETE FROM missing_table")


def test_closed_database_refuses_work(tmp_path: Path) -> None:
    db = MetadataDB(tmp_path / "metadata.db")
    db.close()
    with pytest.raises(EngineFailure, match="is closed"):
        db.query("SELECT 1")


def test_threads_do_not_lose_updates(tmp_path: Path) -> None:
    db = MetadataDB(tmp_path / "metadata.db")
    with db.transaction() as conn:
        conn.execute("CREATE TABLE counter (n INTEGER)")
        conn.execute("INSERT INTO counter VALUES (0)")
    errors: list[BaseException] = []
    connections: set[int] = set()

    def work() -> None:
        try:
            for _ in range(25):
                with db.transaction() as conn:
                    connections.add(id(conn))
                    (n,) = conn.execute("SELECT n FROM counter").fetchone()
                    conn.execute("UPDATE counter SET n = ?", (n + 1,))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert db.query("SELECT n FROM counter") == [(200,)]
    assert len(connections) == 8  # one connection per thread
    db.close()


def test_path_is_a_directory(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="cannot be opened"):
        MetadataDB(tmp_path)


def test_parent_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(InvalidArgument, match="cannot be created"):
        MetadataDB(tmp_path / "file" / "metadata.db")


def test_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "metadata.db"
    path.write_bytes(b"this is not an sqlite database, just some text " * 100)
    with pytest.raises(EngineFailure, match="unreadable: file is not a database"):
        MetadataDB(path)


def test_check_detects_corruption(tmp_path: Path) -> None:
    path = tmp_path / "metadata.db"
    with MetadataDB(path) as db, db.transaction() as conn:
        conn.execute("CREATE TABLE big (x TEXT)")
        conn.execute("CREATE INDEX big_x ON big (x)")
        for n in range(2000):
            conn.execute("INSERT INTO big VALUES (?)", (f"row {n:05d}" * 10,))
        assert db.check()
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw.close()
    data = bytearray(path.read_bytes())
    page = 4096
    for offset in range(len(data) - 3 * page, len(data) - page, 7):
        data[offset] ^= 0x5A  # scribble over pages near the end, past the schema
    path.write_bytes(bytes(data))
    with MetadataDB(path) as db:  # the schema pages at the start are intact
        assert not db.check()
