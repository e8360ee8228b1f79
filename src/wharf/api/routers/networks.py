"""Network endpoints, and wharf's live port changes.

``GET /networks`` -> list of NetworkResource; ``GET /networks/{id}``; ``POST /networks/create``
-> 201 ``{"Id", "Warning"}``; ``DELETE /networks/{id}`` -> 204; ``POST /networks/{id}/connect``
and ``/disconnect`` -> 200; ``POST /networks/prune`` -> ``{"NetworksDeleted": [...]}``.

``POST /containers/{id}/ports`` (not in Docker's API: Docker cannot change the ports of a
running container) takes ``{"PortBindings": {"80/tcp": [{"HostIp", "HostPort"}]},
"Remove": ["443/tcp"]}`` and answers the container's ``Ports`` map as inspect shows it.
"""

from __future__ import annotations

import asyncio
import builtins
import json
from collections.abc import Sequence
from typing import Protocol

from aiohttp import web

from wharf.api.app import Route, json_response
from wharf.apitypes.filters import Filters
from wharf.apitypes.networks import (
    ConnectRequest,
    DisconnectRequest,
    EndpointSettings,
    NetworkCreateRequest,
    NetworkCreateResponse,
    NetworkResource,
    PortBindingRequest,
    PortEntry,
    PortsUpdateRequest,
    ports_wire,
)
from wharf.errdefs import InvalidArgument


class NetworksBackend(Protocol):
    def create_network(self, request: NetworkCreateRequest) -> NetworkCreateResponse: ...

    def list_networks(self, *, filters: Filters) -> builtins.list[NetworkResource]: ...

    def inspect_network(self, reference: str) -> NetworkResource: ...

    def remove_network(self, reference: str) -> None: ...

    def prune_networks(self, *, filters: Filters) -> builtins.list[str]: ...

    def connect(self, network_ref: str, container_ref: str, settings: EndpointSettings) -> None: ...

    def disconnect(self, network_ref: str, container_ref: str, *, force: bool = False) -> None: ...

    def update_ports(
        self,
        container_ref: str,
        *,
        add: Sequence[PortBindingRequest] = (),
        remove: Sequence[str] = (),
    ) -> tuple[PortEntry, ...]: ...


async def _body(request: web.Request, what: str) -> object:
    data = await request.read()
    if not data.strip():
        return None
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"invalid JSON in {what}: {exc}") from exc


def routes(backend: NetworksBackend) -> list[Route]:
    async def list_networks(request: web.Request) -> web.StreamResponse:
        filters = Filters.parse(request.query.get("filters"))
        found = await asyncio.to_thread(backend.list_networks, filters=filters)
        return json_response([network.to_wire() for network in found])

    async def inspect(request: web.Request) -> web.StreamResponse:
        network = await asyncio.to_thread(backend.inspect_network, request.match_info["id"])
        return json_response(network.to_wire())

    async def create(request: web.Request) -> web.StreamResponse:
        options = NetworkCreateRequest.from_wire(await _body(request, "network create request"))
        result = await asyncio.to_thread(backend.create_network, options)
        return json_response(result.to_wire(), status=201)

    async def remove(request: web.Request) -> web.StreamResponse:
        await asyncio.to_thread(backend.remove_network, request.match_info["id"])
        return web.Response(status=204)

    async def connect(request: web.Request) -> web.StreamResponse:
        body = ConnectRequest.from_wire(await _body(request, "network connect request"))
        await asyncio.to_thread(
            backend.connect, request.match_info["id"], body.container, body.endpoint
        )
        return web.Response(status=200)

    async def disconnect(request: web.Request) -> web.StreamResponse:
        body = DisconnectRequest.from_wire(await _body(request, "network disconnect request"))
        await asyncio.to_thread(
            backend.disconnect, request.match_info["id"], body.container, force=body.force
        )
        return web.Response(status=200)

    async def prune(request: web.Request) -> web.StreamResponse:
        filters = Filters.parse(request.query.get("filters"))
        removed = await asyncio.to_thread(backend.prune_networks, filters=filters)
        return json_response({"NetworksDeleted": removed})

    async def ports(request: web.Request) -> web.StreamResponse:
        body = PortsUpdateRequest.from_wire(await _body(request, "ports update request"))
        entries = await asyncio.to_thread(
            backend.update_ports, request.match_info["id"], add=body.add, remove=body.remove
        )
        return json_response(ports_wire(entries))

    return [
        Route("GET", "/networks", list_networks),
        Route("POST", "/networks/create", create),
        Route("POST", "/networks/prune", prune),
        Route("GET", "/networks/{id}", inspect),
        Route("DELETE", "/networks/{id}", remove),
        Route("POST", "/networks/{id}/connect", connect),
        Route("POST", "/networks/{id}/disconnect", disconnect),
        Route("POST", "/containers/{id}/ports", ports),
    ]
