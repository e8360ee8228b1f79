"""The byte streams of attach, exec and logs: Docker's stdcopy framing, detach keys, and the pump
that copies a terminal to and from a hijacked connection.

Framing (``application/vnd.docker.multiplexed-stream``, used whenever the container has no
TTY): every frame is an 8-byte header and a payload::

    +--------+--------+--------+--------+--------+--------+--------+--------+----------
    | stream |   0    |   0    |   0    |      payload length, uint32 big-endian | payload
    +--------+--------+--------+--------+--------+--------+--------+--------+----------
    stream: 0 stdin, 1 stdout, 2 stderr, 3 "system error" (the daemon's own failure text)

With a TTY the stream is raw (``application/vnd.docker.raw-stream``): the bytes as the pty
wrote them, stdout and stderr merged.

- ``StdcopyDecoder`` is sans-IO: ``feed`` takes bytes as they arrive (a header or payload may
  be split across reads anywhere) and returns whole frames; ``close`` raises if a frame was cut
  short. An unknown stream id raises like Docker's ``Unrecognized input header``.
- ``parse_detach_keys`` reads Docker's ``--detach-keys`` syntax (``ctrl-p,ctrl-q``, ``a``,
  ``ctrl-@``..``ctrl-_``, ``DEL``); ``DetachDetector`` finds the sequence in keyboard input,
  holding back a partial match until the next byte decides it (the keys are never sent).
- ``pump`` copies local stdin to a hijacked connection and the connection to local stdout and
  stderr, until the output ends or the user types the detach keys. Output is read by one thread
  (it may block in ``recv`` at any time); the caller's thread selects over stdin, a "done" pipe
  and an optional control fd (the CLI's signal wake-up fd), so signals are handled on the
  caller's thread between copies. At stdin EOF the connection is half-closed (``SHUT_WR``) and
  output keeps flowing until the daemon ends it, as the docker CLI does.

Imports only the standard library, ``wharf.errdefs`` and ``wharf.client.errors``.
"""

from __future__ import annotations

import contextlib
import enum
import os
import select
import struct
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import IO, NamedTuple, Protocol

from wharf.client.errors import StreamError
from wharf.errdefs import EngineFailure, InvalidArgument

HEADER = struct.Struct(">BxxxI")
HEADER_SIZE = HEADER.size
MULTIPLEXED = "application/vnd.docker.multiplexed-stream"
RAW = "application/vnd.docker.raw-stream"
DEFAULT_DETACH_KEYS = b"\x10\x11"  # ctrl-p, ctrl-q
_READ = 32 * 1024


class StreamKind(enum.IntEnum):
    STDIN = 0
    STDOUT = 1
    STDERR = 2
    SYSTEM_ERROR = 3


class Frame(NamedTuple):
    kind: StreamKind
    data: bytes


def encode_frame(kind: StreamKind, data: bytes) -> bytes:
    """One stdcopy frame (what the daemon writes; tests use it to script a daemon)."""
    return HEADER.pack(kind, len(data)) + data


class StdcopyDecoder:
    """Incremental stdcopy demultiplexer: feed bytes in any split, get whole frames out."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames: list[Frame] = []
        buffer = self._buffer
        start = 0
        while len(buffer) - start >= HEADER_SIZE:
            kind_id, length = HEADER.unpack_from(buffer, start)
            if kind_id > StreamKind.SYSTEM_ERROR:
                raise EngineFailure(f"Unrecognized input header: {kind_id}")
            end = start + HEADER_SIZE + length
            if len(buffer) < end:
                break
            frames.append(Frame(StreamKind(kind_id), bytes(buffer[start + HEADER_SIZE : end])))
            start = end
        if start:
            del buffer[:start]
        return frames

    @property
    def pending(self) -> int:
        """Bytes held that do not make a whole frame yet."""
        return len(self._buffer)

    def close(self) -> None:
        if self._buffer:
            raise EngineFailure(
                f"the daemon's output stream ended inside a frame ({len(self._buffer)} bytes left)"
            )


def demux(chunks: Iterable[bytes]) -> Iterator[Frame]:
    """Frames of a whole multiplexed stream (logs); raises if it ends mid-frame."""
    decoder = StdcopyDecoder()
    for chunk in chunks:
        yield from decoder.feed(chunk)
    decoder.close()


# --- detach keys

_CTRL_NAMES = {
    **{f"ctrl-{chr(code + 96)}": code for code in range(1, 27)},
    "ctrl-@": 0,
    "ctrl-[": 27,
    "ctrl-\\": 28,
    "ctrl-]": 29,
    "ctrl-^": 30,
    "ctrl-_": 31,
}


def parse_detach_keys(spec: str) -> bytes:
    """Docker's detach-key syntax: comma-separated single characters or ``ctrl-x`` names."""
    codes = bytearray()
    for key in spec.split(","):
        if len(key) == 1:
            codes += key.encode("latin-1", "replace")
        elif key in _CTRL_NAMES:
            codes.append(_CTRL_NAMES[key])
        elif key == "DEL":
            codes.append(127)
        else:
            raise InvalidArgument(f"Invalid detach keys ({spec}) provided")
    return bytes(codes)


