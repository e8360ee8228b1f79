"""fetch_url against a local HTTP server on 127.0.0.1."""

from __future__ import annotations

import stat
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from wharf.builder.context.fetch import UNNAMED, fetch_url, is_url
from wharf.errdefs import EngineFailure, Forbidden, InvalidArgument, NotFound, Unavailable

LAST_MODIFIED = "Wed, 21 Oct 2015 07:28:00 GMT"
LAST_MODIFIED_EPOCH = 1445412480


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path == "/files/app.tar.gz":
            self._send(200, b"payload", {"Last-Modified": LAST_MODIFIED})
        elif path == "/files/with%20space.txt":
            self._send(200, b"spaced", {})
        elif path == "/download/":
            self._send(200, b"cd", {"Content-Disposition": 'attachment; filename="report.csv"'})
        elif path == "/anon/":
            self._send(200, b"anon", {})
        elif path == "/dots/..":
            self._send(200, b"dots", {})
        elif path == "/redirect":
            self._send(302, b"", {"Location": "/files/app.tar.gz"})
        elif path == "/forbidden":
            self._send(403, b"go away\n", {})
        elif path == "/broken":
            self._send(500, b"", {})
        else:
            self._send(404, b"  no such thing\n\n", {})

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_download_named_after_the_url(server: str, tmp_path: Path) -> None:
    path = fetch_url(f"{server}/files/app.tar.gz?token=1", tmp_path)
    assert path == tmp_path / "app.tar.gz"
    assert path.read_bytes() == b"payload"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.stat().st_mtime == LAST_MODIFIED_EPOCH


def test_url_path_is_decoded_and_redirects_followed(server: str, tmp_path: Path) -> None:
    assert fetch_url(f"{server}/files/with%20space.txt", tmp_path).name == "with space.txt"
    redirected = fetch_url(f"{server}/redirect", tmp_path)
    assert redirected.name == "redirect"
    assert redirected.read_bytes() == b"payload"


def test_name_from_content_disposition_or_unnamed(server: str, tmp_path: Path) -> None:
    path = fetch_url(f"{server}/download/", tmp_path)
    assert path.name == "report.csv" and path.read_bytes() == b"cd"
    anon = fetch_url(f"{server}/anon/", tmp_path)
    assert anon.name == UNNAMED
    assert anon.stat().st_mtime == 0  # no Last-Modified: the epoch, as Docker
    (tmp_path / "d").mkdir()
    dots = fetch_url(f"{server}/dots/..", tmp_path / "d")
    assert dots == tmp_path / "d" / UNNAMED
    with pytest.raises(EngineFailure, match="File exists"):
        fetch_url(f"{server}/anon/", tmp_path)


def test_http_errors_carry_the_status(server: str, tmp_path: Path) -> None:
    with pytest.raises(NotFound) as info:
        fetch_url(f"{server}/missing.txt", tmp_path)
    assert str(info.value) == (
        f"failed to GET {server}/missing.txt with status 404 Not Found: no such thing"
    )
    with pytest.raises(Forbidden, match=r"status 403 Forbidden: go away$"):
        fetch_url(f"{server}/forbidden", tmp_path)
    with pytest.raises(Unavailable, match=r"status 500 Internal Server Error$"):
        fetch_url(f"{server}/broken", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_unreachable_and_unsupported(tmp_path: Path) -> None:
    with pytest.raises(Unavailable, match=r"failed to GET http://127\.0\.0\.1:9/x"):
        fetch_url("http://127.0.0.1:9/x", tmp_path)
    with pytest.raises(InvalidArgument, match="only http and https"):
        fetch_url("ftp://127.0.0.1/x", tmp_path)
    assert is_url("https://example.com/a") and not is_url("git@github.com:a/b")
