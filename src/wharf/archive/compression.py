"""Layer blob compression: sniff the format, decompress as a stream, compress as a stream.

Imports: stdlib, ``isal`` (ISA-L gzip, several times faster than the stdlib's zlib at the same
format), ``zstandard``, ``wharf.errdefs``, ``wharf.oci.mediatypes`` (for ``Compression``).

Invariants:
- Readers return exactly the decompressed bytes or raise ``InvalidArgument``: a stream that is
  corrupt or cut short never looks like a clean end of data. (The zstandard stream reader
  reports a truncated frame as a clean EOF, so ``_ZstdFrameTracker`` follows the frame and
  block headers of the compressed bytes to tell the two apart.)
- Errors of the underlying file object (a network read failing) pass through unchanged.
- Writers are deterministic for a given input and level (gzip header: no name, mtime 0) and
  never close the file object they write to.
"""

from __future__ import annotations

import types
from gzip import BadGzipFile
from typing import IO, Protocol, cast

import zstandard
from isal import igzip, isal_zlib

from wharf.errdefs import InvalidArgument
from wharf.oci.mediatypes import Compression

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
SNIFF_SIZE = 4
"""How many leading bytes ``detect_compression`` needs to decide."""

GZIP_LEVELS = range(0, 4)  # ISA-L's levels; 1 is already close to zlib's default ratio
GZIP_DEFAULT_LEVEL = 1
ZSTD_LEVELS = range(-7, 23)
ZSTD_DEFAULT_LEVEL = 3

_READ_SIZE = 1 << 17
# isal's stub declares ``error`` as an instance; at run time it is the exception class.
_GZIP_ERRORS: tuple[type[Exception], ...] = (BadGzipFile, cast("type[Exception]", isal_zlib.error))


