"""Image endpoints: list, inspect, history, tag, remove, prune, save (get), load, create (import).

Blocking backend calls run in worker threads; uploads and downloads stream through
``api.bodies`` without buffering whole archives in memory.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, BinaryIO, Protocol

from aiohttp import web

from wharf.api.app import Route, json_response, request_api_version
from wharf.api.bodies import buffered_reader, buffered_writer
from wharf.apitypes.auth import RegistryAuth
from wharf.apitypes.filters import Filters
from wharf.apitypes.images import (
    DeleteItem,
    HistoryItem,
    ImageInspect,
    ImageSummary,
    ProgressMessage,
    PruneReport,
)
from wharf.errdefs import InvalidArgument, WharfError


class ImagesBackend(Protocol):
    def list_images(
        self, *, include_intermediate: bool, filters: Filters
    ) -> list[ImageSummary]: ...

    def inspect_image(self, name: str) -> ImageInspect: ...

    def image_history(self, name: str) -> list[HistoryItem]: ...

    def tag_image(self, source: str, repository: str, tag: str | None) -> None: ...

    def remove_image(self, name: str, *, force: bool, prune_parents: bool) -> list[DeleteItem]: ...

    def prune_images(self, *, filters: Filters) -> PruneReport: ...

    def save_images(self, names: list[str], out: BinaryIO) -> None: ...

    def load_images(self, archive: BinaryIO) -> list[str]: ...

    def pull_image(
        self,
        from_image: str,
        tag: str,
        *,
        platform: str,
        auth: RegistryAuth,
        progress: Callable[[ProgressMessage], None],
    ) -> None: ...

    def push_image(
        self,
        name: str,
        tag: str,
        *,
        auth: RegistryAuth,
        progress: Callable[[ProgressMessage], None],
    ) -> None: ...

    def login(self, auth: RegistryAuth) -> str: ...

    def distribution_inspect(self, name: str, *, auth: RegistryAuth) -> dict[str, Any]: ...

    def import_image(
        self,
        rootfs: BinaryIO,
        *,
        repository: str,
        tag: str,
        changes: list[str],
        message: str,
    ) -> str: ...


def query_flag(request: web.Request, name: str) -> bool:
    value = request.query.get(name, "")
    return value.lower() in ("1", "true", "yes")


def _json_line(payload: object) -> bytes:
    return json.dumps(payload).encode() + b"\r\n"


def routes(backend: ImagesBackend) -> list[Route]:
    async def list_images(request: web.Request) -> web.StreamResponse:
        filters = Filters.parse(request.query.get("filters"))
        summaries = await asyncio.to_thread(
            backend.list_images,
            include_intermediate=query_flag(request, "all"),
            filters=filters,
        )
        version = request_api_version(request)
        return json_response([summary.to_wire(version) for summary in summaries])

    async def inspect_image(request: web.Request) -> web.StreamResponse:
        result = await asyncio.to_thread(backend.inspect_image, request.match_info["name"])
        return json_response(result.to_wire(request_api_version(request)))

    async def history(request: web.Request) -> web.StreamResponse:
        items = await asyncio.to_thread(backend.image_history, request.match_info["name"])
        return json_response([item.to_wire() for item in items])

    async def tag(request: web.Request) -> web.StreamResponse:
        repository = request.query.get("repo", "")
        if not repository:
            raise InvalidArgument("repository name must have at least one component")
        await asyncio.to_thread(
            backend.tag_image,
            request.match_info["name"],
            repository,
            request.query.get("tag") or None,
        )
        return web.Response(status=201)

    async def remove(request: web.Request) -> web.StreamResponse:
        items = await asyncio.to_thread(
            backend.remove_image,
            request.match_info["name"],
            force=query_flag(request, "force"),
            prune_parents=not query_flag(request, "noprune"),
        )
        return json_response([item.to_wire() for item in items])

    async def prune(request: web.Request) -> web.StreamResponse:
        filters = Filters.parse(request.query.get("filters"))
        report = await asyncio.to_thread(backend.prune_images, filters=filters)
        return json_response(report.to_wire())

    async def save(request: web.Request) -> web.StreamResponse:
        names = request.query.getall("names", [])
        if "name" in request.match_info:
            names = [request.match_info["name"]]
        if not names:
            raise InvalidArgument("no image names given to save")
        # Resolve every name before the 200 goes out, so a typo is a clean 404.
        for name in names:
            await asyncio.to_thread(backend.inspect_image, name)
        response = web.StreamResponse(headers={"Content-Type": "application/x-tar"})
        await response.prepare(request)
        writer = buffered_writer(response)
        try:
            await asyncio.to_thread(_save_and_flush, backend, names, writer)
        except WharfError:
            # Headers are gone; cutting the stream short is the only honest signal left.
            if request.transport is not None:
                request.transport.close()
            return response
        await response.write_eof()
        return response

    async def load(request: web.Request) -> web.StreamResponse:
        reader = buffered_reader(request)
        try:
            loaded = await asyncio.to_thread(backend.load_images, reader)
        finally:
            await _drain(request)
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        for name in loaded:
            label = "Loaded image ID" if name.startswith("sha256:") else "Loaded image"
            # quiet only hides progress bars; docker still reports what was loaded.
            await response.write(_json_line({"stream": f"{label}: {name}\n"}))
        await response.write_eof()
        return response

    async def create(request: web.Request) -> web.StreamResponse:
        if request.query.get("fromImage"):
            return await _pull(request)
        source = request.query.get("fromSrc")
        if source != "-":
            raise InvalidArgument("only fromSrc=- (the request body) is supported for import")
        reader = buffered_reader(request)
        try:
            image_id = await asyncio.to_thread(
                backend.import_image,
                reader,
                repository=request.query.get("repo", ""),
                tag=request.query.get("tag", ""),
                changes=request.query.getall("changes", []),
                message=request.query.get("message", ""),
            )
        finally:
            await _drain(request)
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(_json_line({"status": image_id}))
        await response.write_eof()
        return response

    async def _pull(request: web.Request) -> web.StreamResponse:
        auth = RegistryAuth.from_header(request.headers.get("X-Registry-Auth"))
        return await _stream_progress(
            request,
            lambda progress: backend.pull_image(
                request.query["fromImage"],
                request.query.get("tag", ""),
                platform=request.query.get("platform", ""),
                auth=auth,
                progress=progress,
            ),
        )

    async def push(request: web.Request) -> web.StreamResponse:
        auth = RegistryAuth.from_header(request.headers.get("X-Registry-Auth"))
        return await _stream_progress(
            request,
            lambda progress: backend.push_image(
                request.match_info["name"],
                request.query.get("tag", ""),
                auth=auth,
                progress=progress,
            ),
        )

    async def login(request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except json.JSONDecodeError as exc:
            raise InvalidArgument(f"invalid JSON body: {exc}") from exc
        if not isinstance(body, dict):
            raise InvalidArgument("invalid auth config: expected a JSON object")
        auth = RegistryAuth(
            username=str(body.get("username") or ""),
            password=str(body.get("password") or ""),
            server_address=str(body.get("serveraddress") or ""),
            identity_token=str(body.get("identitytoken") or ""),
        )
        token = await asyncio.to_thread(backend.login, auth)
        return json_response({"Status": "Login Succeeded", "IdentityToken": token})

    async def distribution(request: web.Request) -> web.StreamResponse:
        auth = RegistryAuth.from_header(request.headers.get("X-Registry-Auth"))
        result = await asyncio.to_thread(
            backend.distribution_inspect, request.match_info["name"], auth=auth
        )
        return json_response(result)

    name = "/images/{name:.+}"
    return [
        Route("GET", "/distribution/{name:.+}/json", distribution),
        Route("GET", "/images/json", list_images),
        Route("POST", "/images/prune", prune),
        Route("GET", "/images/get", save),
        Route("POST", "/images/load", load),
        Route("POST", "/images/create", create),
        Route("POST", "/auth", login),
        Route("GET", f"{name}/json", inspect_image),
        Route("GET", f"{name}/history", history),
        Route("GET", f"{name}/get", save),
        Route("POST", f"{name}/tag", tag),
        Route("POST", f"{name}/push", push),
        Route("DELETE", name, remove),
    ]


async def _stream_progress(
    request: web.Request, work: Callable[[Callable[[ProgressMessage], None]], None]
) -> web.StreamResponse:
    """Run ``work`` in a thread and stream its progress as Docker's JSON lines."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[ProgressMessage] = asyncio.Queue()

    def progress(message: ProgressMessage) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, message)

    working = loop.run_in_executor(None, lambda: work(progress))
    # Until the first progress line the answer can still be a plain error status
    # (unknown image, refused credentials), as dockerd answers it.
    first: asyncio.Future[Any] = asyncio.ensure_future(queue.get())
    working_future: asyncio.Future[Any] = working
    done, _ = await asyncio.wait({first, working_future}, return_when=asyncio.FIRST_COMPLETED)
    if working in done and first not in done:
        first.cancel()
        working.result()  # raises the typed error, mapped to its status
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    pending: asyncio.Future[Any] | None = first
    while True:
        waiters: set[asyncio.Future[Any]] = {working_future}
        if pending is None:
            pending = asyncio.ensure_future(queue.get())
        waiters.add(pending)
        finished, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        if pending in finished:
            await response.write(_json_line(pending.result().to_wire()))
            pending = None
            continue
        break
    pending.cancel()
    while not queue.empty():
        await response.write(_json_line(queue.get_nowait().to_wire()))
    try:
        working.result()
    except WharfError as exc:
        await response.write(
            _json_line({"errorDetail": {"message": exc.message}, "error": exc.message})
        )
    await response.write_eof()
    return response


def _save_and_flush(backend: ImagesBackend, names: list[str], writer: BinaryIO) -> None:
    backend.save_images(names, writer)
    writer.flush()


async def _drain(request: web.Request) -> None:
    """Read what is left of a body the backend refused, so the client sees our answer."""
    while await request.content.readany():
        pass
