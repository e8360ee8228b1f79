"""``.env`` / ``env_file`` parsing as docker compose does it."""

from __future__ import annotations

import pytest

from wharf.compose.envfile import parse_env
from wharf.compose.errors import ComposeError


def _parse(text: str, **env: str) -> dict[str, str]:
    return parse_env(text, source=".env", lookup=env.get)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A=1", {"A": "1"}),
        ("A=1\nB=2\n", {"A": "1", "B": "2"}),
        ("# comment\n\n  # indented\nA=1", {"A": "1"}),
        ("export A=1", {"A": "1"}),
        ("A = spaced value  ", {"A": "spaced value"}),
        ("A=value # comment", {"A": "value"}),
        ("A=val#ue", {"A": "val#ue"}),
        ("A=", {"A": ""}),
        ("A='single $X'", {"A": "single $X"}),
        ("A='multi\nline'", {"A": "multi\nline"}),
        ('A="dq\\nnew\\ttab \\"q\\" \\\\"', {"A": 'dq\nnew\ttab "q" \\'}),
        ('A="x" # trailing comment', {"A": "x"}),
        ('A="multi\nline"\nB=2', {"A": "multi\nline", "B": "2"}),
        ("A=1\nB=${A}-$A", {"A": "1", "B": "1-1"}),
        ('A=1\nB="${A} \\$A"', {"A": "1", "B": "1 $A"}),
        ("B=${NOPE:-def}", {"B": "def"}),
        ("A.B-c=1", {"A.B-c": "1"}),
    ],
)
def test_parse(text: str, expected: dict[str, str]) -> None:
    assert _parse(text) == expected


def test_bare_key_inherits_from_lookup_or_is_left_out() -> None:
    assert _parse("HOME\nNOPE\n", HOME="/root") == {"HOME": "/root"}


def test_lookup_is_used_for_interpolation() -> None:
    assert _parse("A=${OUTER}x", OUTER="o") == {"A": "ox"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1A=x", ".env:1: invalid variable line '1A=x'"),
        ("A=1\nB C", ".env:2: invalid variable line 'B C'"),
        ('A="open', ".env:1: unterminated quoted value for A"),
        ("A='x' y", ".env:1: unexpected text after quoted value of A"),
        ("A=${B:?needed}", ".env:1: required variable B is missing a value: needed"),
    ],
)
def test_errors(text: str, message: str) -> None:
    with pytest.raises(ComposeError) as info:
        _parse(text)
    assert str(info.value) == message
