"""Several -f files merged by the compose spec's rules; !reset, !override; extends."""

from __future__ import annotations

from pathlib import Path

import pytest

from wharf.compose.merge import merge_mapping, strip_markers
from wharf.compose.model import (
    BindOptions,
    ComposeError,
    Dependency,
    DependencyCondition,
    Healthcheck,
    PortConfig,
    Project,
    ServiceNetwork,
    ServiceVolume,
    VolumeType,
    load_project,
)
from wharf.compose.yamlfile import RESET, Override

BASE = """
services:
  web:
    image: web:1
    command: [serve, --port, "80"]
    entrypoint: /init
    environment: {A: base, B: base}
    labels: [tier=front]
    ports: ["8080:80", "9000:9000"]
    expose: ["3000"]
    volumes: ["data:/data", "./conf:/etc/conf:ro"]
    dns: [1.1.1.1]
    networks: {front: {aliases: [w]}}
    depends_on: [db]
    healthcheck: {test: [CMD, a], interval: 10s, retries: 3}
    deploy: {replicas: 1, resources: {limits: {memory: 256m}}}
  db:
    image: pg:15
volumes:
  data: {}
networks:
  front: {}
  back: {}
"""


def _load(tmp_path: Path, *texts: str) -> Project:
    paths = []
    for i, text in enumerate(texts):
        path = tmp_path / f"f{i}.yaml"
        path.write_text(text)
        paths.append(path)
    return load_project(paths, environ={"HOME": "/home/me"}, project_name="p")


def test_single_file_is_unchanged_by_merging_nothing(tmp_path: Path) -> None:
    assert _load(tmp_path, BASE).services["web"].command == ("serve", "--port", "80")


def test_override_merges_by_the_spec_rules(tmp_path: Path) -> None:
    override = """
services:
  web:
    image: web:2
    command: serve --debug
    environment: [B=over, C=new]
    labels: {extra: "1"}
    ports: ["8080:80/udp", "9000:9000", "127.0.0.1:7000:7000"]
    expose: ["3000", "4000"]
    volumes: ["other:/data", "./logs:/logs"]
    dns: [8.8.8.8, 1.1.1.1]
    networks: {front: {aliases: [www]}, back: {}}
    depends_on: {db: {condition: service_healthy}}
    healthcheck: {test: [CMD, b]}
    deploy: {replicas: 3}
volumes:
  other: {}
"""
    web = _load(tmp_path, BASE, override).services["web"]
    assert web.image == "web:2"
    assert web.command == ("serve", "--debug")
    assert web.entrypoint == ("/init",)
    assert web.environment == {"A": "base", "B": "over", "C": "new"}
    assert web.labels == {"tier": "front", "extra": "1"}
    assert web.ports == (
        PortConfig(target=80, published="8080"),
        PortConfig(target=9000, published="9000"),
        PortConfig(target=80, published="8080", protocol="udp"),  # type: ignore[arg-type]
        PortConfig(target=7000, published="7000", host_ip="127.0.0.1"),
    )
    assert web.expose == ("3000", "4000")
    assert web.volumes == (
        ServiceVolume(VolumeType.VOLUME, "other", "/data"),
        ServiceVolume(
            VolumeType.BIND,
            str(tmp_path / "conf"),
            "/etc/conf",
            read_only=True,
            bind=BindOptions(create_host_path=True),
        ),
        ServiceVolume(
            VolumeType.BIND,
            str(tmp_path / "logs"),
            "/logs",
            bind=BindOptions(create_host_path=True),
        ),
    )
    assert web.dns == ("1.1.1.1", "8.8.8.8")
    assert web.networks == {"front": ServiceNetwork(aliases=("w", "www")), "back": ServiceNetwork()}
    assert web.depends_on == {"db": Dependency(DependencyCondition.HEALTHY)}
    assert web.healthcheck == Healthcheck(test=("CMD", "b"), interval=10_000_000_000, retries=3)
    assert web.deploy.replicas == 3
    assert web.deploy.resources.limits.memory == 256 << 20


