"""RegistryService: the parts of a running registry, wired once and handed to handlers.

Layer L3. Imports: stdlib, ``wharf.content``, ``wharf.registry.*`` (not ``app``/``handlers``).

``open_service`` builds everything from a ``RegistryConfig``: the content store under
``<root>/content``, the metadata driver under ``<root>/meta``, auth, uploads, the collector.
It does not take the root lock; ``server`` does, so tests may build several services on
separate roots in one process.
"""

from __future__ import annotations

from dataclasses import dataclass

from wharf.content.local import LocalStore
from wharf.registry import layout
from wharf.registry.auth import Authenticator, Htpasswd, TokenService, TokenSigner, load_token_key
from wharf.registry.config import AuthMode, RegistryConfig
from wharf.registry.filesystem import FilesystemDriver
from wharf.registry.gc import Collector
from wharf.registry.metrics import Metrics
from wharf.registry.storage import RegistryStore
from wharf.registry.uploads import Uploads


@dataclass
class RegistryService:
    config: RegistryConfig
    store: RegistryStore
    uploads: Uploads
    authenticator: Authenticator
    token_service: TokenService | None
    collector: Collector
    metrics: Metrics


def open_service(config: RegistryConfig) -> RegistryService:
    root = config.root
    blobs = LocalStore(root / layout.CONTENT_DIR)
    driver = FilesystemDriver(root / layout.META_DIR)
    store = RegistryStore(driver, blobs, max_manifest_bytes=config.max_manifest_bytes)
    auth = config.auth
    htpasswd = (
        Htpasswd(auth.htpasswd)
        if auth.htpasswd is not None and auth.mode is not AuthMode.NONE
        else None
    )
    signer = None
    if auth.mode is AuthMode.TOKEN:
        key = load_token_key(auth.token.key_file or root / layout.TOKEN_KEY_FILE)
        signer = TokenSigner(
            key,
            issuer=auth.token.issuer,
            service=auth.token.service,
            expires_in=auth.token.expires_in,
        )
    authenticator = Authenticator(auth, htpasswd=htpasswd, signer=signer)
    token_service = TokenService(authenticator) if signer is not None else None
    metrics = Metrics()
    collector = Collector(
        store,
        blobs,
        grace=config.gc.grace,
        upload_purge_after=config.gc.upload_purge_after,
        delete_untagged=config.gc.delete_untagged,
    )
    return RegistryService(
        config=config,
        store=store,
        uploads=Uploads(store, blobs),
        authenticator=authenticator,
        token_service=token_service,
        collector=collector,
        metrics=metrics,
    )