class ReadableStream(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class WritableStream(Protocol):
    def write(self, data: bytes, /) -> object: ...


def detect_compression(first_bytes: bytes) -> Compression:
    """The compression of a blob from its first bytes (``SNIFF_SIZE`` are enough)."""
    if first_bytes.startswith(GZIP_MAGIC):
        return Compression.GZIP
    if first_bytes.startswith(ZSTD_MAGIC):
        return Compression.ZSTD
    return Compression.NONE


class DecompressingReader:
    """A readable stream of the decompressed bytes; ``close`` leaves the source open."""

    __slots__ = ("_closed", "_read")

    def __init__(self, read: _ReadFn) -> None:
        self._read = read
        self._closed = False

    def read(self, size: int = -1, /) -> bytes:
        if self._closed:
            raise ValueError("read from a closed decompressing reader")
        if size is None or size < 0:
            chunks = []
            while chunk := self._read(_READ_SIZE):
                chunks.append(chunk)
            return b"".join(chunks)
        return self._read(size)

    def close(self) -> None:
        self._closed = True

    def __enter__(self) -> DecompressingReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        self.close()


class _ReadFn(Protocol):
    def __call__(self, size: int, /) -> bytes: ...


def open_decompressed(fileobj: ReadableStream, compression: Compression) -> DecompressingReader:
    """Wrap ``fileobj`` (the blob as stored) in a stream of the uncompressed bytes."""
    if compression is Compression.NONE:
        return DecompressingReader(fileobj.read)
    if compression is Compression.GZIP:
        return DecompressingReader(_gzip_reader(fileobj))
    if compression is Compression.ZSTD:
        return DecompressingReader(_zstd_reader(fileobj))
    raise InvalidArgument(f"unsupported compression {compression}")


def open_auto(fileobj: ReadableStream) -> tuple[Compression, DecompressingReader]:
    """Sniff the compression from the first bytes, then decompress the whole stream."""
    head = b""
    while len(head) < SNIFF_SIZE:
        chunk = fileobj.read(SNIFF_SIZE - len(head))
        if not chunk:
            break
        head += chunk
    compression = detect_compression(head)
    return compression, open_decompressed(PrefixedStream(head, fileobj), compression)


class PrefixedStream:
    """A stream with the bytes already read to sniff its format put back in front."""

    __slots__ = ("_head", "_source")

    def __init__(self, head: bytes, source: ReadableStream) -> None:
        self._head = head
        self._source = source

    def read(self, size: int = -1, /) -> bytes:
        if not self._head:
            return self._source.read(size)
        if size is None or size < 0:
            data, self._head = self._head + self._source.read(), b""
            return data
        data, self._head = self._head[:size], self._head[size:]
        return data

    def readinto(self, buffer: bytearray | memoryview, /) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class _CountingSource:
    """isal's gzip reader calls ``readinto`` on its source; this gives it one over ``read``
    and counts the bytes, because an empty source is a clean EOF to the gzip reader."""

    __slots__ = ("_source", "consumed")

    def __init__(self, source: ReadableStream) -> None:
        self._source = source
        self.consumed = 0

    def read(self, size: int = -1, /) -> bytes:
        data = self._source.read(size)
        self.consumed += len(data)
        return data

    def readinto(self, buffer: bytearray | memoryview, /) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _gzip_reader(fileobj: ReadableStream) -> _ReadFn:
    source = _CountingSource(fileobj)
    gz = igzip.IGzipFile(fileobj=source, mode="rb")  # type: ignore[no-untyped-call]

    def read(size: int, /) -> bytes:
        try:
            data: bytes = gz.read(size)
        except EOFError as exc:
            raise InvalidArgument("corrupt gzip stream: unexpected end of data") from exc
        except _GZIP_ERRORS as exc:
            raise InvalidArgument(f"corrupt gzip stream: {exc}") from exc
        if not data and size != 0 and not source.consumed:
            raise InvalidArgument("corrupt gzip stream: unexpected end of data")
        return data

    return read


def _zstd_reader(fileobj: ReadableStream) -> _ReadFn:
    tracker = _ZstdFrameTracker()

    class _Tracked:
        def read(self, size: int = -1, /) -> bytes:
            data = fileobj.read(size)
            tracker.feed(data)
            return data

    reader = zstandard.ZstdDecompressor().stream_reader(
        cast("IO[bytes]", _Tracked()), read_size=_READ_SIZE, read_across_frames=True, closefd=False
    )

    def read(size: int, /) -> bytes:
        try:
            data: bytes = reader.read(size)
        except zstandard.ZstdError as exc:
            raise InvalidArgument(f"corrupt zstd stream: {exc}") from exc
        if not data and size != 0 and not tracker.complete:
            raise InvalidArgument("corrupt zstd stream: unexpected end of data")
        return data

    return read


# Parser states of _ZstdFrameTracker (RFC 8878 §3.1).
_MAGIC, _SKIPPABLE_SIZE, _FRAME_HEADER, _BLOCK_HEADER, _CHECKSUM, _FRAME_END = range(6)
_HEADER_BYTES = {_MAGIC: 4, _SKIPPABLE_SIZE: 4, _FRAME_HEADER: 1, _BLOCK_HEADER: 3}


class _ZstdFrameTracker:
    """Follows zstd frame and block boundaries without decompressing anything.

    It reads the few header bytes of each frame and block and skips over block bodies, so it
    costs a handful of operations per 128 KiB block. ``complete`` is true only between frames.
    """

    __slots__ = ("_after_skip", "_buf", "_checksum", "_skip", "_state", "_want", "frames")

    def __init__(self) -> None:
        self._state = _MAGIC
        self._want = 4
        self._buf = bytearray()
        self._skip = 0
        self._after_skip = _MAGIC
        self._checksum = False
        self.frames = 0

    @property
    def complete(self) -> bool:
        return self._state == _MAGIC and not self._buf and self.frames > 0

    def feed(self, data: bytes) -> None:
        pos, end = 0, len(data)
        while pos < end:
            if self._skip:
                take = min(self._skip, end - pos)
                self._skip -= take
                pos += take
                if not self._skip:
                    self._enter(self._after_skip)
                continue
            take = min(self._want - len(self._buf), end - pos)
            self._buf += data[pos : pos + take]
            pos += take
            if len(self._buf) == self._want:
                header = bytes(self._buf)
                self._buf.clear()
                self._parse(header)

    def _parse(self, header: bytes) -> None:
        if self._state == _MAGIC:
            if header == ZSTD_MAGIC:
                self._enter(_FRAME_HEADER)
            elif header[1:] == b"\x2a\x4d\x18" and header[0] & 0xF0 == 0x50:
                self._enter(_SKIPPABLE_SIZE)
            else:
                raise InvalidArgument("corrupt zstd stream: unknown frame magic")
        elif self._state == _SKIPPABLE_SIZE:
            self._skip_then(int.from_bytes(header, "little"), _MAGIC)
        elif self._state == _FRAME_HEADER:
            descriptor = header[0]
            if descriptor & 0x08:
                raise InvalidArgument("corrupt zstd stream: reserved frame header bit set")
            single_segment = bool(descriptor & 0x20)
            self._checksum = bool(descriptor & 0x04)
            dictionary_id = (0, 1, 2, 4)[descriptor & 0x03]
            content_size = (1 if single_segment else 0, 2, 4, 8)[descriptor >> 6]
            window = 0 if single_segment else 1
            self._skip_then(window + dictionary_id + content_size, _BLOCK_HEADER)
        else:  # _BLOCK_HEADER
            value = int.from_bytes(header, "little")
            last, block_type, size = value & 1, (value >> 1) & 3, value >> 3
            if block_type == 3:
                raise InvalidArgument("corrupt zstd stream: reserved block type")
            following = _BLOCK_HEADER
            if last:
                following = _CHECKSUM if self._checksum else _FRAME_END
            self._skip_then(1 if block_type == 1 else size, following)

    def _skip_then(self, count: int, state: int) -> None:
        if count:
            self._skip = count
            self._after_skip = state
        else:
            self._enter(state)

    def _enter(self, state: int) -> None:
        if state == _CHECKSUM:
            self._skip_then(4, _FRAME_END)
        elif state == _FRAME_END:
            self.frames += 1
            self._enter(_MAGIC)
        else:
            self._state = state
            self._want = _HEADER_BYTES[state]


class CompressingWriter:
    """A writable stream that compresses into ``out``; ``close`` ends the compressed stream
    (gzip trailer, zstd frame end) but leaves ``out`` open."""

    __slots__ = ("_closed", "_sink")

    def __init__(self, sink: _Sink) -> None:
        self._sink = sink
        self._closed = False

    def write(self, data: bytes | bytearray | memoryview, /) -> int:
        if self._closed:
            raise ValueError("write to a closed compressing writer")
        self._sink.write(data)
        return len(data)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._sink.close()

    def __enter__(self) -> CompressingWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        self.close()


class _Sink(Protocol):
    def write(self, data: bytes | bytearray | memoryview, /) -> object: ...

    def close(self) -> None: ...


class _Passthrough:
    __slots__ = ("_out",)

    def __init__(self, out: WritableStream) -> None:
        self._out = out

    def write(self, data: bytes | bytearray | memoryview, /) -> object:
        return self._out.write(bytes(data) if not isinstance(data, bytes) else data)

    def close(self) -> None:
        pass


def open_compressor(
    out: WritableStream, compression: Compression, *, level: int | None = None
) -> CompressingWriter:
    """A writer compressing into ``out``; ``level`` defaults to a fast setting per format."""
    if compression is Compression.NONE:
        return CompressingWriter(_Passthrough(out))
    if compression is Compression.GZIP:
        gzip_level = GZIP_DEFAULT_LEVEL if level is None else level
        if gzip_level not in GZIP_LEVELS:
            raise InvalidArgument(f"gzip level {gzip_level} out of range 0..3")
        # filename="" and mtime=0 keep the header free of the host's name and clock.
        gz = igzip.IGzipFile(  # type: ignore[no-untyped-call]
            filename="", mode="wb", compresslevel=gzip_level, fileobj=out, mtime=0
        )
        return CompressingWriter(gz)
    if compression is Compression.ZSTD:
        zstd_level = ZSTD_DEFAULT_LEVEL if level is None else level
        if zstd_level not in ZSTD_LEVELS:
            raise InvalidArgument(f"zstd level {zstd_level} out of range -7..22")
        writer = zstandard.ZstdCompressor(level=zstd_level).stream_writer(
            cast("IO[bytes]", out), closefd=False
        )
        return CompressingWriter(writer)
    raise InvalidArgument(f"unsupported compression {compression}")
