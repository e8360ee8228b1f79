"""Build endpoints: ``POST /build``, ``POST /build/prune``, and a refusal for ``POST /session``.

``POST /build`` (Docker's classic builder): the query decodes into ``BuildOptions``, the tar
body is spooled to an anonymous temporary file (any size; the kernel frees it when closed, even
after a crash), and the backend's blocking ``build`` runs in a worker thread reading it. What
the backend emits streams out as JSON lines (``apitypes.build``), as dockerd answers:

- an error raised before anything was emitted is a plain error status (bad Dockerfile name,
  unknown base image), mapped by ``api.errors``;
- once a line has gone out the status is 200, and a later failure is a final
  ``{"errorDetail": {"message", "code"?}, "error"}`` line; ``code`` is the failing step's exit
  code when the error carries one (an int ``exit_code`` attribute);
- the backend may instead emit its failure as an error line itself (and return ""): that line
  ends the stream and nothing is added;
- after success the router adds ``{"aux": {"ID": ...}}`` unless the backend emitted one, and
  with ``q=1`` it holds the backend's ``stream`` text back, answers only the aux and the image
  ID line, and lets the held text out before an error (what dockerd does with
  ``SuppressOutput``).

A client that goes away mid-build stops the writing (aiohttp cancels the handler), not the
build: the spooled context stays open until the backend returns, then closes.

``POST /build/prune?all=&filters=&keep-storage=`` -> ``{"CachesDeleted", "SpaceReclaimed"}``.
``POST /session`` is BuildKit's gRPC session: refused with a message the docker CLI prints.

Imports aiohttp, ``wharf.api``, ``wharf.apitypes`` and ``wharf.errdefs``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
import tempfile
from collections.abc import Callable
from typing import BinaryIO, Protocol

from aiohttp import web

from wharf.api.app import Route, json_response
from wharf.api.bodies import buffered_reader
from wharf.apitypes.build import BuildMessage, BuildOptions, BuildPruneReport, docker_bool
from wharf.apitypes.filters import Filters
from wharf.errdefs import EngineFailure, InvalidArgument, NotFound, WharfError

log = logging.getLogger("wharf.api.build")

SESSION_REFUSAL = "BuildKit sessions are not supported by wharf; use DOCKER_BUILDKIT=0"
_SPOOL_CHUNK = 1 << 20


class BuildBackend(Protocol):
    def build(
        self, options: BuildOptions, context: BinaryIO, emit: Callable[[BuildMessage], None]
    ) -> str:
        """Build from the context tar in ``context`` (blocking; called in a worker thread and
        ``emit`` may be called from any thread until it returns); the new image's ID."""
        ...

    def prune_cache(
        self, *, all: bool, filters: Filters, keep_storage: int
    ) -> BuildPruneReport: ...


def _json_line(message: BuildMessage) -> bytes:
    return json.dumps(message.to_wire()).encode() + b"\r\n"


def _error_code(error: BaseException) -> int | None:
    code = getattr(error, "exit_code", None)
    return code if isinstance(code, int) and not isinstance(code, bool) else None


class _BuildOutput:
    """The response of one build: started by the first line, held back in quiet mode."""

    def __init__(self, request: web.Request, *, quiet: bool) -> None:
        self._request = request
        self._quiet = quiet
        self._held: list[BuildMessage] = []
        self._response: web.StreamResponse | None = None
        self._gone = False
        self.sent_aux = False
        self.sent_error = False

    async def send(self, message: BuildMessage) -> None:
        if self._quiet and message.stream and not (message.aux_id or message.error):
            self._held.append(message)
            return
        self.sent_aux = self.sent_aux or bool(message.aux_id)
        if message.error:
            self.sent_error = True
            await self._release_held()
        await self._write(message)

    async def _release_held(self) -> None:
        held, self._held = self._held, []
        for message in held:
            await self._write(message)

    async def _write(self, message: BuildMessage) -> None:
        if self._gone:
            return
        try:
            if self._response is None:
                self._response = web.StreamResponse(headers={"Content-Type": "application/json"})
                await self._response.prepare(self._request)
            await self._response.write(_json_line(message))
        except (ConnectionError, RuntimeError):
            # The client went away; the build still has to finish before its context closes.
            self._gone = True

    async def quiet_result(self, image_id: str) -> None:
        """``q=1`` succeeded: the held text is dropped and the image ID is the whole output."""
        self._held.clear()
        await self._write(BuildMessage(stream=image_id + "\n"))

    async def fail(self, error: WharfError) -> web.StreamResponse:
        """End with ``error``: a plain status if nothing went out yet, else an error line."""
        if self._response is None and not self._held and not self._gone:
            raise error
        await self._release_held()
        if not self.sent_error:
            await self._write(BuildMessage(error=error.message, error_code=_error_code(error)))
        return await self.finish()

    async def finish(self) -> web.StreamResponse:
        if self._response is None:
            self._response = web.StreamResponse(headers={"Content-Type": "application/json"})
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self._response.prepare(self._request)
        if not self._gone:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self._response.write_eof()
        return self._response


