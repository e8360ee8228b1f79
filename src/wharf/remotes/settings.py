"""How the daemon reaches registries: insecure (plain HTTP) registries, mirrors for any
registry, and per-registry TLS material in Docker's ``certs.d`` layout::

    <certs-dir>/<host[:port]>/ca.crt            extra CA(s) to trust for that registry
    <certs-dir>/<host[:port]>/client.cert/.key  a client certificate to present

``<certs-dir>`` is ``/etc/docker/certs.d`` unless the daemon is told otherwise.
Imports: stdlib, ``wharf.remotes.client`` and ``transport``.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path

from wharf.remotes.auth import Credentials
from wharf.remotes.client import RegistryClient
from wharf.remotes.transport import HTTPTransport

DEFAULT_CERTS_DIR = Path("/etc/docker/certs.d")


@dataclass(frozen=True, slots=True)
class RegistrySettings:
    insecure: frozenset[str] = frozenset()
    # registry host -> mirror hosts tried first, in order ("docker.io" for Docker Hub)
    mirrors: dict[str, tuple[str, ...]] = field(default_factory=dict, hash=False)
    certs_dir: Path = DEFAULT_CERTS_DIR

    def ssl_context(self, host: str) -> ssl.SSLContext | None:
        """A context trusting the registry's own CA and presenting its client cert, if any."""
        directory = self.certs_dir / host
        if not directory.is_dir():
            return None
        context = ssl.create_default_context()
        for ca in sorted(directory.glob("*.crt")):
            context.load_verify_locations(cafile=str(ca))
        for cert in sorted(directory.glob("*.cert")):
            key = cert.with_suffix(".key")
            if key.exists():
                context.load_cert_chain(str(cert), str(key))
        return context

    def client(self, host: str, credentials: Credentials | None) -> RegistryClient:
        context = self.ssl_context(host)
        return RegistryClient(
            host,
            credentials=credentials,
            credential_source=None,
            insecure=host in self.insecure,
            tls=True if context is not None else None,
            transport=HTTPTransport(ssl_context=context) if context is not None else None,
        )

    def mirrors_for(self, domain: str) -> tuple[str, ...]:
        return self.mirrors.get(domain, ())


def parse_mirror(text: str) -> tuple[str, str]:
    """``--registry-mirror``: ``MIRROR`` (for Docker Hub) or ``REGISTRY=MIRROR``."""
    registry, sep, mirror = text.partition("=")
    if not sep:
        registry, mirror = "docker.io", text
    mirror = mirror.removeprefix("https://").removeprefix("http://").rstrip("/")
    return registry, mirror
