"""``/_ping``, ``/version``, ``/info``.

The ping reply carries the headers the docker CLI negotiates with; a HEAD reply has no body.
"""

from __future__ import annotations

from typing import Protocol

from aiohttp import web

from wharf.api.app import Route, json_response
from wharf.apitypes import versions
from wharf.apitypes.system import SystemInfo, VersionInfo


class SystemBackend(Protocol):
    def version(self) -> VersionInfo: ...

    def info(self) -> SystemInfo: ...


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

    return [
        Route("GET", "/_ping", ping),
        Route("HEAD", "/_ping", ping),
        Route("GET", "/version", version),
        Route("GET", "/info", info),
    ]
