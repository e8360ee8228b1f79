"""Push: copy an image from a content store to a registry, blobs first, the tag last.

Layer L1b. Imports: stdlib, ``wharf.errdefs``, ``wharf.oci``, ``wharf.content.store``,
``wharf.remotes.{auth,client}``.

Per blob: ``HEAD`` (present -> skip); else a cross-repository mount
(``POST /v2/<repo>/blobs/uploads/?mount=<digest>&from=<source>``, 201 = done) when a source
repository is known; else ``POST`` an upload session (202 + ``Location``, maybe relative) and:

- small blobs (under ``MONOLITHIC_LIMIT`` and within one chunk): ``PUT <location>?digest=``
  with the whole blob as body (one request);
- larger ones, streamed chunk by chunk from ``Provider.open`` (never whole in memory)::

      PATCH <loc>  Content-Range: 0-(c-1)      -> 202, Range: 0-(c-1), Location: <loc'>
      PATCH <loc'> Content-Range: c-(2c-1)     -> 202, Range: 0-(2c-1), Location: <loc''>
      ...
      PUT <loc*>?digest=<d>  (empty body)      -> 201, Docker-Content-Digest: <d>

  A chunk is ``chunk_size`` bytes, or the registry's ``OCI-Chunk-Min-Length`` if larger.
  A failed PATCH (connection error, 5xx after the client's own retries) or a 416 is
  followed by ``GET <loc>`` (204 + ``Range: 0-<n>``): the reader seeks to ``n+1`` and the
  upload goes on from there. A 404 there (or on a PATCH) means the session is gone: a new
  one starts from byte 0. Consecutive failures without progress are bounded
  (``UPLOAD_ATTEMPTS``, exponential back-off).

Then index children by digest, and the top manifest by tag. Every ``201`` must carry the
``Docker-Content-Digest`` we sent, or the push fails.
"""

from __future__ import annotations

import re
import time
import urllib.parse
from collections.abc import Callable, Sequence
from typing import BinaryIO

from wharf.content.store import Provider
from wharf.errdefs import InvalidArgument, NotFound, Unavailable
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

MONOLITHIC_LIMIT = 8 << 20
CHUNK_SIZE = 16 << 20
UPLOAD_ATTEMPTS = 5
BACKOFF = 0.2
_OCTETS = "application/octet-stream"
_RANGE = re.compile(r"^(?:bytes[=\s]\s*)?(\d+)-(\d+)$")


def _check_digest(response: Response, expected: Digest, what: str) -> None:
    got = response.headers.get("docker-content-digest")
    if got is not None and got != str(expected):
        raise InvalidArgument(f"{what}: registry stored {got}, we sent {expected}")


def _drain(response: Response) -> None:
    response.read()
    response.close()


def _received(response: Response) -> int:
    """How many bytes the registry holds, from its ``Range: 0-<end>`` header.

    distribution answers ``0-0`` for an empty session as well as for one byte; chunks are
    never one byte long, so ``0-0`` (like a missing header) is read as nothing received.
    """
    match = _RANGE.match(response.headers.get("range", "").strip())
    if match is None:
        return 0
    end = int(match.group(2))
    return end + 1 if end > 0 else 0


def _with_digest(location: str, digest: Digest) -> str:
    query = urllib.parse.urlencode({"digest": str(digest)})
    return location + ("&" if "?" in location else "?") + query


class _Upload:
    """One blob's upload session: its current location, moved on by every answer."""

    def __init__(
        self,
        client: RegistryClient,
        repository: str,
        scopes: Sequence[str],
        what: str,
    ) -> None:
        self.client = client
        self.uploads = f"/v2/{repository}/blobs/uploads/"
        self.scopes = scopes
        self.what = what
        self.location = ""
        self.min_chunk = 0

    def follow(self, response: Response) -> None:
        location = response.headers.get("location")
        if location:
            base = self.location or self.client.base_url + self.uploads
            self.location = urllib.parse.urljoin(base, location)
        elif not self.location:
            raise InvalidArgument(f"{self.what}: upload started without a Location")
        minimum = response.headers.get("oci-chunk-min-length", "")
        if minimum.isdigit():
            self.min_chunk = int(minimum)

    def start(self) -> None:
        started = self.client.request(
            "POST", self.uploads, scopes=self.scopes, ok=frozenset({202}), what=self.what
        )
        _drain(started)
        self.location = ""
        self.follow(started)

    def status(self) -> int | None:
        """Bytes the registry holds, or None when the session is gone."""
        response = self.client.request(
            "GET",
            self.location,
            scopes=self.scopes,
            ok=frozenset({204, 404}),
            what=self.what,
        )
        _drain(response)
        if response.status == 404:
            return None
        self.follow(response)
        return _received(response)

    def patch(self, start: int, data: bytes) -> int | None:
        """Send one chunk; the registry's new size, or None if it refused the range (416)."""
        response = self.client.request(
            "PATCH",
            self.location,
            scopes=self.scopes,
            headers={
                "Content-Type": _OCTETS,
                "Content-Range": f"{start}-{start + len(data) - 1}",
                "Content-Length": str(len(data)),
            },
            body=data,
            ok=frozenset({202, 416}),
            what=self.what,
        )
        _drain(response)
        if response.status == 416:
            return None
        self.follow(response)
        # a registry that omits Range is taken to hold what it acknowledged
        return _received(response) if "range" in response.headers else start + len(data)

    def finish(self, digest: Digest, data: bytes) -> None:
        done = self.client.request(
            "PUT",
            _with_digest(self.location, digest),
            scopes=self.scopes,
            headers={"Content-Type": _OCTETS, "Content-Length": str(len(data))},
            body=data,
            ok=frozenset({201}),
            what=self.what,
        )
        _drain(done)
        _check_digest(done, digest, self.what)


