from __future__ import annotations

import hashlib
import io
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import BinaryIO

import pytest

from wharf.content.store import BlobInfo
from wharf.errdefs import InvalidArgument, Unavailable
from wharf.oci import mediatypes
from wharf.oci.descriptor import Descriptor
from wharf.oci.digest import Digest
from wharf.remotes.client import RegistryClient
from wharf.remotes.push import UPLOAD_ATTEMPTS, push_blob


@dataclass
class Reply:
    status: int
    headers: Mapping[str, str] = field(default_factory=dict)

    def read(self, amount: int = -1) -> bytes:
        return b""

    def close(self) -> None:
        pass


@dataclass
class Call:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None


class FakeRegistry:
    """A sans-IO upload endpoint: sessions hold bytes; faults are injected per PATCH number."""

    def __init__(self, *, absolute: bool = False, min_chunk: int | None = None) -> None:
        self.sessions: dict[str, bytearray] = {}
        self.calls: list[Call] = []
        self.blobs: dict[str, bytes] = {}
        self.absolute = absolute
        self.min_chunk = min_chunk
        self.cut_patch: dict[int, int] = {}  # PATCH number -> bytes kept before the cut
        self.forget_at_status: set[int] = set()
        self.patches = 0
        self.statuses = 0
        self.started = 0

    def location(self, sid: str) -> str:
        path = f"/v2/app/blobs/uploads/{sid}?_state={len(self.sessions[sid])}"
        return f"https://reg.example{path}" if self.absolute else path

    def request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None = None
    ) -> Reply:
        self.calls.append(Call(method, url, dict(headers), body))
        parts = urllib.parse.urlsplit(url)
        assert parts.netloc == "reg.example", url
        query = urllib.parse.parse_qs(parts.query)
        if method == "HEAD":
            return Reply(404)
        if method == "POST":
            sid = f"s{self.started}"
            self.started += 1
            self.sessions[sid] = bytearray()
            extra = {"oci-chunk-min-length": str(self.min_chunk)} if self.min_chunk else {}
            return Reply(202, {"location": self.location(sid), "range": "0-0", **extra})
        sid = parts.path.rsplit("/", 1)[1]
        if sid not in self.sessions:
            return Reply(404)
        held = self.sessions[sid]
        if method == "GET":
            self.statuses += 1
            if self.statuses in self.forget_at_status:
                del self.sessions[sid]
                return Reply(404)
            return Reply(
                204, {"location": self.location(sid), "range": f"0-{max(len(held) - 1, 0)}"}
            )
        if method == "PATCH":
            self.patches += 1
            assert body is not None
            assert headers["Content-Type"] == "application/octet-stream"
            match = re.fullmatch(r"(\d+)-(\d+)", headers["Content-Range"])
            assert match is not None
            start, end = int(match.group(1)), int(match.group(2))
            assert end - start + 1 == len(body) == int(headers["Content-Length"])
            if start != len(held):
                return Reply(416)
            if self.patches in self.cut_patch:
                held += body[: self.cut_patch[self.patches]]
                raise ConnectionResetError("cut")
            held += body
            return Reply(202, {"location": self.location(sid), "range": f"0-{len(held) - 1}"})
        if method == "PUT":
            held += body or b""
            digest = "sha256:" + hashlib.sha256(held).hexdigest()
            if query["digest"] != [digest]:
                return Reply(400)
            self.blobs[digest] = bytes(held)
            return Reply(201, {"docker-content-digest": digest})
        raise AssertionError(method)

    def patch_ranges(self) -> list[str]:
        return [c.headers["Content-Range"] for c in self.calls if c.method == "PATCH"]


class RecordingReader(io.BytesIO):
    def __init__(self, data: bytes, reads: list[int]) -> None:
        super().__init__(data)
        self.reads = reads

    def read(self, amount: int | None = -1) -> bytes:
        # reading "all the rest" counts as reading the whole blob
        self.reads.append(len(self.getbuffer()) if amount is None or amount < 0 else amount)
        return super().read(amount)


