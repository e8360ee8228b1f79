"""Dockerfile text → syntax tree: one ``Node`` per instruction, with its lines.

Imports: stdlib, ``.directives``, ``.errors``, ``.heredoc``, ``.shell``, ``.words``.

Reading rules (BuildKit's ``parser.Parse``):

- Physical lines end at ``\\n`` (a ``\\r`` before it is dropped); a UTF-8 byte-order mark on
  the first line is ignored. Lines are numbered from 1.
- Parser directives are read first (``directives``); they set the escape character.
- A line whose first non-blank character is ``#`` is a comment; comments and blank lines
  between instructions are skipped. Comments are never recognised after an instruction.
- An escape character at the end of a line (trailing blanks allowed, but not when it is
  itself escaped) continues the instruction on the next line. Inside a continuation,
  comment lines are skipped and blank lines are skipped with a warning; continuation lines
  keep their leading white space. A continuation at end of file just ends the instruction.
- RUN, COPY and ADD lines in shell form (and ONBUILD with one of them) may carry heredoc
  markers; their bodies follow the instruction line, raw (``heredoc``).

Node layout::

    Node(keyword="run", flags=("--mount=type=cache,target=/x",), rest="make <<EOF",
         original="run --mount=... make <<EOF", line=4, end_line=7, json=None,
         heredocs=(RawHeredoc(...),), child=None)      # child: ONBUILD's trigger
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from wharf.builder.dockerfile.directives import DirectiveParser
from wharf.builder.dockerfile.errors import DockerfileError, Invalid
from wharf.builder.dockerfile.heredoc import Marker, markers_in_line
from wharf.builder.dockerfile.shell import ExpansionError, is_space, lstrip_space
from wharf.builder.dockerfile.words import parse_json_array, split_command

_MAYBE_JSON = frozenset({"run", "cmd", "entrypoint", "shell", "add", "copy", "volume"})
_HEREDOC_KEYWORDS = frozenset({"run", "copy", "add"})
_BOM = "\ufeff"


@dataclass(frozen=True, slots=True)
class RawHeredoc:
    """A heredoc body exactly as read: lines with their newlines, tabs not stripped."""

    marker: Marker
    content: str


@dataclass(frozen=True, slots=True)
class Node:
    keyword: str
    flags: tuple[str, ...]
    rest: str
    original: str
    line: int
    end_line: int
    json: tuple[str, ...] | None
    heredocs: tuple[RawHeredoc, ...] = ()
    child: Node | None = None

    def heredoc_capable(self) -> bool:
        node = self.child if self.keyword.lower() == "onbuild" and self.child else self
        return node.keyword.lower() in _HEREDOC_KEYWORDS and node.json is None


@dataclass(frozen=True, slots=True)
class SyntaxTree:
    escape: str
    syntax: str | None
    nodes: tuple[Node, ...]
    warnings: tuple[str, ...]


def physical_lines(text: str) -> list[str]:
    """``text`` cut after every ``\\n``, each piece keeping its newline."""
    pieces = text.split("\n")
    lines = [piece + "\n" for piece in pieces[:-1]]
    if pieces[-1]:
        lines.append(pieces[-1])
    return lines


def trim_newline(text: str) -> str:
    return text.rstrip("\r\n")


def is_comment(text: str) -> bool:
    return lstrip_space(text).startswith("#")


def trim_continuation(text: str, escape: str) -> tuple[str, bool]:
    """``(text without the continuation escape, whether the instruction ends here)``."""
    stripped = text.rstrip(" \t")
    if stripped.endswith(escape) and (len(stripped) == 1 or stripped[-2] != escape):
        return stripped[:-1], False
    return text, True


def parse_syntax(text: str) -> SyntaxTree:
    lines = physical_lines(text)
    if lines and lines[0].startswith(_BOM):
        lines[0] = lines[0][1:]
    directives = DirectiveParser()
    escape = "\\"
    syntax: str | None = None
    warnings: list[str] = []
    nodes: list[Node] = []
    index = 0
    while index < len(lines):
        current = lstrip_space(trim_newline(lines[index]))
        index += 1
        try:
            directive = directives.parse_line(current, index)
        except Invalid as exc:
            raise DockerfileError(index, exc.reason) from None
        if directive is not None:
            if directive.name == "escape":
                escape = directive.value
            elif directive.name == "syntax":
                syntax = directive.value
                warnings.append(
                    f"line {index}: # syntax={directive.value} is accepted and ignored "
                    "(wharf has one built-in Dockerfile frontend)"
                )
        start = index
        body, ended = trim_continuation("" if is_comment(current) else current, escape)
        if ended and not body:
            continue
        parts = [body]
        empty_continuation = False
        while not ended and index < len(lines):
            following = trim_newline(lines[index])
            index += 1
            if is_comment(following):
                continue
            if not lstrip_space(following):
                empty_continuation = True
                continue
            body, ended = trim_continuation(following, escape)
            parts.append(body)
        logical = "".join(parts)
        if empty_continuation:
            warnings.append(
                f"line {start}: empty continuation line found in: {logical} "
                "(empty continuation lines will become errors in a future release)"
            )
        try:
            node = node_from_line(logical, escape, start)
            if node.heredoc_capable() and "<<" in logical:
                node, index = _read_heredocs(node, markers_in_line(logical), lines, index)
        except (Invalid, ExpansionError) as exc:
            reason = exc.reason if isinstance(exc, Invalid) else str(exc)
            raise DockerfileError(start, reason) from None
        nodes.append(replace(node, end_line=index))
    if not nodes:
        raise DockerfileError(max(index, 1), "file with no instructions")
    return SyntaxTree(escape, syntax, tuple(nodes), tuple(warnings))


def node_from_line(logical: str, escape: str, line: int) -> Node:
    keyword, flags, rest = split_command(logical, escape)
    lower = keyword.lower()
    json: tuple[str, ...] | None = None
    child: Node | None = None
    if lower in _MAYBE_JSON and rest:
        json = parse_json_array(rest)
    elif lower == "healthcheck":
        json = _healthcheck_json(rest)
    elif lower == "onbuild" and rest:
        child = node_from_line(rest, escape, line)
    return Node(keyword, flags, rest, logical, line, line, json, child=child)


def healthcheck_parts(rest: str) -> tuple[str, str]:
    """HEALTHCHECK's type word and the command text after it."""
    end = 0
    while end < len(rest) and not is_space(rest[end]):
        end += 1
    return rest[:end], lstrip_space(rest[end:])


def _healthcheck_json(rest: str) -> tuple[str, ...] | None:
    kind, command = healthcheck_parts(rest)
    if not kind or not command:
        return None
    return parse_json_array(command)


def _read_heredocs(
    node: Node, markers: list[Marker], lines: list[str], index: int
) -> tuple[Node, int]:
    bodies: list[RawHeredoc] = []
    for marker in markers:
        content: list[str] = []
        while True:
            if index >= len(lines):
                raise Invalid("unterminated heredoc")
            raw = lines[index]
            index += 1
            candidate = trim_newline(raw)
            if marker.chomp_tabs:
                candidate = candidate.lstrip("\t")
            if candidate == marker.name:
                break
            content.append(raw)
        bodies.append(RawHeredoc(marker, "".join(content)))
    heredocs = tuple(bodies)
    child = replace(node.child, heredocs=heredocs) if node.child is not None else None
    return replace(node, heredocs=heredocs, child=child), index
