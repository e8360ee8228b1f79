"""The build endpoints (api/routers/build.py) in an in-process aiohttp server over a fake
backend: what the backend is handed, and the stream or status the client sees; last, the
wharf client's build calls against the same server on a unix socket."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from wharf.api.app import build_app
from wharf.api.routers import build as build_router
from wharf.apitypes.build import (
    SECRETS_HEADER,
    BuildMessage,
    BuildOptions,
    BuildPruneReport,
    BuildSecret,
)
from wharf.apitypes.filters import Filters
from wharf.client.api import EngineClient
from wharf.client.build import BuildFailed
from wharf.client.transport import UnixSocketTransport
from wharf.errdefs import EngineFailure, InvalidArgument, NotFound

IMAGE_ID = "sha256:" + "ab" * 32

Emit = Callable[[BuildMessage], None]
Script = Callable[[BuildOptions, BinaryIO, Emit], str]


class StepFailure(EngineFailure):
    """An engine error that carries the failing step's exit code."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class FakeBackend:
    """Runs ``script`` as the build; records what the router handed it."""

    def __init__(self, script: Script | None = None) -> None:
        self.script = script or (lambda options, context, emit: IMAGE_ID)
        self.options: list[BuildOptions] = []
        self.context_bytes: list[bytes] = []
        self.contexts: list[BinaryIO] = []
        self.prunes: list[tuple[bool, Filters, int]] = []
        self.finished = threading.Event()

    def build(self, options: BuildOptions, context: BinaryIO, emit: Emit) -> str:
        self.options.append(options)
        self.contexts.append(context)
        self.context_bytes.append(context.read())
        try:
            return self.script(options, context, emit)
        finally:
            self.finished.set()

    def prune_cache(self, *, all: bool, filters: Filters, keep_storage: int) -> BuildPruneReport:
        self.prunes.append((all, filters, keep_storage))
        return BuildPruneReport(("c1", "c2"), 2048)


Call = Callable[..., Awaitable[tuple[int, str, list[Any]]]]
Scenario = Callable[[Call, TestClient[Any, Any]], Awaitable[None]]


def serve(backend: FakeBackend, script: Scenario) -> None:
    async def main() -> None:
        app = build_app(build_router.routes(backend))
        async with TestClient(TestServer(app)) as client:

            async def call(method: str, path: str, **kwargs: Any) -> tuple[int, str, list[Any]]:
                response = await client.request(method, path, **kwargs)
                text = await response.text()
                lines = [json.loads(line) for line in text.splitlines() if line.strip()]
                return response.status, response.headers.get("Content-Type", ""), lines

            await script(call, client)

    asyncio.run(main())


def run(backend: FakeBackend, method: str, path: str, **kwargs: Any) -> tuple[int, str, list[Any]]:
    result: list[tuple[int, str, list[Any]]] = []

    async def script(call: Call, _client: TestClient[Any, Any]) -> None:
        result.append(await call(method, path, **kwargs))

    serve(backend, script)
    return result[0]


def streams(*texts: str) -> Script:
    def script(options: BuildOptions, context: BinaryIO, emit: Emit) -> str:
        for text in texts:
            emit(BuildMessage(stream=text))
        return IMAGE_ID

    return script


# --- POST /build


def test_a_build_streams_its_lines_then_the_image_id() -> None:
    backend = FakeBackend(streams("Step 1/2 : FROM scratch\n", "Step 2/2 : LABEL a=b\n"))
    status, content_type, lines = run(
        backend,
        "POST",
        "/v1.41/build?t=app:1&t=app:2&dockerfile=Dockerfile&version=1",
        data=b"tar-bytes",
    )
    assert status == 200
    assert content_type == "application/json"
    assert lines == [
        {"stream": "Step 1/2 : FROM scratch\n"},
        {"stream": "Step 2/2 : LABEL a=b\n"},
        {"aux": {"ID": IMAGE_ID}},
    ]
    assert backend.options == [BuildOptions(tags=("app:1", "app:2"))]
    assert backend.context_bytes == [b"tar-bytes"]


def test_a_big_chunked_context_is_spooled_whole_and_closed_after() -> None:
    payload = bytes(range(256)) * (12 * 1024)  # 3 MiB

    async def chunks() -> Any:
        for start in range(0, len(payload), 100_000):
            yield payload[start : start + 100_000]

    backend = FakeBackend()
    status, _, lines = run(backend, "POST", "/build", data=chunks())
    assert status == 200
    assert lines == [{"aux": {"ID": IMAGE_ID}}]
    assert backend.context_bytes == [payload]
    assert backend.contexts[0].closed


def test_an_aux_the_backend_emitted_is_not_repeated() -> None:
    def script(options: BuildOptions, context: BinaryIO, emit: Emit) -> str:
        emit(BuildMessage(stream="Successfully built abab\n"))
        emit(BuildMessage(aux_id=IMAGE_ID))
        return IMAGE_ID

    _, _, lines = run(FakeBackend(script), "POST", "/build", data=b"")
    assert lines == [{"stream": "Successfully built abab\n"}, {"aux": {"ID": IMAGE_ID}}]


