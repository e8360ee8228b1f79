""".dockerignore: which files of a build context are left out, by Docker's rules.

Imports: stdlib, ``wharf.errdefs``, ``builder.context.globs``.

The rules are those of ``moby/patternmatcher`` (``New``, ``MatchesOrParentMatches``) and its
``ignorefile.ReadAll``, as the docker CLI applies them when it tars a context:

- ``parse``: a UTF-8 BOM is dropped; lines starting with ``#`` are comments; each line is
  trimmed, blank lines skipped; ``!`` marks an exception; the pattern is cleaned like Go's
  ``filepath.Clean`` and one leading ``/`` removed (``/a/b`` and ``a/b`` are the same).
- Each pattern is checked with Go's ``filepath.Match`` syntax (``[`` unclosed is an error) and
  compiled the way patternmatcher compiles it: ``*`` and ``?`` never cross ``/``, ``**`` matches
  any number of directories (``**/`` also none), a trailing ``**`` everything below, and a
  pattern starting with ``**`` is a *suffix* test (``**foo`` matches ``barfoo``, as in Docker).
- A path is excluded when the last pattern that matches it, or any of its parent directories,
  is not an exception. ``.`` is never excluded.
- ``may_skip_dir`` is Docker's walker shortcut: an excluded directory is skipped whole unless an
  exception pattern, as text, starts with ``<dir>/``. So ``!dir/keep`` rescues ``dir/keep`` but
  ``!**/keep`` does not reach into an excluded ``dir`` (the docker CLI sends no such file).

Where this differs from Docker: inside ``[...]`` only Go's class syntax is accepted and an
escaped letter (``\\d``) means the letter itself, never a regexp class.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass

from wharf.builder.context.globs import BadPattern, check_pattern, go_clean
from wharf.errdefs import InvalidArgument

__all__ = ["IgnoreMatcher"]

_BOM = "\ufeff"
_REGEX_SPECIAL = frozenset(".+()|{}$")


class _Kind(enum.Enum):
    EXACT = "exact"
    PREFIX = "prefix"
    SUFFIX = "suffix"
    REGEX = "regex"


@dataclass(frozen=True, slots=True)
class _Pattern:
    text: str
    """The cleaned pattern without its ``!``."""
    exception: bool
    kind: _Kind
    regex: re.Pattern[str] | None

    def matches(self, path: str) -> bool:
        if self.kind is _Kind.EXACT:
            return path == self.text
        if self.kind is _Kind.PREFIX:
            return path.startswith(self.text[:-2])
        if self.kind is _Kind.SUFFIX:
            suffix = self.text[2:]
            if path.endswith(suffix):
                return True
            # "**/foo" also matches "foo" itself.
            return suffix.startswith("/") and path == suffix[1:]
        assert self.regex is not None
        return self.regex.fullmatch(path) is not None


class IgnoreMatcher:
    """A compiled list of .dockerignore patterns (in file order; the last match wins)."""

    __slots__ = ("_exceptions", "_patterns")

    def __init__(self, patterns: Sequence[str]) -> None:
        """Patterns as ``patternmatcher.New`` takes them: trimmed, cleaned, ``!`` for exceptions
        (a leading ``/`` is *not* removed here; ``parse`` does that)."""
        compiled: list[_Pattern] = []
        for raw in patterns:
            text = raw.strip()
            if not text:
                continue
            text = go_clean(text)
            exception = text.startswith("!")
            if exception:
                if len(text) == 1:
                    raise InvalidArgument('illegal exclusion pattern: "!"')
                text = text[1:]
            try:
                check_pattern(text)
            except BadPattern as exc:
                raise InvalidArgument(f"invalid .dockerignore pattern {raw!r}: {exc}") from exc
            compiled.append(_compile(text, exception))
        self._patterns = tuple(compiled)
        self._exceptions = tuple(p.text for p in compiled if p.exception)

    @classmethod
    def parse(cls, text: str) -> IgnoreMatcher:
        """A matcher from the text of a .dockerignore file."""
        return cls(read_patterns(text))

    @classmethod
    def for_build(cls, text: str, dockerfile_path: str | None) -> IgnoreMatcher:
        """The matcher the docker CLI uses to send a context: like ``parse``, but .dockerignore
        and the Dockerfile (its slash path relative to the context, if it lies inside) are
        always sent, by exception patterns appended when the file's patterns exclude them."""
        patterns = read_patterns(text)
        matcher = cls(patterns)
        extra: list[str] = []
        if matcher.excluded(".dockerignore"):
            extra.append("!.dockerignore")
        if dockerfile_path is not None:
            dockerfile = go_clean(dockerfile_path.lstrip("/"))
            if matcher.excluded(dockerfile):
                extra.append("!" + dockerfile)
        return cls([*patterns, *extra]) if extra else matcher

    @property
    def patterns(self) -> tuple[str, ...]:
        """The cleaned patterns, exceptions with their ``!``."""
        return tuple(("!" if p.exception else "") + p.text for p in self._patterns)

    @property
    def has_exceptions(self) -> bool:
        return bool(self._exceptions)

    def excluded(self, rel_path: str) -> bool:
        """True when the slash path ``rel_path`` (relative to the context) is left out."""
        path = go_clean(rel_path.lstrip("/"))
        if path == "." or not self._patterns:
            return False
        parents: list[str] = []
        parent = path.rpartition("/")[0]
        if parent:
            parts = parent.split("/")
            parents = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        matched = False
        for pattern in self._patterns:
            # An exclusion cannot change an excluded path, nor an exception an included one.
            if pattern.exception != matched:
                continue
            if pattern.matches(path) or any(pattern.matches(p) for p in parents):
                matched = not pattern.exception
        return matched

    def may_skip_dir(self, rel_path: str) -> bool:
        """True when the directory ``rel_path`` is excluded and no exception pattern names
        something beneath it, so a walker need not look inside (Docker's rule, see above)."""
        if not self.excluded(rel_path):
            return False
        prefix = go_clean(rel_path.lstrip("/")) + "/"
        return not any((text + "/").startswith(prefix) for text in self._exceptions)


