"""A deliberately misbehaving registry for pull-failure tests: a tiny ``http.server`` on 127.0.0.1.

It speaks just enough of the distribution API (``GET /v2/``, manifests by tag or digest, blobs,
``HEAD`` of both) to serve one real, tiny single-layer image for any repository name, and can be
told to misbehave (``Fault``):

- ``WRONG_BLOB``: the layer's bytes are corrupted (same length, wrong sha256);
- ``TRUNCATED_BLOB``: every response for the layer claims its full length but the connection
  is cut once the first half of the layer has been sent (a ``Range`` request gets a 206 for the
  rest, cut at the same point, so a resuming client never gets past the half);
- ``TRUNCATED_IGNORING_RANGE``: the same cut, but ``Range`` is ignored (200 from byte 0);
- ``WRONG_MANIFEST``: a manifest asked by digest comes back with different bytes;
- ``FLAKY``: the first ``flaky_failures`` GETs of the layer answer 500, later ones succeed.

``bad_layer`` holds the bytes served in place of the layer, so a test can check they never landed
in a content store. Invariants: loopback only; a server thread, stopped by ``close()``.
Imports the standard library and ``wharf.registry.testing`` (for the tiny layer) only.
"""

from __future__ import annotations

import enum
import hashlib
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self

from wharf.registry.testing import tiny_layer

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


class Fault(enum.Enum):
    NONE = "none"
    WRONG_BLOB = "wrong-blob"
    TRUNCATED_BLOB = "truncated-blob"
    TRUNCATED_IGNORING_RANGE = "truncated-ignoring-range"
    WRONG_MANIFEST = "wrong-manifest"
    FLAKY = "flaky"


def _digest(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # A client hanging up on a bad blob is expected here; stay silent.
        pass


class BadRegistry:
    """Serves one tiny image under every repository name; see the module docstring."""

    def __init__(self, fault: Fault = Fault.NONE, *, flaky_failures: int = 2) -> None:
        self.fault = fault
        self.flaky_failures = flaky_failures
        # Random-ish content so a layer never collides with one another test put in the store.
        self.layer, diff_id = tiny_layer(
            {"hello.txt": f"bad-registry {uuid.uuid4()}\n".encode() * 64}
        )
        self.config = json.dumps(
            {"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/sh"]},
             "rootfs": {"type": "layers", "diff_ids": [str(diff_id)]}}
        ).encode()  # fmt: skip
        self.manifest = json.dumps(
            {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
             "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                        "digest": _digest(self.config), "size": len(self.config)},
             "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                         "digest": _digest(self.layer), "size": len(self.layer)}]},
            separators=(",", ":"),
        ).encode()  # fmt: skip
        self.manifest_digest = _digest(self.manifest)
        self.layer_digest = _digest(self.layer)
        self.bad_layer = self._bad_layer()
        self.layer_gets = 0
        self.layer_ranges: list[str | None] = []  # the Range header of each layer GET
        self.blobs = {_digest(self.config): self.config, self.layer_digest: self.layer}
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _bad_layer(self) -> bytes:
        if self.fault is Fault.WRONG_BLOB:
            middle = len(self.layer) // 2
            return (
                self.layer[:middle] + bytes([self.layer[middle] ^ 0xFF]) + self.layer[middle + 1 :]
            )
        if self.fault in (Fault.TRUNCATED_BLOB, Fault.TRUNCATED_IGNORING_RANGE):
            return self.layer[: len(self.layer) // 2]
        return self.layer

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        self.close()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def _answer(self, path: str, range_header: str | None) -> tuple[int, bytes, dict[str, str]]:
        """Status, body and extra headers for a GET of ``path``; a ``Content-Length`` among the
        headers (longer than the body) means the connection is to be cut after the body."""
        if path in ("/v2/", "/v2"):
            return 200, b"{}", {"Content-Type": "application/json"}
        parts = path.split("/")
        if len(parts) >= 5 and parts[-2] == "manifests":
            reference = parts[-1]
            if reference.startswith("sha256:") and reference != self.manifest_digest:
                return 404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}', {}
            body = self.manifest
            if self.fault is Fault.WRONG_MANIFEST and reference.startswith("sha256:"):
                body = self.manifest.replace(b'"schemaVersion":2', b'"schemaVersion": 2')
            headers = {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": self.manifest_digest}
            return 200, body, headers
        if len(parts) >= 5 and parts[-2] == "blobs":
            digest = parts[-1]
            if digest not in self.blobs:
                return 404, b'{"errors":[{"code":"BLOB_UNKNOWN"}]}', {}
            if digest != self.layer_digest:
                return 200, self.blobs[digest], {"Docker-Content-Digest": digest}
            with self._lock:
                self.layer_gets += 1
                count = self.layer_gets
            if self.fault is Fault.FLAKY and count <= self.flaky_failures:
                return 500, b'{"errors":[{"code":"UNKNOWN","message":"try again"}]}', {}
            headers = {"Docker-Content-Digest": digest}
            if self.fault is Fault.TRUNCATED_BLOB and range_header:
                start = int(range_header.removeprefix("bytes=").split("-")[0])
                headers["Content-Range"] = f"bytes {start}-{len(self.layer) - 1}/{len(self.layer)}"
                headers["Content-Length"] = str(len(self.layer) - start)
                return 206, self.bad_layer[start:], headers
            if self.fault in (Fault.TRUNCATED_BLOB, Fault.TRUNCATED_IGNORING_RANGE):
                headers["Content-Length"] = str(len(self.layer))
            return 200, self.bad_layer, headers
        return 404, b'{"errors":[{"code":"NAME_UNKNOWN"}]}', {}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        registry = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _send(self, with_body: bool) -> None:
                path = self.path.split("?", 1)[0]
                status, body, headers = registry._answer(path, self.headers.get("Range"))
                self.send_response(status)
                self.send_header("Docker-Distribution-API-Version", "registry/2.0")
                headers.setdefault("Content-Length", str(len(body)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if with_body:
                    self.wfile.write(body)
                if int(headers["Content-Length"]) != len(body):
                    self.wfile.flush()
                    self.close_connection = True

            def do_GET(self) -> None:
                if self.path.split("?", 1)[0].endswith(f"/blobs/{registry.layer_digest}"):
                    registry.layer_ranges.append(self.headers.get("Range"))
                self._send(True)

            def do_HEAD(self) -> None:
                # A HEAD must not count as a GET of the layer.
                path = self.path.split("?", 1)[0]
                if "/blobs/" in path and path.rsplit("/", 1)[-1] == registry.layer_digest:
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(registry.layer)))
                    self.send_header("Docker-Content-Digest", registry.layer_digest)
                    self.end_headers()
                    return
                status, body, headers = registry._answer(path, None)
                self.send_response(status)
                self.send_header("Docker-Distribution-API-Version", "registry/2.0")
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler
