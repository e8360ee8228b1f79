"""How a request reaches the daemon: the ``Transport`` seam and its socket implementation.

A ``Transport`` performs one HTTP/1.1 exchange (``send``) or takes over a connection after
``101 Switching Protocols`` (``hijack``, for attach/exec). ``EngineClient`` only ever sees
``Request`` and ``Response``; tests give it ``client.fake.FakeTransport``, and an in-process
transport to the API app can be added beside this one.

``SocketTransport`` speaks the little HTTP/1.1 the daemon needs by hand on a raw socket:
``http.client`` (with ``email`` and ``ssl`` behind it) and ``urllib.parse`` cost the CLI more
start-up time than a whole request. One connection per request (a unix socket connect costs
microseconds, and no keep-alive state can go stale); request bodies that are iterators go out
chunked, bytes with a ``Content-Length``; response bodies are delimited by ``Content-Length``,
chunked encoding or the end of the stream, and read as they arrive (``read1``), so JSON
progress lines show up live.

Invariants:
- Reading a ``Response`` never raises protocol or socket errors: a body cut short (the
  daemon closes a stream it can no longer honour, e.g. a failed save) raises ``EngineFailure``.
- Connecting never raises ``OSError``: an absent, refused or forbidden socket raises
  ``DaemonUnreachable`` with Docker's wording, so the CLI can print it or start a daemon.

Imports only the standard library, ``wharf.errdefs`` and ``wharf.client.errors``.
"""

from __future__ import annotations

import contextlib
import io
import socket
from collections.abc import Iterable, Iterator, Mapping
from types import TracebackType
from typing import NamedTuple, Protocol

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
# RFC 3986 unreserved characters: never escaped (urllib.parse's always-safe set).
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")
_PATH_SAFE_BYTES = _UNRESERVED | frozenset(_PATH_SAFE.encode())


def _percent_encode(text: str, safe: frozenset[int], *, plus: bool = False) -> str:
    # Same output as urllib.parse.quote / quote_plus (UTF-8, upper-case hex), without its import.
    parts = []
    for byte in text.encode("utf-8"):
        if byte in safe:
            parts.append(chr(byte))
        elif plus and byte == 0x20:
            parts.append("+")
        else:
            parts.append(f"%{byte:02X}")
    return "".join(parts)


def quote_path(segment: str) -> str:
    """Escape a name for use inside a request path, as Docker's Go client does."""
    return _percent_encode(segment, _PATH_SAFE_BYTES)


def encode_query(query: Iterable[tuple[str, str]]) -> str:
    """``k=v&...`` form encoding, as ``urllib.parse.urlencode`` does it (spaces become ``+``)."""
    return "&".join(
        _percent_encode(key, _UNRESERVED, plus=True)
        + "="
        + _percent_encode(value, _UNRESERVED, plus=True)
        for key, value in query
    )


class Request(NamedTuple):
    """One HTTP request; ``path`` is already versioned (``/v1.45/images/json``)."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    body: Body = None

    @property
    def target(self) -> str:
        return f"{self.path}?{encode_query(self.query)}" if self.query else self.path

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
    """What a response body is read from: the socket's ``_BodyReader`` or ``io.BytesIO``."""

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
        except (OSError, ValueError) as exc:
            # ValueError: a malformed or truncated body (_ProtocolError), or a closed file.
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
    """Carries an exception raised by the caller's body iterator past the socket handling."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


class _ProtocolError(ValueError):
    """The daemon's bytes are not the HTTP we expect (bad head, bad chunk, body cut short)."""


