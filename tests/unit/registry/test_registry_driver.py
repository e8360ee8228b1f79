"""The StorageDriver contract, run for every driver (filesystem, memory)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from wharf.errdefs import InvalidArgument, NotFound
from wharf.registry.driver import StorageDriver
from wharf.registry.filesystem import FilesystemDriver
from wharf.registry.memory import MemoryDriver

Factory = Callable[[Path], StorageDriver]
DRIVERS: dict[str, Factory] = {
    "filesystem": lambda p: FilesystemDriver(p / "meta"),
    "memory": lambda p: MemoryDriver(),
}


@pytest.fixture(params=sorted(DRIVERS))
def driver(request: pytest.FixtureRequest, tmp_path: Path) -> StorageDriver:
    return DRIVERS[request.param](tmp_path)


def test_is_a_driver(driver: StorageDriver) -> None:
    assert isinstance(driver, StorageDriver)


def test_write_read_replace(driver: StorageDriver) -> None:
    driver.write("a/b/c", b"one")
    assert driver.read("a/b/c") == b"one"
    driver.write("a/b/c", b"two")
    assert driver.read("a/b/c") == b"two"
    assert driver.stat("a/b/c").size == 3
    assert not driver.stat("a/b/c").is_dir
    assert driver.stat("a/b").is_dir
    assert driver.exists("a/b/c") and driver.exists("a") and not driver.exists("a/x")


def test_missing(driver: StorageDriver) -> None:
    with pytest.raises(NotFound):
        driver.read("nope")
    with pytest.raises(NotFound):
        driver.stat("nope/deeper")
    assert driver.list("nope") == []
    assert driver.delete("nope") is False


def test_list_sorted_children(driver: StorageDriver) -> None:
    for key in ("r/b", "r/a/x", "r/c/y/z", "other"):
        driver.write(key, b"")
    assert driver.list("r") == ["a", "b", "c"]


def test_delete_and_tree(driver: StorageDriver) -> None:
    driver.write("t/1", b"")
    driver.write("t/d/2", b"")
    assert driver.delete("t/1") is True
    assert driver.delete("t/1") is False
    driver.delete_tree("t")
    assert not driver.exists("t/d/2")
    driver.delete_tree("t")  # absent is fine


@pytest.mark.parametrize("bad", ["", "/a", "a//b", "a/../b", "."])
def test_bad_paths(driver: StorageDriver, bad: str) -> None:
    with pytest.raises(InvalidArgument):
        driver.write(bad, b"")


def test_concurrent_writes_never_mix(driver: StorageDriver) -> None:
    values = [bytes([i]) * 4096 for i in range(8)]
    errors: list[BaseException] = []

    def writer(value: bytes) -> None:
        try:
            for _ in range(20):
                driver.write("k", value)
                assert driver.read("k") in values
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(v,)) for v in values]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert driver.read("k") in values


def test_filesystem_hides_and_cleans_temporaries(tmp_path: Path) -> None:
    driver = FilesystemDriver(tmp_path / "meta")
    driver.write("d/k", b"v")
    stale = tmp_path / "meta" / "d" / ".tmp-dead"
    stale.write_bytes(b"half")
    os.utime(stale, (0, 0))
    assert driver.list("d") == ["k"]
    assert driver.remove_stale_temporaries(60) == 1
    assert not stale.exists()
