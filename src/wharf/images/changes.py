"""``--change`` instructions for ``import`` and ``commit``: Dockerfile lines that edit a config.

Docker accepts CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME, WORKDIR (and
STOPSIGNAL, HEALTHCHECK are refused by import). Exec form (JSON array) and shell form
(wrapped in ``/bin/sh -c``) are both accepted, as in a Dockerfile.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, replace
from enum import Enum

from wharf.errdefs import InvalidArgument
from wharf.oci.config import ContainerConfig


class ChangeKind(Enum):
    CMD = "CMD"
    ENTRYPOINT = "ENTRYPOINT"
    ENV = "ENV"
    EXPOSE = "EXPOSE"
    LABEL = "LABEL"
    ONBUILD = "ONBUILD"
    USER = "USER"
    VOLUME = "VOLUME"
    WORKDIR = "WORKDIR"
    STOPSIGNAL = "STOPSIGNAL"


@dataclass(frozen=True, slots=True)
class Change:
    kind: ChangeKind
    values: tuple[str, ...]
    raw: str


def _exec_or_shell(argument: str) -> tuple[str, ...]:
    stripped = argument.strip()
    if stripped.startswith("["):
        try:
            parsed = json.loads(stripped)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, list) and all(isinstance(item, str) for item in parsed):
            return tuple(parsed)
    return ("/bin/sh", "-c", stripped)


def _key_values(argument: str, instruction: str) -> tuple[str, ...]:
    try:
        words = shlex.split(argument)
    except ValueError as exc:
        raise InvalidArgument(f"{instruction}: {exc}") from exc
    if not words:
        raise InvalidArgument(f"{instruction} requires at least one argument")
    if "=" not in words[0]:
        # Legacy form: "ENV KEY value with spaces".
        key, _, value = argument.strip().partition(" ")
        return (f"{key}={value.strip()}",)
    for word in words:
        if "=" not in word:
            raise InvalidArgument(f"{instruction} names can't be empty: {word!r} needs KEY=VALUE")
    return tuple(words)


def parse_change(line: str) -> Change:
    instruction, _, argument = line.strip().partition(" ")
    try:
        kind = ChangeKind(instruction.upper())
    except ValueError:
        allowed = ", ".join(k.value for k in ChangeKind)
        raise InvalidArgument(
            f"{instruction.lower()} is not a valid change command (allowed: {allowed})"
        ) from None
    argument = argument.strip()
    if not argument:
        raise InvalidArgument(f"{kind.value} requires an argument")
    values: tuple[str, ...]
    if kind in (ChangeKind.CMD, ChangeKind.ENTRYPOINT):
        values = _exec_or_shell(argument)
    elif kind in (ChangeKind.ENV, ChangeKind.LABEL):
        values = _key_values(argument, kind.value)
    elif kind is ChangeKind.VOLUME:
        parsed = _exec_or_shell(argument)
        values = parsed if parsed[:2] != ("/bin/sh", "-c") else tuple(argument.split())
    elif kind is ChangeKind.EXPOSE:
        values = tuple(_port(word) for word in argument.split())
    else:
        values = (argument,)
    return Change(kind=kind, values=values, raw=line)


def _port(word: str) -> str:
    port, _, proto = word.partition("/")
    proto = proto or "tcp"
    if not port.isdigit() or not 0 < int(port) < 65536 or proto not in ("tcp", "udp", "sctp"):
        raise InvalidArgument(f"invalid port in EXPOSE: {word!r}")
    return f"{port}/{proto}"


def parse_changes(lines: list[str]) -> list[Change]:
    return [parse_change(line) for line in lines if line.strip()]


def apply_changes(config: ContainerConfig, changes: list[Change]) -> ContainerConfig:
    for change in changes:
        config = _apply(config, change)
    return config


def _apply(config: ContainerConfig, change: Change) -> ContainerConfig:
    kind, values = change.kind, change.values
    if kind is ChangeKind.CMD:
        return replace(config, cmd=values)
    if kind is ChangeKind.ENTRYPOINT:
        return replace(config, entrypoint=values)
    if kind is ChangeKind.ENV:
        env = dict(_pair(item) for item in config.env)
        env.update(_pair(item) for item in values)
        return replace(config, env=tuple(f"{k}={v}" for k, v in env.items()))
    if kind is ChangeKind.LABEL:
        labels = dict(config.labels)
        labels.update(_pair(item) for item in values)
        return replace(config, labels=labels)
    if kind is ChangeKind.EXPOSE:
        ports = tuple(dict.fromkeys((*config.exposed_ports, *values)))
        return replace(config, exposed_ports=ports)
    if kind is ChangeKind.VOLUME:
        volumes = tuple(dict.fromkeys((*config.volumes, *values)))
        return replace(config, volumes=volumes)
    if kind is ChangeKind.USER:
        return replace(config, user=values[0])
    if kind is ChangeKind.WORKDIR:
        return replace(config, working_dir=values[0])
    if kind is ChangeKind.ONBUILD:
        return replace(config, on_build=(*config.on_build, values[0]))
    return replace(config, stop_signal=values[0])


def _pair(item: str) -> tuple[str, str]:
    key, _, value = item.partition("=")
    return key, value
