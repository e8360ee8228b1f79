"""Container endpoints: create, list, inspect, start/stop/restart/kill/pause/unpause, wait,
remove, rename, update, resize, attach (hijacked), logs (streamed), prune.

Waiting and attaching never hold a worker thread: ``wait`` resolves a future the engine
completes on exit, and attach talks to the container's monitor socket with asyncio.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import json
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from datetime import datetime
from typing import Any, Protocol

from aiohttp import web

from wharf.api.app import Route, json_response
from wharf.api.routers.images import query_flag
from wharf.api.streams import STDERR, STDOUT, HijackedStream
from wharf.apitypes.container_update import UpdateRequest
from wharf.apitypes.containers import ContainerInspect, ContainerSummary, CreateRequest
from wharf.apitypes.filters import Filters
from wharf.errdefs import InvalidArgument, WharfError
from wharf.runtime.logs import LogEntry
from wharf.runtime.monitor_client import AsyncAttachment, FrameKind, open_attachment


class AttachTicketLike(Protocol):
    ready: Future[Any]

    def connected(self) -> None: ...


class ContainersBackend(Protocol):
    def create(self, request: CreateRequest) -> Any: ...

    def list(
        self, *, all: bool, filters: Filters, limit: int = -1, size: bool = False
    ) -> builtins.list[ContainerSummary]: ...

    def inspect(self, reference: str) -> ContainerInspect: ...

    def start(self, reference: str) -> None: ...

    def stop(
        self, reference: str, *, timeout: int | None = None, signal_text: str = ""
    ) -> None: ...

    def restart(self, reference: str, *, timeout: int | None = None) -> None: ...

    def kill(self, reference: str, signal_text: str = "SIGKILL") -> None: ...

    def wait(self, reference: str, condition: str = "not-running") -> Future[Any]: ...

    def remove(self, reference: str, *, force: bool = False, volumes: bool = False) -> None: ...

    def rename(self, reference: str, new_name: str) -> None: ...

    def update(self, reference: str, request: UpdateRequest) -> builtins.list[str]: ...

    def pause(self, reference: str) -> None: ...

    def unpause(self, reference: str) -> None: ...

    def resize(self, reference: str, height: int, width: int) -> None: ...

    def register_attach(self, reference: str) -> AttachTicketLike: ...

    def prune(self, filters: Filters) -> tuple[builtins.list[str], int]: ...

    def logs(
        self,
        reference: str,
        *,
        stdout: bool,
        stderr: bool,
        follow: bool,
        since_ns: int | None,
        until_ns: int | None,
        tail: int | None,
        cancelled: Callable[[], bool] = ...,
    ) -> tuple[bool, Iterator[LogEntry]]: ...


def _int_query(request: web.Request, name: str) -> int | None:
    value = request.query.get(name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise InvalidArgument(f"invalid value for {name}: {value!r}") from None


def parse_timestamp_ns(value: str | None) -> int | None:
    """Docker's since/until: unix seconds (with fractions) or RFC3339."""
    if not value:
        return None
    try:
        if "." in value:
            seconds, fraction = value.split(".", 1)
            return int(seconds) * 1_000_000_000 + int(fraction.ljust(9, "0")[:9])
        return int(value) * 1_000_000_000
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidArgument(f"invalid time value: {value!r}") from None
    return int(moment.timestamp() * 1_000_000_000)


async def _pump_attachment(
    stream: HijackedStream, attachment: AsyncAttachment, *, stdin: bool
) -> None:
    """Copy monitor frames to the client and client stdin to the monitor until the end."""

    async def to_client() -> None:
        while True:
            frame = await attachment.read_frame()
            if frame is None:
                return
            if frame.kind is FrameKind.STDOUT:
                await stream.write(STDOUT, frame.payload)
            elif frame.kind is FrameKind.STDERR:
                await stream.write(STDERR, frame.payload)
            elif frame.kind is FrameKind.EXIT:
                return

    async def from_client() -> None:
        while True:
            data = await stream.read_stdin()
            if not data:
                await attachment.close_stdin()
                return
            await attachment.write_stdin(data)

    output = asyncio.create_task(to_client())
    tasks = [output]
    if stdin:
        tasks.append(asyncio.create_task(from_client()))
    try:
        await output
    finally:
        for task in tasks:
            task.cancel()
        attachment.close()


