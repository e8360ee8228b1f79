"""Docker's shell-like word processing: quotes, escapes and ``$VAR`` expansion.

Imports: stdlib, ``wharf.errdefs``, ``.errors``.

The rules are BuildKit's shell lexer (``frontend/dockerfile/shell``), not a real shell:

- ``'...'`` is literal (no escapes, no expansion); ``"..."`` expands ``$`` and lets the escape
  character quote only ``"``, ``$`` and itself; outside quotes the escape character makes the
  next character literal and is dropped (a trailing one is dropped too).
- ``$NAME``, ``${NAME}``; ``${NAME:-word}`` / ``${NAME-word}`` (default when empty-or-unset /
  unset), ``${NAME:+word}`` / ``${NAME+word}`` (alternative), ``${NAME:?msg}`` / ``${NAME?msg}``
  (error), ``${NAME#pat}`` ``${NAME##pat}`` ``${NAME%pat}`` ``${NAME%%pat}`` (trim, ``*`` and
  ``?`` wildcards), ``${NAME/pat/repl}`` ``${NAME//pat/repl}`` (replace). Unset names expand to
  the empty string; ``$1``, ``$@``... are names nobody sets.
- A word list (``expand_words``) splits on unquoted white space, including white space that
  came out of an unquoted expansion; quoted text never splits.

The escape character is ``\\`` unless the Dockerfile says ``# escape=```.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from wharf.builder.dockerfile.errors import go_quote
from wharf.errdefs import InvalidArgument

Lookup = Callable[[str], "str | None"]

_EOF = ""
_SPECIAL_PARAMS = "@*#?-$!0"
_GO_LATIN1_SPACE = "\t\n\v\f\r \x85\xa0"


class ExpansionError(InvalidArgument):
    """Word processing failed: an unmatched quote, a bad ``${...}``, or ``${NAME:?msg}``."""


class _LexError(Exception):
    pass


def is_space(ch: str) -> bool:
    """Go's ``unicode.IsSpace``, which the Dockerfile syntax is defined by."""
    if ch in _GO_LATIN1_SPACE:
        return ch != ""
    return ord(ch) > 0xFF and ch.isspace()


def lstrip_space(text: str) -> str:
    index = 0
    while index < len(text) and is_space(text[index]):
        index += 1
    return text[index:]


def strip_space(text: str) -> str:
    end = len(text)
    while end > 0 and is_space(text[end - 1]):
        end -= 1
    return lstrip_space(text[:end])


@dataclass(frozen=True, slots=True)
class LexOptions:
    """Switches BuildKit uses internally: keep quotes or escapes in the output, treat quotes
    as ordinary characters, leave unset variables as written."""

    raw_quotes: bool = False
    raw_escapes: bool = False
    skip_quotes: bool = False
    skip_unset: bool = False


def expand_word(text: str, lookup: Lookup, escape: str = "\\") -> str:
    """``text`` as one word: quotes removed, escapes applied, variables expanded."""
    return process(text, lookup, escape)[0]


def expand_words(text: str, lookup: Lookup, escape: str = "\\") -> list[str]:
    """``text`` split into words the way Docker splits EXPOSE arguments."""
    return process(text, lookup, escape)[1]


def process(
    text: str, lookup: Lookup, escape: str = "\\", options: LexOptions = LexOptions()
) -> tuple[str, list[str]]:
    """The single-word result and the word list of ``text``; raises ``ExpansionError``."""
    lexer = _Lexer(text, lookup, escape, options)
    try:
        return lexer.stop_on(_EOF, options.raw_escapes)
    except _LexError as exc:
        raise ExpansionError(f"failed to process {go_quote(text)}: {exc}") from None


class _Words:
    def __init__(self) -> None:
        self.buf: list[str] = []
        self.words: list[str] = []
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if is_space(ch):
            if self.in_word and self.buf:
                self.words.append("".join(self.buf))
                self.buf = []
                self.in_word = False
        else:
            self.add_raw_char(ch)

    def add_raw_char(self, ch: str) -> None:
        self.buf.append(ch)
        self.in_word = True

    def add_string(self, text: str) -> None:
        for ch in text:
            self.add_char(ch)

    def add_raw_string(self, text: str) -> None:
        if text:
            self.buf.append(text)
        self.in_word = True

    def result(self) -> list[str]:
        word = "".join(self.buf)
        if word:
            self.words.append(word)
            self.buf = []
            self.in_word = False
        return self.words


