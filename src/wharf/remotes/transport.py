"""The HTTP seam of the registry client: a tiny ``Transport`` protocol and its stdlib backend.

Layer L1b. Imports: stdlib only. A transport sends one request and hands back the response
unread (bodies stream); it follows no redirects and does no auth: the client does both, so
tests can swap the transport for a recording or failing one by constructor.

Invariants: header names in ``Response.headers`` are lowercase; repeated headers are joined
with ", ". A ``Response`` that is closed before its body was read to the end closes its
connection (it cannot be reused); one read to the end leaves the connection in the pool.
"""

from __future__ import annotations

import http.client
import ssl
import threading
import urllib.parse
from collections.abc import Mapping
from typing import Protocol

TIMEOUT = 60.0


class Response(Protocol):
    @property
    def status(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    def read(self, amount: int = -1) -> bytes:
        """Up to ``amount`` bytes (all that is left when negative); b"" at the end."""
        ...

    def close(self) -> None: ...


class Transport(Protocol):
    def request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None = None
    ) -> Response:
        """Send one request; raises ``OSError`` / ``http.client.HTTPException`` on I/O errors."""
        ...


class _HTTPResponse:
    def __init__(
        self, raw: http.client.HTTPResponse, on_abandon: http.client.HTTPConnection
    ) -> None:
        self._raw = raw
        self._conn = on_abandon
        joined: dict[str, str] = {}
        for name, value in raw.getheaders():
            key = name.lower()
            joined[key] = f"{joined[key]}, {value}" if key in joined else value
        self._headers = joined

    @property
    def status(self) -> int:
        return self._raw.status

    @property
    def headers(self) -> Mapping[str, str]:
        return self._headers

    def read(self, amount: int = -1) -> bytes:
        return self._raw.read() if amount < 0 else self._raw.read(amount)

    def close(self) -> None:
        if not self._raw.isclosed():
            self._conn.close()  # unread body: the connection cannot carry another request
        self._raw.close()


class HTTPTransport:
    """http.client connections kept alive per thread and per (scheme, host:port)."""

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None, timeout: float = TIMEOUT):
        self._ssl = ssl_context or ssl.create_default_context()
        self._timeout = timeout
        self._local = threading.local()

    def _connection(self, scheme: str, netloc: str) -> http.client.HTTPConnection:
        pool: dict[tuple[str, str], http.client.HTTPConnection] | None
        pool = getattr(self._local, "pool", None)
        if pool is None:
            pool = self._local.pool = {}
        conn = pool.get((scheme, netloc))
        if conn is None:
            if scheme == "https":
                conn = http.client.HTTPSConnection(netloc, timeout=self._timeout, context=self._ssl)
            else:
                conn = http.client.HTTPConnection(netloc, timeout=self._timeout)
            pool[(scheme, netloc)] = conn
        return conn

    def request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None = None
    ) -> Response:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise http.client.InvalidURL(f"unsupported URL scheme in {url}")
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        for attempt in (0, 1):
            conn = self._connection(parts.scheme, parts.netloc)
            try:
                conn.request(method, target, body=body, headers=dict(headers))
                raw = conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                conn.close()
                # a kept-alive connection the server had already closed: one fresh try
                if attempt:
                    raise
                continue
            except BaseException:
                conn.close()
                raise
            if method == "HEAD":
                raw.read()
            return _HTTPResponse(raw, conn)
        raise AssertionError("unreachable")
