"""MemoryStore specifics: the injectable clock used by tests of higher layers."""

from __future__ import annotations

from wharf.content.memory import MemoryStore
from wharf.content.store import write_blob
from wharf.oci.digest import Digest


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_cleanup_by_age_with_fake_clock() -> None:
    clock = FakeClock()
    store = MemoryStore(clock=clock)
    with store.writer("old") as writer:
        writer.write(b"o")
    clock.now += 600
    with store.writer("new") as writer:
        writer.write(b"n")
    clock.now += 10
    assert store.status("old").updated == 1000.0
    assert store.cleanup(300) == ["old"]
    assert [s.ref for s in store.ingests()] == ["new"]


def test_blob_created_uses_the_clock() -> None:
    clock = FakeClock()
    store = MemoryStore(clock=clock)
    digest = write_blob(store, "a", b"a")
    assert store.info(digest).created == 1000.0
    assert digest == Digest.of_bytes(b"a")


def test_open_returns_an_independent_reader() -> None:
    store = MemoryStore()
    digest = write_blob(store, "a", b"abc")
    first, second = store.open(digest), store.open(digest)
    assert first.read(1) == b"a"
    assert second.read() == b"abc"
