"""Reading a container's json-file log, as ``docker logs`` does: filters, ``--tail``, ``--follow``.

The monitor writes the files (monitor_logfile.py draws the line format and the rotation
chain ``<log>.<N-1>`` ... ``<log>.1``, ``<log>``, oldest first). This module only reads
them, so it works the same while wharfd and the monitor run independently.

May import the standard library and ``wharf.runtime.monitor_logfile`` (for the rotation
naming); never the engine.

Invariants:

- Entries come out oldest first; a corrupt or half-written line is skipped, never fatal.
- ``since_ns`` and ``until_ns`` are inclusive (Docker's ``--since``/``--until``); ``tail``
  counts the entries that pass the other filters; ``tail=0`` gives nothing, None gives all.
- ``follow_logs`` pins the file it starts in by inode: when the writer rotates, it reads the
  old file to its end, then goes on in its successor, so no line is lost or repeated
  across rotations (unless more than ``max_files`` rotations pass between two polls).
"""

from __future__ import annotations

import calendar
import json
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

STREAMS = ("stdout", "stderr")
_BLOCK = 65536
_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})"
)


@dataclass(frozen=True, slots=True)
class LogEntry:
    stream: str  # "stdout" or "stderr"
    time_ns: int  # nanoseconds since the epoch
    time_text: str  # the time as written (RFC 3339, as Docker prints it with -t)
    data: bytes  # the bytes the container wrote, newline included when there was one


@dataclass(frozen=True, slots=True)
class _Filter:
    stdout: bool
    stderr: bool
    since_ns: int | None
    until_ns: int | None

    def wants(self, entry: LogEntry) -> bool:
        if not (self.stdout if entry.stream == "stdout" else self.stderr):
            return False
        return self.since_ns is None or entry.time_ns >= self.since_ns

    def past_until(self, entry: LogEntry) -> bool:
        return self.until_ns is not None and entry.time_ns > self.until_ns

    def before_since(self, entry: LogEntry) -> bool:
        return self.since_ns is not None and entry.time_ns < self.since_ns


def parse_timestamp(text: str) -> int:
    """Nanoseconds since the epoch from an RFC 3339 time (any offset, 0-9 fraction digits)."""
    match = _TIME.fullmatch(text)
    if match is None:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction, offset = match.group(7) or "", match.group(8)
    seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    if offset not in ("Z", "z"):
        sign = -1 if offset[0] == "+" else 1
        seconds += sign * (int(offset[1:3]) * 3600 + int(offset[4:6]) * 60)
    return seconds * 1_000_000_000 + int(fraction.ljust(9, "0") or "0")


def parse_entry(line: bytes) -> LogEntry | None:
    """One log line, or None if it is not a well-formed entry."""
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    log, stream, when = obj.get("log", ""), obj.get("stream"), obj.get("time")
    if not isinstance(log, str) or stream not in STREAMS or not isinstance(when, str):
        return None
    try:
        time_ns = parse_timestamp(when)
    except ValueError:
        return None
    return LogEntry(str(stream), time_ns, when, log.encode("utf-8", "surrogatepass"))


def log_files(log_path: Path) -> list[Path]:
    """The existing files of one log, oldest first (``<log>.N`` ... ``<log>.1``, ``<log>``)."""
    rotated: list[tuple[int, Path]] = []
    prefix = log_path.name + "."
    try:
        names = os.listdir(log_path.parent)
    except OSError:
        return []
    for name in names:
        suffix = name[len(prefix) :] if name.startswith(prefix) else ""
        if suffix.isdigit() and not suffix.startswith("0"):
            rotated.append((int(suffix), log_path.parent / name))
    files = [path for _, path in sorted(rotated, reverse=True)]
    if log_path.name in names:
        files.append(log_path)
    return files


