"""A ``FakeTransport`` that can also hijack: attach and exec-start served over a socketpair.

``HijackFake.on_hijack(method, path, server)`` routes an upgrade request to ``server(request,
sock)``, which runs on a thread with the daemon's end of a ``socket.socketpair`` (the client
gets the other end inside a real ``client.transport.Hijacked``) and may read the client's stdin
and write frames; the socket is closed when it returns. Helpers build common servers.

Imports the standard library and ``wharf.client``.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from wharf.client.errors import error_for_status
from wharf.client.fake import FakeTransport, RecordedRequest, Route
from wharf.client.streams import MULTIPLEXED, RAW, StreamKind, encode_frame
from wharf.client.transport import Headers, Hijacked, Request, Response

HijackServer = Callable[[RecordedRequest, socket.socket], None]


@dataclass
class HijackFake(FakeTransport):
    servers: dict[tuple[str, str], HijackServer] = field(default_factory=dict)
    raw_stream: bool = False
    threads: list[threading.Thread] = field(default_factory=list)
    leftover: bytes = b""  # bytes "read with the response head", handed over in Hijacked

    def on(self, method: str, path: str, answer: Response | Route) -> HijackFake:
        super().on(method, path, answer)
        return self

    def on_hijack(self, method: str, path: str, server: HijackServer) -> HijackFake:
        self.servers[(method, path)] = server
        return self

    def hijack(self, request: Request) -> Hijacked:
        recorded = self._record(request)
        server = self.servers.get((recorded.method, recorded.path))
        if server is None:
            raise error_for_status(404, f"page not found: {recorded.path} is not routed")
        ours, theirs = socket.socketpair()

        def serve() -> None:
            try:
                server(recorded, theirs)
            finally:
                theirs.close()

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        self.threads.append(thread)
        content_type = RAW if self.raw_stream else MULTIPLEXED
        return Hijacked(ours, Headers([("Content-Type", content_type)]), self.leftover)

    def join(self, timeout: float = 5.0) -> None:
        for thread in self.threads:
            thread.join(timeout)
            assert not thread.is_alive(), "a hijack server did not finish"


def read_all(sock: socket.socket) -> bytes:
    """Everything the client sends until it half-closes."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def frames_server(
    frames: Sequence[tuple[StreamKind, bytes]],
    *,
    after: threading.Event | None = None,
    received: list[bytes] | None = None,
    read_stdin: bool = False,
) -> HijackServer:
    """Writes ``frames`` (after ``after`` is set, e.g. by the start route), optionally first
    collecting the client's stdin into ``received``."""

    def serve(_request: RecordedRequest, sock: socket.socket) -> None:
        if read_stdin:
            data = read_all(sock)
            if received is not None:
                received.append(data)
        if after is not None:
            assert after.wait(5.0), "the container was never started"
        for kind, data in frames:
            sock.sendall(encode_frame(kind, data))

    return serve


def raw_server(chunks: Sequence[bytes], *, after: threading.Event | None = None) -> HijackServer:
    def serve(_request: RecordedRequest, sock: socket.socket) -> None:
        if after is not None:
            assert after.wait(5.0), "the container was never started"
        for chunk in chunks:
            sock.sendall(chunk)

    return serve
