"""Volume endpoints: list, create, inspect, remove, prune.

``GET /volumes`` -> ``{"Volumes": [...], "Warnings": [...]}``; ``POST /volumes/create`` -> 201
with the volume; ``GET /volumes/{name}``; ``DELETE /volumes/{name}?force=`` -> 204;
``POST /volumes/prune`` -> ``{"VolumesDeleted": [...], "SpaceReclaimed": n}``. Before API 1.42
prune removed every unused volume; clients that old get ``all=true`` added, as dockerd does.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Protocol

from aiohttp import web

from wharf.api.app import Route, json_response, request_api_version
from wharf.apitypes.filters import Filters
from wharf.apitypes.volumes import Volume, VolumeCreateRequest, VolumeList, VolumePruneReport
from wharf.errdefs import InvalidArgument

_PRUNE_KEEPS_NAMED_SINCE = (1, 42)


class VolumesBackend(Protocol):
    def list_volumes(self, *, filters: Filters) -> VolumeList: ...

    def create_volume(
        self,
        name: str | None = None,
        *,
        driver: str = ...,
        labels: Mapping[str, str] | None = None,
        driver_opts: Mapping[str, str] | None = None,
    ) -> Volume: ...

    def inspect_volume(self, name: str) -> Volume: ...

    def remove_volume(self, name: str, *, force: bool = False) -> None: ...

    def prune_volumes(self, *, filters: Filters) -> VolumePruneReport: ...


def _flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").lower() in ("1", "true", "yes")


def routes(backend: VolumesBackend) -> list[Route]:
    async def list_volumes(request: web.Request) -> web.StreamResponse:
        filters = Filters.parse(request.query.get("filters"))
        result = await asyncio.to_thread(backend.list_volumes, filters=filters)
        return json_response(result.to_wire())

    async def create(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        try:
            decoded = json.loads(body) if body.strip() else None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InvalidArgument(f"invalid JSON in volume create request: {exc}") from exc
        options = VolumeCreateRequest.from_wire(decoded)
        volume = await asyncio.to_thread(
            backend.create_volume,
            options.name,
            driver=options.driver,
            labels=dict(options.labels),
            driver_opts=dict(options.driver_opts),
        )
        return json_response(volume.to_wire(), status=201)

    async def inspect(request: web.Request) -> web.StreamResponse:
        volume = await asyncio.to_thread(backend.inspect_volume, request.match_info["name"])
        return json_response(volume.to_wire())

    async def remove(request: web.Request) -> web.StreamResponse:
        await asyncio.to_thread(
            backend.remove_volume, request.match_info["name"], force=_flag(request, "force")
        )
        return web.Response(status=204)

    async def prune(request: web.Request) -> web.StreamResponse:
        filters = Filters.parse(request.query.get("filters"))
        given = filters.keys()
        if request_api_version(request) < _PRUNE_KEEPS_NAMED_SINCE and "all" not in given:
            filters = Filters(tuple(sorted((*filters.entries, ("all", ("true",))))))
        report = await asyncio.to_thread(backend.prune_volumes, filters=filters)
        return json_response(report.to_wire())

    return [
        Route("GET", "/volumes", list_volumes),
        Route("POST", "/volumes/create", create),
        Route("POST", "/volumes/prune", prune),
        Route("GET", "/volumes/{name}", inspect),
        Route("DELETE", "/volumes/{name}", remove),
    ]
