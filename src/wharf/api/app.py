"""Builds the aiohttp application that serves the Docker Engine API.

Every route is registered twice, bare and under ``/v{version}``, as dockerd accepts both.
Two middlewares wrap all handlers: the version check and the single error mapping
(``api.errors``). Unknown endpoints get Docker's error shape with a message naming the
endpoint, and the log says which client asked.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from wharf import errdefs
from wharf.api import errors
from wharf.apitypes import versions

log = logging.getLogger("wharf.api")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
API_VERSION_KEY = web.AppKey("api_version_default", str)


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    handler: Handler


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(body).encode() + b"\n", status=status, content_type="application/json"
    )


def request_api_version(request: web.Request) -> tuple[int, int]:
    """The API version the client asked for (the newest we speak when unversioned)."""
    version = request.match_info.get("api_version") or versions.API_VERSION
    return versions.parse_version(version)


def _client_name(request: web.Request) -> str:
    return request.headers.get("User-Agent", "unknown client")


@web.middleware
async def _error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        version = request.match_info.get("api_version")
        if version is not None:
            versions.check_supported(version)
        return await handler(request)
    except errdefs.WharfError as exc:
        status = errors.status_for(exc)
        level = logging.ERROR if status >= 500 else logging.DEBUG
        log.log(level, "%s %s -> %d: %s", request.method, request.path, status, exc.message)
        return json_response(errors.error_body(exc.message), status=status)
    except web.HTTPNotFound:
        log.warning(
            "unsupported endpoint %s %s asked by %s",
            request.method,
            request.path,
            _client_name(request),
        )
        message = f"page not found: {request.method} {request.path} is not supported by wharf"
        return json_response(errors.error_body(message), status=404)
    except web.HTTPMethodNotAllowed:
        log.warning(
            "unsupported method %s %s asked by %s",
            request.method,
            request.path,
            _client_name(request),
        )
        message = f"method not allowed: {request.method} {request.path} is not supported by wharf"
        return json_response(errors.error_body(message), status=405)


def build_app(routes: list[Route]) -> web.Application:
    """An application serving ``routes`` at bare and versioned paths."""
    app = web.Application(middlewares=[_error_middleware], client_max_size=0)
    for route in routes:
        for prefix in ("", "/v{api_version:[0-9]+\\.[0-9]+}"):
            app.router.add_route(route.method, prefix + route.path, route.handler)
    return app
