"""The registry client against real registries on 127.0.0.1: wharf's own (in process, and with
token auth as a process) and Debian's ``docker-registry``. skopeo pushes tiny OCI layouts
built here; ``pull`` copies them into a ``LocalStore`` and the digests are checked. ``push``
sends them back (with cross-repository mounts) and skopeo / ``pull`` read the same digests.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from wharf.content.local import LocalStore
from wharf.errdefs import NotFound, Unauthorized
from wharf.oci import mediatypes
from wharf.oci.descriptor import Descriptor
from wharf.oci.digest import Digest
from wharf.oci.manifest import Manifest, parse_manifest
from wharf.oci.platform import Platform
from wharf.registry.auth import hash_password
from wharf.registry.config import RegistryConfig
from wharf.registry.testing import (
    LayoutImage,
    registry_process,
    running_registry,
    write_oci_layout,
)
from wharf.remotes.auth import Credentials
from wharf.remotes.client import RegistryClient, ingest_ref
from wharf.remotes.pull import PullProgress, PullState, pull
from wharf.remotes.push import push
from wharf.remotes.transport import HTTPTransport, Response

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed"),
]

AMD64 = Platform("linux", "amd64")
ARM64 = Platform("linux", "arm64")


def skopeo_push(tmp: Path, layout: Path, target: str, *creds: str) -> None:
    auth_file = tmp / "auth.json"
    auth_file.write_text("{}")
    subprocess.run(
        [
            "skopeo",
            "--insecure-policy",
            "copy",
            "--all",
            "--dest-tls-verify=false",
            *creds,
            f"oci:{layout}:latest",
            f"docker://{target}",
        ],
        check=True,
        capture_output=True,
        timeout=60,
        env={"REGISTRY_AUTH_FILE": str(auth_file), "HOME": str(tmp), "PATH": "/usr/bin:/bin"},
    )


class RecordingTransport:
    def __init__(self) -> None:
        self.inner = HTTPTransport()
        self.calls: list[tuple[str, str, dict[str, str]]] = []

    def request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None = None
    ) -> Response:
        self.calls.append((method, url, dict(headers)))
        return self.inner.request(method, url, headers, body)


def host_of(url: str) -> str:
    return url.split("://", 1)[1]


@pytest.fixture(scope="module")
def wharf_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_registry(RegistryConfig(root=tmp_path_factory.mktemp("reg"))) as url:
        yield host_of(url)


def check_pulled(store: LocalStore, manifest_digest: Digest) -> Manifest:
    manifest = parse_manifest(store.read_bytes(manifest_digest))
    assert isinstance(manifest, Manifest)
    for blob in (manifest.config, *manifest.layers):
        assert Digest.of_bytes(store.read_bytes(blob.digest)) == blob.digest
    return manifest


def test_pull_index_picks_platform(wharf_registry: str, tmp_path: Path) -> None:
    images = [LayoutImage({"a": b"x86"}), LayoutImage({"a": b"arm"}, architecture="arm64")]
    top = write_oci_layout(tmp_path / "src", images)
    skopeo_push(tmp_path, tmp_path / "src", f"{wharf_registry}/t/multi:1")
    store = LocalStore(tmp_path / "store")
    events: list[PullProgress] = []
    client = RegistryClient(wharf_registry, credential_source=None)
    assert client.ping() == "registry/2.0"
    got = pull(client, f"{wharf_registry}/t/multi:1", store, platform=ARM64, progress=events.append)
    assert got.digest == top.digest and got.media_type == mediatypes.OCI_INDEX
    index = json.loads(store.read_bytes(top.digest))
    arm = next(m for m in index["manifests"] if m["platform"]["architecture"] == "arm64")
    amd = next(m for m in index["manifests"] if m["platform"]["architecture"] == "amd64")
    manifest = check_pulled(store, Digest.parse(arm["digest"]))
    assert not store.exists(Digest.parse(amd["digest"]))
    layer = manifest.layers[0].digest
    states = [e.state for e in events if e.layer_digest == layer]
    assert states[0] is PullState.WAITING and states[-1] is PullState.PULL_COMPLETE
    # a second pull finds everything present
    events.clear()
    pull(
        client,
        f"{wharf_registry}/t/multi@{top.digest}",
        store,
        platform=ARM64,
        progress=events.append,
    )
    assert [e.state for e in events] == [PullState.WAITING, PullState.ALREADY_EXISTS]


def test_missing_manifest_is_not_found(wharf_registry: str) -> None:
    client = RegistryClient(wharf_registry, credential_source=None)
    with pytest.raises(NotFound, match="manifest unknown"):
        client.resolve(f"{wharf_registry}/t/nothing:1")


def test_resume_with_range(wharf_registry: str, tmp_path: Path) -> None:
    payload = os.urandom(300_000)  # incompressible, so the layer is big enough to split
    top = write_oci_layout(tmp_path / "src", [LayoutImage({"big": payload})])
    skopeo_push(tmp_path, tmp_path / "src", f"{wharf_registry}/t/resume:1")
    transport = RecordingTransport()
    client = RegistryClient(wharf_registry, transport=transport, credential_source=None)
    store = LocalStore(tmp_path / "store")
    manifest = parse_manifest(
        client.fetch_manifest("t/resume", client.resolve(f"{wharf_registry}/t/resume:1"))
    )
    assert isinstance(manifest, Manifest) and top.digest
    layer = manifest.layers[0]
    full = client.fetch_blob_bytes("t/resume", layer)
    half = layer.size // 2
    with store.writer(
        ingest_ref(layer.digest), expected=layer.digest, expected_size=layer.size
    ) as w:
        w.write(full[:half])
    transport.calls.clear()
    seen: list[int] = []
    assert client.fetch_blob("t/resume", layer, store, progress=lambda c, t: seen.append(c)) == (
        layer.digest
    )
    gets = [c for c in transport.calls if c[0] == "GET"]
    assert [c[2].get("Range") for c in gets] == [f"bytes={half}-"]
    assert seen[0] > half and seen[-1] == layer.size
    assert store.read_bytes(layer.digest) == full


def test_token_auth(tmp_path: Path) -> None:
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text(f"alice:{hash_password('secret', rounds=4)}\n")
    config = tmp_path / "registry.toml"
    config.write_text(f'[auth]\nmode = "token"\nhtpasswd = "{htpasswd}"\n')
    top = write_oci_layout(tmp_path / "src", [LayoutImage({"f": b"private"})])
    with registry_process(tmp_path / "root", config_path=config) as registry:
        skopeo_push(
            tmp_path,
            tmp_path / "src",
            f"{registry.host}/private/app:1",
            "--dest-creds",
            "alice:secret",
        )
        ref = f"{registry.host}/private/app:1"
        with pytest.raises(Unauthorized):
            RegistryClient(registry.host, credential_source=None).resolve(ref)
        wrong = RegistryClient(registry.host, credentials=Credentials("alice", "nope"))
        with pytest.raises(Unauthorized):
            wrong.resolve(ref)
        transport = RecordingTransport()
        client = RegistryClient(
            registry.host,
            transport=transport,
            credential_source=lambda _h: Credentials("alice", "secret"),
        )
        store = LocalStore(tmp_path / "store")
        assert pull(client, ref, store, platform=AMD64).digest == top.digest
        check_pulled(store, top.digest)
        token_calls = [c for c in transport.calls if "scope=" in c[1]]
        assert len(token_calls) == 1  # one token, reused for every blob
        assert token_calls[0][2]["Authorization"].startswith("Basic ")


# -- Debian's reference registry ----------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def docker_registry(tmp: Path) -> Iterator[str]:
    port = free_port()
    config = tmp / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
        f"    rootdirectory: {tmp / 'data'}\nhttp:\n  addr: 127.0.0.1:{port}\n"
    )
    log = open(tmp / "registry.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        ["/usr/bin/docker-registry", "serve", str(config)], stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError((tmp / "registry.log").read_text()) from None
                time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(10)
        log.close()


@pytest.mark.skipif(not Path("/usr/bin/docker-registry").exists(), reason="no docker-registry")
def test_pull_from_distribution_registry(tmp_path: Path) -> None:
    top = write_oci_layout(tmp_path / "src", [LayoutImage({"hello": b"distribution"})])
    with docker_registry(tmp_path) as host:
        skopeo_push(tmp_path, tmp_path / "src", f"{host}/lib/hello:v1")
        client = RegistryClient(host, credential_source=None)
        assert client.ping() == "registry/2.0"
        desc = client.resolve(f"{host}/lib/hello:v1")
        assert desc == Descriptor(mediatypes.OCI_MANIFEST, top.digest, top.size)
        store = LocalStore(tmp_path / "store")
        assert pull(client, f"{host}/lib/hello:v1", store).digest == top.digest
        check_pulled(store, top.digest)


# -- push ----------------------------------------------------------------------------------


def seeded_store(tmp: Path) -> tuple[LocalStore, Digest]:
    """A store holding a two-platform image, pulled through wharf's registry."""
    images = [LayoutImage({"a": b"one"}), LayoutImage({"a": b"two"}, architecture="arm64")]
    top = write_oci_layout(tmp / "src", images)
    store = LocalStore(tmp / "store")
    with running_registry(RegistryConfig(root=tmp / "seed")) as url:
        host = url.split("://", 1)[1]
        skopeo_push(tmp, tmp / "src", f"{host}/seed/img:1")
        client = RegistryClient(host, credential_source=None)
        for arch in ("amd64", "arm64"):
            pull(client, f"{host}/seed/img:1", store, platform=Platform("linux", arch))
    return store, top.digest


