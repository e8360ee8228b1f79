"""Go duration strings (``1m30s``, ``500ms``, ``-1.5h``), as Docker's CLI flags, Dockerfiles
and compose files write them; the API carries them as integer nanoseconds.

Imports: stdlib, ``wharf.errdefs``. Exactly Go's ``time.ParseDuration`` grammar: an optional
sign, then one or more decimal numbers each with a unit (ns, us, µs, μs, ms, s, m, h); "0"
alone needs no unit; the result must fit in an int64 of nanoseconds.
"""

from __future__ import annotations

import re
from decimal import Decimal

from wharf.errdefs import InvalidArgument

UNITS_NS = {
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


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _starts_number(char: str) -> bool:
    return char == "." or (char.isascii() and char.isdigit())


def parse_go_duration_ns(text: str) -> int:
    """Nanoseconds in ``text``; InvalidArgument with Go's own message otherwise."""
    invalid = InvalidArgument(f"time: invalid duration {_quote(text)}")
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
        if not _starts_number(rest[0]):
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
            raise InvalidArgument(f"time: missing unit in duration {_quote(text)}")
        unit = rest[:end]
        rest = rest[end:]
        if unit not in UNITS_NS:
            raise InvalidArgument(f"time: unknown unit {_quote(unit)} in duration {_quote(text)}")
        total += Decimal(f"{whole or '0'}.{fraction or '0'}") * UNITS_NS[unit]
        if total > _MAX_NS:
            raise invalid
    value = int(total)
    return -value if negative else value
