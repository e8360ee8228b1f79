"""Several containers' logs as one stream of lines: ``compose logs`` and attached ``up``.

One reader thread per container follows ``GET /containers/{id}/logs`` (demultiplexing the
stdcopy frames unless the container has a TTY), cuts the bytes into lines and puts them on a
queue; the caller's thread takes them off in arrival order (``LogStream.lines``), so all
printing happens on one thread and Ctrl-C reaches it promptly (the queue is polled).

When a followed container's stream ends, its reader inspects it: an exit is reported as an
``Exited`` item (``web-1 exited with code 0``), a container that a restart policy brought back is
followed again from the restart on.

The CLI prints a line as docker compose does: ``web-1  | GET / 200`` (the source padded to the
widest source plus one, then ``| `` and the text).

Imports the standard library, ``wharf.errdefs``, ``wharf.client`` and ``wharf.compose``.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from wharf.client.streams import StdcopyDecoder, StreamKind
from wharf.errdefs import NotFound, WharfError

if TYPE_CHECKING:
    from wharf.client.api import EngineClient
    from wharf.compose.convergence import Observed

_POLL = 0.2


@dataclass(frozen=True, slots=True)
class LogOptions:
    follow: bool = False
    tail: str = "all"
    timestamps: bool = False
    since: str = ""
    until: str = ""


@dataclass(frozen=True, slots=True)
class LogLine:
    source: str  # "web-1"
    service: str
    text: str  # without its newline
    stderr: bool = False


@dataclass(frozen=True, slots=True)
class Exited:
    source: str
    service: str
    container_id: str
    exit_code: int


@dataclass(frozen=True, slots=True)
class ReadFailed:
    source: str
    message: str


Item = LogLine | Exited | ReadFailed


class _LineCutter:
    def __init__(self) -> None:
        self.partial = b""

    def feed(self, data: bytes) -> list[str]:
        data = self.partial + data
        *lines, self.partial = data.split(b"\n")
        return [line.decode("utf-8", "replace").removesuffix("\r") for line in lines]

    def flush(self) -> list[str]:
        rest, self.partial = self.partial, b""
        return [rest.decode("utf-8", "replace")] if rest else []


class LogStream:
    """Reads the logs of ``containers`` concurrently; iterate ``lines()`` on one thread."""

    def __init__(
        self,
        client: EngineClient,
        containers: Sequence[Observed],
        options: LogOptions,
        *,
        tails: dict[str, str] | None = None,
        report_exits: bool = False,
    ) -> None:
        self.client = client
        self.containers = list(containers)
        self.options = options
        self.tails = tails or {}
        self.report_exits = report_exits
        self._queue: queue.Queue[Item | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._stopped = threading.Event()

    @property
    def sources(self) -> list[str]:
        return [c.display_name for c in self.containers]

    def start(self) -> LogStream:
        for container in self.containers:
            thread = threading.Thread(
                target=self._read, args=(container,), name=f"logs-{container.name}", daemon=True
            )
            self._threads.append(thread)
            thread.start()
        return self

    def add(self, container: Observed, *, tail: str = "all") -> None:
        """Follow one more container (one that ``up`` started after the stream began)."""
        self.tails[container.id] = tail
        self.containers.append(container)
        thread = threading.Thread(
            target=self._read, args=(container,), name=f"logs-{container.name}", daemon=True
        )
        self._threads.append(thread)
        thread.start()

    def close(self) -> None:
        """Stop delivering items. A reader blocked in a follow is left to the daemon: its
        stream ends when the container stops (which is what every caller does next), or with
        the process (the readers are daemon threads). Closing its socket from this thread
        instead would block on the reader's buffer lock."""
        self._stopped.set()

    def lines(self) -> Iterator[Item]:
        """Items in arrival order until every reader is done (or ``close``)."""
        finished = 0
        while finished < len(self._threads) and not self._stopped.is_set():
            try:
                item = self._queue.get(timeout=_POLL)
            except queue.Empty:
                continue
            if item is None:
                finished += 1
                continue
            yield item

    # --- reader threads

    def _read(self, container: Observed) -> None:
        try:
            tail = self.tails.get(container.id, self.options.tail)
            while not self._stopped.is_set():
                tty = self._tty(container)
                self._read_once(container, tail, tty)
                if not (self.options.follow and self.report_exits):
                    break
                state = self._state(container)
                if state is None:
                    break
                running, exit_code = state
                if running:
                    tail = "0"  # restarted by its policy: follow the new run
                    continue
                self._queue.put(
                    Exited(container.display_name, container.service, container.id, exit_code)
                )
                break
        except WharfError as exc:
            if not self._stopped.is_set():
                self._queue.put(ReadFailed(container.display_name, str(exc)))
        finally:
            self._queue.put(None)

    def _tty(self, container: Observed) -> bool:
        try:
            return self.client.container_inspect(container.id).tty
        except NotFound:
            return False

    def _state(self, container: Observed) -> tuple[bool, int] | None:
        try:
            state = self.client.container_inspect(container.id).state
        except NotFound:
            return None
        return state.running or state.restarting, state.exit_code

    def _read_once(self, container: Observed, tail: str, tty: bool) -> None:
        options = self.options
        response = self.client.container_logs(
            container.id,
            follow=options.follow,
            tail=tail,
            timestamps=options.timestamps,
            since=options.since,
            until=options.until,
        )
        out, err = _LineCutter(), _LineCutter()
        source, service = container.display_name, container.service
        try:
            with response:
                decoder = None if tty else StdcopyDecoder()
                for chunk in response.iter_chunks():
                    if self._stopped.is_set():
                        return
                    if decoder is None:
                        self._put(source, service, out.feed(chunk), stderr=False)
                        continue
                    for frame in decoder.feed(chunk):
                        if frame.kind is StreamKind.STDERR:
                            self._put(source, service, err.feed(frame.data), stderr=True)
                        elif frame.kind is StreamKind.SYSTEM_ERROR:
                            message = frame.data.decode("utf-8", "replace").strip()
                            self._queue.put(ReadFailed(source, message))
                        else:
                            self._put(source, service, out.feed(frame.data), stderr=False)
        except OSError:
            if not self._stopped.is_set():
                raise
        self._put(source, service, out.flush(), stderr=False)
        self._put(source, service, err.flush(), stderr=True)

    def _put(self, source: str, service: str, lines: list[str], *, stderr: bool) -> None:
        for text in lines:
            self._queue.put(LogLine(source, service, text, stderr))
