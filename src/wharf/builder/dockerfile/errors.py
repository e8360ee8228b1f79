"""Errors of the Dockerfile parser, and Go-style quoting for their messages.

Imports: stdlib, ``wharf.errdefs``.

Helpers below the parser raise ``Invalid`` (a reason with no line); the layer that knows the
instruction (``syntax``, ``convert``, ``instructions``) turns it into ``DockerfileError`` with
the 1-based line of the instruction, so every message reads like BuildKit's:
``dockerfile parse error on line 3: unknown instruction: RUNN (did you mean RUN?)``.
"""

from __future__ import annotations

from wharf.errdefs import InvalidArgument


class DockerfileError(InvalidArgument):
    """A Dockerfile that Docker would refuse; ``line`` is the 1-based first line of the
    instruction (or of the directive) at fault, ``reason`` the message without the prefix."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"dockerfile parse error on line {line}: {reason}")
        self.line = line
        self.reason = reason

    def __reduce__(self) -> tuple[type[DockerfileError], tuple[int, str]]:
        return (type(self), (self.line, self.reason))


class Invalid(Exception):
    """A reason to refuse the text, raised where the line is not known yet."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def go_quote(text: str) -> str:
    """``text`` as Go's ``%q`` prints it, so messages match Docker's word for word."""
    out = ['"']
    for ch in text:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def suggestion(value: str, options: list[str], *, case_sensitive: bool) -> str | None:
    """The option within edit distance 2 of ``value`` (BuildKit's "did you mean"), if any."""
    wanted = value if case_sensitive else value.lower()
    best: str | None = None
    best_distance = 3
    for option in sorted(options):
        candidate = option if case_sensitive else option.lower()
        if candidate == wanted:
            return None
        distance = _levenshtein(wanted, candidate)
        if distance < best_distance:
            best, best_distance = candidate, distance
    if best is None or case_sensitive:
        return best
    if value == value.lower():
        return best.lower()
    if value == value.upper():
        return best.upper()
    return best


def with_suggestion(reason: str, value: str, options: list[str], *, case_sensitive: bool) -> str:
    match = suggestion(value, options, case_sensitive=case_sensitive)
    return f"{reason} (did you mean {match}?)" if match else reason


def _levenshtein(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]
