"""The client additions compose uses: health in inspect, healthcheck and IPv6 in create bodies,
pull and push by reference with registry credentials."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wharf.client.api import EngineClient
from wharf.client.compose_support import pull_reference, push_reference
from wharf.client.container_models import ContainerInspect
from wharf.client.container_spec import (
    ContainerConfig,
    ContainerSpec,
    EndpointSpec,
    HealthcheckSpec,
)
from wharf.client.fake import FakeTransport, json_lines


def test_inspect_reads_the_health_status() -> None:
    health = {"Status": "healthy", "FailingStreak": 0}
    document = {"Id": "x", "State": {"Status": "running", "Running": True, "Health": health}}
    assert ContainerInspect.from_wire(document).state.health == "healthy"
    assert ContainerInspect.from_wire({"Id": "x", "State": {}}).state.health == ""


def test_healthcheck_and_ipv6_go_into_the_create_body() -> None:
    spec = ContainerSpec(
        ContainerConfig(
            image="busybox",
            healthcheck=HealthcheckSpec(("CMD", "true"), interval=10**9, retries=2),
        ),
        endpoints=(EndpointSpec("net", ("web",), "10.0.0.2", "fd00::2"),),
    )
    body = spec.to_wire()
    assert body["Healthcheck"] == {"Test": ["CMD", "true"], "Interval": 10**9, "Retries": 2}
    assert body["NetworkingConfig"]["EndpointsConfig"]["net"] == {
        "Aliases": ["web"],
        "IPAMConfig": {"IPv4Address": "10.0.0.2", "IPv6Address": "fd00::2"},
    }
    assert "Healthcheck" not in ContainerSpec(ContainerConfig(image="x")).to_wire()


@pytest.fixture
def docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    return tmp_path


def test_pull_and_push_by_reference_send_normalised_names(docker_config: Path) -> None:
    transport = FakeTransport()
    transport.on("POST", "/images/create", json_lines({"status": "Done"}))
    transport.on("POST", "/images/localhost:5000/app/push", json_lines({"status": "pushed"}))
    client = EngineClient(transport)
    assert [m.status for m in pull_reference(client, "busybox")] == ["Done"]
    (pull,) = transport.calls("POST", "/images/create")
    assert pull.param("fromImage") == "docker.io/library/busybox"
    assert pull.param("tag") == "latest"
    assert [m.status for m in push_reference(client, "localhost:5000/app:1")] == ["pushed"]
    (push,) = transport.calls("POST", "/images/localhost:5000/app/push")
    assert push.param("tag") == "1"
    assert dict(push.headers)["X-Registry-Auth"] == "e30="


def test_push_sends_stored_credentials(docker_config: Path) -> None:
    import base64

    auth = base64.b64encode(b"me:pw").decode()
    (docker_config / "config.json").write_text(
        json.dumps({"auths": {"localhost:5000": {"auth": auth}}})
    )
    transport = FakeTransport()
    transport.on("POST", "/images/localhost:5000/app/push", json_lines({"status": "pushed"}))
    list(push_reference(EngineClient(transport), "localhost:5000/app"))
    (push,) = transport.calls("POST", "/images/localhost:5000/app/push")
    header = dict(push.headers)["X-Registry-Auth"]
    decoded = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    assert decoded["username"] == "me"
