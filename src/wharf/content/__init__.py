"""Content-addressed blob store: roles in ``store``, backends in ``local`` and ``memory``.

Layer L1. Imports: stdlib, ``wharf.errdefs``, ``wharf.oci.digest``; never ``wharf.metadata``.
``testsuite`` is the conformance suite every backend runs.
"""

from __future__ import annotations

from wharf.content.store import (
    BlobInfo,
    Ingester,
    IngestManager,
    IngestStatus,
    Manager,
    Provider,
    Store,
    Writer,
    WriterState,
    read_blob,
    write_blob,
)

__all__ = [
    "BlobInfo",
    "IngestManager",
    "IngestStatus",
    "Ingester",
    "Manager",
    "Provider",
    "Store",
    "Writer",
    "WriterState",
    "read_blob",
    "write_blob",
]
