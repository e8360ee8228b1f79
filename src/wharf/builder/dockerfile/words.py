"""How an instruction line breaks into keyword, ``--flags`` and arguments, per argument shape.

Imports: stdlib, ``.errors``, ``.shell``.

Shapes (BuildKit's line parsers):

- keyword and the rest split at the first run of white space; builder flags are the leading
  words starting with ``--`` (quotes and escapes processed; a lone ``--`` ends them);
- JSON form: the rest starts with ``[`` and is a valid JSON array. An array holding anything
  but strings is an error; anything that is not valid JSON is shell form;
- whitespace lists (FROM, EXPOSE, COPY/ADD/VOLUME shell form) split on ASCII white space,
  quotes are not special;
- quote-aware words (ENV, LABEL, ARG) keep their quotes and escapes: they are removed later,
  when the instruction is expanded, as Docker does.
"""

from __future__ import annotations

import json
import re

from wharf.builder.dockerfile.errors import Invalid, go_quote
from wharf.builder.dockerfile.shell import is_space, strip_space

_WHITESPACE = re.compile(r"[\t\v\f\r ]+")

NOT_STRINGS = "when using JSON array syntax, arrays must be comprised of strings only"


def split_command(line: str, escape: str) -> tuple[str, tuple[str, ...], str]:
    """``(keyword as written, flags, rest)`` of one logical line."""
    parts = _WHITESPACE.split(strip_space(line), maxsplit=1)
    if len(parts) < 2:
        return parts[0], (), ""
    rest, flags = extract_builder_flags(parts[1], escape)
    return parts[0], flags, strip_space(rest)


def extract_builder_flags(text: str, escape: str) -> tuple[str, tuple[str, ...]]:
    """The leading ``--flag`` words of ``text`` and what follows them."""
    words: list[str] = []
    buf: list[str] = []
    quote = ""
    blank_ok = False
    in_word = in_quote = False
    pos = 0
    size = len(text)
    while True:
        if not in_word and not in_quote:
            while pos < size and is_space(text[pos]):
                pos += 1
            if pos == size:
                return "", tuple(words)
            if not text.startswith("--", pos):
                return text[pos:], tuple(words)
            in_word = True
        if pos == size:
            word = "".join(buf)
            if word != "--" and (blank_ok or word):
                words.append(word)
            return "", tuple(words)
        ch = text[pos]
        if in_quote:
            if ch == quote:
                in_quote, in_word = False, True
                pos += 1
                continue
            if ch == escape:
                if pos + 1 == size:
                    in_quote, in_word = False, True
                    pos += 1
                    continue
                pos += 1
                ch = text[pos]
            buf.append(ch)
            pos += 1
            continue
        if is_space(ch):
            word = "".join(buf)
            in_word = False
            if word == "--":
                return text[pos:], tuple(words)
            if blank_ok or word:
                words.append(word)
            buf = []
            blank_ok = False
            pos += 1
            continue
        if ch in ("'", '"'):
            quote, blank_ok, in_quote, in_word = ch, True, True, False
            pos += 1
            continue
        if ch == escape:
            if pos + 1 == size:
                pos += 1
                continue
            pos += 1
            ch = text[pos]
        buf.append(ch)
        pos += 1


def split_whitespace(rest: str) -> list[str]:
    """Whitespace-delimited arguments; an empty rest has none."""
    return _WHITESPACE.split(rest) if rest else []


def parse_json_array(rest: str) -> tuple[str, ...] | None:
    """The strings of a JSON-form argument list, or None when ``rest`` is shell form."""
    text = rest.lstrip(" \t\n\r\v\f")
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, list):
        return None
    if not all(isinstance(item, str) for item in value):
        raise Invalid(NOT_STRINGS)
    return tuple(value)


def _refuse_constant(name: str) -> object:
    # NaN and Infinity are not JSON; Go refuses them, so the line is shell form.
    raise ValueError(name)


def parse_words(rest: str, escape: str) -> list[str]:
    """Words split on unquoted white space, quotes and escapes kept as written."""
    words: list[str] = []
    buf: list[str] = []
    quote = ""
    blank_ok = False
    in_word = in_quote = False
    pos = 0
    size = len(rest)
    while pos <= size:
        if not in_word and not in_quote:
            if pos == size:
                break
            if is_space(rest[pos]):
                pos += 1
                continue
            in_word = True
        if pos == size:
            if blank_ok or buf:
                words.append("".join(buf))
            break
        ch = rest[pos]
        if in_word:
            if is_space(ch):
                in_word = False
                if blank_ok or buf:
                    words.append("".join(buf))
                buf = []
                blank_ok = False
                pos += 1
                continue
            if ch in ("'", '"'):
                quote, blank_ok, in_quote, in_word = ch, True, True, False
            if ch == escape:
                if pos + 1 == size:
                    pos += 1
                    continue
                buf.append(ch)
                pos += 1
                ch = rest[pos]
            buf.append(ch)
            pos += 1
            continue
        if ch == quote:
            in_quote, in_word = False, True
        if ch == escape and quote != "'":
            if pos + 1 == size:
                in_quote, in_word = False, True
                pos += 1
                continue
            buf.append(ch)
            pos += 1
            ch = rest[pos]
        buf.append(ch)
        pos += 1
    return words


def parse_name_values(rest: str, keyword: str, escape: str) -> tuple[list[tuple[str, str]], bool]:
    """ENV/LABEL pairs as written, and whether the legacy ``KEY value`` form was used."""
    words = parse_words(rest, escape)
    if not words:
        raise Invalid(f"{keyword} requires at least one argument")
    if "=" not in words[0]:
        parts = _WHITESPACE.split(rest, maxsplit=1)
        if len(parts) < 2:
            raise Invalid(f"{keyword} must have two arguments")
        pairs = [(parts[0], parts[1])]
        legacy = True
    else:
        pairs = []
        for word in words:
            if "=" not in word:
                quoted = go_quote(word)
                raise Invalid(
                    f"Syntax error - can't find = in {quoted}. Must be of the form: name=value"
                )
            key, _, value = word.partition("=")
            pairs.append((key, value))
        legacy = False
    if any(not key for key, _ in pairs):
        raise Invalid(f"{keyword} names can not be blank")
    return pairs, legacy
