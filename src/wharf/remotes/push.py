"""Push: copy an image from a content store to a registry, blobs first, the tag last.

Layer L1b. Imports: stdlib, ``wharf.errdefs``, ``wharf.oci``, ``wharf.content.store``,
``wharf.remotes.{auth,client}``.

Per blob: ``HEAD`` (present -> skip); else a cross-repository mount
(``POST /v2/<repo>/blobs/uploads/?mount=<digest>&from=<source>``, 201 = done) when a source
repository is known; else ``POST`` an upload and ``PUT ...?digest=`` the whole blob
(monolithic). Then index children by digest, and the top manifest by tag. Every ``201``
must carry the ``Docker-Content-Digest`` we sent, or the push fails.

Limitation: a monolithic PUT holds the blob in memory (chunked upload is not written yet).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable

from wharf.content.store import Provider
from wharf.errdefs import InvalidArgument
from wharf.oci import mediatypes
from wharf.oci.descriptor import Descriptor
from wharf.oci.digest import Digest
from wharf.oci.manifest import Index, Manifest, parse_manifest
from wharf.oci.reference import Reference, parse_normalized
from wharf.remotes.auth import repository_scope
from wharf.remotes.client import RegistryClient
from wharf.remotes.transport import Response

PushProgress = Callable[[Digest, str], None]
"""Called with (blob digest, "Layer already exists" | "Mounted from <repo>" | "Pushed")."""


def _check_digest(response: Response, expected: Digest, what: str) -> None:
    got = response.headers.get("docker-content-digest")
    if got is not None and got != str(expected):
        raise InvalidArgument(f"{what}: registry stored {got}, we sent {expected}")


def push_blob(
    client: RegistryClient,
    repository: str,
    descriptor: Descriptor,
    content: Provider,
    *,
    source_repository: str | None = None,
) -> str:
    """Make ``descriptor`` present in ``repository``; says how ("exists", "mounted", "pushed")."""
    scopes = [repository_scope(repository, "pull", "push")]
    if source_repository and source_repository != repository:
        scopes.append(repository_scope(source_repository, "pull"))
    digest = descriptor.digest
    if client.blob_exists(repository, digest, scopes=scopes):
        return "exists"
    uploads = f"/v2/{repository}/blobs/uploads/"
    what = f"blob {repository}@{digest}"
    if source_repository and source_repository != repository:
        query = urllib.parse.urlencode({"mount": str(digest), "from": source_repository})
        started = client.request(
            "POST", f"{uploads}?{query}", scopes=scopes, ok=frozenset({201, 202}), what=what
        )
    else:
        started = client.request("POST", uploads, scopes=scopes, ok=frozenset({202}), what=what)
    started.read()
    started.close()
    if started.status == 201:
        _check_digest(started, digest, what)
        return "mounted"
    location = started.headers.get("location")
    if not location:
        raise InvalidArgument(f"{what}: upload started without a Location")
    url = urllib.parse.urljoin(client.base_url + uploads, location)
    url += ("&" if "?" in url else "?") + urllib.parse.urlencode({"digest": str(digest)})
    data = content.read_bytes(digest)
    done = client.request(
        "PUT",
        url,
        scopes=scopes,
        headers={"Content-Type": "application/octet-stream", "Content-Length": str(len(data))},
        body=data,
        ok=frozenset({201}),
        what=what,
    )
    done.read()
    done.close()
    _check_digest(done, digest, what)
    return "pushed"


def push_manifest(
    client: RegistryClient, repository: str, target: str, descriptor: Descriptor, data: bytes
) -> None:
    """PUT a manifest under ``target`` (a tag or its digest); checks the stored digest."""
    what = f"manifest {repository}:{target}"
    response = client.request(
        "PUT",
        f"/v2/{repository}/manifests/{target}",
        scopes=[repository_scope(repository, "pull", "push")],
        headers={"Content-Type": descriptor.media_type},
        body=data,
        ok=frozenset({201}),
        what=what,
    )
    response.read()
    response.close()
    _check_digest(response, descriptor.digest, what)


def push(
    client: RegistryClient,
    reference: Reference | str,
    content: Provider,
    descriptor: Descriptor,
    *,
    source_repository: str | None = None,
    progress: PushProgress | None = None,
) -> Descriptor:
    """Push the image ``descriptor`` (manifest or index, in ``content``) as ``reference``.

    Only what ``content`` holds is pushed: index entries whose manifests are absent locally
    (other platforms never pulled) are assumed to exist in the registry already, and a
    missing one fails the final manifest PUT with the registry's error.
    """
    ref = parse_normalized(reference) if isinstance(reference, str) else reference
    repository = ref.path
    note: PushProgress = progress or (lambda _d, _s: None)
    messages = {"exists": "Layer already exists", "pushed": "Pushed"}

    def push_image(desc: Descriptor, target: str) -> None:
        data = content.read_bytes(desc.digest)
        parsed = parse_manifest(data, desc.media_type)
        if isinstance(parsed, Index):
            for child in parsed.manifests:
                if content.exists(child.digest):
                    push_image(child, str(child.digest))
        else:
            assert isinstance(parsed, Manifest)
            for blob in (parsed.config, *parsed.layers):
                if mediatypes.is_nondistributable(blob.media_type):
                    continue
                how = push_blob(
                    client, repository, blob, content, source_repository=source_repository
                )
                note(blob.digest, messages.get(how, f"Mounted from {source_repository}"))
        push_manifest(client, repository, target, desc, data)

    push_image(descriptor, ref.tag or (str(ref.digest) if ref.digest else "latest"))
    return descriptor
