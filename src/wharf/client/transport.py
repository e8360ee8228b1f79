"""How a request reaches the daemon: the ``Transport`` seam and its socket implementation.

A ``Transport`` performs one HTTP/1.1 exchange (``send``) or takes over a connection after
``101 Switching Protocols`` (``hijack``, for attach/exec). ``EngineClient`` only ever sees
``Request`` and ``Response``; tests give it ``client.fake.FakeTransport``, and an in-process
transport to the API app can be added beside this one.

``SocketTransport`` is built on ``http.client`` (stdlib, cheap to import, which matters for CLI
start-up): one connection per request (a unix socket connect costs microseconds, and no
keep-alive state can go stale), request bodies that are iterators go out chunked, responses are
read as they arrive (``read1``), so JSON progress lines show up live.

Invariants:
- Reading a ``Response`` never raises ``http.client`` or socket errors: a body cut short (the
  daemon closes a stream it can no longer honour, e.g. a failed save) raises ``EngineFailure``.
- Connecting never raises ``OSError``: an absent, refused or forbidden socket raises
  ``DaemonUnreachable`` with Docker's wording, so the CLI can print it or start a daemon.

Imports only the standard library, ``wharf.errdefs`` and ``wharf.client.errors``.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol
from urllib.parse import quote, urlencode

from wharf.client.errors import (
    DaemonUnreachable,
    UnreachableReason,
    error_for_status,
    error_message,
)
from wharf.errdefs import EngineFailure, InvalidArgument, Unavailable

Body = bytes | Iterable[bytes] | None

_CHUNK = 64 * 1024
# Go's url.PathEscape leaves these alone in image names (``localhost:5000/a@sha256:...``).
_PATH_SAFE = "/:@$&+,;=~"


def quote_path(segment: str) -> str:
    """Escape a name for use inside a request path, as Docker's Go client does."""
    return quote(segment, safe=_PATH_SAFE)


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request; ``path`` is already versioned (``/v1.45/images/json``)."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    body: Body = None

    @property
    def target(self) -> str:
        return f"{self.path}?{urlencode(self.query)}" if self.query else self.path

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return None


