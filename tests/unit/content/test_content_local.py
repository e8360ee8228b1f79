"""LocalStore specifics: on-disk layout, crashes, other processes, unwritable roots."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from wharf.content.local import LocalStore
from wharf.content.store import write_blob
from wharf.errdefs import Conflict, EngineFailure, InvalidArgument
from wharf.oci.digest import Digest


def ingest_dir(root: Path, ref: str) -> Path:
    return root / "ingest" / hashlib.sha256(ref.encode()).hexdigest()


def test_layout(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    with store.writer("my/ref:1", expected=Digest.of_bytes(b"abc"), expected_size=3) as writer:
        writer.write(b"ab")
        path = ingest_dir(tmp_path, "my/ref:1")
        assert sorted(p.name for p in path.iterdir()) == [
            "data",
            "expected",
            "lock",
            "ref",
            "startedat",
            "total",
            "updatedat",
        ]
        assert (path / "ref").read_text() == "my/ref:1"
        assert (path / "expected").read_text() == str(Digest.of_bytes(b"abc"))
    assert (path / "data").read_bytes() == b"ab"
    with store.writer("my/ref:1") as writer:
        writer.write(b"c")
        digest = writer.commit()
    blob = tmp_path / "blobs" / "sha256" / digest.hex
    assert store.blob_path(digest) == blob
    assert blob.read_bytes() == b"abc"
    assert stat.S_IMODE(blob.stat().st_mode) == 0o444
    assert not path.exists()
    assert list((tmp_path / "ingest").iterdir()) == []


def test_blob_created_is_commit_time(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    writer = store.writer("slow")
    writer.write(b"data")
    os.utime(ingest_dir(tmp_path, "slow") / "data", (1000.0, 1000.0))
    before = time.time()
    digest = writer.commit()
    assert store.info(digest).created >= before - 1


def test_walk_ignores_foreign_files(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    digest = write_blob(store, "a", b"a")
    (tmp_path / "blobs" / "sha256" / "not-a-digest").write_bytes(b"junk")
    (tmp_path / "blobs" / "README").write_text("stray file")
    assert [info.digest for info in store.walk()] == [digest]
    assert store.usage() == 1


def _fork(child: object) -> int:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            assert callable(child)
            child()
        finally:
            os._exit(0)
    return pid


def test_crash_mid_write_leaves_a_resumable_ingest_and_no_blob(tmp_path: Path) -> None:
    data = os.urandom(300_000)
    digest = Digest.of_bytes(data)

    def child() -> None:
        writer = LocalStore(tmp_path).writer("pull", expected=digest, expected_size=len(data))
        writer.write(data[:200_000])
        os.kill(os.getpid(), signal.SIGKILL)  # no close, no flush: a real crash

    _, status = os.waitpid(_fork(child), 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL

    store = LocalStore(tmp_path)
    assert not store.exists(digest)
    assert list(store.walk()) == []
    [ingest] = store.ingests()
    # Whatever reached the file before the kill is kept; the buffered tail may be lost.
    assert 0 < ingest.offset <= 200_000
    assert (ingest.expected, ingest.total) == (digest, len(data))
    with store.writer("pull") as writer:  # the dead process's lock died with it
        assert writer.offset == ingest.offset
        writer.write(data[writer.offset :])
        assert writer.commit() == digest
    assert store.read_bytes(digest) == data


def test_lock_held_by_another_process(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    ready_r, ready_w = os.pipe()

    def child() -> None:
        writer = LocalStore(tmp_path).writer("shared")
        writer.write(b"child")
        os.write(ready_w, b"1")
        time.sleep(30)

    pid = _fork(child)
    try:
        assert os.read(ready_r, 1) == b"1"
        with pytest.raises(Conflict, match="ref shared is locked"):
            store.writer("shared")
        assert store.cleanup(0) == []
        with pytest.raises(Conflict, match="locked"):
            store.abort("shared")
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(ready_r)
        os.close(ready_w)
    assert store.cleanup(0) == ["shared"]
    assert store.ingests() == []


def test_cleanup_by_age(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    for ref in ("old", "new"):
        with store.writer(ref) as writer:
            writer.write(ref.encode())
    old = ingest_dir(tmp_path, "old")
    hour_ago = time.time() - 3600
    (old / "updatedat").write_text(repr(hour_ago))
    os.utime(old / "data", (hour_ago, hour_ago))
    assert store.status("old").updated == pytest.approx(hour_ago)
    assert store.cleanup(600) == ["old"]
    assert [s.ref for s in store.ingests()] == ["new"]


def test_cleanup_removes_half_created_ingest_dirs(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    half = tmp_path / "ingest" / ("0" * 64)
    half.mkdir()
    (half / "data").write_bytes(b"x")  # a crash before "ref" was written
    assert store.ingests() == []
    assert len(store.cleanup(0)) == 1
    assert not half.exists()


def test_half_removed_ingest_starts_over(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    with store.writer("r") as writer:
        writer.write(b"abc")
    (ingest_dir(tmp_path, "r") / "ref").unlink()  # removal cut short after its first step
    with store.writer("r") as writer:
        assert writer.offset == 0
        writer.write(b"new")
        assert writer.commit() == Digest.of_bytes(b"new")


def test_dropped_writer_releases_its_lock(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.writer("dropped").write(b"x")  # never closed; garbage collected
    with store.writer("dropped") as writer:
        assert writer.offset == 1


def test_unwritable_root_is_a_file(tmp_path: Path) -> None:
    root = tmp_path / "file"
    root.write_text("not a directory")
    with pytest.raises(InvalidArgument, match=rf"data root {root} is not writable: \w"):
        LocalStore(root)
    with pytest.raises(InvalidArgument, match="is not writable: Not a directory"):
        LocalStore(root / "content")


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "mnt"
    mount_point.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)],
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount tmpfs here: {result.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


def _remount_ro(mount_point: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(mount_point)], check=True)


def test_unwritable_root_on_read_only_mount(tmpfs: Path) -> None:
    _remount_ro(tmpfs)
    with pytest.raises(InvalidArgument, match="not writable: Read-only file system"):
        LocalStore(tmpfs / "content")


def test_existing_store_remounted_read_only(tmpfs: Path) -> None:
    store = LocalStore(tmpfs / "content")
    digest = write_blob(store, "a", b"kept")
    _remount_ro(tmpfs)
    # mkdir(exist_ok=True) alone would pass here; opening must still refuse.
    with pytest.raises(InvalidArgument, match=f"data root {tmpfs / 'content'} is not writable"):
        LocalStore(tmpfs / "content")
    assert store.read_bytes(digest) == b"kept"


def test_disk_full_is_an_engine_failure(tmpfs: Path) -> None:
    store = LocalStore(tmpfs / "content")
    writer = store.writer("big")
    chunk = b"\0" * (1 << 20)
    with pytest.raises(EngineFailure, match="No space left on device"):
        for _ in range(8):  # the tmpfs holds 4 MiB
            writer.write(chunk)
    with pytest.raises(InvalidArgument, match="closed"):
        writer.write(b"x")
    assert store.status("big").offset >= 3 << 20  # kept for a resume once space is freed
    with pytest.raises(EngineFailure, match="No space left on device"):
        store.writer("big")  # a clear error, not a traceback, while the disk is still full
    store.abort("big")
    assert store.ingests() == []
    assert write_blob(store, "small", b"fits") == Digest.of_bytes(b"fits")


def test_vanished_ingest_directory_is_a_clear_error(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    shutil.rmtree(tmp_path / "ingest")
    with pytest.raises(EngineFailure, match="cannot lock ingest 'r'"):
        store.writer("r")
