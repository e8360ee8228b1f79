"""Structural validation: unknown keys, wrong types, enums, required keys, x- extensions."""

from __future__ import annotations

import pytest

from wharf.compose.errors import ComposeError
from wharf.compose.schema import PROJECT, validate
from wharf.compose.yamlfile import load_yaml


def _check(text: str) -> None:
    validate(load_yaml(text, "compose.yaml"), PROJECT, file="compose.yaml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("servics: {}", "compose.yaml: additional property 'servics' is not allowed"),
        (
            "services: {web: {imagee: x}}",
            "compose.yaml: services.web: additional property 'imagee' is not allowed",
        ),
        ("services: {web: {ports: 80}}", "compose.yaml: services.web.ports: must be a list"),
        ("services: {web: null}", "compose.yaml: services.web: must be a mapping"),
        ("services: {web: {image: [x]}}", "compose.yaml: services.web.image: must be a string"),
        ("services: {web: {user: 1000}}", "compose.yaml: services.web.user: must be a string"),
        (
            "services: {web: {command: {a: 1}}}",
            "compose.yaml: services.web.command: must be null, a string or a list",
        ),
        (
            "services: {web: {environment: {A: [1]}}}",
            "compose.yaml: services.web.environment.A: "
            "must be a string, a number, a boolean or null",
        ),
        (
            "services: {web: {environment: 5}}",
            "compose.yaml: services.web.environment: must be a mapping or a list",
        ),
        (
            "services: {web: {ports: [{target: 80, hostport: 1}]}}",
            "compose.yaml: services.web.ports[0]: additional property 'hostport' is not allowed",
        ),
        (
            "services: {web: {depends_on: {db: {required: true}}}}",
            "compose.yaml: services.web.depends_on.db: missing required property 'condition'",
        ),
        (
            "services: {web: {depends_on: {db: {condition: started}}}}",
            "compose.yaml: services.web.depends_on.db.condition: must be one of: "
            "service_started, service_healthy, service_completed_successfully",
        ),
        (
            "services: {web: {build: {context: ., dockerfil: x}}}",
            "compose.yaml: services.web.build: additional property 'dockerfil' is not allowed",
        ),
        (
            "services: {web: {volumes: [{source: a, target: /b}]}}",
            "compose.yaml: services.web.volumes[0]: missing required property 'type'",
        ),
        (
            "services: {web: {healthcheck: {test: x, intervall: 1s}}}",
            "compose.yaml: services.web.healthcheck: "
            "additional property 'intervall' is not allowed",
        ),
        (
            "services: {web: {deploy: {resources: {limits: {memroy: 1g}}}}}",
            "compose.yaml: services.web.deploy.resources.limits: "
            "additional property 'memroy' is not allowed",
        ),
        ('services: {"a b": {}}', "compose.yaml: services: invalid name 'a b'"),
        (
            "networks: {front: {drivr: bridge}}",
            "compose.yaml: networks.front: additional property 'drivr' is not allowed",
        ),
        (
            "volumes: {data: {external: [1]}}",
            "compose.yaml: volumes.data.external: must be a boolean, a string or a mapping",
        ),
        (
            "secrets: {s: {fil: x}}",
            "compose.yaml: secrets.s: additional property 'fil' is not allowed",
        ),
        ("configs: {c: null}", "compose.yaml: configs.c: must be a mapping"),
        (
            "services: {web: {tty: 1}}",
            "compose.yaml: services.web.tty: must be a boolean or a string",
        ),
    ],
)
def test_errors(text: str, message: str) -> None:
    with pytest.raises(ComposeError) as info:
        _check(text)
    assert str(info.value) == message


@pytest.mark.parametrize(
    "text",
    [
        "x-common: &c {image: x}\nservices: {web: {<<: *c, x-note: 1}}",
        "services: {web: {image: x, build: {context: ., x-any: {deep: 1}}}}",
        "services: {web: {environment: {A: 1, B: true, C: null, D: 1.5}}}",
        "services: {web: {ports: [80, '8080:80', {target: 80, published: 8080}]}}",
        "services: {web: {tty: 'true', scale: 2, deploy: {replicas: '3'}}}",
        "networks: {front: null, back: {external: true}}",
        "volumes: {data: null}",
        "services: {web: {image: x, ports: !reset []}}",
        "services: {web: {image: x, ports: !override ['80']}}",
        "version: '3.8'\nservices: {}",
    ],
)
def test_valid(text: str) -> None:
    _check(text)
