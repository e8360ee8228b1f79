"""Load and robustness against a registry process: concurrent pulls and pushes with the
server's memory bounded, kill -9 in the middle of uploads, online GC while pushing.

Sized to stay within about a minute on a 2-CPU machine: 50 concurrent pulls of a 100 MB
blob (5 GB over loopback, each stream hashed), 20 concurrent pushes of 4 MB blobs.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from wharf.oci import mediatypes
from wharf.registry.testing import RegistryProcess, registry_process

pytestmark = pytest.mark.integration

MB = 1024 * 1024


def connect(registry: RegistryProcess) -> http.client.HTTPConnection:
    host, port = registry.host.rsplit(":", 1)
    return http.client.HTTPConnection(host, int(port), timeout=120)


def call(
    registry: RegistryProcess,
    method: str,
    path: str,
    body: bytes | Iterator[bytes] | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, http.client.HTTPMessage, bytes]:
    conn = connect(registry)
    try:
        chunked = body is not None and not isinstance(body, bytes)
        conn.request(method, path, body=body, headers=headers or {}, encode_chunked=chunked)
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def pieces(data: bytes, size: int = MB) -> Iterator[bytes]:
    view = memoryview(data)
    for start in range(0, len(data), size):
        yield bytes(view[start : start + size])


def push_blob(
    registry: RegistryProcess, name: str, data: bytes, *, chunks: int = 1, pause: float = 0.0
) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    status, headers, body = call(registry, "POST", f"/v2/{name}/blobs/uploads/")
    assert status == 202, body
    location = headers["Location"]
    step = -(-len(data) // chunks)
    for start in range(0, len(data), step):
        chunk = data[start : start + step]
        status, headers, body = call(
            registry,
            "PATCH",
            location,
            pieces(chunk),
            {"Content-Range": f"{start}-{start + len(chunk) - 1}"},
        )
        assert status == 202, body
        location = headers["Location"]
        time.sleep(pause)
    status, _, body = call(registry, "PUT", f"{location}?digest={digest}")
    assert status == 201, body
    return digest


def push_image(
    registry: RegistryProcess, name: str, layer: bytes, *, chunks: int = 1, pause: float = 0.0
) -> str:
    config = json.dumps({"architecture": "amd64", "os": "linux", "n": name}).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": mediatypes.OCI_MANIFEST,
            "config": {
                "mediaType": mediatypes.OCI_CONFIG,
                "digest": push_blob(registry, name, config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": mediatypes.OCI_LAYER,
                    "digest": push_blob(registry, name, layer, chunks=chunks, pause=pause),
                    "size": len(layer),
                }
            ],
        }
    ).encode()
    status, headers, body = call(
        registry,
        "PUT",
        f"/v2/{name}/manifests/latest",
        manifest,
        {"Content-Type": mediatypes.OCI_MANIFEST},
    )
    assert status == 201, body
    return str(headers["Docker-Content-Digest"])


def pull_digest(registry: RegistryProcess, name: str, digest: str) -> tuple[str, int]:
    conn = connect(registry)
    try:
        conn.request("GET", f"/v2/{name}/blobs/{digest}")
        response = conn.getresponse()
        assert response.status == 200
        hasher = hashlib.sha256()
        size = 0
        while chunk := response.read(4 * MB):
            hasher.update(chunk)
            size += len(chunk)
        return "sha256:" + hasher.hexdigest(), size
    finally:
        conn.close()


class RSSSampler:
    """Samples a process's resident memory every few milliseconds."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def rss(self) -> int:
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss())
            time.sleep(0.005)

    def __enter__(self) -> RSSSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[RegistryProcess]:
    with registry_process(tmp_path / "root") as process:
        yield process


def run_all(count: int, job: Callable[[int], object]) -> list[object]:
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(job, range(count)))


def test_concurrent_pulls_and_pushes_bounded_memory(registry: RegistryProcess) -> None:
    big = os.urandom(100 * MB)
    big_digest = push_blob(registry, "load/big", big, chunks=4)
    with RSSSampler(registry.pid) as pulls:
        baseline = pulls.rss()
        started = time.monotonic()
        results = run_all(50, lambda _i: pull_digest(registry, "load/big", big_digest))
        pull_seconds = time.monotonic() - started
    assert results == [(big_digest, len(big))] * 50
    layers = [os.urandom(4 * MB) for _ in range(20)]
    with RSSSampler(registry.pid) as pushes:
        digests = run_all(20, lambda i: push_image(registry, f"load/push{i}", layers[i], chunks=2))
    assert len(set(digests)) == 20
    for i in (0, 19):
        layer_digest = "sha256:" + hashlib.sha256(layers[i]).hexdigest()
        assert pull_digest(registry, f"load/push{i}", layer_digest) == (layer_digest, 4 * MB)
    # 5 GB went out of a 100 MB blob: serving must not hold blobs in memory (sendfile).
    assert pulls.peak - baseline < 30 * MB, (
        f"pulls: RSS {baseline / MB:.0f} -> {pulls.peak / MB:.0f} MB"
    )
    # 20 uploads at once buffer at most about 1 MB each on their way to disk.
    assert pushes.peak - baseline < 80 * MB, (
        f"pushes: RSS {baseline / MB:.0f} -> {pushes.peak / MB:.0f} MB"
    )
    print(f"RSS {baseline / MB:.0f} MB, pulls {pulls.peak / MB:.0f}, pushes {pushes.peak / MB:.0f}")
    assert pull_seconds < 60