class DetachDetector:
    """Finds the detach sequence in input; bytes of a partial match are held, never lost."""

    __slots__ = ("_keys", "_matched")

    def __init__(self, keys: bytes) -> None:
        self._keys = keys
        self._matched = 0

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """(bytes to forward now, whether the sequence completed)."""
        keys = self._keys
        if not keys:
            return data, False
        out = bytearray()
        for byte in data:
            if byte == keys[self._matched]:
                self._matched += 1
                if self._matched == len(keys):
                    self._matched = 0
                    return bytes(out), True
                continue
            if self._matched:
                out += keys[: self._matched]
                self._matched = 0
                if byte == keys[0]:
                    self._matched = 1
                    continue
            out.append(byte)
        return bytes(out), False


# --- the pump


class Connection(Protocol):
    """What ``pump`` needs of a hijacked connection (``client.transport.Hijacked``)."""

    def recv(self, size: int = ..., /) -> bytes: ...

    def sendall(self, data: bytes, /) -> None: ...

    def close_write(self) -> None: ...

    def close(self) -> None: ...


class Sink(Protocol):
    def write(self, data: bytes, /) -> object: ...

    def flush(self) -> None: ...


class PumpEnd(enum.Enum):
    OUTPUT_ENDED = "output-ended"  # the daemon ended the stream (container exited, detached)
    INPUT_ENDED = "input-ended"  # nothing to read and stdin is done (no output was attached)
    DETACHED = "detached"  # the user typed the detach keys


class _Output(threading.Thread):
    """Reads the connection until EOF, writing frames (or raw bytes) to the sinks."""

    def __init__(
        self,
        conn: Connection,
        stdout: Sink | None,
        stderr: Sink | None,
        *,
        tty: bool,
        done_fd: int,
    ) -> None:
        super().__init__(name="wharf-attach-output", daemon=True)
        self._conn = conn
        self._stdout = stdout
        self._stderr = stderr
        self._tty = tty
        self._done_fd = done_fd
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._copy()
        except BaseException as exc:  # handed to the caller's thread, re-raised there
            self.error = exc
        finally:
            # This thread owns the write end: after a detach nobody waits for it, and closing
            # it here (not in ``pump``) means its number cannot be reused under our write.
            with contextlib.suppress(OSError):
                os.write(self._done_fd, b"x")
            os.close(self._done_fd)

    def _recv(self) -> bytes:
        try:
            return self._conn.recv(_READ)
        except OSError:
            # Closed under us after a detach, or reset by the daemon: the stream is over.
            return b""

    def _copy(self) -> None:
        if self._tty:
            while data := self._recv():
                _write(self._stdout, data)
            return
        decoder = StdcopyDecoder()
        while data := self._recv():
            for frame in decoder.feed(data):
                if frame.kind is StreamKind.STDERR:
                    _write(self._stderr, frame.data)
                elif frame.kind is StreamKind.SYSTEM_ERROR:
                    raise StreamError(frame.data.decode("utf-8", "replace").strip())
                else:
                    _write(self._stdout, frame.data)
        decoder.close()


def _write(sink: Sink | None, data: bytes) -> None:
    if sink is not None and data:
        sink.write(data)
        sink.flush()


