"""The registry's aiohttp application: routing, auth, read-only mode, errors, headers.

Layer L3. Imports: stdlib, ``aiohttp``, ``wharf.distribution``, ``wharf.registry.*``.

Request path: every ``/v2/...`` request goes to ``dispatch``, which matches the path with
``wharf.distribution.routes`` (names may hold ``/``, so aiohttp's router is not used for
them), checks the method, refuses writes in read-only mode, authorizes the route's scopes
and calls the handler. Any exception becomes the spec's error envelope with the status
``wharf.distribution.errors`` gives it. Every response carries
``Docker-Distribution-API-Version: registry/2.0``.

Other paths: ``/token`` (built-in token endpoint, token auth only) and ``/metrics``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from wharf.distribution import routes
from wharf.distribution.errors import ErrorCode, RegistryError, from_exception, read_only
from wharf.distribution.scopes import Action, Scope, parse_scopes, required_scopes
from wharf.errdefs import InvalidArgument
from wharf.registry.handlers import HANDLERS, MOUNT_SOURCES_KEY
from wharf.registry.metrics import METRICS_KEY, PRINCIPAL_KEY
from wharf.registry.responses import error_response
from wharf.registry.service import RegistryService

SERVICE_KEY = web.AppKey("wharf.registry.service", RegistryService)
API_VERSION_HEADER = ("Docker-Distribution-API-Version", "registry/2.0")
_READ_METHODS = frozenset({"GET", "HEAD"})

_log = logging.getLogger("wharf.registry")


def _realm(service: RegistryService, request: web.Request) -> str:
    configured = service.config.auth.token.realm
    return configured or f"{request.scheme}://{request.host}/token"


async def dispatch(request: web.Request) -> web.StreamResponse:
    service = request.app[SERVICE_KEY]
    route = routes.match(request.path)
    routes.check_method(route, request.method, request.path)
    if service.config.read_only and request.method not in _READ_METHODS:
        raise read_only()
    required = required_scopes(route, request.method)
    optional: list[Scope] = []
    mount_from = request.query.get("from")
    if route.kind is routes.RouteKind.UPLOADS and mount_from and "mount" in request.query:
        optional.append(Scope.repository(mount_from, Action.PULL))
    principal, extra = await service.authenticator.authorize(
        request.headers.get("Authorization"),
        required,
        realm=_realm(service, request),
        optional=optional,
    )
    request[PRINCIPAL_KEY] = principal.label
    request[MOUNT_SOURCES_KEY] = frozenset(s.name for s in extra)
    return await HANDLERS[route.kind](service, request, route)


async def token(request: web.Request) -> web.StreamResponse:
    service = request.app[SERVICE_KEY]
    tokens = service.token_service
    if tokens is None:
        raise RegistryError(ErrorCode.NOT_FOUND, "token endpoint is not enabled")
    try:
        if request.method == "POST":
            form = {k: str(v) for k, v in (await request.post()).items()}
            scopes = parse_scopes(form.get("scope", "").split())
            issued = await tokens.oauth(form, scopes)
        else:
            scopes = parse_scopes(request.query.getall("scope", []))
            issued = await tokens.token(
                authorization=request.headers.get("Authorization"),
                scopes=scopes,
                service=request.query.get("service"),
                offline=request.query.get("offline_token") == "true",
            )
    except InvalidArgument as exc:
        raise RegistryError(ErrorCode.UNSUPPORTED, exc.message) from exc
    return web.json_response(issued.to_json())


async def metrics(request: web.Request) -> web.StreamResponse:
    service = request.app[SERVICE_KEY]
    service.metrics.uploads_in_flight = service.uploads.in_flight
    return web.Response(text=service.metrics.render(), content_type="text/plain")


@web.middleware
async def errors_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status == 404:
            return _error(
                request, RegistryError(ErrorCode.NOT_FOUND, f"no such route: {request.path[:300]}")
            )
        raise
    except Exception as exc:
        error = from_exception(exc)
        if error.status >= 500:
            _log.exception("%s %s failed", request.method, request.path)
        return _error(request, error)


def _error(request: web.Request, error: RegistryError) -> web.Response:
    return error_response(error, head=request.method == "HEAD")


async def _add_api_version(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.setdefault(*API_VERSION_HEADER)


def make_app(service: RegistryService) -> web.Application:
    # client_max_size only bounds request.read()/post(); bodies we stream are not held.
    app = web.Application(middlewares=[errors_middleware], client_max_size=1 << 20)
    app[SERVICE_KEY] = service
    app[METRICS_KEY] = service.metrics
    app.router.add_route("*", "/v2", dispatch)
    app.router.add_route("*", "/v2/{tail:.*}", dispatch)
    app.router.add_route("GET", "/token", token)
    app.router.add_route("POST", "/token", token)
    app.router.add_route("GET", "/metrics", metrics)
    app.on_response_prepare.append(_add_api_version)
    return app
