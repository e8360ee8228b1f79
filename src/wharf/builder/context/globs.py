"""Go's path rules that Docker's build contexts are defined by: ``filepath.Clean``,
``filepath.Match`` and the classic builder's ``containsWildcards``.

Imports: stdlib only. Paths are slash-separated (Linux).

``go_match`` follows Go's ``path/filepath.Match`` exactly: ``*`` is any run of non-``/``
characters, ``?`` one non-``/`` character, ``[...]`` a class (``^`` negates, ``a-z`` ranges,
``\\`` escapes inside and outside classes). A malformed pattern raises ``BadPattern``, also when
the part that is malformed is never reached by the match (Go checks the rest of the pattern
before it answers false).
"""

from __future__ import annotations

__all__ = ["BadPattern", "go_clean", "go_match", "has_wildcards"]


class BadPattern(ValueError):
    """Go's ``filepath.ErrBadPattern``: "syntax error in pattern"."""

    def __init__(self) -> None:
        super().__init__("syntax error in pattern")


def go_clean(path: str) -> str:
    """Go's ``filepath.Clean``: the shortest lexically equivalent path ("." when empty)."""
    if not path:
        return "."
    rooted = path.startswith("/")
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(part)
    body = "/".join(parts)
    if rooted:
        return "/" + body
    return body or "."


def has_wildcards(pattern: str) -> bool:
    """True when ``pattern`` has an unescaped ``*``, ``?`` or ``[`` (the classic builder's test)."""
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if ch in "*?[":
            return True
        i += 1
    return False


def go_match(pattern: str, name: str) -> bool:
    """Go's ``filepath.Match(pattern, name)``; raises ``BadPattern`` for a malformed pattern."""
    while pattern:
        star, chunk, pattern = _scan_chunk(pattern)
        if star and not chunk:
            # A trailing star matches the rest of the name unless it holds a separator.
            return "/" not in name
        rest, ok = _match_chunk(chunk, name)
        if ok and (not rest or pattern):
            name = rest
            continue
        if star:
            found = False
            i = 0
            while i < len(name) and name[i] != "/":
                rest, ok = _match_chunk(chunk, name[i + 1 :])
                if ok and not (not pattern and rest):
                    name = rest
                    found = True
                    break
                i += 1
            if found:
                continue
        # Before answering false, make sure the rest of the pattern is well formed.
        while pattern:
            _, chunk, pattern = _scan_chunk(pattern)
            _match_chunk(chunk, "")
        return False
    return not name


def check_pattern(pattern: str) -> None:
    """Raise ``BadPattern`` when Go's ``filepath.Match`` would reject ``pattern``."""
    go_match(pattern, ".")


def _scan_chunk(pattern: str) -> tuple[bool, str, str]:
    star = False
    while pattern.startswith("*"):
        pattern = pattern[1:]
        star = True
    in_range = False
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            if i + 1 < len(pattern):
                i += 1
        elif ch == "[":
            in_range = True
        elif ch == "]":
            in_range = False
        elif ch == "*" and not in_range:
            break
        i += 1
    return star, pattern[:i], pattern[i:]


def _match_chunk(chunk: str, s: str) -> tuple[str, bool]:
    """Match ``chunk`` (no ``*``) at the start of ``s``; return (rest, matched).

    After a mismatch the loop goes on reading the chunk only to find syntax errors, as Go does.
    """
    failed = False
    while chunk:
        if not failed and not s:
            failed = True
        ch = chunk[0]
        if ch == "[":
            r = ""
            if not failed:
                r, s = s[0], s[1:]
            chunk = chunk[1:]
            negated = False
            if chunk.startswith("^"):
                negated = True
                chunk = chunk[1:]
            matched = False
            ranges = 0
            while True:
                if chunk.startswith("]") and ranges > 0:
                    chunk = chunk[1:]
                    break
                lo, chunk = _get_esc(chunk)
                hi = lo
                if chunk[0] == "-":
                    hi, chunk = _get_esc(chunk[1:])
                if r and lo <= r <= hi:
                    matched = True
                ranges += 1
            if matched == negated:
                failed = True
        elif ch == "?":
            if not failed:
                if s[0] == "/":
                    failed = True
                s = s[1:]
            chunk = chunk[1:]
        else:
            if ch == "\\":
                chunk = chunk[1:]
                if not chunk:
                    raise BadPattern()
            if not failed:
                if chunk[0] != s[0]:
                    failed = True
                s = s[1:]
            chunk = chunk[1:]
    if failed:
        return "", False
    return s, True


def _get_esc(chunk: str) -> tuple[str, str]:
    """One possibly escaped character of a class, and what follows it."""
    if not chunk or chunk[0] in "-]":
        raise BadPattern()
    if chunk[0] == "\\":
        chunk = chunk[1:]
        if not chunk:
            raise BadPattern()
    ch, rest = chunk[0], chunk[1:]
    if not rest:
        raise BadPattern()
    return ch, rest
