"""The content store's roles, as small Protocols, and helpers that take the narrowest one.

Layer L1. Imports: stdlib, ``wharf.errdefs``, ``wharf.oci.digest``. Never ``wharf.metadata``.

Roles (after containerd's content store)::

    Provider       read committed blobs            info / open / read_bytes / exists
    Ingester       resumable writes keyed by ref   writer(ref, expected=, expected_size=)
    Writer         one in-progress write           offset / write / commit / abort / close
    IngestManager  in-progress writes              ingests / status / abort / cleanup
    Manager        committed blobs                 delete / walk / usage
    Store          all of the above

Invariants every implementation keeps (checked by ``wharf.content.testsuite``):

- A blob is visible through a Provider only after ``Writer.commit`` verified its size and
  digest; a partial, aborted or mismatched write is never visible as a blob.
- A ref names at most one live Writer at a time; a second ``writer(ref)`` while the first is
  open raises ``Conflict("ref <ref> is locked")``.
- ``Writer.close()`` keeps the partial ingest: ``writer(ref)`` later resumes at its offset.
  ``commit`` and ``abort`` remove it. A failed verification removes it too.
- Committing content that is already stored succeeds and discards the ingest.
- Missing blobs raise ``NotFound("content sha256:... not found")``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import Enum
from types import TracebackType
from typing import BinaryIO, Protocol, runtime_checkable

from wharf.oci.digest import Digest


@dataclass(frozen=True, slots=True)
class BlobInfo:
    """A committed blob: its digest, size in bytes, and commit time (seconds since the epoch)."""

    digest: Digest
    size: int
    created: float


@dataclass(frozen=True, slots=True)
class IngestStatus:
    """An in-progress write: bytes written so far and what the writer announced it expects."""

    ref: str
    offset: int
    started: float
    updated: float
    expected: Digest | None = None
    total: int | None = None


class WriterState(Enum):
    """Where a Writer is in its life: OPEN until the first commit, abort or close."""

    OPEN = "open"
    COMMITTED = "committed"
    ABORTED = "aborted"
    CLOSED = "closed"


@runtime_checkable
class Provider(Protocol):
    """Reads committed blobs."""

    def info(self, digest: Digest) -> BlobInfo: ...

    def open(self, digest: Digest) -> BinaryIO:
        """A reader positioned at 0; the caller closes it."""
        ...

    def read_bytes(self, digest: Digest) -> bytes: ...

    def exists(self, digest: Digest) -> bool: ...


@runtime_checkable
class Writer(Protocol):
    """One in-progress write to a ref; a context manager whose exit is ``close()``."""

    @property
    def ref(self) -> str: ...

    @property
    def offset(self) -> int:
        """Bytes written so far, including those of earlier sessions on the same ref."""
        ...

    def write(self, data: bytes | bytearray | memoryview) -> None: ...

    def commit(self, expected: Digest | None = None, size: int | None = None) -> Digest:
        """Verify (size, then digest), make durable, publish the blob; returns its digest.

        ``expected``/``size`` default to what ``writer()`` was given. On a mismatch the
        ingest is removed and ``InvalidArgument`` raised. The writer is finished either way.
        """
        ...

    def abort(self) -> None:
        """Drop the partial data and release the ref."""
        ...

    def close(self) -> None:
        """Release the ref and keep the partial data for a later resume; idempotent."""
        ...

    def __enter__(self) -> Writer: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


@runtime_checkable
class Ingester(Protocol):
    """Opens resumable writers keyed by a caller-chosen ref (e.g. a registry upload id)."""

    def writer(
        self, ref: str, *, expected: Digest | None = None, expected_size: int | None = None
    ) -> Writer:
        """Open or resume the ingest named ``ref``.

        Raises ``Conflict`` when another writer holds ``ref`` or when an existing ingest was
        started for a different ``expected`` digest or size.
        """
        ...


@runtime_checkable
class IngestManager(Protocol):
    """Lists and removes in-progress writes."""

    def ingests(self) -> list[IngestStatus]: ...

    def status(self, ref: str) -> IngestStatus:
        """``NotFound`` if there is no ingest named ``ref``."""
        ...

    def abort(self, ref: str) -> None:
        """Remove an ingest; ``NotFound`` if absent, ``Conflict`` if a writer holds it."""
        ...

    def cleanup(self, older_than_seconds: float = 0.0) -> list[str]:
        """Remove ingests no writer holds, last updated at least this long ago; their refs."""
        ...


@runtime_checkable
class Manager(Protocol):
    """Enumerates and deletes committed blobs."""

    def delete(self, digest: Digest) -> None:
        """``NotFound`` if absent."""
        ...

    def walk(self) -> Iterator[BlobInfo]:
        """Every committed blob, in no particular order."""
        ...

    def usage(self) -> int:
        """Total size in bytes of the committed blobs."""
        ...


@runtime_checkable
class Store(Provider, Ingester, IngestManager, Manager, Protocol):
    """The whole content store."""


def write_blob(
    ingester: Ingester,
    ref: str,
    data: bytes | Iterable[bytes | bytearray | memoryview],
    expected: Digest | None = None,
) -> Digest:
    """Write ``data`` under ``ref`` from scratch and commit it; returns the digest.

    A leftover ingest of the same ref is discarded rather than resumed, because ``data``
    starts at offset 0. On any error the ingest is aborted, so a failed call leaves nothing.
    """
    chunks: Iterable[bytes | bytearray | memoryview]
    size: int | None
    if isinstance(data, bytes | bytearray | memoryview):
        chunks, size = [data], memoryview(data).nbytes
    else:
        chunks, size = data, None
    writer = ingester.writer(ref, expected=expected, expected_size=size)
    try:
        if writer.offset:
            writer.abort()
            writer = ingester.writer(ref, expected=expected, expected_size=size)
        for chunk in chunks:
            writer.write(chunk)
        return writer.commit(expected, size)
    except BaseException:
        writer.abort()
        raise


def read_blob(provider: Provider, digest: Digest) -> bytes:
    """The whole blob ``digest``; ``NotFound`` if absent."""
    return provider.read_bytes(digest)
