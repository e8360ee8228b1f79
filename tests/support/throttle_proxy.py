"""A throttling, counting HTTP proxy on 127.0.0.1 in front of a test registry.

Blob downloads (``GET /v2/.../blobs/...``) are sent slowly, so a test can cut a pull in the
middle of a layer; every response body byte sent is counted per request path, and the
``Range`` headers clients sent are recorded. Standard library only.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_CHUNK = 64 * 1024


class ThrottleProxy:
    def __init__(self, upstream: str, *, bytes_per_second: int = 4 << 20) -> None:
        self.upstream = upstream
        self.delay = _CHUNK / bytes_per_second
        self.sent: dict[str, int] = defaultdict(int)
        self.ranges: list[str] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                if "Range" in self.headers:
                    with proxy._lock:
                        proxy.ranges.append(self.headers["Range"])
                connection = http.client.HTTPConnection(proxy.upstream, timeout=60)
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                self.send_response(response.status)
                for key, value in response.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection"):
                        self.send_header(key, value)
                self.end_headers()
                slow = self.command == "GET" and "/blobs/sha256:" in self.path
                try:
                    while chunk := response.read(_CHUNK):
                        self.wfile.write(chunk)
                        with proxy._lock:
                            proxy.sent[self.path] += len(chunk)
                        if slow:
                            time.sleep(proxy.delay)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True
                finally:
                    connection.close()

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.host = f"127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> ThrottleProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def blob_bytes(self) -> int:
        with self._lock:
            return sum(n for path, n in self.sent.items() if "/blobs/sha256:" in path)

    def reset(self) -> None:
        with self._lock:
            self.sent.clear()
            self.ranges.clear()
