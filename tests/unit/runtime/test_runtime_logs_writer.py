"""The monitor's json-file writer: Docker's exact bytes, line splitting, rotation."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wharf.runtime.monitor import MAX_LOG_LINE, JsonLogWriter, docker_json_string, format_timestamp

T0 = 1_795_801_740_123_456_789  # 2026-11-27T17:49:00.123456789Z
T0_TEXT = "2026-11-27T17:49:00.123456789Z"


def go_json_string(data: bytes) -> bytes:
    """Docker's escaping, byte by byte (the rules of its json-file marshaller)."""
    out = bytearray(b'"')
    i = 0
    while i < len(data):
        b = data[i]
        if b < 0x80:
            if b == 0x5C or b == 0x22:
                out += b"\\" + bytes([b])
            elif b == 0x0A:
                out += b"\\n"
            elif b == 0x0D:
                out += b"\\r"
            elif b < 0x20 or b in b"<>&":
                out += b"\\u00%02x" % b
            else:
                out.append(b)
            i += 1
            continue
        size = next((n for n in (2, 3, 4) if _valid_utf8(data[i : i + n])), 0)
        if not size:
            out += b"\\ufffd"
            i += 1
            continue
        char = data[i : i + size].decode()
        out += b"\\u%04x" % ord(char) if char in "\u2028\u2029" else data[i : i + size]
        i += size
    return bytes(out + b'"')


def _valid_utf8(chunk: bytes) -> bool:
    try:
        return len(chunk.decode("utf-8")) == 1
    except UnicodeDecodeError:
        return False


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"hi\n", rb'"hi\n"'),
        (b'a"b\\c', rb'"a\"b\\c"'),
        (b"tab\there\r\n", rb'"tab\u0009here\r\n"'),
        (b"<b>&amp;</b>", rb'"\u003cb\u003e\u0026amp;\u003c/b\u003e"'),
        (b"\x00\x1b[31m\x7f", rb'"\u0000\u001b[31m' + b'\x7f"'),
        (b"\x08\x0c", rb'"\u0008\u000c"'),
        ("héllo ✓ 😀".encode(), '"héllo ✓ 😀"'.encode()),
        (b"bad \xff\xfe end", rb'"bad \ufffd\ufffd end"'),
        (b"cut \xe2\x82", rb'"cut \ufffd\ufffd"'),
        (b"surrogate \xed\xa0\x80", rb'"surrogate \ufffd\ufffd\ufffd"'),
        ("line\u2028sep\u2029".encode(), rb'"line\u2028sep\u2029"'),
    ],
)
def test_docker_json_string_matches_dockers_escaping(data: bytes, expected: bytes) -> None:
    assert docker_json_string(data) == expected
    assert go_json_string(data) == expected


@given(st.binary(max_size=200))
def test_docker_json_string_agrees_with_the_reference_on_any_bytes(data: bytes) -> None:
    assert docker_json_string(data) == go_json_string(data)


@given(st.text(max_size=200))
def test_docker_json_string_is_json_for_the_same_text(text: str) -> None:
    data = text.encode("utf-8", "surrogatepass")
    decoded = json.loads(docker_json_string(data))
    assert decoded == data.decode("utf-8", "replace") or "\ufffd" in decoded


@pytest.mark.parametrize(
    ("time_ns", "text"),
    [
        (T0, T0_TEXT),
        (1_795_801_740_000_000_000, "2026-11-27T17:49:00Z"),
        (1_795_801_740_500_000_000, "2026-11-27T17:49:00.5Z"),
        (1_795_801_740_000_000_010, "2026-11-27T17:49:00.00000001Z"),
        (0, "1970-01-01T00:00:00Z"),
    ],
)
def test_timestamps_are_rfc3339_nano_with_trailing_zeros_trimmed(time_ns: int, text: str) -> None:
    assert format_timestamp(time_ns) == text


@given(st.integers(min_value=0, max_value=4_000_000_000 * 10**9))
def test_timestamps_agree_with_datetime(time_ns: int) -> None:
    text = format_timestamp(time_ns)
    seconds, nanos = divmod(time_ns, 10**9)
    expected = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    assert text.startswith(expected)
    fraction = text[len(expected) :].removesuffix("Z").removeprefix(".")
    assert int(fraction.ljust(9, "0") or "0") == nanos


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def test_writer_writes_one_docker_line_per_line(tmp_path: Path) -> None:
    log = tmp_path / "c-json.log"
    writer = JsonLogWriter(str(log))
    writer.write("stdout", b"hello\nworld\n", T0)
    writer.write("stderr", b"oops\n", T0)
    writer.close()
    assert lines(log) == [
        b'{"log":"hello\\n","stream":"stdout","time":"' + T0_TEXT.encode() + b'"}\n',
        b'{"log":"world\\n","stream":"stdout","time":"' + T0_TEXT.encode() + b'"}\n',
        b'{"log":"oops\\n","stream":"stderr","time":"' + T0_TEXT.encode() + b'"}\n',
    ]