def skopeo_raw_digest(tmp: Path, ref: str) -> str:
    raw = subprocess.run(
        ["skopeo", "--insecure-policy", "inspect", "--raw", "--tls-verify=false", ref],
        check=True,
        capture_output=True,
        timeout=60,
        env={"HOME": str(tmp), "PATH": "/usr/bin:/bin", "REGISTRY_AUTH_FILE": str(tmp / "a.json")},
    ).stdout
    return "sha256:" + hashlib.sha256(raw).hexdigest()


@pytest.mark.skipif(not Path("/usr/bin/docker-registry").exists(), reason="no docker-registry")
def test_push_to_distribution_with_mount(tmp_path: Path) -> None:
    store, digest = seeded_store(tmp_path)
    desc = Descriptor(mediatypes.OCI_INDEX, digest, store.info(digest).size)
    with docker_registry(tmp_path) as host:
        client = RegistryClient(host, credential_source=None)
        notes: list[str] = []
        push(client, f"{host}/a/img:v1", store, desc, progress=lambda _d, s: notes.append(s))
        assert notes.count("Pushed") == 4  # two configs, two layers
        assert skopeo_raw_digest(tmp_path, f"docker://{host}/a/img:v1") == str(digest)
        notes.clear()
        push(
            client,
            f"{host}/b/img:v2",
            store,
            desc,
            source_repository="a/img",
            progress=lambda _d, s: notes.append(s),
        )
        assert notes == ["Mounted from a/img"] * 4
        notes.clear()
        push(client, f"{host}/b/img:v3", store, desc, progress=lambda _d, s: notes.append(s))
        assert notes == ["Layer already exists"] * 4
        back = LocalStore(tmp_path / "back")
        assert pull(client, f"{host}/b/img:v2", back, platform=AMD64).digest == digest


