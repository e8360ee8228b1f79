"""Docker's stream framing, detach keys and the hijacked-connection pump, without a daemon."""

from __future__ import annotations

import io
import itertools
import os
import socket
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wharf.client.errors import StreamError
from wharf.client.streams import (
    DetachDetector,
    Frame,
    PumpEnd,
    StdcopyDecoder,
    StreamKind,
    demux,
    encode_frame,
    input_fd,
    parse_detach_keys,
    pump,
)
from wharf.client.transport import Headers, Hijacked
from wharf.errdefs import EngineFailure, InvalidArgument

# --- stdcopy


def test_encode_frame_header_is_docker_s() -> None:
    assert encode_frame(StreamKind.STDERR, b"hi") == b"\x02\x00\x00\x00\x00\x00\x00\x02hi"


def test_decoder_returns_whole_frames_only() -> None:
    decoder = StdcopyDecoder()
    data = encode_frame(StreamKind.STDOUT, b"hello") + encode_frame(StreamKind.STDERR, b"oops")
    assert decoder.feed(data[:3]) == []
    assert decoder.feed(data[3:10]) == []
    assert decoder.feed(data[10:]) == [
        Frame(StreamKind.STDOUT, b"hello"),
        Frame(StreamKind.STDERR, b"oops"),
    ]
    assert decoder.pending == 0
    decoder.close()


def test_unknown_stream_id_is_docker_s_unrecognized_header() -> None:
    with pytest.raises(EngineFailure, match="Unrecognized input header: 7"):
        StdcopyDecoder().feed(b"\x07\x00\x00\x00\x00\x00\x00\x01x")


def test_stream_cut_inside_a_frame_fails_at_close() -> None:
    with pytest.raises(EngineFailure, match="inside a frame"):
        list(demux([encode_frame(StreamKind.STDOUT, b"abcdef")[:-2]]))


def test_empty_frames_are_kept() -> None:
    assert list(demux([encode_frame(StreamKind.STDOUT, b"")])) == [Frame(StreamKind.STDOUT, b"")]


frames_strategy = st.lists(
    st.tuples(st.sampled_from([StreamKind.STDOUT, StreamKind.STDERR]), st.binary(max_size=300)),
    max_size=12,
)


@given(frames=frames_strategy, cuts=st.lists(st.integers(min_value=0, max_value=4000)))
def test_any_split_of_the_stream_gives_the_same_frames(
    frames: list[tuple[StreamKind, bytes]], cuts: list[int]
) -> None:
    data = b"".join(encode_frame(kind, payload) for kind, payload in frames)
    points = sorted({min(cut, len(data)) for cut in cuts} | {0, len(data)})
    chunks = [data[a:b] for a, b in itertools.pairwise(points)]
    assert list(demux(chunks)) == [Frame(kind, payload) for kind, payload in frames]


# --- detach keys


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("ctrl-p,ctrl-q", b"\x10\x11"),
        ("ctrl-a", b"\x01"),
        ("a,b", b"ab"),
        ("ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_", b"\x00\x1b\x1c\x1d\x1e\x1f"),
        ("DEL", b"\x7f"),
    ],
)
def test_parse_detach_keys(spec: str, expected: bytes) -> None:
    assert parse_detach_keys(spec) == expected


@pytest.mark.parametrize("spec", ["ctrl-", "ctrl-pq", "alt-x", ""])
def test_bad_detach_keys_are_refused(spec: str) -> None:
    with pytest.raises(InvalidArgument, match="Invalid detach keys"):
        parse_detach_keys(spec)


def test_detector_finds_the_sequence_within_one_read() -> None:
    assert DetachDetector(b"\x10\x11").feed(b"ls\x10\x11rest") == (b"ls", True)


def test_detector_holds_a_partial_match_until_the_next_byte() -> None:
    detector = DetachDetector(b"\x10\x11")
    assert detector.feed(b"a\x10") == (b"a", False)
    assert detector.feed(b"\x11") == (b"", True)


def test_detector_releases_a_partial_match_that_fails() -> None:
    detector = DetachDetector(b"\x10\x11")
    assert detector.feed(b"\x10") == (b"", False)
    assert detector.feed(b"x") == (b"\x10x", False)
    # A failed match whose byte starts a new one.
    assert detector.feed(b"\x10\x10\x11") == (b"\x10", True)


@given(st.binary(max_size=200))
def test_detector_never_loses_bytes_without_the_sequence(data: bytes) -> None:
    detector = DetachDetector(b"\x10\x11")
    forwarded, detached = detector.feed(data)
    if not detached:
        tail, _ = detector.feed(b"\x00")  # flush a pending partial match
        assert forwarded + tail == data + b"\x00"


# --- the pump over a real socketpair


class Sink(io.BytesIO):
    pass


