"""Project behaviour: profiles, dependency order, with_services, config hash, to_yaml."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from wharf.compose.model import ComposeError, Project, Service, load_project

ENV = {"HOME": "/home/me"}

PROFILES = """
services:
  foo: {image: foo}
  bar: {image: bar, profiles: [test]}
  baz: {image: baz, profiles: [test], depends_on: [bar]}
  zot: {image: zot, profiles: [debug], depends_on: [bar]}
"""


def _load(tmp_path: Path, text: str, **options: Any) -> Project:
    (tmp_path / "compose.yaml").write_text(text)
    options.setdefault("environ", ENV)
    options.setdefault("project_name", "p")
    return load_project([tmp_path / "compose.yaml"], **options)


def test_profiles_select_services(tmp_path: Path) -> None:
    none = _load(tmp_path, PROFILES)
    assert list(none.services) == ["foo"]
    assert list(none.disabled_services) == ["bar", "baz", "zot"]
    assert list(_load(tmp_path, PROFILES, profiles=["test"]).services) == ["foo", "bar", "baz"]
    both = _load(tmp_path, PROFILES, profiles=["test", "debug"])
    assert list(both.services) == ["foo", "bar", "baz", "zot"]
    assert list(_load(tmp_path, PROFILES, profiles=["*"]).services) == ["foo", "bar", "baz", "zot"]
    from_env = _load(tmp_path, PROFILES, environ={"COMPOSE_PROFILES": "test, debug"})
    assert list(from_env.services) == ["foo", "bar", "baz", "zot"]


def test_dependency_on_disabled_service_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ComposeError) as info:
        _load(tmp_path, PROFILES, profiles=["debug"])
    assert str(info.value) == (
        'services.zot: depends on service "bar", which is not enabled (profiles: test)'
    )


def test_with_services_enables_profiles_and_dependencies(tmp_path: Path) -> None:
    project = _load(tmp_path, PROFILES)
    enabled = project.with_services(["zot"])
    assert set(enabled.services) == {"foo", "zot", "bar"}
    assert set(enabled.disabled_services) == {"baz"}
    assert enabled.profiles == ("debug",)
    assert set(project.with_services(["baz"]).services) == {"foo", "bar", "baz"}
    assert set(_load(tmp_path, PROFILES, services=["zot"]).services) == {"foo", "zot", "bar"}
    with pytest.raises(ComposeError, match=r'^no such service: "nope"$'):
        project.with_services(["nope"])


def test_optional_dependency_on_missing_service(tmp_path: Path) -> None:
    text = (
        "services:\n  web:\n    image: x\n"
        "    depends_on: {ghost: {condition: service_started, required: false}}\n"
    )
    project = _load(tmp_path, text)
    assert project.dependency_order() == ["web"]


DEPENDENCIES = """
services:
  web: {image: x, depends_on: [api, static]}
  api:
    image: x
    depends_on: {db: {condition: service_healthy}, cache: {condition: service_started}}
  static: {image: x}
  db: {image: x}
  cache: {image: x, depends_on: [db]}
  lone: {image: x}
"""


def test_dependency_order(tmp_path: Path) -> None:
    project = _load(tmp_path, DEPENDENCIES)
    order = project.dependency_order()
    assert sorted(order) == sorted(project.services)
    for name, service in project.services.items():
        for dependency in service.depends_on:
            assert order.index(dependency) < order.index(name)
    assert order == ["db", "cache", "api", "static", "web", "lone"]
    assert project.dependency_order(["api"]) == ["db", "cache", "api"]
    assert project.dependency_order(["static", "cache"]) == ["static", "db", "cache"]
    with pytest.raises(ComposeError, match='no such service: "nope"'):
        project.dependency_order(["nope"])


# -- config hash -----------------------------------------------------------------------------


HASHED = """
services:
  web:
    image: nginx:1
    command: [serve]
    environment: {A: "1"}
    ports: ["8080:80"]
    volumes: ["./data:/data"]
    deploy: {replicas: 2, resources: {limits: {memory: 64m}}}
"""


def _web(tmp_path: Path, text: str) -> Service:
    return _load(tmp_path, text).services["web"]


def test_config_hash_is_stable(tmp_path: Path) -> None:
    first = _web(tmp_path, HASHED).config_hash()
    assert len(first) == 64 and int(first, 16) >= 0
    assert _web(tmp_path, HASHED).config_hash() == first
    reordered = HASHED.replace('environment: {A: "1"}', "environment: [A=1]")
    assert _web(tmp_path, reordered).config_hash() == first


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("replicas: 2", "replicas: 5"),
        ("    image: nginx:1\n", "    image: nginx:1\n    scale: 3\n"),
        ("    image: nginx:1\n", "    image: nginx:1\n    pull_policy: always\n"),
        ("    image: nginx:1\n", "    image: nginx:1\n    profiles: [x]\n"),
    ],
)
def test_config_hash_ignores_scale_and_non_container_keys(
    tmp_path: Path, old: str, new: str
) -> None:
    before = _web(tmp_path, HASHED).config_hash()
    after = _load(tmp_path, HASHED.replace(old, new), profiles=["x"]).services["web"].config_hash()
    assert after == before


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("nginx:1", "nginx:2"),
        ("[serve]", "[serve, --debug]"),
        ('A: "1"', 'A: "2"'),
        ("8080:80", "8081:80"),
        ("./data:/data", "./data:/data:ro"),
        ("64m", "128m"),
        ("    image: nginx:1\n", "    image: nginx:1\n    healthcheck: {test: x}\n"),
        ("    image: nginx:1\n", "    image: nginx:1\n    labels: [a=b]\n"),
    ],
)
def test_config_hash_changes_with_the_container(tmp_path: Path, old: str, new: str) -> None:
    before = _web(tmp_path, HASHED).config_hash()
    assert _web(tmp_path, HASHED.replace(old, new)).config_hash() != before


# -- to_yaml ------------------------------------------------------------------------------


RICH = """
name: shop
x-common: &common
  restart: unless-stopped
  logging: {driver: json-file, options: {max-size: 10m}}