class StreamingProvider:
    """Holds one blob; ``read_bytes`` is off limits, ``open`` records each read's size."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.digest = Digest.of_bytes(data)
        self.reads: list[int] = []

    def info(self, digest: Digest) -> BlobInfo:
        raise AssertionError("not needed")

    def open(self, digest: Digest) -> BinaryIO:
        assert digest == self.digest
        return RecordingReader(self.data, self.reads)

    def read_bytes(self, digest: Digest) -> bytes:
        raise AssertionError("a blob upload must stream, not read the blob whole")

    def exists(self, digest: Digest) -> bool:
        return digest == self.digest

    def descriptor(self) -> Descriptor:
        return Descriptor(mediatypes.OCI_LAYER_GZIP, self.digest, len(self.data))


def make_client(registry: FakeRegistry, retries: int = 3) -> RegistryClient:
    return RegistryClient(
        "reg.example",
        transport=registry,
        credential_source=None,
        retries=retries,
        sleep=lambda _s: None,
    )


BLOB = bytes(range(256)) * 40  # 10240 bytes


def push(registry: FakeRegistry, provider: StreamingProvider, chunk: int, retries: int = 3) -> str:
    return push_blob(
        make_client(registry, retries),
        "app",
        provider.descriptor(),
        provider,
        chunk_size=chunk,
        sleep=lambda _s: None,
    )


def test_chunked_upload_sequence_and_streaming() -> None:
    registry, provider = FakeRegistry(), StreamingProvider(BLOB)
    assert push(registry, provider, 4096) == "pushed"
    assert registry.patch_ranges() == ["0-4095", "4096-8191", "8192-10239"]
    assert [c.method for c in registry.calls] == ["HEAD", "POST", "PATCH", "PATCH", "PATCH", "PUT"]
    final = registry.calls[-1]
    assert final.body == b"" and final.headers["Content-Length"] == "0"
    assert "_state=10240" in final.url  # the latest Location was followed
    assert registry.blobs == {str(provider.digest): BLOB}
    assert provider.reads and max(provider.reads) <= 4096


def test_small_blob_is_monolithic() -> None:
    registry, provider = FakeRegistry(), StreamingProvider(b"tiny layer")
    assert push(registry, provider, 4096) == "pushed"
    assert [c.method for c in registry.calls] == ["HEAD", "POST", "PUT"]
    assert registry.calls[-1].body == b"tiny layer"
    assert registry.blobs == {str(provider.digest): b"tiny layer"}


def test_absolute_location_and_min_chunk_length() -> None:
    registry = FakeRegistry(absolute=True, min_chunk=6000)
    provider = StreamingProvider(BLOB)
    push(registry, provider, 4096)
    assert registry.patch_ranges() == ["0-5999", "6000-10239"]
    assert registry.blobs[str(provider.digest)] == BLOB


def test_relative_location_resolved_against_registry() -> None:
    registry, provider = FakeRegistry(), StreamingProvider(BLOB)
    push(registry, provider, 8000)
    patches = [c.url for c in registry.calls if c.method == "PATCH"]
    assert patches == [
        "https://reg.example/v2/app/blobs/uploads/s0?_state=0",
        "https://reg.example/v2/app/blobs/uploads/s0?_state=8000",
    ]


def test_failed_patch_resumes_from_status_offset() -> None:
    registry, provider = FakeRegistry(), StreamingProvider(BLOB)
    registry.cut_patch[2] = 1000  # second chunk: registry keeps 1000 bytes, then the link drops
    push(registry, provider, 4096, retries=1)
    methods = [c.method for c in registry.calls]
    assert methods == ["HEAD", "POST", "PATCH", "PATCH", "GET", "PATCH", "PATCH", "PUT"]
    resumed = registry.calls[methods.index("GET") + 1]
    assert resumed.headers["Content-Range"].startswith("5096-")
    assert resumed.body is not None and resumed.body == BLOB[5096 : 5096 + len(resumed.body)]
    assert registry.patch_ranges() == ["0-4095", "4096-8191", "5096-9191", "9192-10239"]
    assert registry.blobs[str(provider.digest)] == BLOB


def test_416_after_client_retry_asks_status() -> None:
    # The client resends the cut chunk on its own; the registry refuses the stale range.
    registry, provider = FakeRegistry(), StreamingProvider(BLOB)
    registry.cut_patch[1] = 3000
    push(registry, provider, 4096)
    assert registry.patch_ranges()[:3] == ["0-4095", "0-4095", "3000-7095"]
    assert [c.method for c in registry.calls].count("GET") == 1
    assert registry.blobs[str(provider.digest)] == BLOB


def test_lost_session_starts_over() -> None:
    registry, provider = FakeRegistry(), StreamingProvider(BLOB)
    registry.cut_patch[2] = 10
    registry.forget_at_status.add(1)
    push(registry, provider, 4096, retries=1)
    assert [c.method for c in registry.calls].count("POST") == 2
    assert registry.patch_ranges()[2:] == ["0-4095", "4096-8191", "8192-10239"]
    assert registry.calls[-1].url.startswith("https://reg.example/v2/app/blobs/uploads/s1?")
    assert registry.blobs[str(provider.digest)] == BLOB


def test_gives_up_after_bounded_attempts() -> None:
    registry, provider = FakeRegistry(), StreamingProvider(BLOB)
    for n in range(1, 50):
        registry.cut_patch[n] = 0
    with pytest.raises(Unavailable, match="kept failing"):
        push(registry, provider, 4096, retries=1)
    assert registry.patches == UPLOAD_ATTEMPTS


def test_short_store_content_is_an_error() -> None:
    provider = StreamingProvider(BLOB)
    desc = Descriptor(mediatypes.OCI_LAYER_GZIP, provider.digest, len(BLOB) + 5)
    registry = FakeRegistry()
    with pytest.raises(InvalidArgument, match="fewer bytes"):
        push_blob(make_client(registry), "app", desc, provider, chunk_size=4096)
    with pytest.raises(InvalidArgument):
        push_blob(make_client(registry), "app", provider.descriptor(), provider, chunk_size=0)
