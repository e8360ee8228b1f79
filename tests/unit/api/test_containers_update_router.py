"""``POST /containers/{id}/update`` (api/routers/containers.py) in an in-process aiohttp server
over a fake backend: the body decoded into an ``UpdateRequest``, Docker's answer and statuses."""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

from aiohttp.test_utils import TestClient, TestServer

from wharf.api.app import build_app
from wharf.api.routers import containers as containers_router
from wharf.apitypes.container_update import UpdateRequest
from wharf.errdefs import Conflict, NotFound


class FakeBackend:
    def __init__(self) -> None:
        self.calls: list[tuple[str, UpdateRequest]] = []

    def update(self, reference: str, request: UpdateRequest) -> list[str]:
        if reference == "gone":
            raise NotFound(f"No such container: {reference}")
        if reference == "rm":
            raise Conflict(
                "Cannot update container rm: Restart policy cannot be updated because "
                "AutoRemove is enabled for the container"
            )
        self.calls.append((reference, request))
        return ["Weight discarded."] if request.blkio_weight else []


def post(backend: FakeBackend, path: str, body: bytes | None) -> tuple[int, Any]:
    result: list[tuple[int, Any]] = []

    async def main() -> None:
        app = build_app(containers_router.routes(cast(Any, backend)))
        async with TestClient(TestServer(app)) as client:
            headers = {"Content-Type": "application/json"} if body is not None else {}
            response = await client.post(path, data=body, headers=headers)
            result.append((response.status, await response.json()))

    asyncio.run(main())
    return result[0]


def test_update_answers_warnings_and_passes_the_decoded_request() -> None:
    backend = FakeBackend()
    body = {"Memory": 64 << 20, "MemorySwap": 128 << 20, "PidsLimit": -1, "BlkioWeight": 0}
    status, answer = post(backend, "/v1.45/containers/web/update", json.dumps(body).encode())
    assert (status, answer) == (200, {"Warnings": []})
    assert backend.calls == [
        ("web", UpdateRequest(memory=64 << 20, memory_swap=128 << 20, pids_limit=0))
    ]
    status, answer = post(backend, "/containers/web/update", b'{"BlkioWeight": 300}')
    assert (status, answer) == (200, {"Warnings": ["Weight discarded."]})


def test_errors_map_to_docker_s_statuses() -> None:
    backend = FakeBackend()
    assert post(backend, "/containers/gone/update", b"{}") == (
        404,
        {"message": "No such container: gone"},
    )
    status, answer = post(backend, "/containers/rm/update", b'{"RestartPolicy":{"Name":"always"}}')
    assert status == 409 and "AutoRemove is enabled" in answer["message"]
    status, answer = post(backend, "/containers/web/update", b'{"NanoCpus": 1, "CpuQuota": 5000}')
    assert (status, answer["message"]) == (
        400,
        "Conflicting options: Nano CPUs and CPU Quota cannot both be set",
    )
    status, answer = post(backend, "/containers/web/update", b"{not json")
    assert status == 400 and answer["message"].startswith("invalid JSON body")
    assert backend.calls == []


def test_an_empty_body_changes_nothing() -> None:
    backend = FakeBackend()
    assert post(backend, "/containers/web/update", None) == (200, {"Warnings": []})
    assert backend.calls == [("web", UpdateRequest())]