def read_logs(
    log_path: Path,
    *,
    stdout: bool = True,
    stderr: bool = True,
    since_ns: int | None = None,
    until_ns: int | None = None,
    tail: int | None = None,
) -> Iterator[LogEntry]:
    """The entries logged so far, over every rotated file, oldest first."""
    filt = _Filter(stdout, stderr, since_ns, until_ns)
    files = log_files(log_path)
    if tail is not None and tail >= 0:
        opened = _open_files(files)
        try:
            picked = _tail(opened, filt, tail)
        finally:
            for bounded in opened:
                bounded.f.close()
        yield from picked
        return
    for path in files:
        try:
            f = path.open("rb")
        except OSError:
            continue  # rotated away between listing and opening
        with f:
            for entry in _forward(f, filt)[0]:
                if filt.past_until(entry):
                    return
                yield entry


def follow_logs(
    log_path: Path,
    *,
    stdout: bool = True,
    stderr: bool = True,
    since_ns: int | None = None,
    until_ns: int | None = None,
    tail: int | None = None,
    still_running: Callable[[], bool],
    poll_interval: float = 0.1,
) -> Iterator[LogEntry]:
    """What ``read_logs`` gives, then new entries as they are written, across rotations.

    Ends once ``still_running()`` has returned False and everything written before that
    call has been read (or at the first entry past ``until_ns``).
    """
    filt = _Filter(stdout, stderr, since_ns, until_ns)
    while True:
        running = still_running()
        current = _open_pinned(log_path)
        if current is not None:
            break
        if not running:
            yield from read_logs(
                log_path,
                stdout=stdout,
                stderr=stderr,
                since_ns=since_ns,
                until_ns=until_ns,
                tail=tail,
            )
            return
        time.sleep(poll_interval)

    f: BinaryIO = current
    try:
        # History: the files rotated before the one we pinned, then the pinned one so far.
        tailing = tail is not None and tail >= 0
        history, pos = _forward(f, filt, collect=not tailing)
        older = _older_than(log_path, _inode(f))
        backlog: Iterable[LogEntry]
        if tail is not None and tailing:
            opened = _open_files(older)
            try:
                backlog = _tail([*opened, _Bounded(f, pos)], filt, tail)
            finally:
                for bounded in opened:
                    bounded.f.close()
        else:
            backlog = _chain_forward(older, filt, history)
        for entry in backlog:
            if filt.past_until(entry):
                return
            yield entry
        buffer = b""
        # ``running`` is from before the pinned file was opened; it is asked again only
        # once we have caught up, so that a slow consumer never lets the writer rotate
        # more files away than it keeps.
        while True:
            entries, pos, buffer = _read_new(f, pos, buffer, filt)
            for entry in entries:
                if filt.past_until(entry):
                    return
                yield entry
            successor = _successor(log_path, _inode(f))
            if successor is not None:
                # The writer closed the old file before it made the new one: one more read
                # of the old file gets its last lines.
                entries, pos, buffer = _read_new(f, pos, buffer, filt)
                for entry in entries:
                    if filt.past_until(entry):
                        return
                    yield entry
                f.close()
                f, pos, buffer = successor, 0, b""
                continue
            if not running:
                return
            time.sleep(poll_interval)
            running = still_running()
    finally:
        f.close()


class _Bounded:
    """An open file read only up to ``end`` (what was there when following began)."""

    def __init__(self, f: BinaryIO, end: int) -> None:
        self.f = f
        self.end = end


def _open_files(files: list[Path]) -> list[_Bounded]:
    opened = []
    for path in files:
        try:
            f = path.open("rb")
        except OSError:
            continue
        opened.append(_Bounded(f, os.fstat(f.fileno()).st_size))
    return opened


def _tail(files: list[_Bounded], filt: _Filter, count: int) -> list[LogEntry]:
    """The last ``count`` wanted entries of ``files`` (oldest first), read backwards."""
    picked: list[LogEntry] = []
    lines = (line for b in reversed(files) for line in _backward_lines(b.f, b.end))
    for line in lines:
        if len(picked) >= count:
            break
        entry = parse_entry(line)
        if entry is None or filt.past_until(entry):
            continue
        if filt.before_since(entry):
            break  # everything further back is older still
        if filt.wants(entry):
            picked.append(entry)
    return picked[::-1]


