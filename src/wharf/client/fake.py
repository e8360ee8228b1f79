"""A scripted, in-memory ``Transport`` for tests of the client and of its users (CLI, compose).

``FakeTransport`` answers ``/_ping`` itself (with a chosen ``Api-Version``) and every other
request from a route table keyed by (method, unversioned path); a route is a ``Response``
factory, so one route can answer many calls. Each exchange is recorded with its body read out,
so tests assert on exactly what was sent. Unrouted requests get dockerd's 404 body.

Imports only the standard library and ``wharf.client``.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

from wharf.client.transport import Headers, Hijacked, Request, Response
from wharf.errdefs import Unsupported

Route = Callable[["RecordedRequest"], Response]

_VERSION_PREFIX = re.compile(r"^/v\d+\.\d+(?=/)")


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """A request as the fake saw it: path without the version prefix, body read out."""

    method: str
    path: str  # unversioned and unescaped: what routes are keyed by
    raw_path: str  # exactly as sent, version prefix and escapes included
    version: str | None
    query: tuple[tuple[str, str], ...]
    headers: tuple[tuple[str, str], ...]
    body: bytes | None
    streamed: bool  # the body came as an iterator of chunks (sent chunked on a socket)

    def param(self, name: str) -> str | None:
        for key, value in self.query:
            if key == name:
                return value
        return None

    def params(self, name: str) -> list[str]:
        return [value for key, value in self.query if key == name]


class _ChunkReader:
    """A body read chunk by chunk, to check that callers stream rather than buffer."""

    def __init__(self, chunks: Iterable[bytes], fail_with: Exception | None = None) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._fail_with = fail_with

    def read1(self, size: int = -1, /) -> bytes:
        for chunk in self._chunks:
            if chunk:
                return chunk
        if self._fail_with is not None:
            raise self._fail_with
        return b""

    def close(self) -> None:
        pass


def response(
    status: int = 200,
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
    *,
    chunks: Iterable[bytes] | None = None,
    fail_with: Exception | None = None,
) -> Response:
    """A canned response; ``chunks`` stream the body, ``fail_with`` breaks it off at the end."""
    reader = (
        _ChunkReader(chunks if chunks is not None else [body], fail_with)
        if chunks is not None or fail_with is not None
        else io.BytesIO(body)
    )
    return Response(status, _REASONS.get(status, ""), Headers((headers or {}).items()), reader)


def json_response(payload: object, status: int = 200) -> Response:
    return response(
        status, json.dumps(payload).encode() + b"\n", {"Content-Type": "application/json"}
    )


def error_response(status: int, message: str) -> Response:
    return json_response({"message": message}, status)


def json_lines(*messages: object, status: int = 200) -> Response:
    lines = [json.dumps(message).encode() + b"\r\n" for message in messages]
    return response(status, headers={"Content-Type": "application/json"}, chunks=lines)


_REASONS = {
    101: "Switching Protocols",
    200: "OK",
    201: "Created",
    204: "No Content",
    304: "Not Modified",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
}


@dataclass
class FakeTransport:
    """Answers from ``routes``; ``ping_version`` "" sends a ping with no ``Api-Version``.

    ``head_ping`` False makes ``HEAD /_ping`` a 404 (old daemons), to exercise the GET retry.
    """

    routes: dict[tuple[str, str], Route] = field(default_factory=dict)
    ping_version: str = "1.45"
    head_ping: bool = True
    requests: list[RecordedRequest] = field(default_factory=list)

    def on(self, method: str, path: str, answer: Response | Route) -> FakeTransport:
        """Route ``method path`` to ``answer`` (a response is served once; a callable, always)."""
        if isinstance(answer, Response):
            once = [answer]

            def serve(request: RecordedRequest) -> Response:
                if not once:
                    raise AssertionError(f"{method} {path} answered once and asked again")
                return once.pop()

            self.routes[(method, path)] = serve
        else:
            self.routes[(method, path)] = answer
        return self

    def calls(self, method: str | None = None, path: str | None = None) -> list[RecordedRequest]:
        """Recorded requests other than pings, optionally only those to ``method path``."""
        return [
            r
            for r in self.requests
            if r.path != "/_ping"
            and (method is None or r.method == method)
            and (path is None or r.path == path)
        ]

    def send(self, request: Request) -> Response:
        recorded = self._record(request)
        if recorded.path == "/_ping":
            return self._ping(recorded)
        route = self.routes.get((recorded.method, recorded.path))
        if route is None:
            return error_response(
                404, f"page not found: {recorded.method} {recorded.path} is not routed"
            )
        return route(recorded)

    def hijack(self, request: Request) -> Hijacked:
        self._record(request)
        raise Unsupported("the fake transport cannot hijack connections")

    def _record(self, request: Request) -> RecordedRequest:
        body = request.body
        streamed = body is not None and not isinstance(body, bytes)
        data = body if isinstance(body, bytes) or body is None else b"".join(body)
        match = _VERSION_PREFIX.match(request.path)
        path = request.path[match.end() :] if match else request.path
        recorded = RecordedRequest(
            method=request.method,
            path=unquote(path),
            raw_path=request.path,
            version=match.group(0)[2:] if match else None,
            query=request.query,
            headers=request.headers,
            body=data,
            streamed=streamed,
        )
        self.requests.append(recorded)
        return recorded

    def _ping(self, request: RecordedRequest) -> Response:
        if request.method == "HEAD" and not self.head_ping:
            return error_response(404, "page not found")
        headers = {"Ostype": "linux", "Docker-Experimental": "false"}
        if self.ping_version:
            headers["Api-Version"] = self.ping_version
        return response(200, b"" if request.method == "HEAD" else b"OK", headers)
