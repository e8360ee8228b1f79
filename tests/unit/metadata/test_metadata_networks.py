"""NetworkRecords over a real SQLite file: unique names, endpoints tied to their network,
deletes that take the endpoints with them, and rows in the order they were added."""

from __future__ import annotations

from pathlib import Path

import pytest

from wharf.errdefs import Conflict, NotFound
from wharf.metadata.db import MetadataDB
from wharf.metadata.networks import EndpointRow, NetworkRecords, NetworkRow


@pytest.fixture
def records(tmp_path: Path) -> NetworkRecords:
    return NetworkRecords(MetadataDB(tmp_path / "metadata.db"))


def _row(name: str, network_id: str | None = None, created: float = 1.0) -> NetworkRow:
    return NetworkRow(network_id or name.ljust(64, "0"), name, "bridge", created, '{"x": 1}')


def test_insert_get_find_list(records: NetworkRecords) -> None:
    records.insert(_row("b", created=2.0))
    records.insert(_row("a", created=1.0))
    assert records.get("b".ljust(64, "0")).name == "b"
    assert records.find_by_name("a") == _row("a")
    assert records.find("nope") is None
    assert [r.name for r in records.list()] == ["a", "b"]  # oldest first


def test_names_are_unique(records: NetworkRecords) -> None:
    records.insert(_row("app"))
    with pytest.raises(Conflict, match="network with name app already exists"):
        records.insert(_row("app", "f" * 64))


def test_endpoint_needs_its_network(records: NetworkRecords) -> None:
    with pytest.raises(NotFound):
        records.put_endpoint(EndpointRow("0" * 64, "c1", "{}"))


def test_put_endpoint_replaces_and_keeps_order(records: NetworkRecords) -> None:
    a, b = _row("a"), _row("b")
    records.insert(a)
    records.insert(b)
    records.put_endpoint(EndpointRow(b.id, "c1", '{"n": 1}'))
    records.put_endpoint(EndpointRow(a.id, "c1", "{}"))
    records.put_endpoint(EndpointRow(b.id, "c1", '{"n": 2}'))  # an update keeps its place
    assert [(e.network_id, e.config) for e in records.endpoints_of_container("c1")] == [
        (b.id, '{"n": 2}'),
        (a.id, "{}"),
    ]
    assert records.endpoint(a.id, "c1") is not None
    assert records.endpoint(a.id, "c2") is None


def test_delete_network_takes_its_endpoints(records: NetworkRecords) -> None:
    a = _row("a")
    records.insert(a)
    records.put_endpoint(EndpointRow(a.id, "c1", "{}"))
    records.delete(a.id)
    assert records.endpoints() == []
    with pytest.raises(NotFound):
        records.delete(a.id)


def test_delete_endpoints(records: NetworkRecords) -> None:
    a, b = _row("a"), _row("b")
    records.insert(a)
    records.insert(b)
    for network in (a, b):
        records.put_endpoint(EndpointRow(network.id, "c1", "{}"))
    records.put_endpoint(EndpointRow(a.id, "c2", "{}"))
    assert records.delete_endpoint(a.id, "c2") is True
    assert records.delete_endpoint(a.id, "c2") is False
    assert records.delete_endpoints_of_container("c1") == 2
    assert records.endpoints() == []


def test_transaction_rolls_back_together(records: NetworkRecords) -> None:
    a = _row("a")
    records.insert(a)
    with pytest.raises(NotFound), records.transaction():
        records.put_endpoint(EndpointRow(a.id, "c1", "{}"))
        records.put_endpoint(EndpointRow("f" * 64, "c1", "{}"))
    assert records.endpoints() == []