def read_patterns(text: str) -> list[str]:
    """The patterns of a .dockerignore file, as ``ignorefile.ReadAll`` returns them."""
    if text.startswith(_BOM):
        text = text[len(_BOM) :]
    patterns: list[str] = []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        pattern = line.strip()
        if not pattern:
            continue
        invert = pattern.startswith("!")
        if invert:
            pattern = pattern[1:].strip()
        if pattern:
            pattern = go_clean(pattern)
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern[1:]
        patterns.append("!" + pattern if invert else pattern)
    return patterns


def _compile(text: str, exception: bool) -> _Pattern:
    """patternmatcher's ``compile``: the cheapest test that decides the pattern."""
    regex = "^"
    kind = _Kind.EXACT
    i = 0
    n = len(text)
    first = True
    while i < n:
        ch = text[i]
        i += 1
        if ch == "*":
            if i < n and text[i] == "*":
                i += 1
                if i < n and text[i] == "/":
                    i += 1
                if i >= n:
                    if kind is _Kind.EXACT:
                        kind = _Kind.PREFIX
                    else:
                        regex += ".*"
                        kind = _Kind.REGEX
                else:
                    regex += "(.*/)?"
                    kind = _Kind.REGEX
                if first:
                    kind = _Kind.SUFFIX
            else:
                regex += "[^/]*"
                kind = _Kind.REGEX
        elif ch == "?":
            regex += "[^/]"
            kind = _Kind.REGEX
        elif ch == "\\":
            if i < n:
                regex += re.escape(text[i])
                i += 1
                kind = _Kind.REGEX
            else:
                regex += re.escape("\\")
        elif ch == "[":
            cls, i = _translate_class(text, i)
            regex += cls
            kind = _Kind.REGEX
        elif ch in _REGEX_SPECIAL:
            regex += "\\" + ch
        else:
            regex += re.escape(ch)
        first = False
    if kind is _Kind.REGEX:
        return _Pattern(text, exception, kind, re.compile(regex[1:]))
    return _Pattern(text, exception, kind, None)


def _translate_class(text: str, i: int) -> tuple[str, int]:
    """A ``[...]`` class (already checked by Go's syntax) as a Python class; ``i`` is just past
    the ``[``. Returns the class and the index just past its ``]``."""
    out = "["
    if i < len(text) and text[i] == "^":
        out += "^"
        i += 1
    ranges = 0
    while True:
        if text[i] == "]" and ranges > 0:
            return out + "]", i + 1
        lo, i = _class_char(text, i)
        out += re.escape(lo)
        if text[i] == "-":
            hi, i = _class_char(text, i + 1)
            out += "-" + re.escape(hi)
        ranges += 1


def _class_char(text: str, i: int) -> tuple[str, int]:
    if text[i] == "\\":
        i += 1
    return text[i], i + 1