def _backward_lines(f: BinaryIO, end: int) -> Iterator[bytes]:
    """The lines of ``f[0:end]``, last first."""
    pos, rest = end, b""
    while pos > 0:
        size = min(_BLOCK, pos)
        pos -= size
        f.seek(pos)
        lines = (f.read(size) + rest).split(b"\n")
        rest = lines[0]
        for line in reversed(lines[1:]):
            if line:
                yield line
    if rest:
        yield rest


def _forward(f: BinaryIO, filt: _Filter, *, collect: bool = True) -> tuple[list[LogEntry], int]:
    """The wanted entries of the complete lines of ``f`` from its start, and where they end."""
    entries: list[LogEntry] = []
    pos = 0
    f.seek(0)
    for line in f:
        if not line.endswith(b"\n"):
            break  # being written: a follower reads it once it is whole
        pos += len(line)
        if not collect:
            continue
        entry = parse_entry(line)
        if entry is not None and filt.wants(entry):
            entries.append(entry)
    return entries, pos


def _chain_forward(older: list[Path], filt: _Filter, pinned: list[LogEntry]) -> Iterator[LogEntry]:
    for path in older:
        try:
            f = path.open("rb")
        except OSError:
            continue
        with f:
            yield from _forward(f, filt)[0]
    yield from pinned


def _read_new(
    f: BinaryIO, pos: int, buffer: bytes, filt: _Filter
) -> tuple[list[LogEntry], int, bytes]:
    """Entries completed since ``pos`` (``buffer`` holds a partial line already read)."""
    size = os.fstat(f.fileno()).st_size
    if size < pos:
        pos, buffer = 0, b""  # truncated in place (not our writer's way, but Docker's)
    entries: list[LogEntry] = []
    f.seek(pos)
    while True:
        data = f.read(_BLOCK)
        if not data:
            return entries, pos, buffer
        pos += len(data)
        lines = (buffer + data).split(b"\n")
        buffer = lines.pop()
        for line in lines:
            entry = parse_entry(line)
            if entry is not None and filt.wants(entry):
                entries.append(entry)


def _inode(f: BinaryIO) -> tuple[int, int]:
    st = os.fstat(f.fileno())
    return st.st_dev, st.st_ino


def _open_pinned(log_path: Path) -> BinaryIO | None:
    try:
        return log_path.open("rb")
    except FileNotFoundError:
        return None


def _older_than(log_path: Path, inode: tuple[int, int]) -> list[Path]:
    """The rotated files written before the file with ``inode``."""
    files = log_files(log_path)
    inodes: list[tuple[int, int] | None] = []
    for path in files:
        try:
            st = path.stat()
        except OSError:
            inodes.append(None)
            continue
        inodes.append((st.st_dev, st.st_ino))
    if inode in inodes:
        return files[: inodes.index(inode)]
    return []


def _successor(log_path: Path, inode: tuple[int, int]) -> BinaryIO | None:
    """The file written after ``f``, opened, once the writer has moved on from ``f``."""
    try:
        st = log_path.stat()
    except FileNotFoundError:
        return None  # between rename and create: the new file is not there yet
    if (st.st_dev, st.st_ino) == inode:
        return None
    opened: list[tuple[tuple[int, int], BinaryIO]] = []
    for path in log_files(log_path):
        candidate: BinaryIO
        try:
            candidate = path.open("rb")
        except OSError:
            continue
        opened.append((_inode(candidate), candidate))
    inodes = [ino for ino, _ in opened]
    index = inodes.index(inode) + 1 if inode in inodes else 0
    chosen = opened[index][1] if index < len(opened) else None
    for _, candidate in opened:
        if candidate is not chosen:
            candidate.close()
    return chosen
