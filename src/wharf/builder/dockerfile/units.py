"""Value syntaxes Dockerfiles borrow from Go: durations (``1m30s``) and sizes (``64m``).

Imports: stdlib, ``.errors``.
"""

from __future__ import annotations

import re
from decimal import Decimal

from wharf.builder.dockerfile.errors import Invalid, go_quote

_UNITS_NS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,
    "\u03bcs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_NUMBER = re.compile(r"([0-9]*)(\.([0-9]*))?")
_MAX_NS = 2**63 - 1
_SIZE = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+) ?([kmgtp](?:b|ib)?|b)?\Z", re.I)
_SIZE_SHIFT = {"k": 10, "m": 20, "g": 30, "t": 40, "p": 50}


def parse_duration_ns(text: str) -> int:
    """Go's ``time.ParseDuration``, in nanoseconds; raises ``Invalid`` with Go's message."""
    invalid = Invalid(f"time: invalid duration {go_quote(text)}")
    rest = text
    negative = False
    if rest[:1] in ("-", "+"):
        negative = rest[0] == "-"
        rest = rest[1:]
    if rest == "0":
        return 0
    if not rest:
        raise invalid
    total = Decimal(0)
    while rest:
        if not (rest[0] == "." or (rest[0].isascii() and rest[0].isdigit())):
            raise invalid
        match = _NUMBER.match(rest)
        assert match is not None  # the pattern matches the empty string
        whole, fraction = match.group(1), match.group(3) or ""
        if not whole and not fraction:
            raise invalid
        rest = rest[match.end() :]
        end = 0
        while (
            end < len(rest)
            and rest[end] != "."
            and not (rest[end].isascii() and rest[end].isdigit())
        ):
            end += 1
        if end == 0:
            raise Invalid(f"time: missing unit in duration {go_quote(text)}")
        unit = rest[:end]
        rest = rest[end:]
        if unit not in _UNITS_NS:
            raise Invalid(f"time: unknown unit {go_quote(unit)} in duration {go_quote(text)}")
        total += Decimal(f"{whole or '0'}.{fraction or '0'}") * _UNITS_NS[unit]
        if total > _MAX_NS:
            raise invalid
    value = int(total)
    return -value if negative else value


def parse_ram_bytes(text: str) -> int:
    """A size in bytes with binary suffixes (``64m`` = 64 MiB), as Docker's go-units reads it."""
    match = _SIZE.match(text)
    if match is None:
        raise Invalid(f"invalid size: '{text}'")
    number = Decimal(match.group(1))
    suffix = (match.group(2) or "b").lower()
    shift = _SIZE_SHIFT.get(suffix[0], 0)
    return int(number * (1 << shift))
