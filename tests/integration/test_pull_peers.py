"""Pull and push through the wharf CLI and a real wharfd against real peers on 127.0.0.1:
Debian's reference ``docker-registry`` (no auth, htpasswd, token auth behind the small issuer in
support/token_issuer.py), skopeo against ``wharf registry serve``, and a misbehaving registry
(support/bad_registry.py) whose faults must never land in the content store.

Every process a test starts is stopped by its PID.
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
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import pytest

from support.bad_registry import BadRegistry, Fault
from support.daemon import WharfDaemon
from support.token_issuer import TokenIssuer
from wharf.registry.testing import registry_process

pytestmark = pytest.mark.integration

DOCKER_REGISTRY = Path("/usr/bin/docker-registry")
needs_docker_registry = pytest.mark.skipif(
    not DOCKER_REGISTRY.exists(), reason="Debian docker-registry is not installed"
)
needs_skopeo = pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def docker_registry(tmp: Path, auth_yaml: str = "") -> Iterator[str]:
    """Debian's distribution registry on 127.0.0.1 with ``auth_yaml`` (a top-level ``auth:``
    block, or nothing); yields ``host:port`` and stops the process by PID."""
    port = free_port()
    config = tmp / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
        f"    rootdirectory: {tmp / 'data'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n{auth_yaml}"
    )
    log_path = tmp / "registry.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [str(DOCKER_REGISTRY), "serve", str(config)],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
        )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1).close()
                break
            except urllib.error.HTTPError:
                break  # 401 with auth on: it is up
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(log_path.read_text()) from None
                time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()


def pushed_digest(output: str) -> str:
    line = next(line for line in output.splitlines() if "digest: sha256:" in line)
    return line.split("digest: ")[1].split()[0]


def image_id(daemon: WharfDaemon, ref: str) -> str:
    return str(json.loads(daemon.wharf("image", "inspect", ref).stdout)[0]["Id"])


def round_trip(daemon: WharfDaemon, repo: str, env: dict[str, str]) -> None:
    """push ``repo:1`` (tagged from busybox), rmi, pull: same image ID and manifest digest."""
    daemon.wharf("tag", "busybox", f"{repo}:1")
    before = image_id(daemon, f"{repo}:1")
    digest = pushed_digest(daemon.wharf("push", f"{repo}:1", env_extra=env).stdout)
    daemon.wharf("rmi", f"{repo}:1")
    pulled = daemon.wharf("pull", f"{repo}:1", env_extra=env).stdout
    assert f"Digest: {digest}" in pulled
    inspected = json.loads(daemon.wharf("image", "inspect", f"{repo}:1").stdout)[0]
    assert inspected["Id"] == before
    assert f"{repo}@{digest}" in inspected["RepoDigests"]
    daemon.wharf("rmi", f"{repo}:1")


def login(daemon: WharfDaemon, host: str, password: str, env: dict[str, str]) -> int:
    proc = daemon.wharf(
        "login", "-u", "alice", "--password-stdin", host,
        input=f"{password}\n", check=False, env_extra=env,
    )  # fmt: skip
    if proc.returncode == 0:
        assert "Login Succeeded" in proc.stdout
    return proc.returncode


# -- Debian's reference registry -----------------------------------------------------------


@needs_docker_registry
def test_distribution_round_trip_without_auth(busybox_daemon: WharfDaemon, tmp_path: Path) -> None:
    env = {"DOCKER_CONFIG": str(tmp_path / "docker")}
    with docker_registry(tmp_path) as host:
        round_trip(busybox_daemon, f"{host}/plain/bb-{uuid.uuid4().hex[:6]}", env)


@needs_docker_registry
def test_distribution_round_trip_with_htpasswd(busybox_daemon: WharfDaemon, tmp_path: Path) -> None:
    htpasswd = tmp_path / "htpasswd"
    hashed = bcrypt.hashpw(b"secret", bcrypt.gensalt(rounds=4)).decode()
    htpasswd.write_text(f"alice:{hashed}\n")
    auth = f"auth:\n  htpasswd:\n    realm: wharf-test\n    path: {htpasswd}\n"
    docker_config = tmp_path / "docker"
    env = {"DOCKER_CONFIG": str(docker_config)}
    with docker_registry(tmp_path, auth) as host:
        repo = f"{host}/private/bb-{uuid.uuid4().hex[:6]}"
        busybox_daemon.wharf("tag", "busybox", f"{repo}:0")
        denied = busybox_daemon.wharf("push", f"{repo}:0", check=False, env_extra=env)
        assert denied.returncode == 1
        assert "Traceback" not in denied.stderr
        busybox_daemon.wharf("rmi", f"{repo}:0")
        assert login(busybox_daemon, host, "wrong", env) == 1
        assert login(busybox_daemon, host, "secret", env) == 0
        assert host in json.loads((docker_config / "config.json").read_text())["auths"]
        round_trip(busybox_daemon, repo, env)


@needs_docker_registry
def test_distribution_round_trip_with_token_auth(
    busybox_daemon: WharfDaemon, tmp_path: Path
) -> None:
    env = {"DOCKER_CONFIG": str(tmp_path / "docker")}
    with TokenIssuer(
        tmp_path / "issuer", user="alice", password="secret", service="wharf-test-registry",
        issuer="wharf-test-issuer",
    ) as issuer:  # fmt: skip
        auth = (
            f"auth:\n  token:\n    realm: {issuer.realm}\n    service: {issuer.service}\n"
            f"    issuer: {issuer.issuer}\n    rootcertbundle: {issuer.cert_path}\n"
        )
        with docker_registry(tmp_path, auth) as host:
            repo = f"{host}/tok/bb-{uuid.uuid4().hex[:6]}"
            busybox_daemon.wharf("tag", "busybox", f"{repo}:0")
            denied = busybox_daemon.wharf("push", f"{repo}:0", check=False, env_extra=env)
            assert denied.returncode == 1
            busybox_daemon.wharf("rmi", f"{repo}:0")
            assert login(busybox_daemon, host, "wrong", env) == 1
            assert login(busybox_daemon, host, "secret", env) == 0
            round_trip(busybox_daemon, repo, env)
        granted = [access for user, access in issuer.requests if user == "alice"]
        scoped = [a for access in granted for a in access]
        assert any(
            a["name"] == repo.split("/", 1)[1] and "push" in a["actions"]  # type: ignore[operator]
            for a in scoped
        )


# -- skopeo and wharf's own registry -------------------------------------------------------


def skopeo(tmp: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    auth_file = tmp / "auth.json"
    if not auth_file.exists():
        auth_file.write_text("{}")
    proc = subprocess.run(
        ["skopeo", "--insecure-policy", *args],
        capture_output=True,
        timeout=120,
        env={"REGISTRY_AUTH_FILE": str(auth_file), "HOME": str(tmp), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc


@needs_skopeo
def test_skopeo_pushes_wharf_pulls_and_runs(busybox_daemon: WharfDaemon, tmp_path: Path) -> None:
    archive = tmp_path / "bb.tar"
    busybox_daemon.wharf("save", "busybox", "-o", archive)
    with registry_process(tmp_path / "registry") as registry:
        ref = f"{registry.host}/from/skopeo-{uuid.uuid4().hex[:6]}:1"
        skopeo(tmp_path, "copy", "--dest-tls-verify=false", f"oci-archive:{archive}",
               f"docker://{ref}")  # fmt: skip
        raw = skopeo(tmp_path, "inspect", "--raw", "--tls-verify=false", f"docker://{ref}").stdout
        digest = f"sha256:{hashlib.sha256(raw).hexdigest()}"
        pulled = busybox_daemon.wharf("pull", ref).stdout
        assert f"Digest: {digest}" in pulled
        ran = busybox_daemon.wharf("run", "--rm", ref, "echo", "from-skopeo")
        assert ran.stdout == "from-skopeo\n"
        busybox_daemon.wharf("rmi", ref)


@needs_skopeo
def test_wharf_pushes_skopeo_reads(busybox_daemon: WharfDaemon, tmp_path: Path) -> None:
    env = {"DOCKER_CONFIG": str(tmp_path / "docker")}
    with registry_process(tmp_path / "registry") as registry:
        ref = f"{registry.host}/to/skopeo-{uuid.uuid4().hex[:6]}:1"
        busybox_daemon.wharf("tag", "busybox", ref)
        digest = pushed_digest(busybox_daemon.wharf("push", ref, env_extra=env).stdout)
        raw = skopeo(tmp_path, "inspect", "--raw", "--tls-verify=false", f"docker://{ref}").stdout
        assert f"sha256:{hashlib.sha256(raw).hexdigest()}" == digest
        out = tmp_path / "oci"
        skopeo(tmp_path, "copy", "--preserve-digests", "--src-tls-verify=false",
               f"docker://{ref}", f"oci:{out}:copied")  # fmt: skip
        index = json.loads((out / "index.json").read_text())
        assert [m["digest"] for m in index["manifests"]] == [digest]
        manifest = json.loads(raw)
        for blob in (manifest["config"], *manifest["layers"]):
            algo, hexdigest = blob["digest"].split(":")
            data = (out / "blobs" / algo / hexdigest).read_bytes()
            assert hashlib.sha256(data).hexdigest() == hexdigest
            assert len(data) == blob["size"]
        busybox_daemon.wharf("rmi", ref)


# -- a registry that lies ------------------------------------------------------------------


def store_blobs(daemon: WharfDaemon) -> dict[str, bytes]:
    blobs = daemon.data_root / "content" / "blobs" / "sha256"
    return {p.name: p.read_bytes() for p in blobs.iterdir()} if blobs.is_dir() else {}


def listing(daemon: WharfDaemon) -> list[str]:
    """Every image as ``repo:tag id`` (no ages, so two listings compare equal)."""
    out = daemon.wharf("images", "-a", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")
    return sorted(out.stdout.splitlines())


def assert_store_clean(daemon: WharfDaemon, registry: BadRegistry) -> None:
    for name, data in store_blobs(daemon).items():
        assert hashlib.sha256(data).hexdigest() == name, f"blob {name} does not match its name"
        assert data != registry.bad_layer
    layer_hex = registry.layer_digest.split(":")[1]
    assert layer_hex not in store_blobs(daemon)


@pytest.mark.parametrize(
    ("fault", "by_digest", "message"),
    [
        (Fault.WRONG_BLOB, False, "digest mismatch"),
        (Fault.TRUNCATED_BLOB, False, "connection ended"),
        (Fault.WRONG_MANIFEST, True, "digest"),
    ],
    ids=["wrong-blob", "truncated-blob", "wrong-manifest"],
)
def test_pull_from_lying_registry_fails_cleanly(
    busybox_daemon: WharfDaemon, fault: Fault, by_digest: bool, message: str
) -> None:
    images_before = listing(busybox_daemon)
    with BadRegistry(fault) as registry:
        repo = f"{registry.host}/bad/img-{uuid.uuid4().hex[:6]}"
        ref = f"{repo}@{registry.manifest_digest}" if by_digest else f"{repo}:1"
        proc = failed_pull(busybox_daemon, ref, message)
        named = registry.manifest_digest if by_digest else registry.layer_digest
        assert named in proc.stderr
        if fault is Fault.TRUNCATED_BLOB:
            # it resumed from where the cut left it rather than starting over
            half = len(registry.layer) // 2
            assert registry.layer_ranges[0] is None
            assert set(registry.layer_ranges[1:]) == {f"bytes={half}-"}
        assert listing(busybox_daemon) == images_before
        assert repo not in busybox_daemon.wharf("images").stdout
        assert_store_clean(busybox_daemon, registry)


def failed_pull(daemon: WharfDaemon, ref: str, message: str) -> subprocess.CompletedProcess[str]:
    """``wharf pull ref`` must fail fast with exit 1 and one clear line containing ``message``."""
    started = time.monotonic()
    proc = daemon.wharf("pull", ref, check=False, timeout=60)
    assert time.monotonic() - started < 45
    assert proc.returncode == 1, proc.stdout + proc.stderr
    error_lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(error_lines) == 1, proc.stderr
    assert message in error_lines[0].lower(), proc.stderr
    assert "Traceback" not in proc.stderr
    return proc


def test_pull_restarts_when_registry_ignores_range(busybox_daemon: WharfDaemon) -> None:
    with BadRegistry(Fault.TRUNCATED_IGNORING_RANGE) as registry:
        repo = f"{registry.host}/norange/img-{uuid.uuid4().hex[:6]}"
        proc = failed_pull(busybox_daemon, f"{repo}:1", "connection ended")
        # each 200 starts over from byte 0, so no attempt ever holds more than the half
        half = len(registry.layer) // 2
        assert f"at {half} of {len(registry.layer)} bytes" in proc.stderr
        assert_store_clean(busybox_daemon, registry)


def test_pull_retries_transient_500s(busybox_daemon: WharfDaemon) -> None:
    with BadRegistry(Fault.FLAKY, flaky_failures=2) as registry:
        ref = f"{registry.host}/flaky/img-{uuid.uuid4().hex[:6]}:1"
        started = time.monotonic()
        pulled = busybox_daemon.wharf("pull", ref, timeout=60).stdout
        elapsed = time.monotonic() - started
        assert f"Digest: {registry.manifest_digest}" in pulled
        assert registry.layer_gets == 3
        assert elapsed < 30
        assert registry.layer_digest.split(":")[1] in store_blobs(busybox_daemon)
        busybox_daemon.wharf("rmi", ref)