def _read_exact(reader: BinaryIO, amount: int, what: str) -> bytes:
    data = reader.read(amount)
    if len(data) != amount:
        raise InvalidArgument(f"{what}: content store holds fewer bytes than the descriptor says")
    return data


def _upload_chunks(
    upload: _Upload,
    reader: BinaryIO,
    size: int,
    chunk_size: int,
    sleep: Callable[[float], None],
) -> None:
    offset = 0
    failures = 0
    while offset < size:
        chunk = max(chunk_size, upload.min_chunk)
        reader.seek(offset)
        data = _read_exact(reader, min(chunk, size - offset), upload.what)
        reason: str
        try:
            held = upload.patch(offset, data)
        except NotFound:
            held, reason = None, "upload session gone"
            upload.location = ""
        except Unavailable as exc:
            held, reason = None, str(exc)
        else:
            reason = "registry refused the range (416)"
        if held is not None and held > offset:
            offset, failures = held, 0
            continue
        if held is not None:
            reason = f"registry holds {held} bytes after a chunk from {offset}"
        # Learn where the registry stands before sending anything else.
        while True:
            failures += 1
            if failures >= UPLOAD_ATTEMPTS:
                raise Unavailable(f"{upload.what}: upload kept failing: {reason}")
            sleep(BACKOFF * 2 ** (failures - 1))
            try:
                if upload.location:
                    known = upload.status()
                    if known is not None:
                        if known > size:
                            raise InvalidArgument(
                                f"{upload.what}: registry holds {known} bytes of {size}"
                            )
                        offset = known
                        break
                upload.start()
                offset = 0
                break
            except Unavailable as exc:
                reason = str(exc)


def push_blob(
    client: RegistryClient,
    repository: str,
    descriptor: Descriptor,
    content: Provider,
    *,
    source_repository: str | None = None,
    chunk_size: int = CHUNK_SIZE,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Make ``descriptor`` present in ``repository``; says how ("exists", "mounted", "pushed").

    Blobs of ``MONOLITHIC_LIMIT`` bytes or more, or larger than ``chunk_size``, go up in
    resumable chunks streamed from ``content``; smaller ones in one ``PUT``.
    """
    if chunk_size <= 0:
        raise InvalidArgument(f"chunk size must be positive, not {chunk_size}")
    scopes = [repository_scope(repository, "pull", "push")]
    if source_repository and source_repository != repository:
        scopes.append(repository_scope(source_repository, "pull"))
    digest = descriptor.digest
    if client.blob_exists(repository, digest, scopes=scopes):
        return "exists"
    what = f"blob {repository}@{digest}"
    upload = _Upload(client, repository, scopes, what)
    if source_repository and source_repository != repository:
        query = urllib.parse.urlencode({"mount": str(digest), "from": source_repository})
        started = client.request(
            "POST", f"{upload.uploads}?{query}", scopes=scopes, ok=frozenset({201, 202}), what=what
        )
        _drain(started)
        if started.status == 201:
            _check_digest(started, digest, what)
            return "mounted"
        upload.follow(started)
    else:
        upload.start()
    size = descriptor.size
    with content.open(digest) as reader:
        if size < MONOLITHIC_LIMIT and size <= max(chunk_size, upload.min_chunk):
            upload.finish(digest, _read_exact(reader, size, what))
        else:
            _upload_chunks(upload, reader, size, chunk_size, sleep)
            upload.finish(digest, b"")
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
    chunk_size: int = CHUNK_SIZE,
) -> Descriptor:
    """Push the image ``descriptor`` (manifest or index, in ``content``) as ``reference``.

    Only what ``content`` holds is pushed: index entries whose manifests are absent locally
    (other platforms never pulled) are assumed to exist in the registry already, and a
    missing one fails the final manifest PUT with the registry's error. ``chunk_size``
    bounds each PATCH of a chunked blob upload (and so the memory a blob upload holds).
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
                    client,
                    repository,
                    blob,
                    content,
                    source_repository=source_repository,
                    chunk_size=chunk_size,
                )
                note(blob.digest, messages.get(how, f"Mounted from {source_repository}"))
        push_manifest(client, repository, target, desc, data)

    push_image(descriptor, ref.tag or (str(ref.digest) if ref.digest else "latest"))
    return descriptor