def test_lines_emitted_from_other_threads_all_arrive_before_the_end() -> None:
    def script(options: BuildOptions, context: BinaryIO, emit: Emit) -> str:
        def stage(n: int) -> None:
            for i in range(50):
                emit(BuildMessage(stream=f"{n}.{i}\n"))

        workers = [threading.Thread(target=stage, args=(n,)) for n in range(4)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        return IMAGE_ID

    _, _, lines = run(FakeBackend(script), "POST", "/build", data=b"")
    assert len(lines) == 201
    assert lines[-1] == {"aux": {"ID": IMAGE_ID}}
    assert sorted(line["stream"] for line in lines[:-1]) == sorted(
        f"{n}.{i}\n" for n in range(4) for i in range(50)
    )


def test_an_error_before_any_output_is_a_plain_status() -> None:
    def script(options: BuildOptions, context: BinaryIO, emit: Emit) -> str:
        raise NotFound("Cannot locate specified Dockerfile: Dockerfile")

    status, _, lines = run(FakeBackend(script), "POST", "/build", data=b"")
    assert status == 404
    assert lines == [{"message": "Cannot locate specified Dockerfile: Dockerfile"}]


def test_an_error_after_output_is_the_last_line_with_its_exit_code() -> None:
    def script(options: BuildOptions, context: BinaryIO, emit: Emit) -> str:
        emit(BuildMessage(stream="Step 1/1 : RUN exit 3\n"))
        raise StepFailure("The command '/bin/sh -c exit 3' returned a non-zero code: 3", 3)

    status, _, lines = run(FakeBackend(script), "POST", "/build", data=b"")
    message = "The command '/bin/sh -c exit 3' returned a non-zero code: 3"
    assert status == 200
    assert lines == [
        {"stream": "Step 1/1 : RUN exit 3\n"},
        {"errorDetail": {"message": message, "code": 3}, "error": message},
    ]


def test_an_error_line_the_backend_emits_ends_the_stream_alone() -> None:
    def script(options: BuildOptions, context: BinaryIO, emit: Emit) -> str:
        emit(BuildMessage(stream="Step 1/1 : RUN false\n"))
        emit(BuildMessage(error="returned a non-zero code: 1", error_code=1))
        return ""

    status, _, lines = run(FakeBackend(script), "POST", "/build", data=b"")
    assert status == 200
    assert lines == [
        {"stream": "Step 1/1 : RUN false\n"},
        {
            "errorDetail": {"message": "returned a non-zero code: 1", "code": 1},
            "error": "returned a non-zero code: 1",
        },
    ]


def test_an_unexpected_crash_after_output_still_ends_with_an_error_line() -> None:
    def script(options: BuildOptions, context: BinaryIO, emit: Emit) -> str:
        emit(BuildMessage(stream="Step 1/1 : FROM x\n"))
        raise KeyError("oops")

    status, _, lines = run(FakeBackend(script), "POST", "/build", data=b"")
    assert status == 200
    assert lines[-1]["error"].startswith("build failed: KeyError")


def test_no_image_and_no_error_is_a_failure() -> None:
    status, _, lines = run(FakeBackend(lambda o, c, e: ""), "POST", "/build", data=b"")
    assert status == 500
    assert lines == [{"message": "the build finished without an image"}]


def test_quiet_holds_the_text_back_and_answers_the_id() -> None:
    backend = FakeBackend(streams("Step 1/1 : FROM scratch\n"))
    status, _, lines = run(backend, "POST", "/build?q=1", data=b"")
    assert status == 200
    assert lines == [{"aux": {"ID": IMAGE_ID}}, {"stream": IMAGE_ID + "\n"}]
    assert backend.options[0].quiet


def test_quiet_lets_the_held_text_out_before_an_error() -> None:
    def script(options: BuildOptions, context: BinaryIO, emit: Emit) -> str:
        emit(BuildMessage(stream="Step 1/1 : RUN false\n"))
        raise StepFailure("returned a non-zero code: 1", 1)

    status, _, lines = run(FakeBackend(script), "POST", "/build?q=1", data=b"")
    assert status == 200
    assert lines == [
        {"stream": "Step 1/1 : RUN false\n"},
        {
            "errorDetail": {"message": "returned a non-zero code: 1", "code": 1},
            "error": "returned a non-zero code: 1",
        },
    ]


def test_quiet_with_nothing_held_fails_with_a_status() -> None:
    def script(options: BuildOptions, context: BinaryIO, emit: Emit) -> str:
        raise InvalidArgument("unknown instruction: FORM")

    status, _, lines = run(FakeBackend(script), "POST", "/build?q=1", data=b"")
    assert (status, lines) == (400, [{"message": "unknown instruction: FORM"}])


def test_bad_options_are_refused_before_the_backend_runs() -> None:
    backend = FakeBackend()
    status, _, lines = run(backend, "POST", "/build?buildargs=%7Bnope", data=b"x")
    assert status == 400
    assert "buildargs" in lines[0]["message"]
    status, _, lines = run(backend, "POST", "/build?remote=https://example.com/ctx.tar", data=b"")
    assert status == 501
    assert lines == [
        {"message": "remote build contexts are not supported by wharf: https://example.com/ctx.tar"}
    ]
    assert backend.options == []


def test_secrets_header_reaches_the_backend() -> None:
    options = BuildOptions(secrets=(BuildSecret("token", b"s3cr3t"),))
    header = options.secrets_header()
    assert header is not None
    backend = FakeBackend()
    status, _, _ = run(backend, "POST", "/build", data=b"", headers={SECRETS_HEADER: header})
    assert status == 200
    assert backend.options[0].secrets == (BuildSecret("token", b"s3cr3t"),)


def test_a_client_that_leaves_does_not_cut_the_build_short() -> None:
    release = threading.Event()

    def script(options: BuildOptions, context: BinaryIO, emit: Emit) -> str:
        emit(BuildMessage(stream="first\n"))
        release.wait(5)
        for i in range(200):
            emit(BuildMessage(stream=f"later {i}\n" * 100))
        return IMAGE_ID

    backend = FakeBackend(script)

    async def scenario(call: Call, client: TestClient[Any, Any]) -> None:
        response = await client.post("/build", data=b"ctx")
        assert json.loads(await response.content.readline()) == {"stream": "first\n"}
        response.close()
        release.set()
        assert await asyncio.to_thread(backend.finished.wait, 5)
        for _ in range(100):
            if backend.contexts[0].closed:
                break
            await asyncio.sleep(0.01)
        assert backend.contexts[0].closed
        # The server is still healthy for the next client.
        status, _, _ = await call("POST", "/build/prune")
        assert status == 200

    serve(backend, scenario)


# --- POST /build/prune and /session


def test_prune_hands_its_parameters_over() -> None:
    backend = FakeBackend()
    status, _, lines = run(
        backend,
        "POST",
        '/v1.45/build/prune?all=1&keep-storage=1024&filters={"until":["24h"]}',
    )
    assert status == 200
    assert lines == [{"CachesDeleted": ["c1", "c2"], "SpaceReclaimed": 2048}]
    assert backend.prunes == [(True, Filters((("until", ("24h",)),)), 1024)]


def test_prune_defaults_and_bad_sizes() -> None:
    backend = FakeBackend()
    run(backend, "POST", "/build/prune")
    assert backend.prunes == [(False, Filters(), 0)]
    status, _, lines = run(backend, "POST", "/build/prune?keep-storage=lots")
    assert status == 400
    assert "keep-storage" in lines[0]["message"]


def test_buildkit_sessions_are_refused_with_a_hint() -> None:
    status, _, lines = run(FakeBackend(), "POST", "/v1.45/session")
    assert status == 404
    assert lines == [{"message": build_router.SESSION_REFUSAL}]
    assert "DOCKER_BUILDKIT=0" in build_router.SESSION_REFUSAL


# --- the real client over a real socket


def test_the_wharf_client_builds_through_a_unix_socket(tmp_path: Path) -> None:
    """Chunked upload, streamed lines and the secrets header, end to end over the wire."""

    def script(options: BuildOptions, context: BinaryIO, emit: Emit) -> str:
        emit(BuildMessage(stream="Step 1/1 : FROM scratch\n"))
        if options.target == "fail":
            raise StepFailure("returned a non-zero code: 7", 7)
        return IMAGE_ID

    backend = FakeBackend(script)
    socket_path = str(tmp_path / "wharf.sock")
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(build_app(build_router.routes(backend)))
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.UnixSite(runner, socket_path).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        client = EngineClient(UnixSocketTransport(socket_path), api_version="1.45")
        chunks = [b"x" * 70_000 for _ in range(20)]
        options = BuildOptions(tags=("app:1",), secrets=(BuildSecret("s", b"v"),))
        messages = list(client.image_build(iter(chunks), options))
        assert messages == [
            BuildMessage(stream="Step 1/1 : FROM scratch\n"),
            BuildMessage(aux_id=IMAGE_ID),
        ]
        assert backend.context_bytes == [b"".join(chunks)]
        assert backend.options == [options]
        with pytest.raises(BuildFailed) as caught:
            list(client.image_build(b"", BuildOptions(target="fail")))
        assert (caught.value.message, caught.value.code) == ("returned a non-zero code: 7", 7)
        report = client.build_cache_prune(all=True, filters={"until": ["1h"]}, keep_storage=5)
        assert report == BuildPruneReport(("c1", "c2"), 2048)
        assert backend.prunes[-1] == (True, Filters((("until", ("1h",)),)), 5)
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
