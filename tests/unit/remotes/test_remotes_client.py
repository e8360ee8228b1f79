from __future__ import annotations

import io
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from wharf.content.local import LocalStore
from wharf.errdefs import InvalidArgument, NotFound, Unauthorized, Unavailable
from wharf.oci import mediatypes
from wharf.oci.descriptor import Descriptor
from wharf.oci.digest import Digest
from wharf.remotes.auth import Credentials
from wharf.remotes.client import RegistryClient, ingest_ref


@dataclass
class FakeResponse:
    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    cut_after: int | None = None

    def __post_init__(self) -> None:
        self._stream = io.BytesIO(self.body)

    def read(self, amount: int = -1) -> bytes:
        if self.cut_after is not None and self._stream.tell() >= self.cut_after:
            raise ConnectionResetError("cut")
        if self.cut_after is not None:
            left = self.cut_after - self._stream.tell()
            amount = left if amount < 0 else min(amount, left)
        return self._stream.read(amount)

    def close(self) -> None:
        pass


Handler = Callable[[str, str, Mapping[str, str]], FakeResponse]


class FakeTransport:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.calls: list[tuple[str, str, dict[str, str]]] = []

    def request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None = None
    ) -> FakeResponse:
        self.calls.append((method, url, dict(headers)))
        return self.handler(method, url, headers)


def client(handler: Handler, **kw: object) -> tuple[RegistryClient, FakeTransport]:
    transport = FakeTransport(handler)
    made = RegistryClient(
        "reg.example",
        transport=transport,
        credential_source=None,
        sleep=lambda _s: None,
        **kw,  # type: ignore[arg-type]
    )
    return made, transport


MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": mediatypes.OCI_MANIFEST}).encode()
MDIGEST = Digest.of_bytes(MANIFEST)


def test_scheme_choice() -> None:
    assert RegistryClient("localhost:5000", credential_source=None).base_url.startswith("http:")
    assert RegistryClient("127.0.0.1:80", credential_source=None).base_url.startswith("http:")
    assert RegistryClient("reg.example", credential_source=None).base_url.startswith("https:")
    assert RegistryClient("r.lan", insecure=True, credential_source=None).base_url == "http://r.lan"
    assert RegistryClient("docker.io", credential_source=None).host == "registry-1.docker.io"


def test_token_flow_and_cache() -> None:
    def handler(method: str, url: str, headers: Mapping[str, str]) -> FakeResponse:
        if url.startswith("https://auth.example/token"):
            assert "scope=repository%3Aapp%3Apull" in url
            assert headers["Authorization"].startswith("Basic ")
            return FakeResponse(200, body=b'{"token":"T1","expires_in":300}')
        if headers.get("Authorization") != "Bearer T1":
            challenge = 'Bearer realm="https://auth.example/token",service="reg"'
            return FakeResponse(401, {"www-authenticate": challenge})
        return FakeResponse(
            200,
            {
                "docker-content-digest": str(MDIGEST),
                "content-type": mediatypes.OCI_MANIFEST,
                "content-length": str(len(MANIFEST)),
            },
        )

    reg, transport = client(handler, credentials=Credentials("u", "p"))
    desc = reg.resolve("reg.example/app:1")
    assert desc == Descriptor(mediatypes.OCI_MANIFEST, MDIGEST, len(MANIFEST))
    assert len(transport.calls) == 3
    reg.resolve("reg.example/app:2")
    assert len(transport.calls) == 4  # the token was cached


def test_unauthorized_after_auth() -> None:
    def handler(method: str, url: str, headers: Mapping[str, str]) -> FakeResponse:
        if "token" in url:
            return FakeResponse(200, body=b'{"token":"bad"}')
        return FakeResponse(401, {"www-authenticate": 'Bearer realm="https://a/token"'})

    reg, _ = client(handler)
    with pytest.raises(Unauthorized):
        reg.resolve("reg.example/app:1")


def test_manifest_unknown_and_digest_mismatch() -> None:
    def handler(method: str, url: str, headers: Mapping[str, str]) -> FakeResponse:
        if "missing" in url:
            body = b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}'
            return FakeResponse(404, body=body)
        return FakeResponse(200, {"content-type": mediatypes.OCI_MANIFEST}, MANIFEST + b" ")

    reg, _ = client(handler)
    with pytest.raises(NotFound, match="manifest unknown"):
        reg.resolve("reg.example/missing:1")
    with pytest.raises(InvalidArgument):
        reg.resolve(f"reg.example/app@{MDIGEST}")
    with pytest.raises(InvalidArgument):
        reg.fetch_manifest("app", Descriptor(mediatypes.OCI_MANIFEST, MDIGEST, len(MANIFEST)))


def test_retries_on_5xx_then_gives_up() -> None:
    statuses = iter([503, 502, 200])

    def handler(method: str, url: str, headers: Mapping[str, str]) -> FakeResponse:
        return FakeResponse(next(statuses), {"content-type": mediatypes.OCI_MANIFEST}, MANIFEST)

    reg, transport = client(handler)
    assert reg.resolve(f"reg.example/app@{MDIGEST}").digest == MDIGEST
    assert len(transport.calls) == 3
    reg2, _ = client(lambda m, u, h: FakeResponse(500))
    with pytest.raises(Unavailable):
        reg2.resolve(f"reg.example/app@{MDIGEST}")


def test_redirect_drops_authorization_on_other_host(tmp_path: Path) -> None:
    blob = b"x" * 1000
    desc = Descriptor(mediatypes.OCI_LAYER_GZIP, Digest.of_bytes(blob), len(blob))

    def handler(method: str, url: str, headers: Mapping[str, str]) -> FakeResponse:
        if url.startswith("https://cdn.example/"):
            assert "Authorization" not in headers
            return FakeResponse(200, body=blob)
        return FakeResponse(307, {"location": "https://cdn.example/b?sig=1"})

    reg, transport = client(handler, credentials=Credentials("u", "p"))
    reg._basic = True  # as after a Basic challenge
    store = LocalStore(tmp_path)
    assert reg.fetch_blob("app", desc, store) == desc.digest
    assert transport.calls[0][2]["Authorization"].startswith("Basic ")
    assert store.read_bytes(desc.digest) == blob


def test_resume_after_cut_and_wrong_blob(tmp_path: Path) -> None:
    blob = bytes(range(256)) * 40
    desc = Descriptor(mediatypes.OCI_LAYER_GZIP, Digest.of_bytes(blob), len(blob))

    def handler(method: str, url: str, headers: Mapping[str, str]) -> FakeResponse:
        rng = headers.get("Range")
        if rng is None:
            return FakeResponse(200, body=blob, cut_after=4000)
        start = int(rng.removeprefix("bytes=").rstrip("-"))
        return FakeResponse(
            206, {"content-range": f"bytes {start}-{len(blob) - 1}/{len(blob)}"}, blob[start:]
        )

    reg, transport = client(handler)
    store = LocalStore(tmp_path)
    assert reg.fetch_blob("app", desc, store) == desc.digest
    assert [c[2].get("Range") for c in transport.calls] == [None, "bytes=4000-"]

    bad = Descriptor(mediatypes.OCI_LAYER_GZIP, Digest.of_bytes(b"other"), len(blob))
    reg2, _ = client(lambda m, u, h: FakeResponse(200, body=blob))
    with pytest.raises(InvalidArgument):
        reg2.fetch_blob("app", bad, store)
    assert not store.exists(bad.digest)
    assert all(s.ref != ingest_ref(bad.digest) for s in store.ingests())
