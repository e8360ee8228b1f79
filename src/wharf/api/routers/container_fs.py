"""Looking into containers over the API: top, stats, archive (docker cp), changes (diff),
export, and ``POST /commit``."""

from __future__ import annotations

import asyncio
import json
from typing import Any, BinaryIO, Protocol

from aiohttp import web

from wharf.api.app import Route, json_response
from wharf.api.bodies import buffered_reader, buffered_writer
from wharf.api.routers.images import query_flag
from wharf.errdefs import InvalidArgument, WharfError


class InspectorBackend(Protocol):
    def top(self, reference: str) -> Any: ...

    def stats(self, reference: str, previous: dict[str, Any] | None = None) -> dict[str, Any]: ...

    def stat_path(self, reference: str, path: str) -> Any: ...

    def archive(self, reference: str, path: str, out: BinaryIO) -> None: ...

    def extract(
        self,
        reference: str,
        path: str,
        tar_stream: BinaryIO,
        *,
        no_overwrite: bool,
        copy_uid_gid: bool,
    ) -> None: ...

    def changes(self, reference: str) -> list[Any]: ...

    def export(self, reference: str, out: BinaryIO) -> None: ...


class CommitBackend(Protocol):
    def commit_container(
        self,
        reference: str,
        *,
        repository: str,
        tag: str,
        author: str,
        comment: str,
        changes: list[str],
        pause: bool,
        config_overrides: dict[str, Any],
    ) -> str: ...


def _stat_header(stat: Any) -> str:
    return str(stat.header_value())


def routes(inspector: InspectorBackend, committer: CommitBackend) -> list[Route]:
    async def top(request: web.Request) -> web.StreamResponse:
        result = await asyncio.to_thread(inspector.top, request.match_info["id"])
        return json_response(result.to_wire())

    async def stats(request: web.Request) -> web.StreamResponse:
        reference = request.match_info["id"]
        stream = request.query.get("stream", "1").lower() not in ("0", "false")
        one_shot = query_flag(request, "one-shot")
        first = await asyncio.to_thread(inspector.stats, reference)
        if not stream:
            if one_shot:
                return json_response(first)
            # Like dockerd: two samples a moment apart, so CPU % has a delta to work from.
            await asyncio.sleep(0.5)
            second = await asyncio.to_thread(inspector.stats, reference, first)
            return json_response(second)
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        previous = first
        try:
            await response.write(json.dumps(first).encode() + b"\n")
            while True:
                await asyncio.sleep(1.0)
                sample = await asyncio.to_thread(inspector.stats, reference, previous)
                await response.write(json.dumps(sample).encode() + b"\n")
                previous = sample
                if not sample.get("memory_stats"):
                    break
        except (ConnectionResetError, WharfError):
            pass
        return response

    async def archive_head(request: web.Request) -> web.StreamResponse:
        path = request.query.get("path", "")
        if not path:
            raise InvalidArgument("path is required")
        stat = await asyncio.to_thread(inspector.stat_path, request.match_info["id"], path)
        return web.Response(
            status=200, headers={"X-Docker-Container-Path-Stat": _stat_header(stat)}
        )

    async def archive_get(request: web.Request) -> web.StreamResponse:
        reference = request.match_info["id"]
        path = request.query.get("path", "")
        if not path:
            raise InvalidArgument("path is required")
        stat = await asyncio.to_thread(inspector.stat_path, reference, path)
        response = web.StreamResponse(
            headers={
                "Content-Type": "application/x-tar",
                "X-Docker-Container-Path-Stat": _stat_header(stat),
            }
        )
        await response.prepare(request)
        writer = buffered_writer(response)

        def produce() -> None:
            inspector.archive(reference, path, writer)
            writer.flush()

        await asyncio.to_thread(produce)
        await response.write_eof()
        return response

    async def archive_put(request: web.Request) -> web.StreamResponse:
        path = request.query.get("path", "")
        if not path:
            raise InvalidArgument("path is required")
        reader = buffered_reader(request)
        try:
            await asyncio.to_thread(
                inspector.extract,
                request.match_info["id"],
                path,
                reader,
                no_overwrite=query_flag(request, "noOverwriteDirNonDir"),
                copy_uid_gid=query_flag(request, "copyUIDGID"),
            )
        finally:
            while await request.content.readany():
                pass
        return web.Response(status=200)

    async def changes(request: web.Request) -> web.StreamResponse:
        result = await asyncio.to_thread(inspector.changes, request.match_info["id"])
        return json_response([change.to_wire() for change in result] or None)

    async def export(request: web.Request) -> web.StreamResponse:
        reference = request.match_info["id"]
        response = web.StreamResponse(headers={"Content-Type": "application/x-tar"})
        await response.prepare(request)
        writer = buffered_writer(response)

        def produce() -> None:
            inspector.export(reference, writer)
            writer.flush()

        await asyncio.to_thread(produce)
        await response.write_eof()
        return response

    async def commit(request: web.Request) -> web.StreamResponse:
        raw = await request.read() if request.can_read_body else b""
        overrides: dict[str, Any] = {}
        if raw.strip():
            try:
                decoded = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise InvalidArgument(f"invalid JSON body: {exc}") from exc
            if isinstance(decoded, dict):
                overrides = decoded
        container = request.query.get("container", "")
        if not container:
            raise InvalidArgument("container is required")
        image_id = await asyncio.to_thread(
            committer.commit_container,
            container,
            repository=request.query.get("repo", ""),
            tag=request.query.get("tag", ""),
            author=request.query.get("author", ""),
            comment=request.query.get("comment", ""),
            changes=request.query.getall("changes", []),
            pause=request.query.get("pause", "1").lower() not in ("0", "false"),
            config_overrides=overrides,
        )
        return json_response({"Id": image_id}, status=201)

    container = "/containers/{id}"
    return [
        Route("GET", f"{container}/top", top),
        Route("GET", f"{container}/stats", stats),
        Route("HEAD", f"{container}/archive", archive_head),
        Route("GET", f"{container}/archive", archive_get),
        Route("PUT", f"{container}/archive", archive_put),
        Route("GET", f"{container}/changes", changes),
        Route("GET", f"{container}/export", export),
        Route("POST", "/commit", commit),
    ]
