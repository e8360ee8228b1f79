"""UnixSocketTransport against a tiny real HTTP server on a unix socket (threads, no daemon)."""

from __future__ import annotations

import json
import os
import socket
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wharf import errdefs
from wharf.client.errors import DaemonNotFound, DaemonUnreachable, UnreachableReason
from wharf.client.transport import (
    Headers,
    Request,
    UnixSocketTransport,
    decode_chunked,
    encode_query,
    parse_head,
    quote_path,
)


def _read_request(conn: socket.socket) -> tuple[str, str, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionError("client went away")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    request_line, *lines = head.decode().split("\r\n")
    method, target, _ = request_line.split(" ")
    headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines)}
    if "content-length" in headers:
        while len(body) < int(headers["content-length"]):
            body += conn.recv(65536)
    elif headers.get("transfer-encoding") == "chunked":
        while (decoded := decode_chunked(body)) is None:
            body += conn.recv(65536)
        body = decoded
    return method, target, headers, body


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        conn: socket.socket = self.request
        method, target, headers, body = _read_request(conn)
        self.server.seen.append((method, target, headers, body))
        if target == "/upload":
            payload = json.dumps(
                {"length": len(body), "chunked": headers.get("transfer-encoding") == "chunked"}
            ).encode()
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(payload)}\r\n\r\n".encode()
                + payload
            )
        elif target == "/lines":
            conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nfirst\n\r\n")
            # The second line only comes after the client has seen the first: streaming.
            assert self.server.proceed.wait(5)
            conn.sendall(b"7\r\nsecond\n\r\n5\r\nlast!\r\n0\r\n\r\n")
        elif target == "/cut":
            conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab")
            conn.shutdown(socket.SHUT_RDWR)
        elif target == "/attach":
            conn.sendall(
                b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
                b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\nhello"
            )
            received = b""
            while chunk := conn.recv(65536):
                received += chunk
            conn.sendall(b"echo:" + received)
        elif target.startswith("/missing"):
            payload = b'{"message":"No such container: x"}'
            conn.sendall(
                b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(payload)}\r\n\r\n".encode()
                + payload
            )
        else:
            conn.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")


