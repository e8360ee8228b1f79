"""``/_ping``, ``/version``, ``/info``, ``/system/df``.

The ping reply carries the headers the docker CLI negotiates with; a HEAD reply has no body.
``/system/df`` takes repeated ``type`` values (container, image, volume, build-cache) to
measure some sections only, as dockerd does since API 1.42.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from aiohttp import web

from wharf.api.app import Route, json_response, request_api_version
from wharf.apitypes import versions
from wharf.apitypes.diskusage import DiskUsage, UsageKind
from wharf.apitypes.system import SystemInfo, VersionInfo


class SystemBackend(Protocol):
    def version(self) -> VersionInfo: ...

    def info(self) -> SystemInfo: ...

    def disk_usage(self, kinds: frozenset[UsageKind] = ...) -> DiskUsage: ...


def _ping_headers(server_version: str) -> dict[str, str]:
    return {
        "Api-Version": versions.API_VERSION,
        "Builder-Version": "1",
        "Cache-Control": "no-cache, no-store, must-revalidate",
        "Docker-Experimental": "false",
        "Ostype": "linux",
        "Pragma": "no-cache",
        "Server": f"Wharf/{server_version} (linux)",
    }


def routes(backend: SystemBackend, server_version: str) -> list[Route]:
    headers = _ping_headers(server_version)

    async def ping(request: web.Request) -> web.StreamResponse:
        if request.method == "HEAD":
            return web.Response(status=200, headers={**headers, "Content-Length": "0"})
        return web.Response(text="OK", headers=headers, content_type="text/plain")

    async def version(request: web.Request) -> web.StreamResponse:
        return json_response(backend.version().to_wire())

    async def info(request: web.Request) -> web.StreamResponse:
        return json_response(backend.info().to_wire())

    async def disk_usage(request: web.Request) -> web.StreamResponse:
        kinds = UsageKind.parse_all(request.query.getall("type", []))
        usage = await asyncio.to_thread(backend.disk_usage, kinds)
        return json_response(usage.to_wire(request_api_version(request)))

    return [
        Route("GET", "/_ping", ping),
        Route("HEAD", "/_ping", ping),
        Route("GET", "/version", version),
        Route("GET", "/info", info),
        Route("GET", "/system/df", disk_usage),
    ]
