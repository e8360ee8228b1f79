"""Exec endpoints: ``POST /containers/{id}/exec``, ``POST /exec/{id}/start`` (hijacked),
``POST /exec/{id}/resize``, ``GET /exec/{id}/json``."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Protocol

from aiohttp import web

from wharf.api.app import Route, json_response
from wharf.api.routers.containers import _pump_attachment
from wharf.api.streams import STDOUT, HijackedStream
from wharf.errdefs import Conflict, InvalidArgument, NotFound, WharfError
from wharf.runtime.monitor_client import open_attachment


class ExecBackend(Protocol):
    def create(self, reference: str, config: Any) -> str: ...

    def start(self, exec_id: str, *, detach: bool, tty: bool | None = None) -> Any: ...

    def resize(self, exec_id: str, height: int, width: int) -> None: ...

    def inspect(self, exec_id: str) -> dict[str, Any]: ...

    def exec_config(self, exec_id: str) -> Any: ...

    def wait_exit(self, exec_id: str, timeout: float) -> None: ...


async def _json_body(request: web.Request) -> Any:
    raw = await request.read() if request.can_read_body else b""
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidArgument(f"invalid JSON body: {exc}") from exc


# A pause between the 101 and the first output (see ``start``).
_AFTER_101 = 0.03


def routes(backend: ExecBackend, parse_config: Any) -> list[Route]:
    async def create(request: web.Request) -> web.StreamResponse:
        config = parse_config(await _json_body(request))
        exec_id = await asyncio.to_thread(backend.create, request.match_info["id"], config)
        return json_response({"Id": exec_id}, status=201)

    async def start(request: web.Request) -> web.StreamResponse:
        body = await _json_body(request)
        if not isinstance(body, dict):
            raise InvalidArgument("invalid exec start body")
        exec_id = request.match_info["id"]
        config = await asyncio.to_thread(backend.exec_config, exec_id)
        detach = bool(body.get("Detach"))
        tty = body.get("Tty")
        try:
            target = await asyncio.to_thread(
                backend.start, exec_id, detach=detach, tty=None if tty is None else bool(tty)
            )
        except (NotFound, Conflict):
            raise
        except WharfError as exc:
            if detach:
                raise
            # dockerd hijacks before it starts the process, so a command that cannot start
            # (not found: exit code 127) is reported inside the stream, on stdout.
            failed = await HijackedStream.open(
                request, multiplexed=not (config.tty if tty is None else bool(tty))
            )
            await asyncio.sleep(_AFTER_101)
            await failed.write(STDOUT, f"{exc.message}\r\n".encode())
            await failed.close()
            return web.Response(status=200)
        if detach:
            return web.Response(status=200)
        stream = await HijackedStream.open(request, multiplexed=not target.tty)
        # The exec already ran and its output is held for us: give the client a moment to
        # read the 101 alone. Clients that read the response head through a buffered reader
        # and then switch to the raw socket (docker-py) lose bytes that arrived with it;
        # dockerd avoids it by starting the process only after the 101.
        await asyncio.sleep(_AFTER_101)
        try:
            attachment = await open_attachment(
                target.socket,
                stdin=config.attach_stdin,
                stdout=config.attach_stdout,
                stderr=config.attach_stderr,
            )
            await _pump_attachment(stream, attachment, stdin=config.attach_stdin)
            # The client asks for the exit code as soon as the stream ends.
            await asyncio.to_thread(backend.wait_exit, exec_id, 5.0)
        except (OSError, WharfError):
            pass
        finally:
            await stream.close()
        return web.Response(status=200)

    async def resize(request: web.Request) -> web.StreamResponse:
        try:
            height = int(request.query.get("h", "0"))
            width = int(request.query.get("w", "0"))
        except ValueError:
            raise InvalidArgument("invalid resize dimensions") from None
        await asyncio.to_thread(backend.resize, request.match_info["id"], height, width)
        return web.Response(status=200)

    async def inspect(request: web.Request) -> web.StreamResponse:
        return json_response(await asyncio.to_thread(backend.inspect, request.match_info["id"]))

    return [
        Route("POST", "/containers/{id}/exec", create),
        Route("POST", "/exec/{id}/start", start),
        Route("POST", "/exec/{id}/resize", resize),
        Route("GET", "/exec/{id}/json", inspect),
    ]
