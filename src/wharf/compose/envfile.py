"""``.env`` and ``env_file`` files, parsed as docker compose parses them.

Imports: stdlib, ``wharf.compose.errors``, ``wharf.compose.interpolate``.

Syntax, one assignment per line::

    # comment                     blank lines and comment lines are skipped
    [export ]KEY=value            unquoted: trimmed; " #" starts a comment; interpolated
    KEY='literal $NOT'            single quotes: literal, may span lines
    KEY="a\\nb ${OTHER:-x}"        double quotes: \\n \\t \\r \\\\ \\" \\$ escapes, interpolated,
                                  may span lines
    KEY=                          the empty string
    KEY                           the value of KEY from the lookup, or left out when unset

``KEY`` is ``[A-Za-z_][A-Za-z0-9_.-]*``. Interpolation sees the variables defined earlier
in the same file first, then the lookup the caller gives.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from wharf.compose.errors import ComposeError
from wharf.compose.interpolate import InterpolationError, substitute

_KEY_RE = re.compile(r"(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_.-]*)[ \t]*(=)?[ \t]*")
_DOUBLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "$": "$$"}


def parse_env(
    text: str, *, source: str, lookup: Callable[[str], str | None] = lambda _name: None
) -> dict[str, str]:
    """Parse dotenv text; ``source`` names the file in errors (``<source>:<line>: ...``)."""
    result: dict[str, str] = {}
    pos = 0
    line_no = 1

    def local_lookup(name: str) -> str | None:
        return result[name] if name in result else lookup(name)

    def expand(value: str, at_line: int) -> str:
        try:
            return substitute(value, local_lookup, lambda _name: None)
        except InterpolationError as exc:
            raise ComposeError(str(exc), file=f"{source}:{at_line}") from exc

    while pos < len(text):
        end = text.find("\n", pos)
        if end < 0:
            end = len(text)
        line = text[pos:end].strip()
        start_line = line_no
        if not line or line.startswith("#"):
            pos = end + 1
            line_no += 1
            continue
        match = _KEY_RE.match(line)
        if match is None or (match.group(2) is None and match.end() != len(line)):
            raise ComposeError(f"invalid variable line {line!r}", file=f"{source}:{line_no}")
        key = match.group(1)
        if match.group(2) is None:
            inherited = lookup(key)
            if inherited is not None:
                result[key] = inherited
            pos = end + 1
            line_no += 1
            continue
        value_start = pos + (len(text[pos:end]) - len(text[pos:end].lstrip())) + match.end()
        quote = text[value_start : value_start + 1]
        if quote in ("'", '"'):
            close = _closing_quote(text, value_start + 1, quote)
            if close < 0:
                raise ComposeError(
                    f"unterminated quoted value for {key}", file=f"{source}:{line_no}"
                )
            raw = text[value_start + 1 : close]
            line_no += raw.count("\n")
            end = text.find("\n", close)
            if end < 0:
                end = len(text)
            trailing = text[close + 1 : end].strip()
            if trailing and not trailing.startswith("#"):
                raise ComposeError(
                    f"unexpected text after quoted value of {key}", file=f"{source}:{line_no}"
                )
            if quote == "'":
                result[key] = raw
            else:
                result[key] = expand(_unescape_double(raw), start_line)
        else:
            value = text[value_start:end]
            comment = re.search(r"[ \t]#", value)
            if comment is not None:
                value = value[: comment.start()]
            result[key] = expand(value.strip(), start_line)
        pos = end + 1
        line_no += 1
    return result


def _closing_quote(text: str, start: int, quote: str) -> int:
    i = start
    while i < len(text):
        char = text[i]
        if char == "\\" and quote == '"':
            i += 2
            continue
        if char == quote:
            return i
        i += 1
    return -1


def _unescape_double(raw: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(raw):
        char = raw[i]
        if char == "\\" and i + 1 < len(raw) and raw[i + 1] in _DOUBLE_ESCAPES:
            out.append(_DOUBLE_ESCAPES[raw[i + 1]])
            i += 2
            continue
        # A "$" written plainly is interpolated; "$$" (from \$) is what keeps one literal.
        out.append(char)
        i += 1
    return "".join(out)


def read_env_file(
    path: Path, *, label: str, lookup: Callable[[str], str | None] = lambda _name: None
) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ComposeError(f"env file {path} not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ComposeError(f"cannot read env file {path}: {exc}") from exc
    return parse_env(text, source=label, lookup=lookup)
