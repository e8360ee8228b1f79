"""``n``/``last`` pagination of tag and catalog lists, and the ``Link`` header.

Layer L0. Imports: stdlib, ``wharf.distribution.errors``.

Rules (distribution-spec end-8b, and the ``_catalog`` extension): results are in lexical
order; ``last`` excludes every entry up to and including it; ``n`` caps the count; when
entries remain after a capped page the response carries
``Link: <path?n=<n>&last=<last entry>>; rel="next"``. ``n=0`` gives an empty list.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from wharf.distribution.errors import ErrorCode, RegistryError

MAX_PAGE = 10_000


@dataclass(frozen=True, slots=True)
class PageRequest:
    n: int | None = None
    last: str | None = None


@dataclass(frozen=True, slots=True)
class Page:
    items: tuple[str, ...]
    next_last: str | None  # the ``last`` of the next page; None when this page is the end


def parse_page(n: str | None, last: str | None, *, default_n: int | None = None) -> PageRequest:
    """Read the query parameters; ``PAGINATION_NUMBER_INVALID`` for a bad ``n``."""
    count = default_n
    if n is not None and n != "":
        try:
            count = int(n)
        except ValueError:
            count = -1
        if count < 0 or count > MAX_PAGE:
            raise RegistryError(
                ErrorCode.PAGINATION_NUMBER_INVALID,
                f"n must be an integer between 0 and {MAX_PAGE}, got {n[:20]!r}",
            )
    return PageRequest(count, last or None)


def paginate(sorted_items: Sequence[str], request: PageRequest) -> Page:
    """The page of ``sorted_items`` (ascending) that ``request`` asks for."""
    start = bisect.bisect_right(sorted_items, request.last) if request.last is not None else 0
    if request.n is None:
        return Page(tuple(sorted_items[start:]), None)
    items = tuple(sorted_items[start : start + request.n])
    more = start + request.n < len(sorted_items)
    return Page(items, items[-1] if more and items else None)


def link_header(path: str, n: int, last: str) -> str:
    """``Link`` to the next page of ``path``."""
    return f'<{path}?{urlencode({"n": n, "last": last})}>; rel="next"'
