"""Variable interpolation in compose files (the compose spec's ``interpolation.md``).

Imports: stdlib, ``wharf.compose.errors``, ``wharf.compose.yamlfile``.

Syntax, applied to every string value (never to mapping keys)::

    $$                 a literal "$"
    $NAME  ${NAME}     the value, or "" and a warning when NAME is unset
    ${NAME:-word}      word when NAME is unset or empty     ${NAME-word}  when unset
    ${NAME:?word}      error "word" when unset or empty     ${NAME?word}  when unset
    ${NAME:+word}      word when NAME is set and non-empty  ${NAME+word}  when set
    NAME               [A-Za-z_][A-Za-z0-9_]*

``word`` is interpolated itself, only when it is used (nested defaults). A ``$`` that starts
none of these is kept as it is; ``${`` without a valid body is an error. Text without ``$``
is returned unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from wharf.compose.errors import ComposeError, index_path, join_path
from wharf.compose.yamlfile import RESET, Override

Lookup = Callable[[str], "str | None"]

_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")


class InterpolationError(ValueError):
    """A reason without a location; the caller adds file and key path."""


def unset_warning(name: str) -> str:
    return f'The "{name}" variable is not set. Defaulting to a blank string.'


def substitute(text: str, lookup: Lookup, on_unset: Callable[[str], None]) -> str:
    """Interpolate one string; raises InterpolationError for ``:?``/``?`` and bad syntax."""
    if "$" not in text:
        return text
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        dollar = text.find("$", i)
        if dollar < 0:
            out.append(text[i:])
            break
        out.append(text[i:dollar])
        nxt = text[dollar + 1] if dollar + 1 < n else ""
        if nxt == "$":
            out.append("$")
            i = dollar + 2
        elif nxt == "{":
            end = _closing_brace(text, dollar + 2)
            if end < 0:
                raise InterpolationError(f'invalid interpolation format for "{text}"')
            out.append(_braced(text[dollar + 2 : end], text, lookup, on_unset))
            i = end + 1
        else:
            match = _NAME_RE.match(text, dollar + 1)
            if match is None:
                out.append("$")
                i = dollar + 1
            else:
                out.append(_value(match.group(), lookup, on_unset))
                i = match.end()
    return "".join(out)


def _closing_brace(text: str, start: int) -> int:
    depth = 1
    i = start
    while i < len(text):
        if text.startswith("$$", i):
            i += 2
            continue
        if text.startswith("${", i):
            depth += 1
            i += 2
            continue
        if text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _value(name: str, lookup: Lookup, on_unset: Callable[[str], None]) -> str:
    value = lookup(name)
    if value is None:
        on_unset(name)
        return ""
    return value


def _braced(body: str, text: str, lookup: Lookup, on_unset: Callable[[str], None]) -> str:
    match = _NAME_RE.match(body)
    if match is None:
        raise InterpolationError(f'invalid interpolation format for "{text}"')
    name = match.group()
    rest = body[match.end() :]
    if not rest:
        return _value(name, lookup, on_unset)
    operator = next((op for op in _OPERATORS if rest.startswith(op)), None)
    if operator is None:
        raise InterpolationError(f'invalid interpolation format for "{text}"')
    word = rest[len(operator) :]
    value = lookup(name)
    is_set = value is not None
    is_full = bool(value)
    strict = operator.startswith(":")
    present = is_full if strict else is_set
    kind = operator[-1]
    if kind == "-":
        return value if present and value is not None else substitute(word, lookup, on_unset)
    if kind == "+":
        return substitute(word, lookup, on_unset) if present else ""
    if not present:
        message = substitute(word, lookup, on_unset)
        reason = f"required variable {name} is missing a value"
        raise InterpolationError(f"{reason}: {message}" if message else reason)
    return value or ""


@dataclass(slots=True)
class Interpolator:
    """Interpolates a whole YAML tree of one file, collecting warnings for unset variables."""

    environment: Mapping[str, str]
    file: str
    warnings: list[str]

    def lookup(self, name: str) -> str | None:
        return self.environment.get(name)

    def _unset(self, name: str) -> None:
        message = unset_warning(name)
        if message not in self.warnings:
            self.warnings.append(message)

    def string(self, text: str, path: str) -> str:
        try:
            return substitute(text, self.lookup, self._unset)
        except InterpolationError as exc:
            raise ComposeError(str(exc), file=self.file, path=path) from exc

    def tree(self, value: object, path: str = "") -> object:
        if isinstance(value, str):
            return self.string(value, path)
        if isinstance(value, dict):
            return {key: self.tree(item, join_path(path, key)) for key, item in value.items()}
        if isinstance(value, list):
            return [self.tree(item, index_path(path, i)) for i, item in enumerate(value)]
        if isinstance(value, Override):
            return Override(self.tree(value.value, path))
        if value is RESET:
            return value
        return value
