"""``filters.until_unix``: the time values of ``until`` filters, read as dockerd reads them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wharf.apitypes.filters import until_unix
from wharf.errdefs import InvalidArgument

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1h", NOW - 3600),
        ("1h30m", NOW - 5400),
        ("500ms", NOW - 0.5),
        ("-10s", NOW + 10),
        ("0", 0.0),
        ("1699999999", 1_699_999_999.0),
        ("1699999999.25", 1_699_999_999.25),
        ("2023-11-14T22:13:20Z", NOW),
        ("2023-11-14T22:13:20", NOW),
        ("2023-11-15T00:13:20+02:00", NOW),
        ("2023-11-14T22:13:20.123456789Z", NOW + 0.123456),
        ("2023-11-14", NOW - (22 * 3600 + 13 * 60 + 20)),
    ],
)
def test_durations_dates_and_unix_times(value: str, expected: float) -> None:
    assert until_unix(value, NOW) == pytest.approx(expected)


@pytest.mark.parametrize("value", ["", "abc", "1x", "2023-13-45", "--"])
def test_garbage_is_an_invalid_filter(value: str) -> None:
    with pytest.raises(InvalidArgument, match=r"invalid filter 'until="):
        until_unix(value, NOW)


@given(st.integers(min_value=0, max_value=10**6))
def test_a_duration_in_seconds_counts_back_from_now(seconds: int) -> None:
    assert until_unix(f"{seconds}s", NOW) == pytest.approx(NOW - seconds)

