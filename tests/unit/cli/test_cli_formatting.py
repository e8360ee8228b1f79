"""Sizes, durations, ids, tabwriter alignment and Go-style JSON, as the docker CLI prints them."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wharf.cli.formatting import (
    bytes_size,
    ellipsis,
    go_json,
    human_duration,
    human_size,
    rfc3339,
    tabwrite,
    truncate_id,
)
from wharf.cli.progress import display, progress_bar
from wharf.client.models import JSONMessage


@pytest.mark.parametrize(
    ("size", "precision", "text"),
    [
        (0, 3, "0B"),
        (999, 3, "999B"),
        (1000, 3, "1kB"),
        (4261550, 3, "4.26MB"),
        (4261550, 4, "4.262MB"),
        (77800000, 3, "77.8MB"),
        (999_500, 3, "1e+03kB"),  # Go's %.3g does the same
        (1_234_567_890, 3, "1.23GB"),
        (5 * 10**12, 4, "5TB"),
    ],
)
def test_human_size_is_go_units(size: int, precision: int, text: str) -> None:
    assert human_size(size, precision) == text


@pytest.mark.parametrize(
    ("size", "text"),
    [(0, "0B"), (1023, "1023B"), (1024, "1KiB"), (25275715584, "23.54GiB"), (1536, "1.5KiB")],
)
def test_bytes_size_is_binary(size: int, text: str) -> None:
    assert bytes_size(size) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "Less than a second"),
        (0.5, "Less than a second"),
        (1, "1 second"),
        (59, "59 seconds"),
        (60, "About a minute"),
        (119, "About a minute"),
        (180, "3 minutes"),
        (3599, "59 minutes"),
        (3600, "About an hour"),
        (5399, "About an hour"),
        (5400, "2 hours"),
        (47 * 3600, "47 hours"),
        (48 * 3600, "2 days"),
        (13 * 86400, "13 days"),
        (14 * 86400, "2 weeks"),
        (59 * 86400, "8 weeks"),
        (60 * 86400, "2 months"),
        (729 * 86400, "24 months"),
        (730 * 86400, "2 years"),
        (55 * 365 * 86400 + 20 * 86400, "55 years"),
    ],
)
def test_human_duration_is_go_units(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


def test_ids_and_ellipsis() -> None:
    assert truncate_id("sha256:" + "0123456789abcdef" * 4) == "0123456789ab"
    assert truncate_id("<missing>") == "<missing>"
    assert truncate_id("abc") == "abc"
    assert ellipsis("abcdef", 6) == "abcdef"
    assert ellipsis("abcdefg", 6) == "abcde…"
    assert ellipsis("abc", 0) == ""


def test_rfc3339_in_utc_ends_with_z_or_an_offset() -> None:
    text = rfc3339(0)
    assert text.endswith("Z") or text[-6] in "+-"


def test_tabwrite_matches_dockers_images_table() -> None:
    text = "REPOSITORY\tTAG\tIMAGE ID\tSIZE\nbusybox\tlatest\ta416a98b71e2\t4.26MB\n"
    assert tabwrite(text) == (
        "REPOSITORY   TAG       IMAGE ID       SIZE\nbusybox      latest    a416a98b71e2   4.26MB\n"
    )


def test_tabwrite_blocks_end_at_lines_without_the_column() -> None:
    text = "Client:\n Version:\t1\n API version:\t2\n\nServer:\n  Long label here, long:\t3\n"
    assert tabwrite(text, minwidth=20, padding=1).splitlines() == [
        "Client:",
        " Version:           1",
        " API version:       2",
        "",
        "Server:",
        "  Long label here, long: 3",
    ]


@given(
    st.lists(
        st.lists(st.text(alphabet="abc xyz-", max_size=12), min_size=3, max_size=3),
        min_size=1,
        max_size=8,
    )
)
def test_tabwrite_aligns_every_column_of_a_uniform_table(rows: list[list[str]]) -> None:
    text = "\n".join("\t".join(row) for row in rows)
    lines = tabwrite(text, minwidth=4, padding=2).split("\n")
    widths = [max(4, *(len(row[col]) + 2 for row in rows)) for col in range(2)]
    for row, line in zip(rows, lines, strict=True):
        assert line == row[0].ljust(widths[0]) + row[1].ljust(widths[1]) + row[2]


def test_go_json_escapes_like_encoding_json() -> None:
    value = {"a": "<none> & x", "b": "é", "c": [], "d": {}}
    assert go_json(value) == '{"a":"\\u003cnone\\u003e \\u0026 x","b":"é","c":[],"d":{}}'
    assert go_json(value, escape_html=False) == '{"a":"<none> & x","b":"é","c":[],"d":{}}'
    indented = go_json([value], indent=4)
    assert indented.startswith('[\n    {\n        "a": "\\u003cnone')
    assert json.loads(indented) == [value]


def test_progress_bar() -> None:
    assert progress_bar(0, 0) == ""
    bar = progress_bar(50, 100)
    assert bar.startswith("[" + "=" * 25 + ">")
    assert bar.endswith("]      50B/100B")
    assert progress_bar(100, 100).startswith("[" + "=" * 50 + "]")


class _Out:
    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        self.text += text
        return len(text)

    def flush(self) -> None:
        pass


def test_display_off_a_terminal_drops_progress_keeps_the_rest() -> None:
    out = _Out()
    messages = [
        JSONMessage(status="Loading layer", id="abc", progress_current=1, progress_total=2),
        JSONMessage(status="Pull complete", id="abc"),
        JSONMessage(stream="Loaded image: busybox:latest\n"),
        JSONMessage(status="sha256:1"),
        JSONMessage(aux_id="sha256:2"),
    ]
    aux = display(messages, out, terminal=False)  # type: ignore[arg-type]
    assert out.text == "abc: Pull complete\nLoaded image: busybox:latest\nsha256:1\n"
    assert aux == "sha256:2"


def test_display_on_a_terminal_rewrites_each_ids_line() -> None:
    out = _Out()
    messages = [
        JSONMessage(status="Loading layer", id="a", progress_current=1, progress_total=4),
        JSONMessage(status="Loading layer", id="b", progress_current=1, progress_total=4),
        JSONMessage(status="Loading layer", id="a", progress_current=4, progress_total=4),
    ]
    display(messages, out, terminal=True)  # type: ignore[arg-type]
    first, second, rest = out.text.split("\n", 2)
    assert first.startswith("a: Loading layer [")
    assert second.startswith("b: Loading layer [")
    assert rest.startswith("\x1b[2A\r\x1b[2Ka: Loading layer [" + "=" * 50 + "]")
    assert rest.endswith("\x1b[2B\r")
