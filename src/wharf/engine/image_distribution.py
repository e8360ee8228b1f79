"""The image service's registry side: pull (overlapping download and extraction), push,
login checks and ``/distribution`` inspection, through ``wharf.remotes``.

A mixin of ``ImageService`` (``engine/images.py``), split out by concern; it uses the
service's stores, names and locks, declared below for the type checker.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from wharf.apitypes.auth import RegistryAuth
from wharf.apitypes.images import ProgressMessage, PushResult
from wharf.content.store import Store
from wharf.errdefs import NotFound, WharfError
from wharf.events.model import EventType, Publish
from wharf.images.leases import Leases
from wharf.images.resolve import ResolvedImage, resolve_image
from wharf.images.unpack import OverlappedUnpacker, unpack_image
from wharf.metadata.images import ImageNames, ImageRecord
from wharf.oci.config import parse_image_config
from wharf.oci.descriptor import Descriptor
from wharf.oci.digest import Digest
from wharf.oci.manifest import Index, parse_manifest
from wharf.oci.platform import Platform, parse_platform
from wharf.oci.reference import Reference, parse_normalized, parse_repository_and_tag
from wharf.remotes.auth import Credentials as RemoteCredentials
from wharf.remotes.client import RegistryClient
from wharf.remotes.pull import PullProgress, PullState
from wharf.remotes.pull import pull as remote_pull
from wharf.remotes.push import push as remote_push
from wharf.remotes.settings import RegistrySettings
from wharf.snapshots.snapshotter import Snapshotter

log = logging.getLogger("wharf.engine.images")


class ImageDistribution:
    _content: Store
    _names: ImageNames
    _snapshotter: Snapshotter
    _platform: Platform
    _lock: threading.RLock
    _leases: Leases | None
    _registries: RegistrySettings
    _publish_event: Publish

    def _image_event(
        self, action: str, actor_id: str, name: str, labels: Mapping[str, str] | None = None
    ) -> None:
        """Publish an image event with Docker's attributes: the image's labels, ``name``."""
        self._publish_event(EventType.IMAGE, action, actor_id, {**(labels or {}), "name": name})

    # Provided by ImageService.
    def _find(self, text: str) -> tuple[Any, Reference | None]:
        raise NotImplementedError

    def _record_name(self, reference: Reference, target: Descriptor) -> None:
        raise NotImplementedError

    def _writing_unnamed_content(self) -> contextlib.AbstractContextManager[None]:
        raise NotImplementedError

    def pull_image(
        self,
        from_image: str,
        tag: str,
        *,
        platform: str,
        auth: RegistryAuth,
        progress: Callable[[ProgressMessage], None],
    ) -> None:
        """``docker pull``: download, verify, unpack, then record the name (and name@digest).

        With no tag at all (``fromImage=name``, no ``tag``) every tag is pulled, as dockerd
        does for ``docker pull --all-tags``."""
        reference = parse_repository_and_tag(from_image, tag or None)
        if reference.digest is None and reference.tag is None:
            client = self._registries.client(reference.domain, _credentials(auth))
            for each in client.list_tags(reference.path):
                self.pull_image(
                    str(reference.with_tag(each)),
                    "",
                    platform=platform,
                    auth=auth,
                    progress=progress,
                )
            return
        wanted = parse_platform(platform) if platform else self._platform
        try:
            # Resolve before any progress line: an unknown image is then a plain 404.
            client, top = self._resolve_with_mirrors(reference, auth)
        except NotFound as exc:
            raise NotFound(
                f"manifest for {reference.familiar()} not found: manifest unknown: {exc.message}"
            ) from exc
        progress(ProgressMessage(f"Pulling from {reference.path}", id=reference.tag or "latest"))
        fetched: set[Digest] = set()

        def try_resolve() -> ResolvedImage | None:
            try:
                return resolve_image(self._content, top, wanted)
            except NotFound:
                return None  # manifest or config not downloaded yet

        def layer_event(state: str, digest: Digest) -> None:
            progress(ProgressMessage(state, id=digest.hex[:12]))

        unpacker = OverlappedUnpacker(
            self._content,
            self._snapshotter,
            try_resolve,
            on_extracting=lambda digest: layer_event("Extracting", digest),
            on_extracted=lambda digest: layer_event("Pull complete", digest),
        )

        def layer_progress(event: PullProgress) -> None:
            if event.state in (PullState.DOWNLOAD_COMPLETE, PullState.ALREADY_EXISTS):
                if event.state is PullState.DOWNLOAD_COMPLETE:
                    fetched.add(event.layer_digest)
                unpacker.blob_ready(event.layer_digest)
            if event.state is PullState.PULL_COMPLETE:
                return  # said by the unpacker, once the layer is extracted
            progress(
                ProgressMessage(
                    event.state.value,
                    id=event.layer_digest.hex[:12],
                    current=event.current,
                    total=event.total,
                )
            )

        lease = self._leases.hold(top) if self._leases is not None else contextlib.nullcontext()
        with self._writing_unnamed_content(), lease:
            try:
                target = remote_pull(
                    client, reference, self._content, platform=wanted, progress=layer_progress
                )
            finally:
                unpacker.finish()
            resolved = resolve_image(self._content, target, wanted)
            unpack_image(self._content, self._snapshotter, resolved)
            with self._lock, self._names.transaction():
                previous = self._current_target(reference)
                by_digest = reference.repository().with_digest(target.digest)
                if reference.tag is not None:
                    self._record_name(reference, target)
                self._record_name(by_digest, target)
        self._image_event(
            "pull", reference.familiar(), reference.familiar(), resolved.config.config.labels
        )
        progress(ProgressMessage(f"Digest: {target.digest}"))
        shown = reference.familiar()
        if previous == target.digest and not fetched:
            progress(ProgressMessage(f"Status: Image is up to date for {shown}"))
        else:
            progress(ProgressMessage(f"Status: Downloaded newer image for {shown}"))

    def distribution_inspect(self, name: str, *, auth: RegistryAuth) -> dict[str, Any]:
        """``GET /distribution/{name}/json``: what the registry holds under ``name``."""
        reference = parse_normalized(name)
        if reference.digest is None:
            reference = reference.with_default_tag()
        client = self._registries.client(reference.domain, _credentials(auth))
        top = client.resolve(reference)
        document = parse_manifest(client.fetch_manifest(reference.path, top), top.media_type)
        platforms: list[dict[str, Any]] = []
        if isinstance(document, Index):
            for entry in document.manifests:
                if entry.platform is not None and not entry.platform.is_unknown:
                    platforms.append(entry.platform.to_json())
        else:
            config = parse_image_config(client.fetch_blob_bytes(reference.path, document.config))
            platforms.append(config.platform.to_json())
        return {
            "Descriptor": {
                "mediaType": top.media_type,
                "digest": str(top.digest),
                "size": top.size,
            },
            "Platforms": platforms,
        }

    def _resolve_with_mirrors(
        self, reference: Reference, auth: RegistryAuth
    ) -> tuple[RegistryClient, Descriptor]:
        """The registry to pull from: the first mirror that has the image, else the origin."""
        for mirror in self._registries.mirrors_for(reference.domain):
            client = self._registries.client(mirror, None)
            try:
                return client, client.resolve(reference)
            except WharfError as exc:
                log.info("mirror %s does not serve %s: %s", mirror, reference, exc.message)
        client = self._registries.client(reference.domain, _credentials(auth))
        return client, client.resolve(reference)

    def _current_target(self, reference: Reference) -> Digest | None:
        try:
            return self._names.get(str(reference)).digest
        except NotFound:
            return None

    def push_image(
        self,
        name: str,
        tag: str,
        *,
        auth: RegistryAuth,
        progress: Callable[[ProgressMessage], None],
    ) -> None:
        """``docker push``: every blob the registry lacks (mounted when it can), then the tag."""
        reference = parse_repository_and_tag(name, tag or None).with_default_tag()
        image, _ = self._find(str(reference))
        client = self._registries.client(reference.domain, _credentials(auth))
        progress(ProgressMessage(f"The push refers to repository [{reference.name}]"))
        # A name of the same image in another repository of that registry: its blobs can be
        # mounted instead of uploaded.
        source = next(
            (
                ref.path
                for ref in image.references
                if ref.domain == reference.domain and ref.path != reference.path
            ),
            None,
        )
        descriptor = remote_push(
            client,
            reference,
            self._content,
            _record_descriptor(image.records[0]),
            source_repository=source,
            progress=lambda digest, status: progress(ProgressMessage(status, id=digest.hex[:12])),
        )
        with self._lock, self._names.transaction():
            # As dockerd: a pushed image knows its digest in that repository.
            self._record_name(
                reference.repository().with_digest(descriptor.digest),
                _record_descriptor(image.records[0]),
            )
        self._image_event("push", reference.familiar(), reference.familiar())
        progress(
            ProgressMessage(f"{reference.tag}: digest: {descriptor.digest} size: {descriptor.size}")
        )
        pushed = PushResult(str(reference.tag), str(descriptor.digest), descriptor.size)
        progress(ProgressMessage("", aux=pushed))

    def login(self, auth: RegistryAuth) -> str:
        """Check credentials against a registry (``docker login``); the CLI stores them."""
        server = auth.server_address or "https://index.docker.io/v1/"
        host = server.removeprefix("https://").removeprefix("http://").split("/")[0]
        if host in ("index.docker.io", ""):
            host = "docker.io"
        self._registries.client(host, _credentials(auth)).ping()
        return ""


def _record_descriptor(record: ImageRecord) -> Descriptor:
    return Descriptor(media_type=record.media_type, digest=record.digest, size=record.size)


def _credentials(auth: RegistryAuth) -> RemoteCredentials | None:
    """Exactly the credentials the API client sent (dockerd never reads the daemon host's
    own config.json for a request)."""
    if auth.empty:
        return None
    return RemoteCredentials(
        username=auth.username, password=auth.password, identity_token=auth.identity_token
    )