services:
  web:
    <<: *common
    build: {context: ./web, args: {VERSION: "1.10", EMPTY: null}, target: prod, labels: [a=b]}
    image: shop/web:${TAG:-latest}
    command: python -m app --port "8 0"
    entrypoint: [/init]
    environment: {PRICE: "$$5", UNSET: null, N: 3}
    env_file: web.env
    ports: ["8080:80", "127.0.0.1:9000-9001:9000-9001/udp", {target: 443, mode: host}]
    expose: [3000]
    volumes:
      - ./static:/static:ro
      - data:/data:nocopy
      - /anon
      - {type: tmpfs, target: /tmp, tmpfs: {size: 64m}}
      - {type: bind, source: ~/cfg, target: /cfg, bind: {propagation: rshared}}
    networks:
      front: {aliases: [www], ipv4_address: 10.1.0.5, priority: 5}
      back:
    depends_on:
      db: {condition: service_healthy, restart: true}
      auth: {condition: service_started}
    healthcheck:
      {test: curl -f localhost, interval: 1m30s, timeout: 1500ms, retries: 3, start_period: 1h}
    deploy:
      replicas: 2
      labels: [d=1]
      resources: {limits: {cpus: "0.5", memory: 512m, pids: 64}, reservations: {memory: 64m}}
      restart_policy: {condition: on-failure, delay: 5s, max_attempts: 3}
    labels: {com.example.tier: front}
    user: "1000"
    working_dir: /app
    stop_signal: SIGTERM
    stop_grace_period: 30s
    init: true
    read_only: true
    cap_add: [NET_ADMIN]
    cap_drop: [ALL]
    extra_hosts: [gw:10.0.0.1]
    hostname: web
    dns: [1.1.1.1]
    dns_search: [shop.local]
    secrets: [token, {source: cert, target: cert.pem, mode: 0400}]
    configs: [{source: nginx, target: /etc/nginx.conf}]
    tty: true
    stdin_open: true
    tmpfs: [/run]
    sysctls: [net.core.somaxconn=1024]
    ulimits: {nofile: {soft: 1024, hard: 4096}}
    pull_policy: missing
    platform: linux/amd64
    shm_size: 64m
    oom_score_adj: -500
  auth:
    image: shop/auth
    links: [db:database]
    container_name: shop-auth
  db:
    image: postgres:16
    environment: ["POSTGRES_PASSWORD=${DB_PASSWORD:-secret}"]
    networks: [back]
    healthcheck: {test: [CMD, pg_isready], start_interval: 1s}
    volumes: ["pg:/var/lib/postgresql/data"]
  sidecar:
    image: busybox
    network_mode: service:web
    command: ["sh", "-c", "echo $$HOME"]
    healthcheck: {disable: true}
networks:
  front: {driver: bridge, ipam: {config: [{subnet: 10.1.0.0/24, gateway: 10.1.0.1}]}}
  back: {internal: true, labels: [x=y]}
  outside: {external: true, name: corp}
volumes:
  data: {driver_opts: {type: none, o: bind, device: /srv}}
  pg: {external: true}
secrets:
  token: {file: ./token.txt}
  cert: {environment: CERT}
configs:
  nginx: {content: "server { listen $$PORT; }"}
"""


def test_to_yaml_round_trip(tmp_path: Path) -> None:
    (tmp_path / "web.env").write_text("FROM_FILE=1\nPRICE=overridden\n")
    project = _load(tmp_path, RICH, environ={**ENV, "TAG": "v1"})
    text = project.to_yaml()
    again_dir = tmp_path / "again"
    again_dir.mkdir()
    (again_dir / "compose.yaml").write_text(text)
    again = load_project(
        [again_dir / "compose.yaml"],
        environ={**ENV, "TAG": "v1"},
        working_dir=tmp_path,
    )
    assert dataclasses.replace(again, files=project.files) == project
    assert again.to_yaml() == text


def test_to_yaml_content(tmp_path: Path) -> None:
    (tmp_path / "web.env").write_text("FROM_FILE=1\n")
    project = _load(tmp_path, RICH, environ={**ENV, "TAG": "v1"})
    text = project.to_yaml()
    web = project.services["web"]
    assert web.environment["PRICE"] == "$5"
    assert "PRICE: $$5" in text
    assert f"context: {tmp_path}/web" in text
    assert "interval: 1m30s" in text
    assert "start_period: 1h0m0s" in text
    assert "image: shop/web:v1" in text
    assert "name: p_front" in text
    assert "env_file" not in text
    assert "FROM_FILE: '1'" in text
    assert text.startswith("name: p\nservices:\n  auth:\n")
    assert web.replicas() == 2
    assert web.logging is not None and web.logging.driver == "json-file"
    assert web.restart == "unless-stopped"
    assert project.services["auth"].depends_on["db"].condition.value == "service_started"
    assert project.services["sidecar"].depends_on.keys() == {"web"}


def test_to_yaml_leaves_out_disabled_services(tmp_path: Path) -> None:
    text = _load(tmp_path, PROFILES).to_yaml()
    assert "foo:" in text and "bar:" not in text


def test_project_is_immutable(tmp_path: Path) -> None:
    project = _load(tmp_path, "services: {web: {image: x}}\n")
    with pytest.raises(dataclasses.FrozenInstanceError):
        project.name = "other"  # type: ignore[misc]
