"""The distribution API's handlers: parse the request, call the store, shape the response.

Layer L3. Imports: stdlib, ``aiohttp``, ``wharf.oci``, ``wharf.distribution``,
``wharf.registry.{storage,uploads,responses,metrics,service}``.

Every handler gets the ``RegistryService``, the request and its validated ``Route``; auth
and method checks happened before (``app``). Storage calls run in worker threads. Errors are
raised as ``RegistryError`` and rendered by the app's error middleware.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from wharf.distribution import routes
from wharf.distribution.accept import accepts
from wharf.distribution.errors import (
    ErrorCode,
    RegistryError,
    deletes_disabled,
    manifest_too_large,
    upload_range,
)
from wharf.distribution.names import is_valid_name, parse_digest
from wharf.distribution.pagination import Page, link_header, paginate, parse_page
from wharf.distribution.ranges import parse_range
from wharf.distribution.routes import Route, RouteKind
from wharf.oci import mediatypes
from wharf.oci.digest import Digest
from wharf.registry.responses import BlobResponse
from wharf.registry.service import RegistryService

CATALOG_DEFAULT_PAGE = 1000
# Source repositories of a mount the caller may pull from (set by the app's auth step).
MOUNT_SOURCES_KEY = web.RequestKey("wharf.registry.mount_sources", frozenset)
BLOB_CACHE_CONTROL = "max-age=31536000"

Handler = Callable[[RegistryService, web.Request, Route], Awaitable[web.StreamResponse]]


def _json(
    doc: object,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    content_type: str = "application/json",
) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(doc).encode(),
        headers={
            "Content-Type": f"{content_type}; charset=utf-8"
            if content_type == "application/json"
            else content_type,
            **(headers or {}),
        },
    )


def _empty(status: int, headers: dict[str, str]) -> web.Response:
    return web.Response(status=status, headers={**headers, "Content-Length": "0"})


async def _body(request: web.Request, service: RegistryService) -> AsyncIterator[bytes]:
    async for chunk in request.content.iter_any():
        service.metrics.bytes_received += len(chunk)
        yield chunk


# -- base, catalog, tags, referrers -----------------------------------------------------


async def base(service: RegistryService, request: web.Request, route: Route) -> web.StreamResponse:
    return _json({})


async def catalog(
    service: RegistryService, request: web.Request, route: Route
) -> web.StreamResponse:
    page_request = parse_page(
        request.query.get("n"), request.query.get("last"), default_n=CATALOG_DEFAULT_PAGE
    )
    names = await asyncio.to_thread(service.store.catalog)
    page = paginate(names, page_request)
    return _json(
        {"repositories": list(page.items)}, headers=_link(routes.CATALOG_PATH, page_request.n, page)
    )


async def tags(service: RegistryService, request: web.Request, route: Route) -> web.StreamResponse:
    name = route.repository
    page_request = parse_page(request.query.get("n"), request.query.get("last"))
    all_tags = await asyncio.to_thread(service.store.tags, name)
    page = paginate(all_tags, page_request)
    return _json(
        {"name": name, "tags": list(page.items)},
        headers=_link(routes.tags_path(name), page_request.n, page),
    )


def _link(path: str, n: int | None, page: Page) -> dict[str, str]:
    if n is None or page.next_last is None:
        return {}
    return {"Link": link_header(path, n, page.next_last)}


async def referrers(
    service: RegistryService, request: web.Request, route: Route
) -> web.StreamResponse:
    assert route.digest is not None
    artifact_type = request.query.get("artifactType") or None
    found = await asyncio.to_thread(
        service.store.referrers, route.repository, route.digest, artifact_type
    )
    headers = {"OCI-Filters-Applied": "artifactType"} if artifact_type else {}
    index = {
        "schemaVersion": 2,
        "mediaType": mediatypes.OCI_INDEX,
        "manifests": [d.to_json() for d in found],
    }
    return _json(index, headers=headers, content_type=mediatypes.OCI_INDEX)


# -- blobs ------------------------------------------------------------------------------


async def blob(service: RegistryService, request: web.Request, route: Route) -> web.StreamResponse:
    assert route.digest is not None
    name, digest = route.repository, route.digest
    if request.method == "DELETE":
        if not service.config.delete_enabled:
            raise deletes_disabled()
        await asyncio.to_thread(service.store.delete_blob, name, digest)
        return _empty(202, {"Docker-Content-Digest": str(digest)})
    fobj, info = await asyncio.to_thread(service.store.open_blob, name, digest)
    try:
        byte_range = parse_range(request.headers.get("Range"), info.size)
    except BaseException:
        fobj.close()
        raise
    headers = {
        "Content-Type": "application/octet-stream",
        "Docker-Content-Digest": str(digest),
        "Accept-Ranges": "bytes",
        "ETag": f'"{digest}"',
        "Cache-Control": BLOB_CACHE_CONTROL,
    }
    if byte_range is None:
        return BlobResponse(fobj, 0, info.size, status=200, headers=headers)
    headers["Content-Range"] = byte_range.content_range()
    return BlobResponse(fobj, byte_range.start, byte_range.count, status=206, headers=headers)


# -- uploads ----------------------------------------------------------------------------


def _upload_headers(name: str, upload_id: str, offset: int) -> dict[str, str]:
    return {
        "Location": routes.upload_path(name, upload_id),
        "Range": upload_range(offset),
        "Docker-Upload-UUID": upload_id,
    }


def _created_blob(service: RegistryService, name: str, digest: Digest) -> web.Response:
    service.metrics.blobs_committed += 1
    return _empty(
        201, {"Location": routes.blob_path(name, digest), "Docker-Content-Digest": str(digest)}
    )


async def start_upload(
    service: RegistryService, request: web.Request, route: Route
) -> web.StreamResponse:
    name = route.repository
    query = request.query
    mount, source = query.get("mount"), query.get("from")
    if mount is not None:
        digest = parse_digest(mount)
        allowed = request.get(MOUNT_SOURCES_KEY, frozenset())
        if source and is_valid_name(source) and source in allowed:
            mounted = await asyncio.to_thread(service.store.mount_blob, name, digest, source)
            if mounted:
                return _empty(
                    201,
                    {
                        "Location": routes.blob_path(name, digest),
                        "Docker-Content-Digest": str(digest),
                    },
                )
        # Not mountable (or not allowed): the spec says fall back to a regular upload.
    elif "digest" in query:
        digest = parse_digest(query["digest"])
        committed = await service.uploads.monolithic(
            name, digest, _body(request, service), request.content_length
        )
        return _created_blob(service, name, committed)
    status = await service.uploads.start(name)
    return _empty(202, _upload_headers(name, status.upload_id, status.offset))


async def upload(
    service: RegistryService, request: web.Request, route: Route
) -> web.StreamResponse:
    assert route.upload_id is not None
    name, upload_id = route.repository, route.upload_id
    uploads = service.uploads
    if request.method == "GET":
        status = await uploads.status(name, upload_id)
        return _empty(204, _upload_headers(name, upload_id, status.offset))
    if request.method == "DELETE":
        await uploads.cancel(name, upload_id)
        return _empty(204, {})
    content_range = request.headers.get("Content-Range")
    if request.method == "PATCH":
        status = await uploads.append(
            name,
            upload_id,
            _body(request, service),
            content_range=content_range,
            content_length=request.content_length,
        )
        return _empty(202, _upload_headers(name, upload_id, status.offset))
    # PUT: close the upload, optionally with a last chunk.
    digest_text = request.query.get("digest")
    if not digest_text:
        raise RegistryError(
            ErrorCode.DIGEST_INVALID, "digest query parameter is required to finish an upload"
        )
    digest = parse_digest(digest_text)
    committed = await uploads.finish(
        name,
        upload_id,
        digest,
        _body(request, service),
        content_range=content_range,
        content_length=request.content_length,
    )
    return _created_blob(service, name, committed)


# -- manifests --------------------------------------------------------------------------


async def _read_manifest_body(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise manifest_too_large(limit)
    data = bytearray()
    async for chunk in request.content.iter_any():
        data += chunk
        if len(data) > limit:
            raise manifest_too_large(limit)
    return bytes(data)


async def manifest(
    service: RegistryService, request: web.Request, route: Route
) -> web.StreamResponse:
    assert route.reference is not None
    name, reference = route.repository, route.reference
    store = service.store
    if request.method == "PUT":
        data = await _read_manifest_body(request, store.max_manifest_bytes)
        extra_tags = tuple(request.query.getall("tag", [])) if reference.digest is not None else ()
        result = await asyncio.to_thread(
            store.put_manifest,
            name,
            reference,
            data,
            request.headers.get("Content-Type"),
            extra_tags,
        )
        service.metrics.manifests_put += 1
        headers = {
            "Location": routes.manifest_path(name, str(result.digest)),
            "Docker-Content-Digest": str(result.digest),
        }
        if result.subject is not None:
            headers["OCI-Subject"] = str(result.subject)
        return _empty(201, headers)
    if request.method == "DELETE":
        if not service.config.delete_enabled:
            raise deletes_disabled()
        await asyncio.to_thread(store.delete_manifest, name, reference)
        return _empty(202, {})
    accept = request.headers.getall("Accept", [])
    if request.method == "HEAD":
        revision = await asyncio.to_thread(store.resolve, name, reference)
        _check_accept(revision.media_type, accept, name, str(reference))
        return web.Response(
            status=200,
            headers={
                "Content-Type": revision.media_type,
                "Content-Length": str(revision.size),
                "Docker-Content-Digest": str(revision.digest),
                "ETag": f'"{revision.digest}"',
            },
        )
    stored = await asyncio.to_thread(store.get_manifest, name, reference)
    _check_accept(stored.revision.media_type, accept, name, str(reference))
    return web.Response(
        status=200,
        body=stored.data,
        headers={
            "Content-Type": stored.revision.media_type,
            "Docker-Content-Digest": str(stored.revision.digest),
            "ETag": f'"{stored.revision.digest}"',
        },
    )


def _check_accept(media_type: str, accept: list[str], name: str, reference: str) -> None:
    # We never convert manifests; a client that cannot take this type gets "unknown", as
    # the reference registry answers for an index asked for without index types.
    if not accepts(media_type, accept):
        raise RegistryError(
            ErrorCode.MANIFEST_UNKNOWN,
            f"manifest {reference} in {name} is {media_type}, which the Accept header excludes",
            detail={"mediaType": media_type},
        )


HANDLERS: dict[RouteKind, Handler] = {
    RouteKind.BASE: base,
    RouteKind.CATALOG: catalog,
    RouteKind.TAGS: tags,
    RouteKind.MANIFEST: manifest,
    RouteKind.UPLOADS: start_upload,
    RouteKind.UPLOAD: upload,
    RouteKind.BLOB: blob,
    RouteKind.REFERRERS: referrers,
}
