"""Every content store backend passes the whole conformance suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from wharf.content.local import LocalStore
from wharf.content.memory import MemoryStore
from wharf.content.store import Store
from wharf.content.testsuite import CHECKS, Check


@pytest.mark.parametrize("check", CHECKS.values(), ids=CHECKS.keys())
def test_local_store(check: Check, tmp_path: Path) -> None:
    check(lambda: LocalStore(tmp_path / "content"))


@pytest.mark.parametrize("check", CHECKS.values(), ids=CHECKS.keys())
def test_memory_store(check: Check) -> None:
    store = MemoryStore()
    check(lambda: store)


def test_suite_is_not_empty() -> None:
    assert len(CHECKS) >= 20
    assert "partial_never_visible" in CHECKS


@pytest.mark.parametrize("store_type", [LocalStore, MemoryStore])
def test_backends_implement_the_store_protocol(store_type: type, tmp_path: Path) -> None:
    store = store_type(tmp_path) if store_type is LocalStore else store_type()
    assert isinstance(store, Store)


def test_suite_catches_a_broken_store() -> None:
    """A store that publishes without verifying must fail the mismatch check."""

    class Unverified(MemoryStore):
        def writer(self, ref, *, expected=None, expected_size=None):  # type: ignore[no-untyped-def]
            return super().writer(ref)

    store = Unverified()
    with pytest.raises(AssertionError):
        CHECKS["digest_mismatch"](lambda: store)