def routes(backend: ContainersBackend) -> list[Route]:
    async def create(request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except json.JSONDecodeError as exc:
            raise InvalidArgument(f"invalid JSON body: {exc}") from exc
        create_request = CreateRequest.from_wire(
            body, name=request.query.get("name", ""), platform=request.query.get("platform", "")
        )
        result = await asyncio.to_thread(backend.create, create_request)
        return json_response({"Id": result.id, "Warnings": list(result.warnings)}, status=201)

    async def list_containers(request: web.Request) -> web.StreamResponse:
        filters = Filters.parse(request.query.get("filters"))
        limit = _int_query(request, "limit") or -1
        include_all = query_flag(request, "all") or limit > 0
        summaries = await asyncio.to_thread(
            backend.list,
            all=include_all,
            filters=filters,
            limit=limit,
            size=query_flag(request, "size"),
        )
        return json_response([summary.to_wire() for summary in summaries])

    async def inspect(request: web.Request) -> web.StreamResponse:
        result = await asyncio.to_thread(backend.inspect, request.match_info["id"])
        return json_response(result.to_wire())

    async def start(request: web.Request) -> web.StreamResponse:
        await asyncio.to_thread(backend.start, request.match_info["id"])
        return web.Response(status=204)

    async def stop(request: web.Request) -> web.StreamResponse:
        timeout = _int_query(request, "t")
        await asyncio.to_thread(
            backend.stop,
            request.match_info["id"],
            timeout=timeout,
            signal_text=request.query.get("signal", ""),
        )
        return web.Response(status=204)

    async def restart(request: web.Request) -> web.StreamResponse:
        await asyncio.to_thread(
            backend.restart, request.match_info["id"], timeout=_int_query(request, "t")
        )
        return web.Response(status=204)

    async def kill(request: web.Request) -> web.StreamResponse:
        await asyncio.to_thread(
            backend.kill, request.match_info["id"], request.query.get("signal", "SIGKILL")
        )
        return web.Response(status=204)

    async def wait(request: web.Request) -> web.StreamResponse:
        future = await asyncio.to_thread(
            backend.wait, request.match_info["id"], request.query.get("condition", "")
        )
        # Send the headers now, as dockerd does, so clients know the wait is in place.
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        result = await asyncio.wrap_future(future)
        body: dict[str, Any] = {"StatusCode": result.status_code, "Error": None}
        if result.error:
            body["Error"] = {"Message": result.error}
        with contextlib.suppress(ConnectionResetError):
            await response.write(json.dumps(body).encode() + b"\n")
            await response.write_eof()
        return response

    async def remove(request: web.Request) -> web.StreamResponse:
        await asyncio.to_thread(
            backend.remove,
            request.match_info["id"],
            force=query_flag(request, "force"),
            volumes=query_flag(request, "v"),
        )
        return web.Response(status=204)

    async def rename(request: web.Request) -> web.StreamResponse:
        await asyncio.to_thread(
            backend.rename, request.match_info["id"], request.query.get("name", "")
        )
        return web.Response(status=204)

    async def update(request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json() if request.can_read_body else None
        except json.JSONDecodeError as exc:
            raise InvalidArgument(f"invalid JSON body: {exc}") from exc
        update_request = UpdateRequest.from_wire(body)
        warnings = await asyncio.to_thread(backend.update, request.match_info["id"], update_request)
        return json_response({"Warnings": warnings})

    async def pause(request: web.Request) -> web.StreamResponse:
        await asyncio.to_thread(backend.pause, request.match_info["id"])
        return web.Response(status=204)

    async def unpause(request: web.Request) -> web.StreamResponse:
        await asyncio.to_thread(backend.unpause, request.match_info["id"])
        return web.Response(status=204)

    async def resize(request: web.Request) -> web.StreamResponse:
        height = _int_query(request, "h") or 0
        width = _int_query(request, "w") or 0
        await asyncio.to_thread(backend.resize, request.match_info["id"], height, width)
        return web.Response(status=200)

    async def attach(request: web.Request) -> web.StreamResponse:
        reference = request.match_info["id"]
        want_stdin = query_flag(request, "stdin")
        want_stdout = query_flag(request, "stdout")
        want_stderr = query_flag(request, "stderr")
        ticket = await asyncio.to_thread(backend.register_attach, reference)
        tty = bool(getattr(getattr(ticket, "target", None), "tty", False))
        stream = await HijackedStream.open(request, multiplexed=not tty)
        try:
            target = await _wait_ready(ticket, stream)
            if target is None:
                return web.Response(status=200)
            try:
                attachment = await open_attachment(
                    target.socket, stdin=want_stdin, stdout=want_stdout, stderr=want_stderr
                )
            finally:
                ticket.connected()
            await _pump_attachment(stream, attachment, stdin=want_stdin)
        except (OSError, WharfError):
            pass
        finally:
            await stream.close()
        return web.Response(status=200)

    async def logs(request: web.Request) -> web.StreamResponse:
        stdout = query_flag(request, "stdout")
        stderr = query_flag(request, "stderr")
        if not stdout and not stderr:
            raise InvalidArgument("Bad parameters: you must choose at least one stream")
        follow = query_flag(request, "follow")
        timestamps = query_flag(request, "timestamps")
        tail_text = request.query.get("tail", "all")
        tail = None if tail_text in ("", "all") else _int_query(request, "tail")
        since = parse_timestamp_ns(request.query.get("since"))
        until = parse_timestamp_ns(request.query.get("until"))
        cancelled = False
        tty, entries = await asyncio.to_thread(
            backend.logs,
            request.match_info["id"],
            stdout=stdout,
            stderr=stderr,
            follow=follow,
            since_ns=since if since else None,
            until_ns=until if until else None,
            tail=tail,
            cancelled=lambda: cancelled,
        )
        content_type = (
            "application/vnd.docker.raw-stream"
            if tty
            else ("application/vnd.docker.multiplexed-stream")
        )
        response = web.StreamResponse(headers={"Content-Type": content_type})
        await response.prepare(request)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[LogEntry | None] = asyncio.Queue(maxsize=1024)

        def produce() -> None:
            try:
                for entry in entries:
                    if cancelled:
                        return
                    asyncio.run_coroutine_threadsafe(queue.put(entry), loop).result()
            finally:
                asyncio.run_coroutine_threadsafe(queue.put(None), loop).result()

        producer = loop.run_in_executor(None, produce)
        try:
            while (entry := await queue.get()) is not None:
                data = entry.data
                if timestamps:
                    data = entry.time_text.encode() + b" " + data
                if tty:
                    await response.write(data)
                else:
                    from wharf.api.streams import stdcopy_frame

                    await response.write(
                        stdcopy_frame(STDOUT if entry.stream == "stdout" else STDERR, data)
                    )
        except (ConnectionResetError, asyncio.CancelledError):
            cancelled = True
            raise
        finally:
            cancelled = True
            while not producer.done():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
                await asyncio.sleep(0.01)
        await response.write_eof()
        return response

    async def prune(request: web.Request) -> web.StreamResponse:
        filters = Filters.parse(request.query.get("filters"))
        deleted, space = await asyncio.to_thread(backend.prune, filters)
        return json_response({"ContainersDeleted": deleted or None, "SpaceReclaimed": space})

    container = "/containers/{id}"
    return [
        Route("POST", "/containers/create", create),
        Route("GET", "/containers/json", list_containers),
        Route("POST", "/containers/prune", prune),
        Route("GET", f"{container}/json", inspect),
        Route("POST", f"{container}/start", start),
        Route("POST", f"{container}/stop", stop),
        Route("POST", f"{container}/restart", restart),
        Route("POST", f"{container}/kill", kill),
        Route("POST", f"{container}/wait", wait),
        Route("POST", f"{container}/rename", rename),
        Route("POST", f"{container}/update", update),
        Route("POST", f"{container}/pause", pause),
        Route("POST", f"{container}/unpause", unpause),
        Route("POST", f"{container}/resize", resize),
        Route("POST", f"{container}/attach", attach),
        Route("GET", f"{container}/logs", logs),
        Route("DELETE", container, remove),
    ]


async def _wait_ready(ticket: AttachTicketLike, stream: HijackedStream) -> Any:
    """The attach target once the container runs; None if the client went away first."""
    wrapped = asyncio.wrap_future(ticket.ready)
    while True:
        done, _ = await asyncio.wait({wrapped}, timeout=1.0)
        if done:
            return wrapped.result()
        if stream.closed:
            wrapped.cancel()
            ticket.connected()
            return None
