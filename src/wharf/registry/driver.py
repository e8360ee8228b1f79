"""The storage driver: where the registry keeps its small metadata files.

Layer L3. Imports: stdlib, ``wharf.errdefs``.

The registry's state is two things: blobs (big, content-addressed, written once; kept in a
``wharf.content.store.Store``) and metadata (links, tags, referrer entries: tiny files
named by path, see ``wharf.registry.layout``). This Protocol is everything the registry asks
of the metadata side, so an object store (S3-like: get/put/delete/list by key) can back it
later; ``filesystem.FilesystemDriver`` is the one implementation now.

Contract every driver keeps (``tests/unit/registry/test_registry_driver.py`` checks it):

- Paths are ``/``-separated keys relative to the driver's root, without ``..`` or empty parts.
- ``write`` is atomic: a reader sees the old content or the new, never a mix, and after a
  crash the file holds one or the other. It creates missing parents.
- ``read``/``stat`` raise ``NotFound`` for a missing key; ``delete`` of a missing key is a
  no-op returning False (two racing deletes both succeed).
- ``list`` gives the names directly under a prefix (files and "directories"), sorted; an
  absent prefix lists as empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class FileInfo:
    path: str
    size: int
    modified: float
    is_dir: bool


@runtime_checkable
class StorageDriver(Protocol):
    def read(self, path: str) -> bytes: ...

    def write(self, path: str, data: bytes) -> None: ...

    def delete(self, path: str) -> bool:
        """Remove one file; True if it existed."""
        ...

    def delete_tree(self, path: str) -> None:
        """Remove everything under ``path`` (absent is fine)."""
        ...

    def list(self, path: str) -> list[str]: ...

    def stat(self, path: str) -> FileInfo: ...

    def exists(self, path: str) -> bool: ...
