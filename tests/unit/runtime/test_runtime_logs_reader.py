"""Reading json-file logs: filters, tail, rotation, corrupt lines, following across rotations."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wharf.runtime.logs import (
    LogEntry,
    follow_logs,
    log_files,
    parse_entry,
    parse_timestamp,
    read_logs,
)
from wharf.runtime.monitor import JsonLogWriter, format_timestamp

SECOND = 10**9
T0 = 1_795_801_740 * SECOND  # 2026-11-27T17:49:00Z


def write(log: Path, *items: tuple[str, str, int], **rotation: int) -> None:
    writer = JsonLogWriter(str(log), **rotation)
    for stream, text, time_ns in items:
        writer.write(stream, text.encode(), time_ns)
    writer.close()


def texts(entries: Iterator[LogEntry] | list[LogEntry]) -> list[str]:
    return [e.data.decode() for e in entries]


@given(st.integers(min_value=0, max_value=4_000_000_000 * SECOND))
def test_parse_timestamp_inverts_format_timestamp(time_ns: int) -> None:
    assert parse_timestamp(format_timestamp(time_ns)) == time_ns


@pytest.mark.parametrize(
    ("text", "time_ns"),
    [
        ("2026-11-27T17:49:00Z", T0),
        ("2026-11-27T17:49:00.5Z", T0 + SECOND // 2),
        ("2026-11-27T18:49:00.000000001+01:00", T0 + 1),
        ("2026-11-27T16:49:00-01:00", T0),
    ],
)
def test_parse_timestamp_accepts_offsets_and_short_fractions(text: str, time_ns: int) -> None:
    assert parse_timestamp(text) == time_ns


@pytest.mark.parametrize(
    "text", ["", "2026-11-27", "2026-11-27 17:49:00Z", "2026-11-27T17:49:00.1234567890Z"]
)
def test_parse_timestamp_refuses_other_shapes(text: str) -> None:
    with pytest.raises(ValueError):
        parse_timestamp(text)


def test_parse_entry_reads_docker_lines_and_skips_corrupt_ones() -> None:
    line = b'{"log":"hi \\u003cb\\u003e\\n","stream":"stderr","time":"2026-11-27T17:49:00.25Z"}\n'
    assert parse_entry(line) == LogEntry(
        "stderr", T0 + SECOND // 4, "2026-11-27T17:49:00.25Z", b"hi <b>\n"
    )
    bad_lines = [
        b"",
        b"{",
        b"[]",
        b'{"log":"x","stream":"stdin","time":"2026-11-27T17:49:00Z"}',
        b'{"log":"x","stream":"stdout","time":"yesterday"}',
        b'{"log":1,"stream":"stdout"}',
    ]
    for bad in bad_lines:
        assert parse_entry(bad) is None


def test_read_logs_filters_by_stream_and_time_inclusively(tmp_path: Path) -> None:
    log = tmp_path / "log"
    write(
        log,
        ("stdout", "a\n", T0),
        ("stderr", "b\n", T0 + SECOND),
        ("stdout", "c\n", T0 + 2 * SECOND),
        ("stderr", "d\n", T0 + 3 * SECOND),
    )
    assert texts(read_logs(log)) == ["a\n", "b\n", "c\n", "d\n"]
    assert texts(read_logs(log, stderr=False)) == ["a\n", "c\n"]
    assert texts(read_logs(log, stdout=False)) == ["b\n", "d\n"]
    assert texts(read_logs(log, since_ns=T0 + SECOND, until_ns=T0 + 2 * SECOND)) == ["b\n", "c\n"]
    assert [e.stream for e in read_logs(log)] == ["stdout", "stderr", "stdout", "stderr"]


def test_read_logs_of_a_missing_log_is_empty(tmp_path: Path) -> None:
    assert list(read_logs(tmp_path / "never-written")) == []
    assert list(read_logs(tmp_path / "never-written", tail=3)) == []


def test_corrupt_and_half_written_lines_are_skipped(tmp_path: Path) -> None:
    log = tmp_path / "log"
    write(log, ("stdout", "good\n", T0))
    with log.open("ab") as f:
        f.write(b"garbage\n\xff\xfe\n")
    write(log, ("stdout", "also good\n", T0 + 1))
    with log.open("ab") as f:
        f.write(b'{"log":"half')  # the writer is in the middle of a line
    assert texts(read_logs(log)) == ["good\n", "also good\n"]
    assert texts(read_logs(log, tail=5)) == ["good\n", "also good\n"]


def rotated_log(tmp_path: Path, count: int = 10) -> Path:
    log = tmp_path / "c-json.log"
    size = len(JsonLogWriter.__name__)  # any small limit: one entry per file
    write(
        log,
        *[("stdout" if i % 2 else "stderr", f"line {i}\n", T0 + i * SECOND) for i in range(count)],
        max_size=size,
        max_files=4,
    )
    return log


def test_log_files_lists_the_rotation_chain_oldest_first(tmp_path: Path) -> None:
    log = rotated_log(tmp_path)
    (tmp_path / "c-json.log.x").write_text("not part of it")
    (tmp_path / "c-json.log.01").write_text("nor this")
    assert [p.name for p in log_files(log)] == [
        "c-json.log.3",
        "c-json.log.2",
        "c-json.log.1",
        "c-json.log",
    ]


def test_read_logs_reads_rotated_files_oldest_first(tmp_path: Path) -> None:
    log = rotated_log(tmp_path)
    assert texts(read_logs(log)) == ["line 6\n", "line 7\n", "line 8\n", "line 9\n"]


def test_tail_counts_filtered_entries_across_files(tmp_path: Path) -> None:
    log = rotated_log(tmp_path)
    assert texts(read_logs(log, tail=3)) == ["line 7\n", "line 8\n", "line 9\n"]
    assert texts(read_logs(log, tail=2, stdout=False)) == ["line 6\n", "line 8\n"]
    assert texts(read_logs(log, tail=100)) == texts(read_logs(log))
    assert texts(read_logs(log, tail=0)) == []
    assert texts(read_logs(log, tail=3, since_ns=T0 + 8 * SECOND)) == ["line 8\n", "line 9\n"]
    assert texts(read_logs(log, tail=2, until_ns=T0 + 7 * SECOND)) == ["line 6\n", "line 7\n"]


def test_tail_reads_backwards_through_big_files(tmp_path: Path) -> None:
    log = tmp_path / "log"
    write(log, *[("stdout", f"{i:06d}" + "x" * 200 + "\n", T0 + i) for i in range(2000)])
    assert [e.data[:6] for e in read_logs(log, tail=3)] == [b"001997", b"001998", b"001999"]
    assert len(list(read_logs(log, tail=1500))) == 1500


class Script:
    """A ``still_running`` callback that runs one writer step per poll, then reports done."""

    def __init__(self, steps: list[Callable[[], None]]) -> None:
        self.steps = steps
        self.calls = 0

    def __call__(self) -> bool:
        self.calls += 1
        if self.steps:
            self.steps.pop(0)()
            return True
        return False


def test_follow_reads_history_then_new_lines_then_stops(tmp_path: Path) -> None:
    log = tmp_path / "log"
    writer = JsonLogWriter(str(log))
    writer.write("stdout", b"before\n", T0)
    script = Script(
        [
            lambda: writer.write("stdout", b"during 1\n", T0 + 1),
            lambda: None,
            lambda: writer.write("stderr", b"during 2\nhalf", T0 + 2),
            lambda: writer.write("stderr", b" line\n", T0 + 3),
        ]
    )
    got = texts(follow_logs(log, still_running=script, poll_interval=0))
    writer.close()
    assert got == ["before\n", "during 1\n", "during 2\n", "half", " line\n"]


def test_follow_across_rotations_loses_and_repeats_nothing(tmp_path: Path) -> None:
    log = tmp_path / "log"
    writer = JsonLogWriter(str(log), max_size=60, max_files=3)  # one entry per file
    counter = iter(range(1000))

    def burst(n: int) -> Callable[[], None]:
        def step() -> None:
            for _ in range(n):
                i = next(counter)
                writer.write("stdout", f"{i}\n".encode(), T0 + i)

        return step

    burst(2)()  # history, already rotated once
    # Bursts of 1 and 2 entries: at most 2 rotations between polls with 3 files kept.
    script = Script([burst(1), burst(2), burst(1), burst(2), burst(2), burst(1)] * 4)
    got = [int(text) for text in texts(follow_logs(log, still_running=script, poll_interval=0))]
    writer.close()
    written = next(counter)
    assert got == list(range(written))


def test_follow_across_single_file_restarts(tmp_path: Path) -> None:
    log = tmp_path / "log"
    writer = JsonLogWriter(str(log), max_size=60, max_files=1)
    steps = [lambda i=i: writer.write("stdout", f"entry {i}\n".encode(), T0 + i) for i in range(6)]
    got = texts(follow_logs(log, still_running=Script(list(steps)), poll_interval=0))
    writer.close()
    assert got == [f"entry {i}\n" for i in range(6)]


def test_follow_with_tail_and_filters(tmp_path: Path) -> None:
    log = rotated_log(tmp_path)
    writer = JsonLogWriter(str(log), max_size=len("JsonLogWriter"), max_files=4)
    script = Script(
        [
            lambda: None,  # the first call comes before the history is read
            lambda: writer.write("stdout", b"new out\n", T0 + 20 * SECOND),
            lambda: writer.write("stderr", b"new err\n", T0 + 21 * SECOND),
        ]
    )
    got = texts(follow_logs(log, tail=2, stderr=False, still_running=script, poll_interval=0))
    writer.close()
    assert got == ["line 7\n", "line 9\n", "new out\n"]


def test_follow_stops_at_until(tmp_path: Path) -> None:
    log = tmp_path / "log"
    write(log, ("stdout", "a\n", T0), ("stdout", "b\n", T0 + 5 * SECOND))
    forever = Script([lambda: None] * 1000)
    got = texts(follow_logs(log, until_ns=T0 + SECOND, still_running=forever, poll_interval=0))
    assert got == ["a\n"]
    assert forever.calls <= 1


def test_follow_waits_for_the_log_to_appear(tmp_path: Path) -> None:
    log = tmp_path / "log"
    script = Script([lambda: None, lambda: write(log, ("stdout", "late\n", T0))])
    assert texts(follow_logs(log, still_running=script, poll_interval=0)) == ["late\n"]
    assert texts(follow_logs(tmp_path / "none", still_running=lambda: False)) == []
