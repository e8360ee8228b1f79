"""Docker's json-file log format, writer side (the monitor's half; logs.py reads it).

One JSON object per line, byte for byte as Docker's json-file driver writes it::

    {"log":"hello\\n","stream":"stdout","time":"2026-11-27T17:49:00.123456789Z"}

- ``log``: the bytes read, as a JSON string with Docker's escaping: ``\\n``, ``\\r``, ``\\"``,
  ``\\\\`` short; other control characters, ``<``, ``>``, ``&``, U+2028 and U+2029 as
  ``\\u00XX``/``\\u2028``; one ``\\ufffd`` per byte of invalid UTF-8.
- ``stream``: ``stdout`` or ``stderr``.
- ``time``: when the bytes were read, RFC 3339 in UTC with nanoseconds, trailing zeros trimmed
  (Go's ``time.RFC3339Nano``).
- Lines are split after each ``\\n`` and every ``MAX_LOG_LINE`` bytes; a read that ends without
  a newline is written at once as a partial line (no ``\\n`` at the end of ``log``).

Rotation by size (when ``max_size`` > 0): once the current file has reached ``max_size``,
before the next entry::

    <log>.<max_files-2> -> <log>.<max_files-1>  (the oldest is replaced)
    ...
    <log>               -> <log>.1
    <log>                  created afresh

With ``max_files`` = 1 the full file is unlinked and started afresh: a new inode either
way, so a follower notices and finishes the old file first.

Imports the standard library's C modules only (``_json``, ``posix``, ``time``):
the monitor process uses this module.
"""

from __future__ import annotations

import _json
import posix
import time

MAX_LOG_LINE = 16 * 1024  # Docker's copier splits longer lines into partial messages
# A strict decode never yields lone surrogates, so they can mark characters for later.
# "surrogateescape" turns each invalid byte into one of U+DC80..U+DCFF: one per byte, as
# Go's decoder yields one U+FFFD per invalid byte.
_INVALID_BYTES = {0xDC80 + byte: "\\ufffd" for byte in range(128)}

# Python's encoder writes \t \b \f as short escapes where Docker writes \u00XX: swap those
# characters for markers first, then turn the markers (and what Docker escapes on top of
# JSON: < > & U+2028 U+2029, invalid bytes) into Docker's escapes.
_PRE_ESCAPES = (("\t", "\ud800"), ("\b", "\ud801"), ("\f", "\ud802"))
_ASCII_ESCAPES = (
    ("\ud800", "\\u0009"),
    ("\ud801", "\\u0008"),
    ("\ud802", "\\u000c"),
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("&", "\\u0026"),
)
_UNICODE_ESCAPES = (
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)


def docker_json_string(data: bytes) -> bytes:
    """``data`` as a JSON string literal exactly as Docker's json-file driver writes it."""
    ascii_only = data.isascii()
    invalid = False
    if ascii_only:
        text = data.decode("ascii")
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("utf-8", "surrogateescape")
            invalid = True
    for char, marker in _PRE_ESCAPES:
        if char in text:
            text = text.replace(char, marker)
    out = _json.encode_basestring(text)
    for raw, escape in _ASCII_ESCAPES:
        if raw in out:
            out = out.replace(raw, escape)
    if not ascii_only:
        for raw, escape in _UNICODE_ESCAPES:
            if raw in out:
                out = out.replace(raw, escape)
        if invalid:
            out = out.translate(_INVALID_BYTES)
    return out.encode("utf-8")


def format_timestamp(time_ns: int) -> str:
    """RFC 3339 in UTC with nanoseconds, trailing zeros trimmed (Go's ``time.RFC3339Nano``)."""
    seconds, nanos = divmod(time_ns, 1_000_000_000)
    t = time.gmtime(seconds)
    base = (
        f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}"
        f"T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
    )
    if nanos:
        return f"{base}.{nanos:09d}".rstrip("0") + "Z"
    return base + "Z"


class JsonLogWriter:
    """Appends output to a json-file log, rotating by size (layout in the module docstring).

    Write errors (a full disk) drop the entries rather than stop the monitor: the container
    must go on running.
    """

    __slots__ = ("_fd", "_size", "max_files", "max_size", "path")

    def __init__(self, path: str, *, max_size: int = 0, max_files: int = 1) -> None:
        self.path = path
        self.max_size = max_size
        self.max_files = max(1, max_files)
        self._fd = -1
        self._size = 0
        self._open()

    @property
    def size(self) -> int:
        """Bytes in the current file."""
        return self._size

    def write(self, stream: str, data: bytes, time_ns: int) -> None:
        """Log ``data`` read from ``stream`` ("stdout"/"stderr") at ``time_ns``."""
        if not data:
            return
        suffix = (
            b',"stream":"'
            + stream.encode()
            + b'","time":"'
            + format_timestamp(time_ns).encode()
            + b'"}\n'
        )
        entries = []
        pos, total = 0, len(data)
        while pos < total:
            newline = data.find(b"\n", pos, pos + MAX_LOG_LINE)
            end = newline + 1 if newline >= 0 else min(total, pos + MAX_LOG_LINE)
            entries.append(b'{"log":' + docker_json_string(data[pos:end]) + suffix)
            pos = end
        if self.max_size <= 0:
            self._write(b"".join(entries))
            return
        batch: list[bytes] = []
        pending = 0
        for entry in entries:
            # Docker's rule: a file is rotated once it has reached the limit, before the
            # next write; so a file holds at least one entry and passes the limit by < 1.
            if self._size + pending >= self.max_size:
                self._write(b"".join(batch))
                batch, pending = [], 0
                self._rotate()
            batch.append(entry)
            pending += len(entry)
        self._write(b"".join(batch))

    def close(self) -> None:
        if self._fd >= 0:
            posix.close(self._fd)
            self._fd = -1

    def _open(self) -> None:
        try:
            self._fd = posix.open(
                self.path, posix.O_WRONLY | posix.O_CREAT | posix.O_APPEND | posix.O_CLOEXEC, 0o640
            )
            self._size = posix.fstat(self._fd).st_size
        except OSError:
            self._fd = -1
            self._size = 0

    def _write(self, data: bytes) -> None:
        if self._fd < 0:
            self._open()
            if self._fd < 0:
                return
        view = memoryview(data)
        while view:
            try:
                written = posix.write(self._fd, view)
            except InterruptedError:
                continue
            except OSError:
                return
            self._size += written
            view = view[written:]

    def _rotate(self) -> None:
        self.close()
        path = self.path
        try:
            if self.max_files > 1:
                for index in range(self.max_files - 1, 1, -1):
                    try:
                        posix.rename(f"{path}.{index - 1}", f"{path}.{index}")
                    except FileNotFoundError:
                        pass
                posix.rename(path, f"{path}.1")
            else:
                posix.unlink(path)
        except OSError:
            pass
        self._open()