class _Lexer:
    def __init__(self, text: str, lookup: Lookup, escape: str, options: LexOptions) -> None:
        self.text = text
        self.pos = 0
        self.lookup = lookup
        self.escape = escape
        self.options = options
        self.raw_escapes = options.raw_escapes

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else _EOF

    def next(self) -> str:
        ch = self.peek()
        if ch:
            self.pos += 1
        return ch

    def stop_on(self, stop: str, raw_escapes: bool) -> tuple[str, list[str]]:
        saved = self.raw_escapes
        self.raw_escapes = raw_escapes
        try:
            return self._stop_on(stop)
        finally:
            self.raw_escapes = saved

    def _stop_on(self, stop: str) -> tuple[str, list[str]]:
        result: list[str] = []
        words = _Words()
        quotes = not self.options.skip_quotes
        while self.peek() != _EOF:
            ch = self.peek()
            if stop and ch == stop:
                self.next()
                return "".join(result), words.result()
            if ch == "$":
                value = self.dollar()
                result.append(value)
                words.add_string(value)
                continue
            if ch == "<" or (quotes and ch in "'\""):
                if ch == "<":
                    value = self.possible_heredoc()
                elif ch == "'":
                    value = self.single_quote()
                else:
                    value = self.double_quote()
                result.append(value)
                words.add_raw_string(value)
                continue
            ch = self.next()
            if ch == self.escape:
                if self.raw_escapes:
                    words.add_raw_char(ch)
                    result.append(ch)
                ch = self.next()
                if ch == _EOF:
                    break
                words.add_raw_char(ch)
            else:
                words.add_char(ch)
            result.append(ch)
        if stop:
            raise _LexError(f"unexpected end of statement while looking for matching {stop}")
        return "".join(result), words.result()

    def single_quote(self) -> str:
        result: list[str] = []
        quote = self.next()
        if self.options.raw_quotes:
            result.append(quote)
        while True:
            ch = self.next()
            if ch == _EOF:
                raise _LexError(
                    "unexpected end of statement while looking for matching single-quote"
                )
            if ch == "'":
                if self.options.raw_quotes:
                    result.append(ch)
                return "".join(result)
            result.append(ch)

    def double_quote(self) -> str:
        result: list[str] = []
        quote = self.next()
        if self.options.raw_quotes:
            result.append(quote)
        while True:
            ch = self.peek()
            if ch == _EOF:
                raise _LexError(
                    "unexpected end of statement while looking for matching double-quote"
                )
            if ch == '"':
                self.next()
                if self.options.raw_quotes:
                    result.append(ch)
                return "".join(result)
            if ch == "$":
                result.append(self.dollar())
                continue
            ch = self.next()
            if ch == self.escape:
                if self.raw_escapes:
                    result.append(ch)
                following = self.peek()
                if following == _EOF:
                    continue
                if following in ('"', "$", self.escape):
                    ch = self.next()
            result.append(ch)

    def possible_heredoc(self) -> str:
        self.next()
        if self.peek() != "<":
            return "<"
        self.next()
        spaces: list[str] = []
        while self.peek() in ("\t", "\r", " "):
            spaces.append(self.next())
        return "<<" + "".join(spaces)

    def name(self) -> str:
        chars: list[str] = []
        while self.peek() != _EOF:
            ch = self.peek()
            if not chars and ch.isdecimal():
                while self.peek() != _EOF and self.peek().isdecimal():
                    chars.append(self.next())
                return "".join(chars)
            if not chars and ch in _SPECIAL_PARAMS:
                return self.next()
            if not (ch.isalpha() or ch.isdecimal() or ch == "_"):
                break
            chars.append(self.next())
        return "".join(chars)

    def dollar(self) -> str:
        self.next()
        if self.peek() != "{":
            name = self.name()
            if not name:
                return "$"
            value = self.lookup(name)
            if value is None and self.options.skip_unset:
                return "$" + name
            return value or ""
        self.next()
        if self.peek() == _EOF:
            raise _LexError("syntax error: missing '}'")
        if self.peek() in "{}:":
            raise _LexError("syntax error: bad substitution")
        name = self.name()
        ch = self.next()
        if ch == "}":
            value = self.lookup(name)
            if value is None and self.options.skip_unset:
                return "${" + name + "}"
            return value or ""
        if ch == _EOF:
            raise _LexError("syntax error: missing '}'")
        if ch == "/":
            return self.replace(name)
        modifier = ch
        null_is_unset = False
        if ch == ":":
            null_is_unset = True
            ch = self.next()
            modifier += ch
        if ch not in ("+", "-", "?", "#", "%") or (null_is_unset and ch in "#%"):
            raise _LexError(f"unsupported modifier ({modifier}) in substitution")
        word = self.nested("}", ch in "#%", "syntax error: missing '}'")
        value = self.lookup(name)
        if value is None and self.options.skip_unset:
            return "${" + name + modifier + word + "}"
        unset = value is None or (null_is_unset and value == "")
        if ch == "-":
            return word if unset else value or ""
        if ch == "+":
            return "" if unset else word
        if ch == "?":
            if value is None:
                raise _LexError(f"{name}: {word or 'is not allowed to be unset'}")
            if unset:
                raise _LexError(f"{name}: {word or 'is not allowed to be empty'}")
            return value
        greedy = word.startswith(ch)
        if greedy:
            word = word[1:]
        if ch == "%":
            return _trim_suffix(word, value or "", greedy)
        return _trim_prefix(word, value or "", greedy)

    def replace(self, name: str) -> str:
        replace_all = self.peek() == "/"
        if replace_all:
            self.next()
        pattern = self.nested("/", True, "syntax error: missing '/' in ${}")
        replacement = self.nested("}", True, "syntax error: missing '}'")
        value = self.lookup(name)
        if value is None and self.options.skip_unset:
            return "${" + name + "/" + pattern + "/" + replacement + "}"
        regex = _pattern_regex(pattern, greedy=True, anchored=False)
        if replace_all:
            return regex.sub(lambda _: replacement, value or "")
        found = regex.search(value or "")
        if found is None:
            return value or ""
        text = value or ""
        return text[: found.start()] + replacement + text[found.end() :]

    def nested(self, stop: str, raw_escapes: bool, at_end: str) -> str:
        try:
            return self.stop_on(stop, raw_escapes)[0]
        except _LexError:
            if self.peek() == _EOF:
                raise _LexError(at_end) from None
            raise


