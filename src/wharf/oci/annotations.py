"""String-to-string maps that stay immutable and hashable, and the annotation keys we use.

Annotations (on descriptors, manifests and indexes) and labels (in image configs) are
``FrozenMap`` values so that the frozen dataclasses holding them can be hashed and compared.

Imports: stdlib only (layer L0).

Invariants:
- A ``FrozenMap`` never changes after construction; equality is by content (order does
  not matter, as for ``dict``), and it compares equal to a ``dict`` with the same items.
- Iteration keeps insertion order; encoders sort keys themselves (Go's encoder sorts map
  keys, and we write byte-for-byte what Docker's tooling would write).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Final

# OCI pre-defined annotation keys (image-spec annotations.md)
CREATED: Final = "org.opencontainers.image.created"
AUTHORS: Final = "org.opencontainers.image.authors"
SOURCE: Final = "org.opencontainers.image.source"
REVISION: Final = "org.opencontainers.image.revision"
VERSION: Final = "org.opencontainers.image.version"
REF_NAME: Final = "org.opencontainers.image.ref.name"
BASE_NAME: Final = "org.opencontainers.image.base.name"
BASE_DIGEST: Final = "org.opencontainers.image.base.digest"
TITLE: Final = "org.opencontainers.image.title"
# containerd's image store records the full name here in index.json of `docker save`.
CONTAINERD_IMAGE_NAME: Final = "io.containerd.image.name"
# BuildKit marks attestation manifests in an index with these.
DOCKER_REFERENCE_TYPE: Final = "vnd.docker.reference.type"
DOCKER_REFERENCE_DIGEST: Final = "vnd.docker.reference.digest"
ATTESTATION_MANIFEST: Final = "attestation-manifest"


class FrozenMap(Mapping[str, str]):
    """An immutable, hashable ``Mapping[str, str]``."""

    __slots__ = ("_data", "_hash")

    _data: dict[str, str]
    _hash: int | None

    def __init__(self, items: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        self._data = dict(items)
        self._hash = None

    @classmethod
    def of(cls, items: Mapping[str, str] | Iterable[tuple[str, str]]) -> FrozenMap:
        """``items`` as a FrozenMap, without copying when it already is one."""
        if isinstance(items, FrozenMap):
            return items
        return cls(items)

    def __getitem__(self, key: str) -> str:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FrozenMap):
            return self._data == other._data
        if isinstance(other, Mapping):
            return self._data == dict(other.items())
        return NotImplemented

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._data.items()))
        return self._hash

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"

    def sorted_dict(self) -> dict[str, str]:
        """A plain dict with keys in sorted order, ready for a Go-compatible encoder."""
        return dict(sorted(self._data.items()))


EMPTY_MAP: Final = FrozenMap()
