"""MemoryStore: the content store in a process's memory.

Layer L1. Imports: stdlib, ``wharf.errdefs``, ``wharf.oci.digest``, ``wharf.content.store``.

A fake for unit tests of the layers above (images, registry, builder): it keeps every
invariant of ``wharf.content.store`` and passes ``wharf.content.testsuite``, but nothing
survives the process. All methods are thread-safe (one lock around the state).
The ``clock`` argument lets tests age ingests without sleeping.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import BinaryIO

from wharf.content.store import BlobInfo, IngestStatus, WriterState
from wharf.errdefs import Conflict, InvalidArgument, NotFound, Unsupported
from wharf.oci.digest import Digest, Digester


@dataclass(slots=True)
class _Ingest:
    ref: str
    started: float
    updated: float
    expected: Digest | None
    total: int | None
    data: bytearray = field(default_factory=bytearray)
    locked: bool = False


class MemoryStore:
    """A content store (``wharf.content.store.Store``) held in dictionaries."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._blobs: dict[Digest, tuple[bytes, float]] = {}
        self._ingests: dict[str, _Ingest] = {}

    # Provider

    def info(self, digest: Digest) -> BlobInfo:
        data, created = self._get(digest)
        return BlobInfo(digest, len(data), created)

    def open(self, digest: Digest) -> BinaryIO:
        return io.BytesIO(self._get(digest)[0])

    def read_bytes(self, digest: Digest) -> bytes:
        return self._get(digest)[0]

    def exists(self, digest: Digest) -> bool:
        with self._lock:
            return digest in self._blobs

    def _get(self, digest: Digest) -> tuple[bytes, float]:
        with self._lock:
            try:
                return self._blobs[digest]
            except KeyError:
                raise NotFound(f"content {digest} not found") from None

    # Manager

    def delete(self, digest: Digest) -> None:
        with self._lock:
            if self._blobs.pop(digest, None) is None:
                raise NotFound(f"content {digest} not found")

    def walk(self) -> Iterator[BlobInfo]:
        with self._lock:
            snapshot = list(self._blobs.items())
        for digest, (data, created) in snapshot:
            yield BlobInfo(digest, len(data), created)

    def usage(self) -> int:
        with self._lock:
            return sum(len(data) for data, _ in self._blobs.values())

    # Ingester

    def writer(
        self, ref: str, *, expected: Digest | None = None, expected_size: int | None = None
    ) -> MemoryWriter:
        if not ref:
            raise InvalidArgument("ingest ref must not be empty")
        if expected is not None and expected.algorithm != "sha256":
            raise Unsupported(f"cannot verify {expected}: only sha256 content is supported")
        if expected_size is not None and expected_size < 0:
            raise InvalidArgument(f"expected size {expected_size} is negative")
        now = self._clock()
        with self._lock:
            ingest = self._ingests.get(ref)
            if ingest is None:
                ingest = _Ingest(ref, now, now, expected, expected_size)
                self._ingests[ref] = ingest
            elif ingest.locked:
                raise Conflict(f"ref {ref} is locked")
            else:
                if expected is not None and ingest.expected not in (None, expected):
                    raise Conflict(
                        f"ref {ref} is in progress for {ingest.expected}, not {expected}"
                    )
                if expected_size is not None and ingest.total not in (None, expected_size):
                    raise Conflict(
                        f"ref {ref} is in progress for {ingest.total} bytes, not {expected_size}"
                    )
                ingest.expected = ingest.expected or expected
                ingest.total = ingest.total if ingest.total is not None else expected_size
                ingest.updated = now
            ingest.locked = True
        return MemoryWriter(self, ingest)

    # IngestManager

    def ingests(self) -> list[IngestStatus]:
        with self._lock:
            return sorted((_status(i) for i in self._ingests.values()), key=lambda s: s.ref)

    def status(self, ref: str) -> IngestStatus:
        with self._lock:
            ingest = self._ingests.get(ref)
            if ingest is None:
                raise NotFound(f"no such ingest: {ref}")
            return _status(ingest)

    def abort(self, ref: str) -> None:
        with self._lock:
            ingest = self._ingests.get(ref)
            if ingest is None:
                raise NotFound(f"no such ingest: {ref}")
            if ingest.locked:
                raise Conflict(f"ref {ref} is locked")
            del self._ingests[ref]

    def cleanup(self, older_than_seconds: float = 0.0) -> list[str]:
        cutoff = self._clock() - older_than_seconds
        with self._lock:
            stale = [
                ref
                for ref, ingest in self._ingests.items()
                if not ingest.locked and ingest.updated <= cutoff
            ]
            for ref in stale:
                del self._ingests[ref]
        return stale

    # used by MemoryWriter, under no lock

    def _touch(self, ingest: _Ingest) -> None:
        ingest.updated = self._clock()

    def _release(self, ingest: _Ingest, *, keep: bool) -> None:
        with self._lock:
            ingest.locked = False
            ingest.updated = self._clock()
            if not keep and self._ingests.get(ingest.ref) is ingest:
                del self._ingests[ingest.ref]

    def _publish(self, ingest: _Ingest, digest: Digest) -> None:
        with self._lock:
            if digest not in self._blobs:
                self._blobs[digest] = (bytes(ingest.data), self._clock())
            ingest.locked = False
            if self._ingests.get(ingest.ref) is ingest:
                del self._ingests[ingest.ref]


