"""``RegistryClient``: one registry host, spoken to over the OCI distribution API.

Layer L1b. Imports: stdlib, ``wharf.errdefs``, ``wharf.oci``, ``wharf.content.store``,
``wharf.remotes.{auth,transport}``.

Request path (``_request``)::

    attempt (3 tries, back-off on connection errors and 5xx)
      └─ send with the cached auth for the scopes ─ 401 + challenge ─▶ token / basic ─▶ send again
           └─ redirects followed (≤5); Authorization dropped when the host changes

Invariants: nothing lands in the content store unverified (``Writer.commit`` checks digest
and size; a manifest's bytes are hashed as received, never re-serialized); an interrupted
blob download keeps its ingest ("pull-<digest>") and the next ``fetch_blob`` resumes it with
``Range``; credentials and tokens are never put in messages.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from wharf.content.store import Ingester, Writer
from wharf.errdefs import (
    Forbidden,
    InvalidArgument,
    NotFound,
    Unauthorized,
    Unavailable,
    Unsupported,
    WharfError,
)
from wharf.oci import mediatypes
from wharf.oci.descriptor import Descriptor
from wharf.oci.digest import Digest
from wharf.oci.reference import Reference, parse_normalized
from wharf.remotes.auth import (
    AuthScheme,
    Credentials,
    TokenCache,
    build_token_request,
    load_credentials,
    parse_challenges,
    parse_token_response,
    repository_scope,
)
from wharf.remotes.transport import HTTPTransport, Response, Transport

MANIFEST_ACCEPT = ", ".join(
    (
        mediatypes.OCI_INDEX,
        mediatypes.OCI_MANIFEST,
        mediatypes.DOCKER_MANIFEST_LIST,
        mediatypes.DOCKER_MANIFEST,
    )
)
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
MAX_REDIRECTS = 5
CHUNK = 1 << 20
API_VERSION = "registry/2.0"
DOCKER_HUB_API_HOST = "registry-1.docker.io"
_LOOPBACK = re.compile(r"^(localhost|127(?:\.\d{1,3}){3}|\[::1\])(?::\d+)?$")
_REDIRECTS = frozenset({301, 302, 303, 307, 308})

ProgressFn = Callable[[int, int], None]
"""Called with (bytes so far, total) while a blob downloads."""


def ingest_ref(digest: Digest) -> str:
    return f"pull-{digest}"


def api_host(domain: str) -> str:
    """The host serving the registry API for a reference domain (Docker Hub's differs)."""
    return DOCKER_HUB_API_HOST if domain in ("docker.io", "index.docker.io") else domain


@dataclass(frozen=True, slots=True)
class _Failure:
    code: str
    message: str


def _failure(body: bytes) -> _Failure:
    try:
        doc = json.loads(body)
        first = doc["errors"][0]
        return _Failure(str(first.get("code", "")), str(first.get("message", "")))
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return _Failure("", "")


class _Retry(Exception):
    """A transient failure worth another attempt; ``writer`` is the one to go on with when
    the attempt replaced it (the server ignored Range and the blob started over)."""

    def __init__(self, message: str, writer: Writer | None = None) -> None:
        super().__init__(message)
        self.writer = writer


class RegistryClient:
    """Talks to one registry; thread-safe (blob fetches run from a thread pool)."""

    def __init__(
        self,
        host: str,
        *,
        transport: Transport | None = None,
        credentials: Credentials | None = None,
        credential_source: Callable[[str], Credentials | None] | None = load_credentials,
        insecure: bool = False,
        tls: bool | None = None,
        tokens: TokenCache | None = None,
        retries: int = 3,
        backoff: float = 0.2,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.host = api_host(host)
        # Docker's rule: insecure and loopback registries speak plain HTTP, unless TLS
        # material was configured for them (``tls=True``, from certs.d).
        plain = not tls if tls is not None else insecure or bool(_LOOPBACK.match(self.host))
        self.base_url = f"{'http' if plain else 'https'}://{self.host}"
        self._transport: Transport = transport or HTTPTransport()
        self._credentials = credentials
        self._source = None if credentials is not None else credential_source
        self._looked_up = credentials is not None
        self._tokens = tokens or TokenCache()
        self._retries = max(1, retries)
        self._backoff = backoff
        self._sleep = sleep
        self._lock = threading.Lock()
        self._basic = False
        self._config_key = host

    def __repr__(self) -> str:
        return f"RegistryClient({self.base_url!r})"

    # -- auth ---------------------------------------------------------------------------

    def _creds(self) -> Credentials | None:
        with self._lock:
            if not self._looked_up:
                self._looked_up = True
                if self._source is not None:
                    self._credentials = self._source(self._config_key)
            return self._credentials

    def _auth_header(self, scopes: Sequence[str]) -> str | None:
        if self._basic:
            creds = self._creds()
            return creds.basic_header() if creds is not None and creds.username else None
        token = self._tokens.get(self.host, scopes)
        return f"Bearer {token}" if token is not None else None

    def _authenticate(self, header: str, scopes: Sequence[str]) -> None:
        challenges = parse_challenges(header)
        bearer = next((c for c in challenges if c.scheme is AuthScheme.BEARER), None)
        if bearer is None:
            if any(c.scheme is AuthScheme.BASIC for c in challenges) and self._creds():
                self._basic = True
                return
            raise Unauthorized(f"{self.host}: authentication required")
        wanted = list(scopes) or bearer.params.get("scope", "").split()
        request = build_token_request(bearer, wanted, self._creds())
        try:
            response = self._transport.request(
                request.method, request.url, request.headers, request.body
            )
            try:
                body = response.read()
            finally:
                response.close()
        except (OSError, http.client.HTTPException) as exc:
            raise Unavailable(f"token endpoint of {self.host} unreachable: {exc}") from exc
        if response.status != 200:
            raise Unauthorized(f"{self.host}: token request refused ({response.status})")
        self._tokens.put(self.host, scopes, parse_token_response(body))

    # -- requests -----------------------------------------------------------------------

    def _follow(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None
    ) -> Response:
        origin = urllib.parse.urlsplit(url).netloc
        for _ in range(MAX_REDIRECTS + 1):
            response = self._transport.request(method, url, headers, body)
            location = response.headers.get("location")
            if response.status not in _REDIRECTS or location is None or method == "PUT":
                return response
            response.close()
            url = urllib.parse.urljoin(url, location)
            if urllib.parse.urlsplit(url).netloc != origin:
                # credentials for the registry must not leak to blob storage elsewhere
                headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            if response.status == 303:
                method, body = "GET", None
        raise Unavailable(f"{self.host}: too many redirects")

    def _once(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        scopes: Sequence[str],
    ) -> Response:
        sent = dict(headers)
        auth = self._auth_header(scopes)
        if auth is not None:
            sent["Authorization"] = auth
        response = self._follow(method, url, sent, body)
        if response.status != 401:
            return response
        challenge = response.headers.get("www-authenticate", "")
        response.read()
        response.close()
        if not challenge:
            raise Unauthorized(f"{self.host}: {method} {urllib.parse.urlsplit(url).path} refused")
        self._authenticate(challenge, scopes)
        auth = self._auth_header(scopes)
        if auth is not None:
            sent["Authorization"] = auth
        return self._follow(method, url, sent, body)

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        scopes: Sequence[str] = (),
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        ok: frozenset[int] = frozenset({200}),
        what: str = "",
    ) -> Response:
        """Send with auth, redirects and retries; a status outside ``ok`` raises a typed error."""
        url = path_or_url if "://" in path_or_url else self.base_url + path_or_url
        for attempt in range(self._retries):
            last = attempt == self._retries - 1
            try:
                response = self._once(method, url, headers or {}, body, scopes)
            except (OSError, http.client.HTTPException) as exc:
                if last:
                    raise Unavailable(f"{self.host}: {method} failed: {exc}") from exc
                self._sleep(self._backoff * 2**attempt)
                continue
            if response.status >= 500 and not last:
                response.close()
                self._sleep(self._backoff * 2**attempt)
                continue
            if response.status in ok:
                return response
            raise self._error(response, method, what or urllib.parse.urlsplit(url).path)
        raise AssertionError("unreachable")

    def _error(self, response: Response, method: str, what: str) -> WharfError:
        body = b"" if method == "HEAD" else response.read(64 * 1024)
        response.close()
        failure = _failure(body)
        status = response.status
        reason = failure.message or failure.code
        if not reason and status == 404:
            # HEAD replies carry no error body; say what distribution would have said
            reason = "manifest unknown" if what.startswith("manifest") else "blob unknown"
        detail = f"{self.host}: {what}: {reason or status}"
        if status == 404:
            return NotFound(detail)
        if status == 401:
            return Unauthorized(detail)
        if status == 403:
            return Forbidden(detail)
        if status in (400, 405, 416) or status == 413:
            return InvalidArgument(detail)
        if status == 429:
            return Unavailable(f"{detail} (too many requests)")
        return Unavailable(f"{detail} (HTTP {status})")

    def list_tags(self, repository: str) -> list[str]:
        """``GET /v2/<name>/tags/list``, following ``Link`` pagination."""
        import json

        tags: list[str] = []
        path = f"/v2/{repository}/tags/list?n=1000"
        scopes = [repository_scope(repository, "pull")]
        for _ in range(100):
            response = self.request("GET", path, scopes=scopes, what=f"tags of {repository}")
            try:
                body = json.loads(_read_limited(response, 16 << 20, "tag list") or b"{}")
            finally:
                response.close()
            tags += [t for t in body.get("tags") or [] if isinstance(t, str)]
            link = response.headers.get("link", "")
            if 'rel="next"' not in link:
                break
            path = link.split(";")[0].strip().strip("<>")
        return tags

    def ping(self) -> str | None:
        """``GET /v2/``; the ``Docker-Distribution-API-Version`` it announced, if any."""
        response = self.request("GET", "/v2/", what="/v2/")
        response.read()
        response.close()
        version = response.headers.get("docker-distribution-api-version")
        if version is not None and version.split()[0] != API_VERSION:
            raise Unsupported(f"{self.host} speaks {version}, not {API_VERSION}")
        return version

    # -- manifests ----------------------------------------------------------------------

    def resolve(self, reference: Reference | str) -> Descriptor:
        """The descriptor a tag or digest names (media type, digest, size)."""
        ref = parse_normalized(reference) if isinstance(reference, str) else reference
        scopes = [repository_scope(ref.path, "pull")]
        target = str(ref.digest) if ref.digest is not None else (ref.tag or "latest")
        path = f"/v2/{ref.path}/manifests/{target}"
        accept = {"Accept": MANIFEST_ACCEPT}
        what = f"manifest {ref}"
        if ref.digest is None:
            head = self.request("HEAD", path, scopes=scopes, headers=accept, what=what)
            head.close()
            found = head.headers.get("docker-content-digest")
            media = head.headers.get("content-type")
            length = head.headers.get("content-length")
            if found and media and length and length.isdigit():
                digest = Digest.parse(found)
                return Descriptor(mediatypes.base_media_type(media), digest, int(length))
        response = self.request("GET", path, scopes=scopes, headers=accept, what=what)
        try:
            data = _read_limited(response, MAX_MANIFEST_BYTES, what)
        finally:
            response.close()
        digest = Digest.of_bytes(data)
        if ref.digest is not None and digest != ref.digest:
            raise InvalidArgument(f"{what}: registry sent content with digest {digest}")
        media = response.headers.get("content-type", "")
        media = mediatypes.base_media_type(media) if media else _sniff_type(data)
        if not (mediatypes.is_manifest(media) or mediatypes.is_index(media)):
            media = _sniff_type(data)
        return Descriptor(media, digest, len(data))

    def fetch_manifest(self, repository: str, descriptor: Descriptor) -> bytes:
        """The manifest's bytes, exactly as the registry sent them, verified."""
        what = f"manifest {repository}@{descriptor.digest}"
        response = self.request(
            "GET",
            f"/v2/{repository}/manifests/{descriptor.digest}",
            scopes=[repository_scope(repository, "pull")],
            headers={"Accept": MANIFEST_ACCEPT},
            what=what,
        )
        try:
            data = _read_limited(response, max(descriptor.size, 0), what)
        finally:
            response.close()
        _verify(data, descriptor, what)
        return data

    def fetch_blob_bytes(self, repository: str, descriptor: Descriptor) -> bytes:
        """A small blob (a config) in memory, verified."""
        what = f"blob {repository}@{descriptor.digest}"
        response = self.request(
            "GET",
            f"/v2/{repository}/blobs/{descriptor.digest}",
            scopes=[repository_scope(repository, "pull")],
            what=what,
        )
        try:
            data = _read_limited(response, descriptor.size, what)
        finally:
            response.close()
        _verify(data, descriptor, what)
        return data

    # -- blobs --------------------------------------------------------------------------

    def fetch_blob(
        self,
        repository: str,
        descriptor: Descriptor,
        ingester: Ingester,
        *,
        progress: ProgressFn | None = None,
    ) -> Digest:
        """Stream a blob into ``ingester`` and commit it verified; resumes a partial ingest.

        An interrupted transfer keeps the partial ingest (``close``); the next call asks
        for the rest with ``Range``. A digest or size mismatch removes it and raises
        ``InvalidArgument``.
        """
        ref = ingest_ref(descriptor.digest)
        what = f"blob {repository}@{descriptor.digest}"
        size = descriptor.size
        writer = ingester.writer(ref, expected=descriptor.digest, expected_size=size)
        try:
            for attempt in range(self._retries):
                try:
                    writer = self._download(repository, descriptor, ingester, writer, progress)
                    break
                except _Retry as exc:
                    # The attempt may have started the blob over with a fresh writer.
                    writer = exc.writer or writer
                    if attempt == self._retries - 1:
                        raise Unavailable(f"{what}: transfer kept failing: {exc}") from exc
                    self._sleep(self._backoff * 2**attempt)
            try:
                return writer.commit(descriptor.digest, size)
            except InvalidArgument as exc:
                raise InvalidArgument(f"{what}: {exc}") from exc
        except InvalidArgument:
            writer.abort()
            raise
        except BaseException:
            writer.close()  # keep the prefix for a resume
            raise

    def _download(
        self,
        repository: str,
        descriptor: Descriptor,
        ingester: Ingester,
        writer: Writer,
        progress: ProgressFn | None,
    ) -> Writer:
        size = descriptor.size
        offset = writer.offset
        if offset >= size:
            return writer
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        response = self.request(
            "GET",
            f"/v2/{repository}/blobs/{descriptor.digest}",
            scopes=[repository_scope(repository, "pull")],
            headers=headers,
            ok=frozenset({200, 206}),
            what=f"blob {repository}@{descriptor.digest}",
        )
        try:
            if offset and response.status == 200:
                # the server ignored Range: start over rather than append a second copy
                writer.abort()
                writer = ingester.writer(
                    ingest_ref(descriptor.digest), expected=descriptor.digest, expected_size=size
                )
            elif response.status == 206:
                start = _range_start(response.headers.get("content-range", ""))
                if start != offset:
                    raise _Retry(f"server answered range from {start}, asked {offset}")
            while writer.offset < size:
                try:
                    chunk = response.read(min(CHUNK, size - writer.offset))
                except (OSError, http.client.HTTPException) as exc:
                    raise _Retry(str(exc), writer) from exc
                if not chunk:
                    raise _Retry(f"connection ended at {writer.offset} of {size} bytes", writer)
                writer.write(chunk)
                if progress is not None:
                    progress(writer.offset, size)
            if response.read(1):
                raise InvalidArgument(f"blob {descriptor.digest}: more than {size} bytes sent")
        finally:
            response.close()
        return writer

    def blob_exists(self, repository: str, digest: Digest, *, scopes: Sequence[str] = ()) -> bool:
        response = self.request(
            "HEAD",
            f"/v2/{repository}/blobs/{digest}",
            scopes=scopes or [repository_scope(repository, "pull")],
            ok=frozenset({200, 404}),
            what=f"blob {repository}@{digest}",
        )
        response.close()
        return response.status == 200


def _range_start(content_range: str) -> int:
    match = re.match(r"bytes\s+(\d+)-", content_range)
    return int(match.group(1)) if match else -1


def _read_limited(response: Response, limit: int, what: str) -> bytes:
    data = response.read(limit + 1)
    if len(data) > limit:
        raise InvalidArgument(f"{what}: larger than {limit} bytes")
    return data


def _verify(data: bytes, descriptor: Descriptor, what: str) -> None:
    if len(data) != descriptor.size:
        raise InvalidArgument(f"{what}: size {len(data)} does not match {descriptor.size}")
    got = Digest.of_bytes(data)
    if got != descriptor.digest:
        raise InvalidArgument(f"{what}: content has digest {got}")


def _sniff_type(data: bytes) -> str:
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise InvalidArgument("manifest is not JSON") from exc
    if isinstance(doc, dict):
        inner = doc.get("mediaType")
        if isinstance(inner, str) and inner:
            return inner
        if "manifests" in doc:
            return mediatypes.OCI_INDEX
    return mediatypes.OCI_MANIFEST