class Headers(Mapping[str, str]):
    """Immutable, case-insensitive response headers (the first value of a repeated header)."""

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        merged: dict[str, str] = {}
        for key, value in items:
            merged.setdefault(key.lower(), value)
        self._items = merged

    def __getitem__(self, key: str) -> str:
        return self._items[key.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._items

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


class BodyReader(Protocol):
    """What a response body is read from: ``http.client.HTTPResponse`` or ``io.BytesIO``."""

    def read1(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


class Response:
    """A response whose body streams: read it whole, by chunks or by lines; then close it."""

    def __init__(
        self,
        status: int,
        reason: str,
        headers: Headers,
        body: BodyReader,
        *,
        on_close: Iterable[object] = (),
    ) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self._body = body
        # Objects (connections) to close with the body: they must outlive the reads.
        self._owned = tuple(on_close)
        self._closed = False

    def _read1(self, size: int) -> bytes:
        try:
            return self._body.read1(size)
        except (http.client.HTTPException, OSError, ValueError) as exc:
            # ValueError: http.client reading a body whose connection we closed.
            raise EngineFailure(
                f"error reading the daemon's response: the stream ended early ({exc!r})"
            ) from exc

    def iter_chunks(self, size: int = _CHUNK) -> Iterator[bytes]:
        """Yield the body as it arrives (chunks of at most ``size`` bytes); closes at the end."""
        try:
            while chunk := self._read1(size):
                yield chunk
        finally:
            self.close()

    def read(self) -> bytes:
        return b"".join(self.iter_chunks())

    def iter_lines(self) -> Iterator[bytes]:
        """Yield newline-terminated lines (without the newline) as soon as each is complete."""
        pending = b""
        for chunk in self.iter_chunks():
            pending += chunk
            *lines, pending = pending.split(b"\n")
            yield from lines
        if pending:
            yield pending

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._body.close()
        for owned in self._owned:
            close = getattr(owned, "close", None)
            if close is not None:
                close()

    def __enter__(self) -> Response:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class Hijacked:
    """A connection taken over after ``101``: a raw duplex byte stream (attach, exec).

    ``leftover`` bytes arrived with the response head and must be consumed before ``recv``.
    """

    def __init__(self, sock: socket.socket, headers: Headers, leftover: bytes = b"") -> None:
        self.sock = sock
        self.headers = headers
        self._leftover = leftover

    def recv(self, size: int = _CHUNK) -> bytes:
        if self._leftover:
            data, self._leftover = self._leftover[:size], self._leftover[size:]
            return data
        return self.sock.recv(size)

    def sendall(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close_write(self) -> None:
        """Half-close: the daemon sees end of stdin and keeps sending output."""
        self.sock.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.sock.close()


class Transport(Protocol):
    """One HTTP exchange with the daemon."""

    def send(self, request: Request) -> Response:
        """Send ``request``; the response head is read, its body is left to stream."""
        ...

    def hijack(self, request: Request) -> Hijacked:
        """Send ``request`` asking to upgrade to a raw stream; return it after ``101``."""
        ...


def _unreachable(url: str, exc: OSError) -> DaemonUnreachable:
    if isinstance(exc, PermissionError):
        return DaemonUnreachable(
            "permission denied while trying to connect to the Wharf daemon socket at "
            f"{url}: {exc.strerror or exc}",
            reason=UnreachableReason.PERMISSION,
            host=url,
        )
    if isinstance(exc, FileNotFoundError):
        reason = UnreachableReason.MISSING
    elif isinstance(exc, ConnectionRefusedError):
        reason = UnreachableReason.REFUSED
    else:
        reason = UnreachableReason.OTHER
    return DaemonUnreachable(
        f"Cannot connect to the Wharf daemon at {url}. Is the wharf daemon running?",
        reason=reason,
        host=url,
    )


class _SourceError(Exception):
    """Carries an exception raised by the caller's body iterator past http.client."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


class _SourceGuard:
    """Wraps an upload's chunks so a failing source is told apart from a failing socket."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        try:
            return next(self._chunks)
        except StopIteration:
            raise
        except Exception as exc:
            raise _SourceError(exc) from exc


class _Connection(http.client.HTTPConnection):
    """``HTTPConnection`` whose socket comes from the transport (unix or TCP)."""

    def __init__(self, transport: SocketTransport) -> None:
        super().__init__("localhost")
        self._transport = transport

    def connect(self) -> None:
        self.sock = self._transport.open_socket()


class SocketTransport:
    """HTTP/1.1 over a stream socket; subclasses say how to open one."""

    url: str

    def _connect(self) -> socket.socket:
        raise NotImplementedError

    def open_socket(self) -> socket.socket:
        try:
            sock = self._connect()
        except OSError as exc:
            raise _unreachable(self.url, exc) from exc
        # Saves, loads and builds may stay silent for minutes: no read timeout.
        sock.settimeout(None)
        return sock

    def send(self, request: Request) -> Response:
        conn = _Connection(self)
        try:
            raw = self._exchange(conn, request)
        except _SourceError as exc:
            conn.close()
            # The caller's data failed (a file being read), not the connection: say so.
            raise exc.error from None
        except (http.client.HTTPException, OSError) as exc:
            conn.close()
            raise Unavailable(f"error during connect: {self.url}: {exc}") from exc
        except BaseException:
            conn.close()
            raise
        return Response(raw.status, raw.reason, Headers(raw.getheaders()), raw, on_close=(conn,))

    def _exchange(self, conn: _Connection, request: Request) -> http.client.HTTPResponse:
        conn.connect()
        body = request.body
        if body is not None and not isinstance(body, bytes):
            body = _SourceGuard(body)
        # The daemon may refuse an upload (bad archive, unknown name) before reading it all
        # and close its side: its answer is still there to read.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            conn.request(
                request.method,
                request.target,
                body=body,  # type: ignore[arg-type]
                headers=dict(request.headers),
            )
        return conn.getresponse()

    def hijack(self, request: Request) -> Hijacked:
        sock = self.open_socket()
        try:
            sock.sendall(_encode_upgrade_request(request))
            body = request.body
            if body is not None and not isinstance(body, bytes):
                for chunk in body:
                    sock.sendall(chunk)
            status, reason, headers, leftover = _read_head(sock)
            if status == 101:
                return Hijacked(sock, headers, leftover)
            body = _read_rest(sock, headers, leftover)
            raise error_for_status(status, error_message(status, reason, body))
        except BaseException:
            sock.close()
            raise


class UnixSocketTransport(SocketTransport):
    """The daemon at a unix socket path (``unix:///run/wharf/wharf.sock``)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.url = f"unix://{path}"

    def _connect(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(self.path)
        except BaseException:
            sock.close()
            raise
        return sock


class TcpTransport(SocketTransport):
    """The daemon at ``tcp://host:port`` (plain HTTP; for tests and trusted networks)."""

    def __init__(self, host: str, port: int, *, connect_timeout: float = 10.0) -> None:
        self.host = host
        self.port = port
        self.url = f"tcp://{host}:{port}"
        self._connect_timeout = connect_timeout

    def _connect(self) -> socket.socket:
        return socket.create_connection((self.host, self.port), timeout=self._connect_timeout)


# --- hijack: the little HTTP we speak by hand, because http.client cannot hand over a socket.


def _encode_upgrade_request(request: Request) -> bytes:
    lines = [f"{request.method} {request.target} HTTP/1.1", "Host: localhost"]
    names = {key.lower() for key, _ in request.headers}
    lines.extend(f"{key}: {value}" for key, value in request.headers)
    if "connection" not in names:
        lines.append("Connection: Upgrade")
    if "upgrade" not in names:
        lines.append("Upgrade: tcp")
    body = request.body
    if isinstance(body, bytes):
        lines.append(f"Content-Length: {len(body)}")
    elif body is not None:
        raise InvalidArgument("a hijacked request takes its body as bytes")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + (body or b"")


_MAX_HEAD = 64 * 1024


def _read_head(sock: socket.socket) -> tuple[int, str, Headers, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        if len(data) > _MAX_HEAD:
            raise EngineFailure("the daemon sent an oversized response head")
        chunk = sock.recv(_CHUNK)
        if not chunk:
            raise Unavailable("the daemon closed the connection before answering")
        data += chunk
    head, leftover = data.split(b"\r\n\r\n", 1)
    return (*parse_head(head), leftover)


def parse_head(head: bytes) -> tuple[int, str, Headers]:
    """Status, reason and headers of an HTTP/1.x response head (without the blank line)."""
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise EngineFailure(f"malformed response from the daemon: {status_line!r}")
    pairs = []
    for line in header_lines:
        key, sep, value = line.partition(":")
        if sep:
            pairs.append((key.strip(), value.strip()))
    return int(parts[1]), parts[2] if len(parts) > 2 else "", Headers(pairs)


def _read_rest(sock: socket.socket, headers: Headers, data: bytes) -> bytes:
    """The body of a refused upgrade (an error message), by length, chunks or until close."""
    length = headers.get("content-length")
    chunked = "chunked" in headers.get("transfer-encoding", "").lower()
    while True:
        if length is not None and len(data) >= int(length):
            return data[: int(length)]
        if chunked and (decoded := decode_chunked(data)) is not None:
            return decoded
        chunk = sock.recv(_CHUNK)
        if not chunk:
            return data
        data += chunk


def decode_chunked(data: bytes) -> bytes | None:
    """Decode a complete chunked body, or None if ``data`` does not hold all of it yet."""
    out = bytearray()
    pos = 0
    while True:
        end = data.find(b"\r\n", pos)
        if end < 0:
            return None
        try:
            size = int(data[pos:end].split(b";")[0], 16)
        except ValueError as exc:
            raise EngineFailure("malformed chunked body from the daemon") from exc
        start = end + 2
        if size == 0:
            return bytes(out)
        if len(data) < start + size + 2:
            return None
        out += data[start : start + size]
        pos = start + size + 2