def test_writer_flushes_a_partial_line_as_is(tmp_path: Path) -> None:
    log = tmp_path / "log"
    writer = JsonLogWriter(str(log))
    writer.write("stdout", b"one\n/ # ", T0)
    writer.write("stdout", b"", T0)  # nothing read: nothing written
    writer.close()
    assert [json.loads(line)["log"] for line in lines(log)] == ["one\n", "/ # "]


def test_writer_splits_long_lines_at_16k(tmp_path: Path) -> None:
    log = tmp_path / "log"
    writer = JsonLogWriter(str(log))
    writer.write("stdout", b"x" * (2 * MAX_LOG_LINE + 10) + b"\n", T0)
    writer.close()
    pieces = [json.loads(line)["log"] for line in lines(log)]
    assert [len(p) for p in pieces] == [MAX_LOG_LINE, MAX_LOG_LINE, 11]
    assert "".join(pieces) == "x" * (2 * MAX_LOG_LINE + 10) + "\n"


def test_writer_appends_to_an_existing_log(tmp_path: Path) -> None:
    log = tmp_path / "log"
    JsonLogWriter(str(log)).write("stdout", b"first run\n", T0)
    writer = JsonLogWriter(str(log))
    assert writer.size == len(log.read_bytes())
    writer.write("stdout", b"second run\n", T0)
    writer.close()
    assert [json.loads(line)["log"] for line in lines(log)] == ["first run\n", "second run\n"]


def entry_size(text: str) -> int:
    return len(b'{"log":"' + text.encode() + b'\\n","stream":"stdout","time":"') + len(T0_TEXT) + 3


def test_rotation_keeps_max_files_and_shifts_the_chain(tmp_path: Path) -> None:
    log = tmp_path / "log"
    size = entry_size("line-0")
    writer = JsonLogWriter(str(log), max_size=2 * size, max_files=3)
    for i in range(9):
        writer.write("stdout", f"line-{i}\n".encode(), T0)
    writer.close()

    def texts(path: Path) -> list[str]:
        return [json.loads(line)["log"].strip() for line in lines(path)]

    assert sorted(p.name for p in tmp_path.iterdir()) == ["log", "log.1", "log.2"]
    assert texts(tmp_path / "log.2") == ["line-4", "line-5"]
    assert texts(tmp_path / "log.1") == ["line-6", "line-7"]
    assert texts(log) == ["line-8"]


def test_rotation_happens_once_the_file_has_reached_the_limit(tmp_path: Path) -> None:
    log = tmp_path / "log"
    writer = JsonLogWriter(str(log), max_size=entry_size("a") + 1, max_files=2)
    writer.write("stdout", b"a\nb\n", T0)  # one read, two entries: rotation in between
    writer.write("stdout", b"c\n", T0)
    writer.close()
    assert len(lines(tmp_path / "log.1")) == 2  # "a" did not reach the limit; "b" passed it
    assert [json.loads(line)["log"] for line in lines(log)] == ["c\n"]


def test_a_single_file_log_starts_afresh_with_a_new_inode(tmp_path: Path) -> None:
    log = tmp_path / "log"
    writer = JsonLogWriter(str(log), max_size=entry_size("old"), max_files=1)
    writer.write("stdout", b"old\n", T0)
    inode = log.stat().st_ino
    held = log.open("rb")  # a follower still reading the old file keeps it alive
    writer.write("stdout", b"new\n", T0)
    writer.close()
    assert [p.name for p in tmp_path.iterdir()] == ["log"]
    assert [json.loads(line)["log"] for line in lines(log)] == ["new\n"]
    assert log.stat().st_ino != inode
    assert json.loads(held.read())["log"] == "old\n"
    held.close()


def test_unlimited_logs_never_rotate(tmp_path: Path) -> None:
    log = tmp_path / "log"
    writer = JsonLogWriter(str(log), max_size=0, max_files=5)
    for _ in range(100):
        writer.write("stdout", b"x" * 1000 + b"\n", T0)
    writer.close()
    assert [p.name for p in tmp_path.iterdir()] == ["log"]
    assert len(lines(log)) == 100


def test_write_errors_drop_entries_instead_of_failing(tmp_path: Path) -> None:
    log = tmp_path / "gone" / "log"  # the directory does not exist: open fails
    writer = JsonLogWriter(str(log))
    writer.write("stdout", b"lost\n", T0)
    writer.close()
    assert not log.exists()
