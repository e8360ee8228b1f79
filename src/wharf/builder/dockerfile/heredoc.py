"""Here-documents: finding ``<<EOF`` markers in RUN/COPY/ADD lines, and the public ``Heredoc``.

Imports: stdlib, ``.errors``, ``.shell``.

A marker is a shell word ``[n]<<[-]WORD`` (white space allowed after ``<<``). ``<<-`` strips
leading tabs from the body and the terminator line; quoting any part of WORD (``<<"EOF"``,
``<<'EOF'``, ``<<E"O"F``) turns off variable expansion of the body. The body runs from the
line after the instruction to the first line equal to WORD; several markers on one line
take their bodies one after the other. Markers are found with the default escape ``\\``
whatever ``# escape=`` says, as BuildKit does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from wharf.builder.dockerfile.errors import Invalid
from wharf.builder.dockerfile.shell import ExpansionError, LexOptions, process

_MARKER = re.compile(r"^([0-9]*)<<(-?)[\t\n\f\r ]*([^<]*)\Z", re.S)
_LEADING_TABS = re.compile(r"^\t+", re.M)


def _unset(_: str) -> str | None:
    return None


@dataclass(frozen=True, slots=True)
class Heredoc:
    """One here-document.

    ``content`` is the body as the file or script receives it: every line with its newline,
    leading tabs already removed when ``chomp_tabs`` (``<<-``). ``expand`` is False when the
    delimiter was quoted; for COPY/ADD the builder expands ``$VAR`` in the body when True
    (``CopyInstruction.expanded`` does it), for RUN the shell does its own expansion.
    """

    name: str
    content: str
    expand: bool
    chomp_tabs: bool


@dataclass(frozen=True, slots=True)
class Marker:
    name: str
    expand: bool
    chomp_tabs: bool


def parse_marker(word: str) -> Marker | None:
    """The heredoc marker ``word`` is, if it is one; raises ``ExpansionError`` on bad quoting."""
    match = _MARKER.match(word)
    if match is None or not match.group(3):
        return None
    rest = match.group(3)
    plain = process(rest, _unset, "\\", LexOptions(skip_unset=True))[1]
    if len(plain) != 1:
        return None
    raw = process(rest, _unset, "\\", LexOptions(skip_unset=True, raw_quotes=True))[1]
    if len(raw) != 1:
        raise Invalid(f"internal lexing of heredoc produced inconsistent results: {rest}")
    name = plain[0]
    quotes = name.count("'") + name.count('"')
    raw_quotes = raw[0].count("'") + raw[0].count('"')
    return Marker(name=name, expand=quotes == raw_quotes, chomp_tabs=match.group(2) == "-")


def markers_in_line(line: str) -> list[Marker]:
    """Every heredoc marker among the shell words of ``line``, in order."""
    options = LexOptions(raw_quotes=True, raw_escapes=True, skip_unset=True)
    try:
        words = process(line, _unset, "\\", options)[1]
    except ExpansionError:
        # BuildKit ignores lines its lexer cannot split: they simply have no heredocs.
        return []
    markers = []
    for word in words:
        marker = parse_marker(word)
        if marker is not None:
            markers.append(marker)
    return markers


def chomp(content: str) -> str:
    return _LEADING_TABS.sub("", content)
