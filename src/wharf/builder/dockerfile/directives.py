"""Parser directives: ``# escape=`` and ``# syntax=`` (and ``# check=``) at the top of a Dockerfile.

Imports: stdlib, ``.errors``, ``.shell``.

Rules (BuildKit's): a directive is a comment of the form ``#name=value`` (spaces allowed
around ``#``, the name and ``=``; the name is case-insensitive). Directives are only read
before anything else: the first line that is not a known directive (an instruction, an
ordinary comment, an unknown directive, an empty line) ends them for good. A directive may
appear once. The escape character must be ``\\`` or a backtick.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from wharf.builder.dockerfile.errors import Invalid
from wharf.builder.dockerfile.shell import lstrip_space

_DIRECTIVE = re.compile(
    r"^([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*\Z", re.S
)
KNOWN = frozenset({"escape", "syntax", "check"})


@dataclass(frozen=True, slots=True)
class Directive:
    name: str  # lower case
    value: str
    line: int


class DirectiveParser:
    """Feed it the physical lines in order; it answers with the directives it finds."""

    def __init__(self) -> None:
        self.done = False
        self._seen: set[str] = set()

    def parse_line(self, text: str, line: int) -> Directive | None:
        """``text`` is a line with its newline and leading white space removed."""
        if self.done:
            return None
        if not text.startswith("#"):
            self.done = True
            return None
        match = _DIRECTIVE.match(lstrip_space(text[1:]))
        if match is None:
            self.done = True
            return None
        name = match.group(1).lower()
        if name not in KNOWN:
            self.done = True
            return None
        if name in self._seen:
            raise Invalid(f"only one {name} parser directive can be used")
        self._seen.add(name)
        value = match.group(2)
        if name == "escape" and value not in ("\\", "`"):
            raise Invalid(f"invalid escape token '{value}' does not match ` or \\")
        return Directive(name, value, line)