def test_push_with_token_auth(tmp_path: Path) -> None:
    store, digest = seeded_store(tmp_path)
    desc = Descriptor(mediatypes.OCI_INDEX, digest, store.info(digest).size)
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text(f"alice:{hash_password('secret', rounds=4)}\n")
    config = tmp_path / "registry.toml"
    config.write_text(f'[auth]\nmode = "token"\nhtpasswd = "{htpasswd}"\n')
    with registry_process(tmp_path / "root", config_path=config) as registry:
        client = RegistryClient(registry.host, credentials=Credentials("alice", "secret"))
        push(client, f"{registry.host}/team/app:1", store, desc)
        back = LocalStore(tmp_path / "back")
        assert pull(client, f"{registry.host}/team/app:1", back, platform=AMD64).digest == digest
        assert back.read_bytes(digest) == store.read_bytes(digest)


@pytest.mark.skipif(not Path("/usr/bin/docker-registry").exists(), reason="no docker-registry")
def test_chunked_push_to_distribution(tmp_path: Path) -> None:
    # random bytes do not compress: the gzip'd layer stays about 20 MiB, so it goes in chunks
    top = write_oci_layout(tmp_path / "src", [LayoutImage({"big": os.urandom(20 << 20)})])
    store = LocalStore(tmp_path / "store")
    for path in (tmp_path / "src" / "blobs" / "sha256").iterdir():
        blob = Digest.parse(f"sha256:{path.name}")
        with store.writer(f"load-{blob}", expected=blob) as w:
            w.write(path.read_bytes())
            w.commit(blob)
    manifest = parse_manifest(store.read_bytes(top.digest))
    assert isinstance(manifest, Manifest)
    layer = manifest.layers[0]
    assert layer.size > 20 << 20
    with docker_registry(tmp_path) as host:
        transport = RecordingTransport()
        client = RegistryClient(host, transport=transport, credential_source=None)
        push(client, f"{host}/big/img:v1", store, top, chunk_size=6 << 20)
        patches = [c[2]["Content-Range"] for c in transport.calls if c[0] == "PATCH"]
        step = 6 << 20
        assert patches == [
            f"{start}-{min(start + step, layer.size) - 1}" for start in range(0, layer.size, step)
        ]
        back = LocalStore(tmp_path / "back")
        got = pull(RegistryClient(host, credential_source=None), f"{host}/big/img:v1", back)
        assert got.digest == top.digest
        assert back.info(layer.digest).size == layer.size
        assert Digest.of_bytes(back.read_bytes(layer.digest)) == layer.digest