def test_kill_9_mid_upload_loses_nothing_committed(tmp_path: Path) -> None:
    root = tmp_path / "root"
    committed = os.urandom(2 * MB)
    partial = os.urandom(3 * MB)
    with registry_process(root) as registry:
        manifest_digest = push_image(registry, "crash/app", committed)
        status, headers, _ = call(registry, "POST", "/v2/crash/app/blobs/uploads/")
        location = headers["Location"]
        status, headers, _ = call(
            registry, "PATCH", location, partial[: 1 * MB], {"Content-Range": f"0-{MB - 1}"}
        )
        assert status == 202
        # A second upload is mid-body when the server dies.
        conn = connect(registry)
        total = len(partial)
        conn.putrequest(
            "POST",
            f"/v2/crash/app/blobs/uploads/?digest=sha256:{hashlib.sha256(partial).hexdigest()}",
        )
        conn.putheader("Content-Length", str(total))
        conn.endheaders()
        conn.send(partial[: 2 * MB])
        time.sleep(0.3)
        os.kill(registry.pid, signal.SIGKILL)
        os.waitpid(registry.pid, 0)
        conn.close()
    with registry_process(root) as registry:
        status, _, body = call(registry, "GET", "/v2/crash/app/manifests/latest")
        assert status == 200
        assert "sha256:" + hashlib.sha256(body).hexdigest() == manifest_digest
        layer = json.loads(body)["layers"][0]["digest"]
        assert pull_digest(registry, "crash/app", layer) == (layer, len(committed))
        partial_digest = "sha256:" + hashlib.sha256(partial).hexdigest()
        status, _, _ = call(registry, "HEAD", f"/v2/crash/app/blobs/{partial_digest}")
        assert status == 404  # nothing half-written is visible
        # The chunked upload resumes where it was.
        status, headers, _ = call(registry, "GET", location)
        assert status == 204 and headers["Range"] == f"0-{MB - 1}"
        status, headers, body = call(
            registry, "PATCH", location, partial[MB:], {"Content-Range": f"{MB}-{len(partial) - 1}"}
        )
        assert status == 202, body
        status, headers, body = call(
            registry, "PUT", f"{headers['Location']}?digest={partial_digest}"
        )
        assert status == 201, body
        assert pull_digest(registry, "crash/app", partial_digest) == (partial_digest, len(partial))


def test_online_gc_while_pushing(tmp_path: Path) -> None:
    config = tmp_path / "registry.toml"
    config.write_text("[gc]\ninterval = 0.2\ngrace = 1.5\n")
    with registry_process(tmp_path / "root", config_path=config) as registry:
        orphan = push_blob(registry, "gc/orphan", os.urandom(64 * 1024))
        kept = push_image(registry, "gc/kept", os.urandom(64 * 1024))
        time.sleep(2.0)  # the orphan is now older than the grace period
        layers = [os.urandom(512 * 1024) for _ in range(20)]
        # Each push spans several collections: chunked, with pauses between chunks.
        digests = run_all(
            20, lambda i: push_image(registry, f"gc/push{i}", layers[i], chunks=4, pause=0.1)
        )
        time.sleep(0.5)
        for i, layer in enumerate(layers):
            status, _, body = call(registry, "GET", f"/v2/gc/push{i}/manifests/latest")
            assert status == 200 and "sha256:" + hashlib.sha256(body).hexdigest() == digests[i]
            layer_digest = "sha256:" + hashlib.sha256(layer).hexdigest()
            assert pull_digest(registry, f"gc/push{i}", layer_digest)[0] == layer_digest
        status, _, body = call(registry, "GET", "/v2/gc/kept/manifests/latest")
        assert status == 200 and "sha256:" + hashlib.sha256(body).hexdigest() == kept
        status, _, _ = call(registry, "HEAD", f"/v2/gc/orphan/blobs/{orphan}")
        assert status == 404, "the unreferenced blob was not collected"
        _, _, metrics = call(registry, "GET", "/metrics")
        runs = [
            ln
            for ln in metrics.decode().splitlines()
            if ln.startswith("wharf_registry_gc_runs_total")
        ]
        assert int(runs[0].split()[1]) >= 5