def _hijacked(leftover: bytes = b"") -> tuple[Hijacked, socket.socket]:
    ours, theirs = socket.socketpair()
    return Hijacked(ours, Headers([]), leftover), theirs


def _serve(sock: socket.socket, action: object) -> threading.Thread:
    def run() -> None:
        try:
            action(sock)  # type: ignore[operator]
        finally:
            sock.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_pump_demultiplexes_output_and_half_closes_after_stdin() -> None:
    conn, daemon = _hijacked()
    received: list[bytes] = []

    def daemon_side(sock: socket.socket) -> None:
        data = b""
        while chunk := sock.recv(1024):  # ends when the client half-closes
            data += chunk
        received.append(data)
        sock.sendall(encode_frame(StreamKind.STDOUT, data.upper()))
        sock.sendall(encode_frame(StreamKind.STDERR, b"err"))

    thread = _serve(daemon, daemon_side)
    out, err = Sink(), Sink()
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"hello\n")
    os.close(write_fd)
    try:
        end = pump(conn, stdin=read_fd, stdout=out, stderr=err, tty=False)
    finally:
        os.close(read_fd)
        conn.close()
    thread.join(5)
    assert end is PumpEnd.OUTPUT_ENDED
    assert received == [b"hello\n"]
    assert out.getvalue() == b"HELLO\n"
    assert err.getvalue() == b"err"


def test_pump_copies_raw_output_with_a_tty_and_consumes_leftover_first() -> None:
    conn, daemon = _hijacked(leftover=b"early ")
    thread = _serve(daemon, lambda sock: sock.sendall(b"\x01\x02 raw"))
    out = Sink()
    try:
        end = pump(conn, stdin=None, stdout=out, stderr=out, tty=True)
    finally:
        conn.close()
    thread.join(5)
    assert end is PumpEnd.OUTPUT_ENDED
    assert out.getvalue() == b"early \x01\x02 raw"


def test_pump_detaches_on_the_keys_and_never_sends_them() -> None:
    conn, daemon = _hijacked()
    got: list[bytes] = []
    release = threading.Event()

    def daemon_side(sock: socket.socket) -> None:
        got.append(sock.recv(1024))
        release.wait(5)

    thread = _serve(daemon, daemon_side)
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"ls\x10\x11never sent")
    try:
        end = pump(
            conn, stdin=read_fd, stdout=Sink(), stderr=Sink(), tty=True, detach_keys=b"\x10\x11"
        )
    finally:
        release.set()
        os.close(read_fd)
        os.close(write_fd)
        conn.close()
    thread.join(5)
    assert end is PumpEnd.DETACHED
    assert got == [b"ls"]


def test_system_error_frame_raises_after_the_output() -> None:
    conn, daemon = _hijacked()

    def daemon_side(sock: socket.socket) -> None:
        sock.sendall(encode_frame(StreamKind.STDOUT, b"partial"))
        sock.sendall(encode_frame(StreamKind.SYSTEM_ERROR, b"exec failed: boom\n"))

    thread = _serve(daemon, daemon_side)
    out = Sink()
    with pytest.raises(StreamError, match="exec failed: boom"):
        pump(conn, stdin=None, stdout=out, stderr=Sink(), tty=False)
    conn.close()
    thread.join(5)
    assert out.getvalue() == b"partial"


def test_control_fd_bytes_reach_the_callback_on_the_pumping_thread() -> None:
    conn, daemon = _hijacked()
    control_r, control_w = os.pipe()
    seen: list[tuple[bytes, bool]] = []
    go_on = threading.Event()

    def daemon_side(sock: socket.socket) -> None:
        go_on.wait(5)
        sock.sendall(encode_frame(StreamKind.STDOUT, b"done"))

    thread = _serve(daemon, daemon_side)
    os.write(control_w, b"\x02")

    def on_control(data: bytes) -> None:
        seen.append((data, threading.current_thread() is threading.main_thread()))
        go_on.set()

    try:
        end = pump(
            conn,
            stdin=None,
            stdout=Sink(),
            stderr=Sink(),
            tty=False,
            control_fd=control_r,
            on_control=on_control,
        )
    finally:
        os.close(control_r)
        os.close(control_w)
        conn.close()
    thread.join(5)
    assert end is PumpEnd.OUTPUT_ENDED
    assert seen == [(b"\x02", True)]


def test_stdin_only_session_ends_with_stdin() -> None:
    conn, daemon = _hijacked()
    got: list[bytes] = []

    def daemon_side(sock: socket.socket) -> None:
        data = b""
        while chunk := sock.recv(1024):
            data += chunk
        got.append(data)

    thread = _serve(daemon, daemon_side)
    with input_fd(io.BytesIO(b"piped input")) as fd:
        end = pump(conn, stdin=fd, stdout=None, stderr=None, tty=False)
    conn.close()
    thread.join(5)
    assert end is PumpEnd.INPUT_ENDED
    assert got == [b"piped input"]
