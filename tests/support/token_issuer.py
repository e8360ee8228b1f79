"""A tiny Docker registry token issuer for integration tests (the role of docker/auth_server).

It serves ``GET /token?service=S&scope=repository:NAME:pull,push`` on 127.0.0.1: it checks HTTP
Basic credentials against one user/password pair and answers ``{"token": JWT, ...}`` with an
RS256 JWT granting the requested actions. The signing key and its self-signed certificate are
made with the ``openssl`` command (no Python crypto dependency); the JWT header carries the
certificate in ``x5c`` so a registry configured with ``rootcertbundle`` = that certificate trusts
it (distribution 2.8 verifies the x5c chain against its root bundle).

Invariants: listens on loopback only; the server thread is stopped by ``close()`` (no process
is started except short-lived ``openssl`` calls). Imports the standard library only.
"""

from __future__ import annotations

import base64
import binascii
import json
import subprocess
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Self

TOKEN_TTL = 300


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_key_and_cert(directory: Path, common_name: str) -> tuple[Path, Path]:
    """An RSA key and a self-signed certificate for it (PEM files in ``directory``)."""
    directory.mkdir(parents=True, exist_ok=True)
    key, cert = directory / "issuer.key", directory / "issuer.crt"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "2",
         "-subj", f"/CN={common_name}", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return key, cert


def parse_scopes(values: list[str]) -> list[dict[str, object]]:
    """``repository:name:pull,push`` scopes (space-separated or repeated) as JWT access claims."""
    access: list[dict[str, object]] = []
    for value in values:
        for scope in value.split():
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            if kind and name:
                access.append({"type": kind, "name": name, "actions": actions.split(",")})
    return access


class TokenIssuer:
    """Issues JWTs for one user; ``realm`` is the URL to put in the registry's config."""

    def __init__(
        self, directory: Path, *, user: str, password: str, service: str, issuer: str
    ) -> None:
        self.user, self.password = user, password
        self.service, self.issuer = service, issuer
        self.key_path, self.cert_path = make_key_and_cert(directory, issuer)
        der = subprocess.run(
            ["openssl", "x509", "-in", str(self.cert_path), "-outform", "DER"],
            check=True, capture_output=True, timeout=30,
        ).stdout  # fmt: skip
        self._x5c = base64.b64encode(der).decode()
        self.requests: list[tuple[str | None, list[dict[str, object]]]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/token"

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

    def sign(self, subject: str, access: list[dict[str, object]]) -> str:
        """A compact RS256 JWT for ``subject`` with ``access`` claims, signed by openssl."""
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self._x5c]}
        claims = {
            "iss": self.issuer, "sub": subject, "aud": self.service, "exp": now + TOKEN_TTL,
            "nbf": now - 10, "iat": now, "jti": uuid.uuid4().hex, "access": access,
        }  # fmt: skip
        signing_input = (
            f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        )
        signature = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", str(self.key_path)],
            input=signing_input.encode(), check=True, capture_output=True, timeout=30,
        ).stdout  # fmt: skip
        return f"{signing_input}.{_b64url(signature)}"

    def _authenticated(self, header: str | None) -> str | None:
        if header is None or not header.startswith("Basic "):
            return None
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return user if (user, password) == (self.user, self.password) else None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                query = urllib.parse.parse_qs(url.query)
                access = parse_scopes(query.get("scope", []))
                user = issuer._authenticated(self.headers.get("Authorization"))
                issuer.requests.append((user, access))
                if url.path != "/token":
                    self._reply(404, {"errors": [{"code": "NOT_FOUND"}]})
                elif user is None:
                    self._reply(401, {"errors": [{"code": "UNAUTHORIZED"}]})
                else:
                    token = issuer.sign(user, access)
                    self._reply(200, {"token": token, "access_token": token,
                                      "expires_in": TOKEN_TTL})  # fmt: skip

            def _reply(self, status: int, body: dict[str, object]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler
