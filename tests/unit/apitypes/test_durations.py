"""Go's time.ParseDuration grammar, shared by the CLI, Dockerfiles and compose files."""

from __future__ import annotations

import pytest

from wharf.apitypes.durations import parse_go_duration_ns
from wharf.errdefs import InvalidArgument


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("0", 0),
        ("1s", 1_000_000_000),
        ("1m30s", 90_000_000_000),
        ("1.5h", 5_400_000_000_000),
        ("500ms", 500_000_000),
        ("-2us", -2_000),
        ("+3µs", 3_000),
        (".5s", 500_000_000),
        ("1h2m3.000000004s", 3_723_000_000_004),
    ],
)
def test_valid(text: str, ns: int) -> None:
    assert parse_go_duration_ns(text) == ns


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", 'time: invalid duration ""'),
        ("1", 'time: missing unit in duration "1"'),
        ("1d", 'time: unknown unit "d" in duration "1d"'),
        ("s", 'time: invalid duration "s"'),
        (".s", 'time: invalid duration ".s"'),
        ("3000000h", 'time: invalid duration "3000000h"'),
    ],
)
def test_invalid_says_what_go_says(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_go_duration_ns(text)
    assert caught.value.message == message
