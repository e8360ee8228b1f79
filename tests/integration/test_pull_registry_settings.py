"""Daemon registry settings end to end: a mirror tried before the origin, and per-registry
CA certificates in Docker's certs.d layout for a TLS registry on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest

from support.daemon import WharfDaemon
from wharf.registry.testing import registry_process

pytestmark = pytest.mark.integration


def _self_signed(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def test_mirror_serves_before_the_origin(base_image_tars, tmp_path: Path) -> None:
    with (
        registry_process(tmp_path / "origin") as origin,
        registry_process(tmp_path / "mirror") as mirror,
    ):
        repo = f"{origin.host}/mirrored/bb"
        with WharfDaemon() as pusher:
            pusher.wharf("import", "-c", 'CMD ["sh"]', str(base_image_tars.busybox), "bb:1")
            # The image exists only on the mirror, under the origin's repository path.
            pusher.wharf("tag", "bb:1", f"{mirror.host}/mirrored/bb:1")
            pusher.wharf("push", f"{mirror.host}/mirrored/bb:1")
        with WharfDaemon(extra_args=("--registry-mirror", f"{origin.host}={mirror.host}")) as d:
            pulled = d.wharf("pull", f"{repo}:1").stdout
            assert "Downloaded newer image" in pulled
            assert d.wharf("run", "--rm", f"{repo}:1", "echo", "via-mirror").stdout == (
                "via-mirror\n"
            )
            d.wharf("rmi", f"{repo}:1")


def test_certs_d_ca_makes_a_tls_registry_trusted(base_image_tars, tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    config = tmp_path / "registry.toml"
    config.write_text(f'[tls]\ncert = "{cert}"\nkey = "{key}"\n')
    with registry_process(tmp_path / "tls-registry", config_path=config) as registry:
        assert registry.url.startswith("https://")
        certs_dir = tmp_path / "certs.d"
        (certs_dir / registry.host).mkdir(parents=True)
        (certs_dir / registry.host / "ca.crt").write_bytes(cert.read_bytes())
        name = f"{registry.host}/tls/bb-{uuid.uuid4().hex[:6]}:1"
        # Loopback registries are plain HTTP unless trusted over TLS by certs.d: without the
        # CA the daemon cannot talk to this one.
        with WharfDaemon() as untrusting:
            untrusting.wharf("import", str(base_image_tars.busybox), name)
            refused = untrusting.wharf("push", name, check=False)
            assert refused.returncode == 1
        with WharfDaemon(extra_args=("--certs-dir", str(certs_dir))) as d:
            d.wharf("import", "-c", 'CMD ["sh"]', str(base_image_tars.busybox), name)
            d.wharf("push", name)
            image_id = json.loads(d.wharf("image", "inspect", name).stdout)[0]["Id"]
            d.wharf("rmi", name)
            d.wharf("pull", name)
            assert json.loads(d.wharf("image", "inspect", name).stdout)[0]["Id"] == image_id
            d.wharf("rmi", name)