class MemoryWriter:
    """A MemoryStore ingest held open."""

    def __init__(self, store: MemoryStore, ingest: _Ingest) -> None:
        self._store = store
        self._ingest = ingest
        self._digester = Digester()
        self._digester.update(bytes(ingest.data))
        self._state = WriterState.OPEN

    @property
    def ref(self) -> str:
        return self._ingest.ref

    @property
    def offset(self) -> int:
        return self._digester.size

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._check_open()
        view = memoryview(data).cast("B")
        total = self._ingest.total
        if total is not None and self.offset + len(view) > total:
            raise InvalidArgument(f"write to {self.ref} past its expected size {total}")
        self._ingest.data += view
        self._digester.update(view)
        self._store._touch(self._ingest)

    def commit(self, expected: Digest | None = None, size: int | None = None) -> Digest:
        self._check_open()
        expected = expected if expected is not None else self._ingest.expected
        size = size if size is not None else self._ingest.total
        if expected is not None and expected.algorithm != "sha256":
            raise Unsupported(f"cannot verify {expected}: only sha256 content is supported")
        if size is not None and self.offset != size:
            self._finish(WriterState.ABORTED, keep=False)
            raise InvalidArgument(f"size mismatch: expected {size}, got {self.offset}")
        actual = self._digester.digest()
        if expected is not None and actual != expected:
            self._finish(WriterState.ABORTED, keep=False)
            raise InvalidArgument(f"digest mismatch: expected {expected}, got {actual}")
        self._state = WriterState.COMMITTED
        self._store._publish(self._ingest, actual)
        return actual

    def abort(self) -> None:
        if self._state is WriterState.OPEN:
            self._finish(WriterState.ABORTED, keep=False)

    def close(self) -> None:
        if self._state is WriterState.OPEN:
            self._finish(WriterState.CLOSED, keep=True)

    def __enter__(self) -> MemoryWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        # Like a LocalWriter whose process died: a dropped writer releases its ref.
        if getattr(self, "_state", None) is WriterState.OPEN:
            self.close()

    def _check_open(self) -> None:
        if self._state is not WriterState.OPEN:
            raise InvalidArgument(f"writer for {self.ref} is {self._state.value}")

    def _finish(self, state: WriterState, *, keep: bool) -> None:
        self._state = state
        self._store._release(self._ingest, keep=keep)


def _status(ingest: _Ingest) -> IngestStatus:
    return IngestStatus(
        ref=ingest.ref,
        offset=len(ingest.data),
        started=ingest.started,
        updated=ingest.updated,
        expected=ingest.expected,
        total=ingest.total,
    )
