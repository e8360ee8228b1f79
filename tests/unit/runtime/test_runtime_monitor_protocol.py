"""The monitor's attach protocol and JSON codec, and what the monitor process imports."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wharf.runtime import monitor
from wharf.runtime.monitor_client import MONITOR_SCRIPT, ExitStatus, Frame, FrameKind
from wharf.runtime.monitor_protocol import (
    HEADER_SIZE,
    KIND_COUNT,
    MAX_PAYLOAD,
    FrameDecoder,
    ProtocolError,
    decode_exit,
    decode_hello,
    decode_resize,
    encode_exit,
    encode_hello,
    encode_resize,
    json_dumps,
    json_loads,
    pack_frame,
    unpack_header,
)

kinds = st.integers(min_value=0, max_value=KIND_COUNT - 1)
frames = st.lists(st.tuples(kinds, st.binary(max_size=300)), max_size=12)


@given(kinds, st.binary(max_size=2000))
def test_pack_then_unpack_header(kind: int, payload: bytes) -> None:
    frame = pack_frame(kind, payload)
    assert len(frame) == HEADER_SIZE + len(payload)
    assert unpack_header(frame[:HEADER_SIZE]) == (kind, len(payload))
    assert frame[HEADER_SIZE:] == payload


@given(frames, st.lists(st.integers(min_value=1, max_value=64), min_size=1))
def test_decoder_reassembles_frames_split_anywhere(
    sent: list[tuple[int, bytes]], cuts: list[int]
) -> None:
    stream = b"".join(pack_frame(kind, payload) for kind, payload in sent)
    decoder = FrameDecoder()
    received: list[tuple[int, bytes]] = []
    pos, i = 0, 0
    while pos < len(stream):
        step = cuts[i % len(cuts)]
        received += decoder.feed(stream[pos : pos + step])
        pos += step
        i += 1
    assert received == sent
    assert decoder.buffered == 0


def test_decoder_keeps_a_partial_frame_until_it_is_whole() -> None:
    decoder = FrameDecoder()
    frame = pack_frame(monitor.KIND_STDOUT, b"hello")
    assert decoder.feed(frame[:3]) == []
    assert decoder.feed(frame[3:-1]) == []
    assert decoder.buffered == len(frame) - 1
    assert decoder.feed(frame[-1:]) == [(monitor.KIND_STDOUT, b"hello")]


def test_wire_layout_is_kind_then_big_endian_length() -> None:
    assert pack_frame(monitor.KIND_STDERR, b"ab") == b"\x02\x00\x00\x00\x02ab"
    assert pack_frame(monitor.KIND_STDIN_CLOSE) == b"\x04\x00\x00\x00\x00"


@pytest.mark.parametrize(
    "header",
    [
        bytes([KIND_COUNT, 0, 0, 0, 0]),
        b"\xff\x00\x00\x00\x00",
        b"\x01" + (MAX_PAYLOAD + 1).to_bytes(4, "big"),
    ],
)
def test_decoder_refuses_unknown_kinds_and_huge_frames(header: bytes) -> None:
    with pytest.raises(ProtocolError):
        FrameDecoder().feed(header)


def test_pack_refuses_unknown_kinds_and_huge_payloads() -> None:
    with pytest.raises(ProtocolError):
        pack_frame(KIND_COUNT)
    with pytest.raises(ProtocolError):
        pack_frame(monitor.KIND_STDIN, bytes(MAX_PAYLOAD + 1))


def test_kinds_0_to_2_are_dockers_stream_ids() -> None:
    assert (FrameKind.STDIN, FrameKind.STDOUT, FrameKind.STDERR) == (0, 1, 2)
    assert len(FrameKind) == KIND_COUNT


@given(st.booleans(), st.booleans(), st.booleans())
def test_hello_round_trip(stdin: bool, stdout: bool, stderr: bool) -> None:
    payload = encode_hello(stdin=stdin, stdout=stdout, stderr=stderr)
    assert decode_hello(payload) == (stdin, stdout, stderr)


def test_hello_defaults_missing_flags_to_false_and_refuses_non_booleans() -> None:
    assert decode_hello(b'{"stdout": true}') == (False, True, False)
    for bad in (b'{"stdin": 1}', b"[]", b"not json", b'{"stderr": null}'):
        with pytest.raises(ProtocolError):
            decode_hello(bad)


@given(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF))
def test_resize_round_trip(height: int, width: int) -> None:
    assert decode_resize(encode_resize(height, width)) == (height, width)


@pytest.mark.parametrize(
    "payload",
    [b'{"height": 70000, "width": 80}', b'{"height": -1, "width": 80}', b'{"height": 24}',
     b'{"height": true, "width": 80}', b'{"height": 2.5, "width": 80}'],
)  # fmt: skip
def test_resize_refuses_out_of_range_or_missing_sizes(payload: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode_resize(payload)


@given(st.integers(0, 255), st.one_of(st.none(), st.integers(1, 64)))
def test_exit_round_trip(code: int, sig: int | None) -> None:
    payload = encode_exit(code, "2026-11-27T17:49:00.5Z", sig)
    assert decode_exit(payload) == (code, "2026-11-27T17:49:00.5Z", sig)
    assert Frame(FrameKind.EXIT, payload).exit_status() == ExitStatus(
        code, "2026-11-27T17:49:00.5Z", sig
    )


def test_exit_record_is_the_documented_json_object() -> None:
    assert json.loads(encode_exit(137, "t", 9)) == {
        "exit_code": 137,
        "finished_at": "t",
        "signal": 9,
    }
    with pytest.raises(ProtocolError):
        decode_exit(b'{"exit_code": "3", "finished_at": "t", "signal": null}')


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@given(json_values)
def test_json_codec_agrees_with_the_stdlib(value: object) -> None:
    text = json_dumps(value)
    assert json.loads(text) == value
    assert json_loads(text) == value
    assert json_loads(json.dumps(value, indent=2)) == value
    assert json_loads(text.encode()) == value


@pytest.mark.parametrize("text", ["", "{", "[1,]", '{"a": 1} x', "NaN", "[Infinity]", "\xff"])
def test_json_loads_refuses_what_json_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        json_loads(text)


def test_json_dumps_refuses_other_types() -> None:
    with pytest.raises(TypeError):
        json_dumps(1.5)
    with pytest.raises(TypeError):
        json_dumps({1: "a"})


def test_monitor_process_imports_only_cheap_stdlib_modules() -> None:
    # The same import path the monitor takes when the engine starts it by path under -I -S.
    code = (
        "import sys; before = set(sys.modules);"
        f"sys.argv = [{str(MONITOR_SCRIPT)!r}];"
        f"sys.path.insert(0, {str(MONITOR_SCRIPT.parents[2])!r});"
        "import wharf.runtime.monitor;"
        "print(' '.join(sorted(set(sys.modules) - before)))"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code], check=True, capture_output=True, text=True
    ).stdout.split()
    assert "wharf.runtime.monitor_process" in out
    heavy = {"enum", "re", "json", "socket", "signal", "os", "collections", "typing", "ctypes"}
    assert heavy.isdisjoint(out), sorted(heavy.intersection(out))
    assert all(name.startswith(("wharf", "_")) or name in {"select", "__future__"} for name in out)


def test_monitor_script_with_bad_arguments_exits_2() -> None:
    result = subprocess.run([sys.executable, "-I", "-S", str(MONITOR_SCRIPT)], check=False)
    assert result.returncode == 2
