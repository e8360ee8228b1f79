"""Builder flags (``--chown=``, ``--mount=``...) checked against what an instruction accepts.

Imports: stdlib, ``.errors``.

Rules (BuildKit's ``BFlags``): every flag is ``--name`` or ``--name=value``; unknown names,
a repeated single-valued flag, a string flag without ``=value`` and a boolean flag whose
value is not true/false (any case) are errors. A bare boolean flag means true. A ``--``
word ends the flags.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from wharf.builder.dockerfile.errors import Invalid, with_suggestion


class FlagKind(Enum):
    BOOL = "bool"
    STRING = "string"
    STRINGS = "strings"  # may repeat; every value is kept


@dataclass(frozen=True, slots=True)
class ParsedFlags:
    values: dict[str, list[str]]

    def string(self, name: str) -> str | None:
        found = self.values.get(name)
        return found[-1] if found else None

    def strings(self, name: str) -> tuple[str, ...]:
        return tuple(self.values.get(name, ()))

    def boolean(self, name: str) -> bool:
        return self.string(name) == "true"

    def given(self, name: str) -> bool:
        return name in self.values


def parse_flags(words: tuple[str, ...], accepted: dict[str, FlagKind]) -> ParsedFlags:
    values: dict[str, list[str]] = {}
    for word in words:
        if word == "--":
            break
        if not word.startswith("--"):
            raise Invalid(f"arg should start with -- : {word}")
        flag, has_value, value = word.partition("=")
        name = flag[2:]
        kind = accepted.get(name)
        if kind is None:
            raise Invalid(
                with_suggestion(f"unknown flag: {flag}", name, list(accepted), case_sensitive=True)
            )
        if name in values and kind is not FlagKind.STRINGS:
            raise Invalid(f"duplicate flag specified: {flag}")
        if kind is FlagKind.BOOL:
            if has_value and not value:
                raise Invalid(f"missing a value on flag: {flag}")
            if value.lower() not in ("true", "false", ""):
                raise Invalid(f"expecting boolean value for flag {flag}, not: {value}")
            values[name] = ["false" if value.lower() == "false" else "true"]
        elif not has_value:
            raise Invalid(f"missing a value on flag: {flag}")
        else:
            values.setdefault(name, []).append(value)
    return ParsedFlags(values)
