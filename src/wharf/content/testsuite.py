"""Conformance suite for ``wharf.content.store.Store`` implementations.

Layer L1. Imports: stdlib, ``wharf.errdefs``, ``wharf.oci.digest``, ``wharf.content.store``.
No pytest: each check is a plain function that raises ``AssertionError`` with a message, so
any test runner can drive it. A backend's tests run every entry of ``CHECKS``::

    @pytest.mark.parametrize("check", CHECKS.values(), ids=CHECKS.keys())
    def test_conformance(check, tmp_path):
        check(lambda: LocalStore(tmp_path))

The factory argument must return, on every call, a store over the *same* backing state
(a fresh handle where the backend has handles, the same object otherwise), so that checks
can "reopen" the store; each check needs its own empty backing state.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from wharf.content.store import Store, WriterState, read_blob, write_blob
from wharf.errdefs import Conflict, InvalidArgument, NotFound, Unsupported
from wharf.oci.digest import Digest

StoreFactory = Callable[[], Store]
Check = Callable[[StoreFactory], None]

_T = TypeVar("_T")
_E = TypeVar("_E", bound=BaseException)

_ABSENT = Digest.of_bytes(b"never written by the suite")


def _eq(actual: _T, expected: _T, what: str) -> None:
    if actual != expected:
        raise AssertionError(f"{what}: expected {expected!r}, got {actual!r}")


def _true(condition: bool, what: str) -> None:
    if not condition:
        raise AssertionError(what)


def _raises(kind: type[_E], call: Callable[[], object], contains: str = "") -> _E:
    try:
        call()
    except kind as exc:
        if contains not in str(exc):
            raise AssertionError(f"{kind.__name__} {str(exc)!r} lacks {contains!r}") from exc
        return exc
    except BaseException as exc:
        raise AssertionError(f"expected {kind.__name__}, got {exc!r}") from exc
    raise AssertionError(f"expected {kind.__name__}, nothing was raised")


def _nothing_left(store: Store, digest: Digest | None = None) -> None:
    _eq(store.ingests(), [], "ingests")
    if digest is not None:
        _true(not store.exists(digest), f"{digest} must not be visible")
        _true(digest not in {i.digest for i in store.walk()}, f"{digest} must not be walked")


def check_write_commit_read(new_store: StoreFactory) -> None:
    store = new_store()
    data = b"hello, wharf\n"
    writer = store.writer("ref-1")
    _eq(writer.ref, "ref-1", "writer.ref")
    _eq(writer.offset, 0, "offset of a new writer")
    writer.write(data[:5])
    writer.write(memoryview(data)[5:])
    _eq(writer.offset, len(data), "offset after writes")
    digest = writer.commit()
    _eq(digest, Digest.of_bytes(data), "committed digest")
    _true(store.exists(digest), "committed blob exists")
    _eq(store.read_bytes(digest), data, "read_bytes")
    _eq(read_blob(store, digest), data, "read_blob")
    with store.open(digest) as reader:
        _eq(reader.read(), data, "open().read()")
    info = store.info(digest)
    _eq((info.digest, info.size), (digest, len(data)), "info")
    _true(info.created > 0, "info.created is set")
    _eq(store.ingests(), [], "ingests after commit")
    _eq(new_store().read_bytes(digest), data, "read through a reopened store")


def check_write_blob_helper(new_store: StoreFactory) -> None:
    store = new_store()
    data = b"x" * 1000
    _eq(write_blob(store, "a", data), Digest.of_bytes(data), "write_blob(bytes)")
    chunks = [b"one ", b"two ", b"three"]
    digest = write_blob(store, "b", iter(chunks), expected=Digest.of_bytes(b"one two three"))
    _eq(store.read_bytes(digest), b"one two three", "write_blob(iterable)")
    _eq(store.ingests(), [], "ingests")


def check_write_blob_discards_leftover(new_store: StoreFactory) -> None:
    store = new_store()
    with store.writer("reused") as writer:
        writer.write(b"stale bytes from an earlier attempt")
    digest = write_blob(store, "reused", b"fresh")
    _eq(digest, Digest.of_bytes(b"fresh"), "write_blob starts from offset 0")
    _eq(store.read_bytes(digest), b"fresh", "content")
    _nothing_left(store)


def check_empty_blob(new_store: StoreFactory) -> None:
    store = new_store()
    digest = write_blob(store, "empty", b"")
    _eq(digest, Digest.of_bytes(b""), "digest of nothing")
    _eq(store.info(digest).size, 0, "size of the empty blob")
    _eq(store.read_bytes(digest), b"", "the empty blob")


def check_missing_blob(new_store: StoreFactory) -> None:
    store = new_store()
    message = f"content {_ABSENT} not found"
    _true(not store.exists(_ABSENT), "exists() of a missing blob")
    _raises(NotFound, lambda: store.info(_ABSENT), message)
    _raises(NotFound, lambda: store.open(_ABSENT), message)
    _raises(NotFound, lambda: store.read_bytes(_ABSENT), message)
    _raises(NotFound, lambda: store.delete(_ABSENT), message)


def check_resume_after_close(new_store: StoreFactory) -> None:
    store = new_store()
    writer = store.writer("upload", expected_size=11)
    writer.write(b"hello ")
    writer.close()
    writer.close()  # idempotent
    status = store.status("upload")
    _eq((status.ref, status.offset, status.total), ("upload", 6, 11), "status after close")
    _true(status.started <= status.updated, "started <= updated")
    with new_store().writer("upload") as resumed:
        _eq(resumed.offset, 6, "offset of a resumed writer")
        resumed.write(b"world")
        digest = resumed.commit()
    _eq(digest, Digest.of_bytes(b"hello world"), "digest covers both sessions")
    _eq(store.read_bytes(digest), b"hello world", "resumed blob")
    _nothing_left(store)


def check_resume_large(new_store: StoreFactory) -> None:
    store = new_store()
    data = bytes(range(256)) * (10 * 1024 + 7)  # > 2 MiB, not a multiple of any buffer
    cut = len(data) // 3 + 1
    with store.writer("big") as writer:
        writer.write(data[:cut])
    with store.writer("big", expected=Digest.of_bytes(data), expected_size=len(data)) as w:
        _eq(w.offset, cut, "resumed offset")
        for start in range(cut, len(data), 65536):
            w.write(data[start : start + 65536])
        digest = w.commit()
    _eq(store.info(digest).size, len(data), "size of a large resumed blob")
    _eq(store.read_bytes(digest), data, "content of a large resumed blob")


def check_context_manager_keeps_partial(new_store: StoreFactory) -> None:
    store = new_store()
    try:
        with store.writer("ctx") as writer:
            writer.write(b"partial")
            raise RuntimeError("interrupted")
    except RuntimeError:
        pass
    _eq([s.offset for s in store.ingests()], [7], "partial ingest kept")
    with store.writer("ctx") as writer:  # not locked any more
        _eq(writer.offset, 7, "resumed offset")


def check_writer_abort(new_store: StoreFactory) -> None:
    store = new_store()
    writer = store.writer("doomed")
    writer.write(b"abc")
    writer.abort()
    writer.abort()  # idempotent
    _nothing_left(store, Digest.of_bytes(b"abc"))
    _raises(InvalidArgument, lambda: writer.write(b"more"), "aborted")
    with store.writer("doomed") as again:
        _eq(again.offset, 0, "offset after abort")


def check_manager_abort(new_store: StoreFactory) -> None:
    store = new_store()
    with store.writer("left") as writer:
        writer.write(b"abc")
    store.abort("left")
    _nothing_left(store)
    _raises(NotFound, lambda: store.abort("left"), "no such ingest: left")
    _raises(NotFound, lambda: store.status("left"), "no such ingest: left")
    held = store.writer("held")
    try:
        _raises(Conflict, lambda: store.abort("held"), "ref held is locked")
    finally:
        held.close()
    store.abort("held")
    _nothing_left(store)


def check_digest_mismatch(new_store: StoreFactory) -> None:
    store = new_store()
    wrong = Digest.of_bytes(b"something else")
    actual = Digest.of_bytes(b"payload")
    writer = store.writer("bad", expected=wrong)
    writer.write(b"payload")
    _raises(InvalidArgument, writer.commit, f"digest mismatch: expected {wrong}, got {actual}")
    _nothing_left(store, actual)
    _raises(InvalidArgument, lambda: writer.write(b"x"))
    writer.close()  # a finished writer ignores close
    # the expected digest given to commit() counts too
    writer = store.writer("bad2")
    writer.write(b"payload")
    _raises(InvalidArgument, lambda: writer.commit(wrong), "digest mismatch")
    _nothing_left(store, actual)
    _raises(InvalidArgument, lambda: write_blob(store, "bad3", b"payload", wrong), "mismatch")
    _nothing_left(store, actual)


def check_size_mismatch(new_store: StoreFactory) -> None:
    store = new_store()
    writer = store.writer("short", expected_size=10)
    writer.write(b"12345")
    _raises(InvalidArgument, writer.commit, "size mismatch: expected 10, got 5")
    _nothing_left(store, Digest.of_bytes(b"12345"))
    writer = store.writer("sized")
    writer.write(b"12345")
    _raises(InvalidArgument, lambda: writer.commit(size=4), "size mismatch: expected 4, got 5")
    _nothing_left(store, Digest.of_bytes(b"12345"))
    with store.writer("long", expected_size=3) as writer:
        _raises(InvalidArgument, lambda: writer.write(b"1234"), "expected size 3")
        _eq(writer.offset, 0, "a refused write writes nothing")
        writer.write(b"123")
        _eq(writer.commit(), Digest.of_bytes(b"123"), "exact size commits")


def check_concurrent_ref_conflict(new_store: StoreFactory) -> None:
    store = new_store()
    first = store.writer("shared")
    first.write(b"first")
    _raises(Conflict, lambda: store.writer("shared"), "ref shared is locked")
    _raises(Conflict, lambda: new_store().writer("shared"), "ref shared is locked")
    with store.writer("other") as other:  # other refs are free
        other.write(b"x")
    first.close()
    with store.writer("shared") as second:
        _eq(second.offset, 5, "the second writer resumes the first one's data")


def check_resume_with_other_expectation(new_store: StoreFactory) -> None:
    store = new_store()
    one, two = Digest.of_bytes(b"1"), Digest.of_bytes(b"2")
    with store.writer("r", expected=one, expected_size=1):
        pass
    _raises(Conflict, lambda: store.writer("r", expected=two), "in progress")
    _raises(Conflict, lambda: store.writer("r", expected_size=2), "in progress")
    with store.writer("r") as writer:  # no new expectation: the recorded one holds
        writer.write(b"2")
        _raises(InvalidArgument, writer.commit, "digest mismatch")
    _eq(store.ingests(), [], "a failed commit removes the ingest")


def check_unsupported_algorithm(new_store: StoreFactory) -> None:
    store = new_store()
    sha512 = Digest.parse("sha512:" + "ab" * 64)
    _raises(Unsupported, lambda: store.writer("x", expected=sha512), "sha512")
    _true(not store.exists(sha512), "sha512 blob does not exist")
    _raises(NotFound, lambda: store.info(sha512))


def check_commit_existing_blob(new_store: StoreFactory) -> None:
    store = new_store()
    first = write_blob(store, "one", b"same bytes")
    created = store.info(first).created
    with store.writer("two") as writer:
        writer.write(b"same bytes")
        _eq(writer.commit(), first, "second commit of the same content")
    _eq([i.digest for i in store.walk()], [first], "one blob stored")
    _eq(store.info(first).created, created, "the stored blob is untouched")
    _nothing_left(store)


def check_finished_writer(new_store: StoreFactory) -> None:
    store = new_store()
    writer = store.writer("done")
    writer.write(b"d")
    writer.commit()
    _raises(InvalidArgument, lambda: writer.write(b"x"), str(WriterState.COMMITTED.value))
    _raises(InvalidArgument, writer.commit)
    writer.close()
    writer.abort()
    _true(store.exists(Digest.of_bytes(b"d")), "abort after commit keeps the blob")


def check_delete(new_store: StoreFactory) -> None:
    store = new_store()
    keep = write_blob(store, "k", b"keep")
    gone = write_blob(store, "g", b"gone")
    store.delete(gone)
    _true(not store.exists(gone), "deleted blob is gone")
    _raises(NotFound, lambda: store.read_bytes(gone), "not found")
    _raises(NotFound, lambda: store.delete(gone), f"content {gone} not found")
    _eq(store.read_bytes(keep), b"keep", "other blobs stay")
    _eq(write_blob(store, "g", b"gone"), gone, "a deleted blob can be written again")


def check_walk_and_usage(new_store: StoreFactory) -> None:
    store = new_store()
    _eq(list(store.walk()), [], "walk of an empty store")
    _eq(store.usage(), 0, "usage of an empty store")
    blobs = {write_blob(store, f"w{n}", b"z" * n): n for n in (1, 10, 100)}
    with store.writer("partial") as writer:
        writer.write(b"not a blob yet")
    walked = {info.digest: info.size for info in store.walk()}
    _eq(walked, blobs, "walk lists committed blobs with sizes, no ingests")
    _eq(store.usage(), 111, "usage")


def check_cleanup_stale_ingests(new_store: StoreFactory) -> None:
    store = new_store()
    with store.writer("stale") as writer:
        writer.write(b"old")
    live = store.writer("live")
    live.write(b"busy")
    _eq(store.cleanup(3600), [], "nothing is an hour old")
    _eq(sorted(s.ref for s in store.ingests()), ["live", "stale"], "ingests before cleanup")
    _eq(store.cleanup(0), ["stale"], "cleanup removes unlocked ingests")
    _eq([s.ref for s in store.ingests()], ["live"], "a locked ingest survives cleanup")
    live.write(b" still")
    _eq(live.commit(), Digest.of_bytes(b"busy still"), "the live writer is undisturbed")
    _eq(store.cleanup(0), [], "nothing left to clean")


def check_partial_never_visible(new_store: StoreFactory) -> None:
    store = new_store()
    data = b"complete content"
    digest = Digest.of_bytes(data)
    writer = store.writer("crashy", expected=digest, expected_size=len(data))
    writer.write(data[:8])
    _true(not store.exists(digest) and not list(store.walk()), "an open partial is not a blob")
    writer.close()
    _true(not store.exists(digest) and not list(store.walk()), "a closed partial is not a blob")
    status = store.status("crashy")
    _eq((status.offset, status.expected, status.total), (8, digest, len(data)), "status")
    # The full bytes in an ingest are still no blob until commit.
    with store.writer("crashy") as writer:
        writer.write(data[8:])
        _true(not store.exists(digest), "uncommitted complete data is not a blob")
        writer.commit()
    _true(store.exists(digest), "visible after commit")


def check_threads(new_store: StoreFactory) -> None:
    store = new_store()
    errors: list[BaseException] = []
    results: dict[int, Digest] = {}

    def work(n: int) -> None:
        try:
            results[n] = write_blob(store, f"t{n}", b"shared" if n % 2 else b"own %d" % n)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _eq(errors, [], "errors from writer threads")
    for n, digest in results.items():
        _eq(store.read_bytes(digest), b"shared" if n % 2 else b"own %d" % n, f"blob {n}")
    _eq(len({i.digest for i in store.walk()}), 9, "distinct blobs")
    _nothing_left(store)


def check_lock_race(new_store: StoreFactory) -> None:
    """Threads race for one ref: one holder at a time, each resuming exactly where the
    previous holder left the ingest (closed: kept; aborted: gone)."""
    store = new_store()
    holders: list[int] = []
    problems: list[str] = []
    guard = threading.Lock()
    kept = [0]  # the offset the next holder must see

    def hold(n: int, attempt: int) -> None:
        try:
            writer = store.writer("contended")
        except Conflict:
            return
        with guard:
            holders.append(n)
            if len(holders) > 1:
                problems.append(f"two holders: {holders}")
            if writer.offset != kept[0]:
                problems.append(f"resumed at {writer.offset}, expected {kept[0]}")
        writer.write(b"x")
        abort = (n + attempt) % 3 == 0
        with guard:  # settled before release: nobody can take the ref until then
            holders.remove(n)
            kept[0] = 0 if abort else writer.offset
        if abort:
            writer.abort()
        else:
            writer.close()

    def work(n: int) -> None:
        try:
            for attempt in range(20):
                hold(n, attempt)
        except BaseException as exc:
            problems.append(repr(exc))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _eq(problems, [], "lock problems")
    if kept[0]:
        _eq(store.status("contended").offset, kept[0], "final offset")


CHECKS: dict[str, Check] = {
    name.removeprefix("check_"): function
    for name, function in sorted(globals().items())
    if name.startswith("check_") and callable(function)
}