_REGEX_SPECIAL = "[]{}.+()|^$"


def _pattern_regex(pattern: str, *, greedy: bool, anchored: bool) -> re.Pattern[str]:
    """A shell wildcard pattern (``*``, ``?``, backslash escapes; no brackets) as a regex."""
    out = ["^"] if anchored else []
    star = ".*" if greedy else ".*?"
    index = 0
    while index < len(pattern):
        ch = pattern[index]
        index += 1
        if ch == "*":
            out.append(star)
        elif ch == "?":
            out.append(".")
        elif ch == "\\":
            following = pattern[index] if index < len(pattern) else ""
            if following in ("}", "/"):
                continue
            if following not in ("*", "?", "\\"):
                raise _LexError(
                    f"invalid pattern ({pattern}) in substitution: invalid escape '\\{following}'"
                )
            index += 1
            out.append("\\" + following)
        elif ch in _REGEX_SPECIAL:
            out.append("\\" + ch)
        else:
            out.append(ch)
    return re.compile("".join(out))


def _trim_prefix(pattern: str, value: str, greedy: bool) -> str:
    found = _pattern_regex(pattern, greedy=greedy, anchored=True).search(value)
    return value[found.end() :] if found else value


def _trim_suffix(pattern: str, value: str, greedy: bool) -> str:
    # A regex finds leftmost matches only, so the shortest suffix is found as the shortest
    # prefix of the reversed value under the reversed pattern (escape pairs kept in order).
    tokens: list[str] = []
    index = 0
    while index < len(pattern):
        if pattern[index] == "\\" and index + 1 < len(pattern):
            tokens.append(pattern[index : index + 2])
            index += 2
        else:
            tokens.append(pattern[index])
            index += 1
    return _trim_prefix("".join(reversed(tokens)), value[::-1], greedy)[::-1]