def _guarded(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """An upload's chunks, so that a failing source is told apart from a failing socket."""
    source = iter(chunks)
    while True:
        try:
            chunk = next(source)
        except StopIteration:
            return
        except Exception as exc:
            raise _SourceError(exc) from exc
        yield chunk


# Bodies are never expected for these (RFC 9110 6.4.1); a HEAD answer describes a body it omits.
_NO_BODY_STATUSES = frozenset({204, 304})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _encode_request_head(request: Request, *, chunked: bool) -> bytes:
    lines = [f"{request.method} {request.target} HTTP/1.1"]
    names = {key.lower() for key, _ in request.headers}
    if "host" not in names:
        lines.append("Host: localhost")
    if "accept-encoding" not in names:
        lines.append("Accept-Encoding: identity")
    lines.extend(f"{key}: {value}" for key, value in request.headers)
    body = request.body
    if "content-length" not in names and "transfer-encoding" not in names:
        if isinstance(body, bytes):
            lines.append(f"Content-Length: {len(body)}")
        elif chunked:
            lines.append("Transfer-Encoding: chunked")
        elif body is None and request.method.upper() in _BODY_METHODS:
            lines.append("Content-Length: 0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _send_request(sock: socket.socket, request: Request) -> None:
    body = request.body
    names = {key.lower() for key, _ in request.headers}
    streamed = body is not None and not isinstance(body, bytes)
    # Framing the caller set itself is left to the caller (its chunks go out as they are).
    chunked = streamed and "content-length" not in names and "transfer-encoding" not in names
    head = _encode_request_head(request, chunked=chunked)
    if not streamed:
        sock.sendall(head + (body if isinstance(body, bytes) else b""))
        return
    sock.sendall(head)
    assert body is not None and not isinstance(body, bytes)
    for chunk in _guarded(body):
        if not chunk:
            continue  # an empty chunk would end a chunked body early
        if chunked:
            sock.sendall(b"%X\r\n" % len(chunk) + chunk + b"\r\n")
        else:
            sock.sendall(chunk)
    if chunked:
        sock.sendall(b"0\r\n\r\n")


def _read_response_head(stream: io.BufferedReader) -> tuple[int, str, Headers]:
    while True:
        lines: list[bytes] = []
        size = 0
        while True:
            line = stream.readline(_MAX_HEAD + 1)
            if not line:
                if not lines:
                    raise _ProtocolError("Remote end closed connection without response")
                raise _ProtocolError("the daemon closed the connection inside a response head")
            size += len(line)
            if size > _MAX_HEAD:
                raise _ProtocolError("the daemon sent an oversized response head")
            if line in (b"\r\n", b"\n"):
                if lines:
                    break
                continue  # tolerate stray blank lines before the status line
            lines.append(line.rstrip(b"\r\n"))
        try:
            status, reason, headers = parse_head(b"\r\n".join(lines))
        except EngineFailure as exc:
            raise _ProtocolError(str(exc)) from exc
        if status != 100:  # an interim "100 Continue" is followed by the real answer
            return status, reason, headers


class _BodyReader:
    """A response body read off the socket: by ``Content-Length``, chunks or until close."""

    def __init__(
        self, sock: socket.socket, stream: io.BufferedReader, length: int | None, chunked: bool
    ) -> None:
        self._sock = sock
        self._stream = stream
        self._left = length  # bytes left in the body (by length) or in the current chunk
        self._chunked = chunked
        self._done = length == 0 and not chunked

    def read1(self, size: int = -1, /) -> bytes:
        if self._done:
            return b""
        if self._chunked:
            return self._read_chunked(size)
        if self._left is None:
            data = self._stream.read1(size)
            if not data:
                self._done = True
            return data
        want = self._left if size < 0 else min(size, self._left)
        data = self._stream.read1(want)
        if not data:
            raise _ProtocolError(f"the body ended {self._left} bytes short")
        self._left -= len(data)
        self._done = self._left == 0
        return data

    def _read_chunked(self, size: int) -> bytes:
        if not self._left:
            line = self._stream.readline(_MAX_HEAD)
            if not line.endswith(b"\n"):
                raise _ProtocolError("the chunked body ended inside a chunk size")
            try:
                self._left = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError as exc:
                raise _ProtocolError(f"malformed chunk size {line!r}") from exc
            if self._left < 0:
                raise _ProtocolError(f"malformed chunk size {line!r}")
            if self._left == 0:
                self._skip_trailers()
                self._done = True
                return b""
        want = self._left if size < 0 else min(size, self._left)
        data = self._stream.read1(want)
        if not data:
            raise _ProtocolError("the chunked body ended inside a chunk")
        self._left -= len(data)
        if self._left == 0 and self._stream.readline(_MAX_HEAD) not in (b"\r\n", b"\n"):
            raise _ProtocolError("a chunk did not end with CRLF")
        return data

    def _skip_trailers(self) -> None:
        while True:
            line = self._stream.readline(_MAX_HEAD)
            if line in (b"\r\n", b"\n", b""):
                return

    def close(self) -> None:
        self._done = True
        self._stream.close()
        self._sock.close()


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
        sock = self.open_socket()
        stream: io.BufferedReader | None = None
        try:
            # The daemon may refuse an upload (bad archive, unknown name) before reading it all
            # and close its side: its answer is still there to read.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                _send_request(sock, request)
            stream = sock.makefile("rb")
            status, reason, headers = _read_response_head(stream)
            body = _BodyReader(sock, stream, *_body_framing(request, status, headers))
        except _SourceError as exc:
            _close(sock, stream)
            # The caller's data failed (a file being read), not the connection: say so.
            raise exc.error from None
        except (_ProtocolError, OSError) as exc:
            _close(sock, stream)
            raise Unavailable(f"error during connect: {self.url}: {exc}") from exc
        except BaseException:
            _close(sock, stream)
            raise
        return Response(status, reason, headers, body)

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


def _close(sock: socket.socket, stream: io.BufferedReader | None) -> None:
    if stream is not None:
        stream.close()
    sock.close()


def _body_framing(request: Request, status: int, headers: Headers) -> tuple[int | None, bool]:
    """(length, chunked) of a response body; length None means "until the daemon closes"."""
    if request.method.upper() == "HEAD" or status in _NO_BODY_STATUSES or status < 200:
        return 0, False
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return None, True
    length = headers.get("content-length")
    if length is None:
        return None, False
    try:
        value = int(length.split(",")[0].strip())
    except ValueError as exc:
        raise _ProtocolError(f"malformed Content-Length {length!r}") from exc
    if value < 0:
        raise _ProtocolError(f"malformed Content-Length {length!r}")
    return value, False


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


# --- hijack: the connection is handed over after the head, so it is read off the raw socket.


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
