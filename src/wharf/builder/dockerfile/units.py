"""Value syntaxes Dockerfiles borrow from Go: durations (``1m30s``) and sizes (``64m``).

Imports: stdlib, ``wharf.apitypes.durations``, ``.errors``.
"""

from __future__ import annotations

import re
from decimal import Decimal

from wharf.apitypes.durations import parse_go_duration_ns
from wharf.builder.dockerfile.errors import Invalid
from wharf.errdefs import InvalidArgument

_SIZE = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+) ?([kmgtp](?:b|ib)?|b)?\Z", re.I)
_SIZE_SHIFT = {"k": 10, "m": 20, "g": 30, "t": 40, "p": 50}


def parse_duration_ns(text: str) -> int:
    """Go's ``time.ParseDuration``, in nanoseconds; raises ``Invalid`` with Go's message."""
    try:
        return parse_go_duration_ns(text)
    except InvalidArgument as exc:
        raise Invalid(exc.message) from exc


def parse_ram_bytes(text: str) -> int:
    """A size in bytes with binary suffixes (``64m`` = 64 MiB), as Docker's go-units reads it."""
    match = _SIZE.match(text)
    if match is None:
        raise Invalid(f"invalid size: '{text}'")
    number = Decimal(match.group(1))
    suffix = (match.group(2) or "b").lower()
    shift = _SIZE_SHIFT.get(suffix[0], 0)
    return int(number * (1 << shift))