async def _spool_body(request: web.Request, spool_dir: str | None) -> BinaryIO:
    spool = await asyncio.to_thread(tempfile.TemporaryFile, "w+b", dir=spool_dir)
    reader = buffered_reader(request)
    try:
        await asyncio.to_thread(shutil.copyfileobj, reader, spool, _SPOOL_CHUNK)
        await asyncio.to_thread(spool.seek, 0)
    except OSError as exc:
        spool.close()
        if isinstance(exc, ConnectionError):
            raise InvalidArgument(f"the build context upload was cut short: {exc}") from exc
        raise EngineFailure(f"cannot store the build context: {exc.strerror or exc}") from exc
    except WharfError:
        spool.close()
        raise
    except Exception as exc:
        spool.close()
        # aiohttp's payload errors (a chunked body cut short) are the client's doing.
        raise InvalidArgument(f"the build context upload failed: {exc}") from exc
    return spool


async def _run_build(
    request: web.Request, backend: BuildBackend, options: BuildOptions, context: BinaryIO
) -> web.StreamResponse:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[BuildMessage | None] = asyncio.Queue()

    def emit(message: BuildMessage) -> None:
        # A daemon shutting down closes the loop under a running build: drop the line.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(queue.put_nowait, message)

    def build() -> str:
        return backend.build(options, context, emit)

    working = loop.run_in_executor(None, build)
    # The executor's completion is scheduled after every emit the build made before returning,
    # so the end marker arrives after the last line.
    working.add_done_callback(lambda _done: queue.put_nowait(None))
    working.add_done_callback(lambda _done: context.close())
    working.add_done_callback(_consume_abandoned)
    output = _BuildOutput(request, quiet=options.quiet)
    while (message := await queue.get()) is not None:
        await output.send(message)
    try:
        image_id = working.result()
    except WharfError as exc:
        return await output.fail(exc)
    except Exception as exc:
        log.exception("build failed unexpectedly")
        return await output.fail(EngineFailure(f"build failed: {type(exc).__name__}: {exc}"))
    if output.sent_error:
        return await output.finish()  # the backend reported its own failure as a line
    if not image_id:
        return await output.fail(EngineFailure("the build finished without an image"))
    if not output.sent_aux:
        await output.send(BuildMessage(aux_id=image_id))
    if options.quiet:
        await output.quiet_result(image_id)
    return await output.finish()


def _consume_abandoned(done: asyncio.Future[str]) -> None:
    # aiohttp cancels the handler of a client that left; its build's outcome is only logged.
    if not done.cancelled() and (error := done.exception()) is not None:
        log.debug("build ended with %s", error)


def routes(backend: BuildBackend, *, spool_dir: str | None = None) -> list[Route]:
    """``spool_dir`` holds uploaded contexts while they build (default: the system's tmp)."""

    async def build(request: web.Request) -> web.StreamResponse:
        options = BuildOptions.from_request(request.query.items(), request.headers)
        context = await _spool_body(request, spool_dir)
        return await _run_build(request, backend, options, context)

    async def prune(request: web.Request) -> web.StreamResponse:
        filters = Filters.parse(request.query.get("filters"))
        keep_text = request.query.get("keep-storage") or request.query.get("reserved-space") or ""
        try:
            keep_storage = int(keep_text) if keep_text.strip() else 0
        except ValueError:
            raise InvalidArgument(
                f"invalid keep-storage {keep_text!r}: expected a size in bytes"
            ) from None
        report = await asyncio.to_thread(
            backend.prune_cache,
            all=docker_bool(request.query.get("all")),
            filters=filters,
            keep_storage=keep_storage,
        )
        return json_response(report.to_wire())

    async def session(request: web.Request) -> web.StreamResponse:
        raise NotFound(SESSION_REFUSAL)

    return [
        Route("POST", "/build", build),
        Route("POST", "/build/prune", prune),
        Route("POST", "/session", session),
    ]
