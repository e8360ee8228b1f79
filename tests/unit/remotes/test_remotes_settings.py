"""Registry settings: plain HTTP for insecure and loopback registries, TLS when certs.d has
material for a host, and mirror flags."""

from __future__ import annotations

import subprocess
from pathlib import Path

from wharf.remotes.settings import RegistrySettings, parse_mirror


def test_insecure_and_loopback_use_http(tmp_path: Path) -> None:
    settings = RegistrySettings(insecure=frozenset({"reg.internal:5000"}), certs_dir=tmp_path)
    assert settings.client("reg.internal:5000", None).base_url == "http://reg.internal:5000"
    assert settings.client("reg.example", None).base_url == "https://reg.example"
    assert settings.client("127.0.0.1:5000", None).base_url == "http://127.0.0.1:5000"


def test_certs_d_turns_tls_on_even_for_loopback(tmp_path: Path) -> None:
    host_dir = tmp_path / "127.0.0.1:5443"
    host_dir.mkdir()
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=x", "-keyout", str(tmp_path / "k.pem"), "-out", str(host_dir / "ca.crt")],
        check=True, capture_output=True,
    )  # fmt: skip
    settings = RegistrySettings(certs_dir=tmp_path)
    assert settings.ssl_context("127.0.0.1:5443") is not None
    assert settings.client("127.0.0.1:5443", None).base_url == "https://127.0.0.1:5443"
    assert settings.ssl_context("127.0.0.1:9999") is None


def test_parse_mirror() -> None:
    assert parse_mirror("https://mirror.local:5000/") == ("docker.io", "mirror.local:5000")
    assert parse_mirror("ghcr.io=cache.local") == ("ghcr.io", "cache.local")
