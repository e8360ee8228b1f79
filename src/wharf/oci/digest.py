"""Content digests (``sha256:<64 hex>``) and incremental hashing.

Only sha256 is written; sha512 is parsed so that references carrying it give a clear error
rather than a crash. Imports: stdlib, ``wharf.errdefs``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from wharf.errdefs import InvalidArgument

_HEX_LENGTH = {"sha256": 64, "sha512": 128}
_DIGEST_RE = re.compile(r"^([a-z0-9]+(?:[.+_-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$")


@dataclass(frozen=True, slots=True, order=True)
class Digest:
    """A validated content digest; ``str(d)`` is the canonical ``alg:hex`` form."""

    algorithm: str
    hex: str

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"

    @classmethod
    def parse(cls, text: str) -> Digest:
        match = _DIGEST_RE.match(text)
        if match is None:
            raise InvalidArgument(f"invalid digest {text!r}: expected algorithm:hex")
        algorithm, hex_part = match.groups()
        expected = _HEX_LENGTH.get(algorithm)
        if expected is None:
            raise InvalidArgument(f"unsupported digest algorithm {algorithm!r} in {text!r}")
        if len(hex_part) != expected or not all(c in "0123456789abcdef" for c in hex_part):
            raise InvalidArgument(
                f"invalid digest {text!r}: {algorithm} needs {expected} lowercase hex digits"
            )
        return cls(algorithm, hex_part)

    @classmethod
    def of_bytes(cls, data: bytes) -> Digest:
        return cls("sha256", hashlib.sha256(data).hexdigest())

    @property
    def short(self) -> str:
        """The 12-character ID Docker shows in tables."""
        return self.hex[:12]


class Digester:
    """Incremental sha256 over a stream; counts the bytes it saw."""

    __slots__ = ("_hash", "size")

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self.size = 0

    def update(self, data: bytes | memoryview) -> None:
        self._hash.update(data)
        self.size += len(data)

    def digest(self) -> Digest:
        return Digest("sha256", self._hash.hexdigest())


def chain_id(diff_ids: list[Digest]) -> Digest:
    """ChainID of a layer stack: ChainID(L0)=DiffID(L0), then sha256("<parent> <diff>")."""
    if not diff_ids:
        raise InvalidArgument("chain ID of an empty layer list")
    current = diff_ids[0]
    for diff in diff_ids[1:]:
        current = Digest.of_bytes(f"{current} {diff}".encode())
    return current