class _Feeder(threading.Thread):
    """Copies a file object without a usable fd (tests, wrappers) into a pipe we can select."""

    def __init__(self, source: IO[bytes], fd: int) -> None:
        super().__init__(name="wharf-stdin-feeder", daemon=True)
        self._source = source
        self._fd = fd

    def run(self) -> None:
        try:
            read = getattr(self._source, "read1", self._source.read)
            while data := read(_READ):
                os.write(self._fd, data)
        except OSError:
            pass  # the pump stopped reading (detach, output ended) and closed the pipe
        finally:
            with contextlib.suppress(OSError):
                os.close(self._fd)


@contextlib.contextmanager
def input_fd(source: IO[bytes] | int | None) -> Iterator[int | None]:
    """A selectable fd for ``source``: its own fd if it has one, else a pipe fed by a thread."""
    if source is None or isinstance(source, int):
        yield source
        return
    try:
        fd = source.fileno()
    except (OSError, ValueError, AttributeError):
        fd = -1
    if fd >= 0:
        yield fd
        return
    read_fd, write_fd = os.pipe()
    feeder = _Feeder(source, write_fd)
    feeder.start()
    try:
        yield read_fd
    finally:
        os.close(read_fd)


def pump(
    conn: Connection,
    *,
    stdin: int | None,
    stdout: Sink | None,
    stderr: Sink | None,
    tty: bool,
    detach_keys: bytes = b"",
    control_fd: int | None = None,
    on_control: Callable[[bytes], None] | None = None,
) -> PumpEnd:
    """Copy ``stdin`` (an fd) to ``conn`` and ``conn`` to the sinks; see the module docstring.

    With ``tty`` the output is raw and goes to ``stdout`` only; otherwise it is demultiplexed.
    ``detach_keys`` are looked for in the input (Docker only does so with a TTY; the caller
    decides). Bytes read from ``control_fd`` are handed to ``on_control`` on this thread.
    A system-error frame or a malformed stream raises once the output has stopped.
    """
    has_output = stdout is not None or stderr is not None
    done_r, done_w = os.pipe()
    output = _Output(conn, stdout, stderr, tty=tty, done_fd=done_w) if has_output else None
    detector = DetachDetector(detach_keys)
    try:
        if output is not None:
            output.start()
        else:
            os.close(done_w)
        if stdin is None:
            # Nothing to send: tell the daemon at once, as the docker CLI does.
            _close_write(conn)
        result = _select_loop(
            conn,
            stdin=stdin,
            done_fd=done_r if output is not None else None,
            detector=detector,
            control_fd=control_fd,
            on_control=on_control,
        )
        if result is PumpEnd.DETACHED:
            return result
        if output is not None:
            output.join()
            if output.error is not None:
                raise output.error
        return result
    finally:
        os.close(done_r)


def _close_write(conn: Connection) -> None:
    with contextlib.suppress(OSError):
        conn.close_write()


def _select_loop(
    conn: Connection,
    *,
    stdin: int | None,
    done_fd: int | None,
    detector: DetachDetector,
    control_fd: int | None,
    on_control: Callable[[bytes], None] | None,
) -> PumpEnd:
    reading = stdin
    while True:
        watched = [fd for fd in (reading, done_fd, control_fd) if fd is not None]
        if reading is None and done_fd is None:
            return PumpEnd.INPUT_ENDED
        ready, _, _ = select.select(watched, [], [])
        if control_fd is not None and control_fd in ready:
            data = _drain(control_fd)
            if data and on_control is not None:
                on_control(data)
        if done_fd is not None and done_fd in ready:
            return PumpEnd.OUTPUT_ENDED
        if reading is not None and reading in ready:
            try:
                data = os.read(reading, _READ)
            except OSError:
                data = b""
            if not data:
                reading = None
                _close_write(conn)
                continue
            forward, detached = detector.feed(data)
            if forward:
                try:
                    conn.sendall(forward)
                except OSError:
                    # The daemon closed its side; the output thread will see the end.
                    reading = None
            if detached:
                return PumpEnd.DETACHED


def _drain(fd: int) -> bytes:
    try:
        return os.read(fd, 512)
    except (BlockingIOError, InterruptedError):
        return b""