class _Server(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True

    def __init__(self, path: str) -> None:
        super().__init__(path, _Handler)
        self.seen: list[tuple[str, str, dict[str, str], bytes]] = []
        self.proceed = threading.Event()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[_Server]:
    path = str(tmp_path / "d.sock")
    srv = _Server(path)
    thread = threading.Thread(target=srv.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


def _transport(srv: _Server) -> UnixSocketTransport:
    return UnixSocketTransport(str(srv.server_address))


def test_iterator_bodies_go_out_chunked_and_bytes_with_a_length(server: _Server) -> None:
    transport = _transport(server)
    streamed = transport.send(Request("POST", "/upload", body=iter([b"a" * 70000, b"", b"bc"])))
    assert json.loads(streamed.read()) == {"length": 70002, "chunked": True}
    whole = transport.send(Request("POST", "/upload", body=b"xyz"))
    assert json.loads(whole.read()) == {"length": 3, "chunked": False}
    assert whole.headers["CONTENT-TYPE"] == "application/json"


def test_lines_arrive_as_they_are_sent(server: _Server) -> None:
    response = _transport(server).send(Request("GET", "/lines"))
    lines = response.iter_lines()
    assert next(lines) == b"first"
    server.proceed.set()
    assert list(lines) == [b"second", b"last!"]


def test_query_and_headers_are_sent(server: _Server) -> None:
    request = Request(
        "GET", "/v1.45/x", query=(("a", "1"), ("f", '{"k":{"v":true}}')), headers=(("X-T", "y"),)
    )
    _transport(server).send(request).close()
    method, target, headers, _ = server.seen[-1]
    assert (method, target) == ("GET", "/v1.45/x?a=1&f=%7B%22k%22%3A%7B%22v%22%3Atrue%7D%7D")
    assert headers["x-t"] == "y"


def test_a_body_cut_short_raises_engine_failure(server: _Server) -> None:
    response = _transport(server).send(Request("GET", "/cut"))
    with pytest.raises(errdefs.EngineFailure, match="ended early"):
        response.read()


def test_a_failing_upload_source_is_reported_as_itself(server: _Server) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"a"
        raise PermissionError("cannot read the archive")

    with pytest.raises(PermissionError, match="cannot read the archive"):
        _transport(server).send(Request("POST", "/upload", body=chunks()))


def test_hijack_returns_the_raw_stream_with_leftover_bytes(server: _Server) -> None:
    stream = _transport(server).hijack(Request("POST", "/attach", body=b"{}"))
    try:
        assert stream.headers["content-type"] == "application/vnd.docker.raw-stream"
        assert stream.recv(3) == b"hel"
        assert stream.recv() == b"lo"
        stream.sendall(b"ping")
        stream.close_write()
        received = b""
        while chunk := stream.recv():
            received += chunk
        assert received == b"echo:ping"
    finally:
        stream.close()
    _, _, headers, body = server.seen[-1]
    assert headers["upgrade"] == "tcp"
    assert headers["connection"] == "Upgrade"
    assert body == b"{}"


def test_refused_hijack_raises_the_daemons_error(server: _Server) -> None:
    with pytest.raises(DaemonNotFound, match="No such container: x"):
        _transport(server).hijack(Request("POST", "/missing/attach"))


def test_missing_socket_is_unreachable_with_dockers_wording(tmp_path: Path) -> None:
    transport = UnixSocketTransport(str(tmp_path / "none.sock"))
    with pytest.raises(DaemonUnreachable) as caught:
        transport.send(Request("GET", "/_ping"))
    assert caught.value.reason is UnreachableReason.MISSING
    assert caught.value.message == (
        f"Cannot connect to the Wharf daemon at unix://{tmp_path}/none.sock. "
        "Is the wharf daemon running?"
    )


def test_stale_socket_is_refused(tmp_path: Path) -> None:
    path = str(tmp_path / "stale.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.close()  # the file stays, nobody listens: a daemon that died
    assert os.path.exists(path)
    with pytest.raises(DaemonUnreachable) as caught:
        UnixSocketTransport(path).send(Request("GET", "/_ping"))
    assert caught.value.reason is UnreachableReason.REFUSED


def test_parse_head_and_headers() -> None:
    status, reason, headers = parse_head(b"HTTP/1.1 404 Not Found\r\nApi-Version: 1.45\r\nX: a:b")
    assert (status, reason) == (404, "Not Found")
    assert headers["api-version"] == "1.45"
    assert headers["x"] == "a:b"
    assert "API-VERSION" in headers
    with pytest.raises(errdefs.EngineFailure):
        parse_head(b"garbage")
    assert Headers([("A", "1"), ("a", "2")])["a"] == "1"


def test_decode_chunked_waits_for_the_end() -> None:
    assert decode_chunked(b"3\r\nabc\r\n") is None
    assert decode_chunked(b"3\r\nabc\r\n0\r\n\r\n") == b"abc"
    assert decode_chunked(b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\n\r\n") == b"abcde"


@given(st.text(), st.text())
def test_query_and_path_escaping_match_urllib(key: str, value: str) -> None:
    from urllib.parse import quote, urlencode

    try:
        expected_query = urlencode([(key, value)])
        expected_path = quote(key, safe="/:@$&+,;=~")
    except UnicodeEncodeError:
        return  # lone surrogates: both refuse them
    assert encode_query([(key, value)]) == expected_query
    assert quote_path(key) == expected_path


def _serve_once(tmp_path: Path, answer: bytes) -> str:
    path = str(tmp_path / "once.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)

    def serve() -> None:
        conn, _ = listener.accept()
        with conn, listener:
            _read_request(conn)
            conn.sendall(answer)

    threading.Thread(target=serve, daemon=True).start()
    return path


def test_a_body_without_length_is_read_until_the_daemon_closes(tmp_path: Path) -> None:
    path = _serve_once(tmp_path, b"HTTP/1.0 200 OK\r\nX: 1\r\n\r\nall of it")
    assert UnixSocketTransport(path).send(Request("GET", "/x")).read() == b"all of it"


def test_a_body_shorter_than_its_length_raises_engine_failure(tmp_path: Path) -> None:
    path = _serve_once(tmp_path, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    response = UnixSocketTransport(path).send(Request("GET", "/x"))
    with pytest.raises(errdefs.EngineFailure, match="ended early"):
        response.read()


def test_a_head_answer_has_no_body(tmp_path: Path) -> None:
    path = _serve_once(
        tmp_path, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nApi-Version: 1.45\r\n\r\n"
    )
    response = UnixSocketTransport(path).send(Request("HEAD", "/_ping"))
    assert response.headers["api-version"] == "1.45"
    assert response.read() == b""


def test_a_daemon_closing_before_answering_is_unavailable(tmp_path: Path) -> None:
    path = _serve_once(tmp_path, b"")
    with pytest.raises(errdefs.Unavailable, match="without response"):
        UnixSocketTransport(path).send(Request("GET", "/x"))
