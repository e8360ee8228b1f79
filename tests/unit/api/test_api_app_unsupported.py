"""``api.app``: requests wharfd does not serve get Docker's error shape (``{"message"}``) naming
the endpoint, at bare and versioned paths, and the log names the client that asked; versions
outside the supported range are refused with dockerd's wording."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from wharf.api.app import Route, build_app, json_response
from wharf.apitypes import versions

USER_AGENT = "Docker-Client/28.2.2 (linux)"


async def _named(request: web.Request) -> web.StreamResponse:
    return json_response({"name": request.match_info["name"]})


def _request(method: str, path: str) -> tuple[int, Any]:
    result: list[tuple[int, Any]] = []

    async def main() -> None:
        app = build_app([Route("DELETE", "/images/{name}", _named)])
        async with TestClient(TestServer(app)) as client:
            response = await client.request(method, path, headers={"User-Agent": USER_AGENT})
            result.append((response.status, await response.json()))

    asyncio.run(main())
    return result[0]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1.47/plugins"),
        ("POST", "/v1.47/swarm/init"),
        ("GET", "/secrets"),
        ("GET", "/v1.41/nodes"),
    ],
)
def test_unknown_endpoints_are_404_naming_the_endpoint_and_logged_with_the_client(
    method: str, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="wharf.api"):
        status, body = _request(method, path)
    assert status == 404
    assert body == {"message": f"page not found: {method} {path} is not supported by wharf"}
    assert any(f"{method} {path}" in r.message and USER_AGENT in r.message for r in caplog.records)


def test_a_method_a_route_does_not_take_is_405_naming_the_endpoint(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # GET /images/search only matches DELETE /images/{name}: still named as unsupported.
    with caplog.at_level(logging.WARNING, logger="wharf.api"):
        status, body = _request("GET", "/v1.47/images/search")
    assert status == 405
    assert "GET /v1.47/images/search is not supported by wharf" in body["message"]
    assert any(USER_AGENT in r.message for r in caplog.records)


def test_served_routes_answer_at_bare_and_versioned_paths() -> None:
    assert _request("DELETE", "/images/x") == (200, {"name": "x"})
    assert _request("DELETE", f"/v{versions.MIN_API_VERSION}/images/y") == (200, {"name": "y"})


def test_versions_out_of_range_are_refused_with_dockerds_words() -> None:
    status, body = _request("DELETE", "/v1.99/images/x")
    assert status == 400
    assert body["message"].startswith("client version 1.99 is too new.")
    status, body = _request("DELETE", "/v1.12/images/x")
    assert status == 400
    assert "is too old. Minimum supported API version is" in body["message"]
