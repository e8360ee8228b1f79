"""The volume endpoints (api/routers/volumes.py) in an in-process aiohttp server, over a fake
backend (what the router hands it) and over the real VolumeService (the wire end to end)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from wharf.api.app import build_app
from wharf.api.routers import volumes as volumes_router
from wharf.apitypes.filters import Filters
from wharf.apitypes.volumes import Volume, VolumeList, VolumePruneReport
from wharf.engine.volumes import VolumeService
from wharf.metadata.db import MetadataDB
from wharf.metadata.volumes import VolumeRecords
from wharf.volumes.local import LocalVolumes


class FakeBackend:
    """Records what the router asks for."""

    def __init__(self) -> None:
        self.prune_filters: list[Filters] = []
        self.created: list[tuple[str | None, str, dict[str, str], dict[str, str]]] = []
        self.removed: list[tuple[str, bool]] = []

    def list_volumes(self, *, filters: Filters) -> VolumeList:
        return VolumeList((), ("a warning",))

    def create_volume(
        self,
        name: str | None = None,
        *,
        driver: str = "local",
        labels: Mapping[str, str] | None = None,
        driver_opts: Mapping[str, str] | None = None,
    ) -> Volume:
        self.created.append((name, driver, dict(labels or {}), dict(driver_opts or {})))
        return Volume(name or "generated", driver, "/x", 0.0)

    def inspect_volume(self, name: str) -> Volume:
        return Volume(name, "local", "/x", 0.0)

    def remove_volume(self, name: str, *, force: bool = False) -> None:
        self.removed.append((name, force))

    def prune_volumes(self, *, filters: Filters) -> VolumePruneReport:
        self.prune_filters.append(filters)
        return VolumePruneReport((), 0)


Call = Callable[..., Awaitable[tuple[int, Any]]]


def serve(
    backend: volumes_router.VolumesBackend, script: Callable[[Call], Awaitable[None]]
) -> None:
    """Run ``script`` against one in-process server (an app lives on one event loop)."""

    async def main() -> None:
        async with TestClient(TestServer(build_app(volumes_router.routes(backend)))) as client:

            async def call(method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
                response = await client.request(method, path, **kwargs)
                text = await response.text()
                return response.status, (json.loads(text) if text else None)

            await script(call)

    asyncio.run(main())


def test_router_hands_typed_options_to_the_backend() -> None:
    backend = FakeBackend()
    body = {"Name": "", "Driver": "", "DriverOpts": {"type": "tmpfs"}, "Labels": {"k": "v"}}

    async def script(call: Call) -> None:
        status, created = await call("POST", "/v1.45/volumes/create", json=body)
        assert status == 201 and created["Name"] == "generated"
        assert await call("DELETE", "/volumes/data?force=1") == (204, None)
        assert await call("DELETE", "/volumes/data") == (204, None)
        assert await call("GET", "/volumes") == (200, {"Volumes": [], "Warnings": ["a warning"]})

    serve(backend, script)
    assert backend.created == [(None, "local", {"k": "v"}, {"type": "tmpfs"})]
    assert backend.removed == [("data", True), ("data", False)]


def test_prune_before_1_42_removes_named_volumes_too() -> None:
    backend = FakeBackend()

    async def script(call: Call) -> None:
        await call("POST", "/v1.41/volumes/prune")
        await call("POST", "/v1.42/volumes/prune")
        await call("POST", '/v1.41/volumes/prune?filters={"all":["false"]}')
        await call("POST", "/volumes/prune")

    serve(backend, script)
    assert [f.get("all") for f in backend.prune_filters] == [("true",), (), ("false",), ()]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "invalid JSON"),
        (b"[1]", "not a JSON object"),
        (b'{"Name": 3}', "Name must be a string"),
        (b'{"Labels": {"a": 1}}', "Labels must be an object of strings"),
        (b'{"ClusterVolumeSpec": {"Group": "x"}}', "cluster volumes are not supported"),
    ],
)
def test_create_rejects_bad_bodies(body: bytes, message: str) -> None:
    async def script(call: Call) -> None:
        status, error = await call("POST", "/volumes/create", data=body)
        assert status == 400 and message in error["message"]

    serve(FakeBackend(), script)


@pytest.fixture
def service(tmp_path: Path) -> Iterator[VolumeService]:
    db = MetadataDB(tmp_path / "metadata.db")
    yield VolumeService(VolumeRecords(db), LocalVolumes(tmp_path / "volumes"))
    db.close()


def test_volume_lifecycle_over_the_wire(service: VolumeService, tmp_path: Path) -> None:
    async def script(call: Call) -> None:
        status, created = await call(
            "POST", "/v1.45/volumes/create", json={"Name": "data", "Labels": {"a": "b"}}
        )
        assert status == 201
        assert created["Name"] == "data" and created["Driver"] == "local"
        assert created["Mountpoint"] == str(tmp_path / "volumes" / "data" / "_data")
        assert created["Labels"] == {"a": "b"} and created["Options"] == {}
        assert created["Scope"] == "local" and created["CreatedAt"][:2] == "20"
        assert "UsageData" not in created
        status, anonymous = await call("POST", "/volumes/create")
        assert status == 201 and anonymous["Labels"] == {"com.docker.volume.anonymous": ""}
        status, listed = await call("GET", '/volumes?filters={"label":{"a=b":true}}')
        assert status == 200 and [v["Name"] for v in listed["Volumes"]] == ["data"]
        assert listed["Warnings"] == []
        assert await call("GET", "/volumes/data") == (200, created)
        assert await call("POST", "/volumes/prune") == (
            200,
            {"VolumesDeleted": [anonymous["Name"]], "SpaceReclaimed": 0},
        )
        assert await call("DELETE", "/volumes/data") == (204, None)
        missing = (404, {"message": "get data: no such volume"})
        assert await call("GET", "/volumes/data") == missing
        assert await call("DELETE", "/volumes/data") == missing
        assert await call("DELETE", "/volumes/data?force=true") == (204, None)
        status, error = await call("GET", '/volumes?filters={"bogus":["1"]}')
        assert (status, error) == (400, {"message": "invalid filter 'bogus'"})

    serve(service, script)