def test_override_adds_services_and_top_level_entries(tmp_path: Path) -> None:
    override = "services:\n  cache: {image: redis}\nnetworks:\n  front: {driver: bridge}\n"
    project = _load(tmp_path, BASE, override)
    assert list(project.services) == ["web", "db", "cache"]
    assert project.networks["front"].driver == "bridge"


def test_reset_and_override_tags(tmp_path: Path) -> None:
    override = """
services:
  web:
    ports: !reset []
    environment:
      A: !reset null
    dns: !override [9.9.9.9]
    healthcheck: !reset
    volumes: !override ["/fresh"]
    entrypoint: !reset null
"""
    web = _load(tmp_path, BASE, override).services["web"]
    assert web.ports == ()
    assert web.environment == {"B": "base"}
    assert web.dns == ("9.9.9.9",)
    assert web.healthcheck is None
    assert web.volumes == (ServiceVolume(VolumeType.VOLUME, "", "/fresh"),)
    assert web.entrypoint is None


def test_reset_a_whole_service_dependency(tmp_path: Path) -> None:
    override = "services:\n  web:\n    depends_on: !reset []\n  db: !reset\n"
    project = _load(tmp_path, BASE, override)
    assert list(project.services) == ["web"]
    assert project.services["web"].depends_on == {}


def test_errors_name_the_file_they_come_from(tmp_path: Path) -> None:
    with pytest.raises(ComposeError) as info:
        _load(tmp_path, BASE, "services:\n  web:\n    ports: [nope]\n")
    assert str(info.value) == 'f1.yaml: services.web.ports[0]: invalid port "nope"'


def test_merge_functions_directly() -> None:
    base = {"services": {"a": {"command": ["x"], "cap_add": ["A"], "labels": {"k": "v"}}}}
    over = {"services": {"a": {"command": ["y"], "cap_add": ["A", "B"], "labels": RESET}}}
    assert merge_mapping(base, over) == {
        "services": {"a": {"command": ["y"], "cap_add": ["A", "B"]}}
    }
    assert strip_markers({"a": RESET, "b": Override([1, RESET]), "c": [RESET, 2]}) == {
        "b": [1],
        "c": [2],
    }


# -- extends -----------------------------------------------------------------------------------


def test_extends_same_file(tmp_path: Path) -> None:
    text = """
services:
  base:
    image: app
    environment: {A: "1", B: "1"}
    command: [run]
    volumes: ["./src:/src"]
  web:
    extends: base
    environment: {B: "2"}
    command: [serve]
  worker:
    extends: {service: web}
    environment: {C: "3"}
"""
    project = _load(tmp_path, text)
    web, worker = project.services["web"], project.services["worker"]
    assert web.image == "app"
    assert web.environment == {"A": "1", "B": "2"}
    assert web.command == ("serve",)
    assert web.volumes[0].source == str(tmp_path / "src")
    assert worker.environment == {"A": "1", "B": "2", "C": "3"}
    assert worker.command == ("serve",)


def test_extends_other_file_resolves_paths_from_that_file(tmp_path: Path) -> None:
    common = tmp_path / "common"
    common.mkdir()
    (common / "base.yaml").write_text(
        "services:\n  tmpl:\n    build: ./ctx\n    volumes: ['./data:/data']\n"
        "    labels: [from=base]\n"
    )
    text = (
        "services:\n  web:\n    extends: {file: common/base.yaml, service: tmpl}\n"
        "    labels: [own=1]\n"
    )
    web = _load(tmp_path, text).services["web"]
    assert web.build is not None and web.build.context == common / "ctx"
    assert web.volumes[0].source == str(common / "data")
    assert web.labels == {"from": "base", "own": "1"}


def test_extends_errors(tmp_path: Path) -> None:
    missing = "services:\n  web:\n    extends: nope\n"
    with pytest.raises(ComposeError) as info:
        _load(tmp_path, missing)
    assert str(info.value) == (
        'f0.yaml: services.web.extends: cannot extend service "nope": not defined in f0.yaml'
    )
    cycle = "services:\n  a: {extends: b, image: x}\n  b: {extends: a}\n"
    with pytest.raises(ComposeError) as info:
        _load(tmp_path, cycle)
    assert str(info.value) == "f0.yaml: services.a.extends: circular extends: a -> b -> a"
