"""Byte ranges: ``Range`` on blob GETs and ``Content-Range`` on upload chunks.

Layer L0. Imports: stdlib, ``wharf.distribution.errors``.

- Blob GET ``Range`` (RFC 9110): one range ``bytes=a-b``, ``bytes=a-`` or ``bytes=-n``.
  Several ranges, other units or malformed values are ignored (the whole blob is sent, as
  RFC 9110 allows); a range that starts past the end is "not satisfiable" (416).
- Upload ``Content-Range`` (distribution-spec): ``<start>-<end>`` inclusive, also accepted
  with the RFC form ``bytes <start>-<end>/<total|*>`` that some clients send. The chunk must
  start at the upload's current offset (else 416, see ``errors.chunk_out_of_order``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from wharf.distribution.errors import (
    ErrorCode,
    RegistryError,
    chunk_out_of_order,
    range_not_satisfiable,
)

_RANGE_RE = re.compile(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", re.ASCII)
_CONTENT_RANGE_RE = re.compile(r"\s*(?:bytes\s+)?(\d+)-(\d+)(?:/(?:\d+|\*))?\s*", re.ASCII)


@dataclass(frozen=True, slots=True)
class ByteRange:
    """``count`` bytes from ``start`` of a blob of ``total`` bytes."""

    start: int
    count: int
    total: int

    @property
    def end(self) -> int:
        """Inclusive end; ``start - 1`` for an empty range."""
        return self.start + self.count - 1

    def content_range(self) -> str:
        return f"bytes {self.start}-{self.end}/{self.total}"


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The single range asked for, ``None`` for the whole blob; 416 if unsatisfiable."""
    if header is None:
        return None
    found = _RANGE_RE.fullmatch(header)
    if found is None:
        return None
    first, last = found.groups()
    if not first and not last:
        return None
    if not first:  # suffix: the last n bytes
        n = int(last)
        if n == 0:
            raise range_not_satisfiable(size)
        n = min(n, size)
        return ByteRange(size - n, n, size)
    start = int(first)
    if last and int(last) < start:
        return None  # syntactically invalid: ignored, per RFC 9110
    if start >= size:
        raise range_not_satisfiable(size)
    end = int(last) if last else size - 1
    end = min(end, size - 1)
    return ByteRange(start, end - start + 1, size)


@dataclass(frozen=True, slots=True)
class ChunkRange:
    """The inclusive ``start``-``end`` of an upload chunk."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def parse_content_range(header: str) -> ChunkRange:
    """An upload ``Content-Range``; ``RANGE_INVALID`` (416) when malformed."""
    found = _CONTENT_RANGE_RE.fullmatch(header)
    if found is None:
        raise RegistryError(ErrorCode.RANGE_INVALID, f"invalid Content-Range {header[:100]!r}")
    start, end = int(found.group(1)), int(found.group(2))
    if end < start:
        raise RegistryError(ErrorCode.RANGE_INVALID, f"invalid Content-Range {header[:100]!r}")
    return ChunkRange(start, end)


def check_chunk(content_range: str | None, content_length: int | None, offset: int) -> int | None:
    """Validate a chunk's headers against an upload holding ``offset`` bytes.

    Returns the number of bytes the chunk must have (``None`` if the request does not say).
    A chunk that does not start at ``offset`` is a 416; a ``Content-Length`` that
    contradicts the ``Content-Range`` is a 416 too, as the reference registry answers.
    """
    if content_range is None:
        return content_length
    chunk = parse_content_range(content_range)
    if chunk.start != offset:
        raise chunk_out_of_order(offset, chunk.start)
    if content_length is not None and content_length != chunk.length:
        raise RegistryError(
            ErrorCode.RANGE_INVALID,
            f"Content-Range says {chunk.length} bytes but Content-Length {content_length}",
        )
    return chunk.length
