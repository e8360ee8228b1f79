"""``GET /images/{name}/json`` changes shape with the API version, as dockerd's does."""

from __future__ import annotations

import pytest

from wharf.apitypes.images import ImageInspect


def _inspect() -> ImageInspect:
    return ImageInspect(
        id="sha256:" + "a" * 64,
        repo_tags=("busybox:latest",),
        repo_digests=(),
        parent="",
        comment="",
        created="2024-01-01T00:00:00Z",
        author="",
        config={"Cmd": ["sh"], "Volumes": {"/data": {}}},
        architecture="amd64",
        variant="",
        os="linux",
        size=42,
        layers=("sha256:" + "b" * 64,),
        graph_driver_data=(),
        last_tag_time="",
        descriptor={},
    )


@pytest.mark.parametrize("version", [(1, 24), (1, 41), (1, 44), (1, 45), (1, 47)])
def test_container_config_is_sent_at_every_version(version: tuple[int, int]) -> None:
    wire = _inspect().to_wire(version)
    # docker-compose 1.29 reads ContainerConfig["Volumes"] to recreate a container; dockerd
    # stopped sending it at 1.45 and broke it; we keep it, zero-valued.
    assert wire["Container"] == ""
    assert wire["ContainerConfig"]["Volumes"] is None
    assert wire["ContainerConfig"]["Cmd"] is None
    assert wire["ContainerConfig"]["Hostname"] == ""
    assert wire["Config"] == {"Cmd": ["sh"], "Volumes": {"/data": {}}}


def test_virtual_size_only_below_1_44() -> None:
    assert _inspect().to_wire((1, 43))["VirtualSize"] == 42
    assert "VirtualSize" not in _inspect().to_wire((1, 44))


def test_each_wire_gets_its_own_container_config() -> None:
    first = _inspect().to_wire((1, 41))
    first["ContainerConfig"]["Hostname"] = "changed"
    assert _inspect().to_wire((1, 41))["ContainerConfig"]["Hostname"] == ""
