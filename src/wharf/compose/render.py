"""The typed project printed back as compose YAML, and the service config hash.

Imports: stdlib, ``wharf.compose.syntax``, ``wharf.compose.yamlfile`` (and the model types,
for type checking only: ``project`` calls in here).

``to_yaml`` prints what ``wharf compose config`` shows: the resolved model in long syntax,
absolute host paths, only the active services, keys sorted, values equal to their defaults
left out, durations as Go durations, and every ``$`` in a value written ``$$`` so that
loading the output again gives an equal project (no second interpolation).

``config_hash`` is what docker compose stores in the ``com.docker.compose.config-hash``
label: sha256 over the service's canonical JSON with the keys that do not change the
container left out (``scale``, ``deploy.replicas``, ``build``, ``pull_policy``,
``depends_on``, ``profiles``), so scaling never recreates containers and a changed
command, environment, mount or port does.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wharf.compose.syntax import format_duration
from wharf.compose.yamlfile import dump_yaml

if TYPE_CHECKING:
    from wharf.compose.project import (
        Healthcheck,
        Project,
        RestartPolicy,
        Service,
        ServiceVolume,
    )

_HASH_IGNORED = ("build", "pull_policy", "scale", "depends_on", "profiles")


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _fields(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _plain(value[key]) for key in sorted(value)}
    return value


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def _fields(obj: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if f.name in skip or value == _default(f):
            continue
        out[f.name] = _plain(value)
    return out


def _durations(obj: Healthcheck | RestartPolicy, keys: tuple[str, ...]) -> dict[str, Any]:
    out = _fields(obj)
    for key in keys:
        if key in out:
            out[key] = format_duration(out[key])
    return out


def _octal_mode(entry: dict[str, Any]) -> dict[str, Any]:
    if "mode" in entry:
        return {**entry, "mode": f"0{entry['mode']:o}"}
    return entry


def _volume(volume: ServiceVolume) -> dict[str, Any]:
    out = _fields(volume)
    if not volume.source:
        del out["source"]
    if "tmpfs" in out:
        out["tmpfs"] = _octal_mode(out["tmpfs"])
    return out


def service_dict(service: Service) -> dict[str, Any]:
    """The service as a compose mapping (sorted keys, defaults left out)."""
    skip = ("name", "stop_grace_period_ns", "depends_on", "networks", "ports", "volumes")
    out = _fields(service, skip=skip)
    if service.stop_grace_period_ns is not None:
        out["stop_grace_period"] = format_duration(service.stop_grace_period_ns)
    if service.ports:
        # Protocol and mode are shown even at their defaults, as docker compose shows them.
        out["ports"] = [
            {**_fields(port), "protocol": port.protocol.value, "mode": port.mode}
            for port in service.ports
        ]
    if service.volumes:
        out["volumes"] = [_volume(volume) for volume in service.volumes]
    for key in ("secrets", "configs"):
        if out.get(key):
            out[key] = [_octal_mode(ref) for ref in out[key]]
    if service.networks:
        out["networks"] = {
            key: _fields(service.networks[key]) or None for key in sorted(service.networks)
        }
    if service.depends_on:
        out["depends_on"] = {
            key: {
                "condition": dep.condition.value,
                "required": dep.required,
                "restart": dep.restart,
            }
            for key, dep in sorted(service.depends_on.items())
        }
    if service.healthcheck is not None:
        keys = ("interval", "timeout", "start_period", "start_interval")
        out["healthcheck"] = _durations(service.healthcheck, keys)
    policy = service.deploy.restart_policy
    if policy is not None:
        out["deploy"]["restart_policy"] = _durations(policy, ("delay", "window"))
    return dict(sorted(out.items()))


def project_dict(project: Project) -> dict[str, Any]:
    out: dict[str, Any] = {"name": project.name}
    out["services"] = {
        name: service_dict(project.services[name]) for name in sorted(project.services)
    }
    sections = (
        ("networks", project.networks),
        ("volumes", project.volumes),
        ("secrets", project.secrets),
        ("configs", project.configs),
    )
    for section, entries in sections:
        if entries:
            out[section] = {key: _fields(entries[key]) for key in sorted(entries)}
    return out


def _escape(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, dict):
        return {key: _escape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_escape(item) for item in value]
    return value


def to_yaml(project: Project) -> str:
    return dump_yaml(_escape(project_dict(project)))


def config_hash(service: Service) -> str:
    data = service_dict(service)
    for key in _HASH_IGNORED:
        data.pop(key, None)
    deploy = data.get("deploy")
    if deploy is not None:
        deploy = {key: value for key, value in deploy.items() if key != "replicas"}
        if deploy:
            data["deploy"] = deploy
        else:
            del data["deploy"]
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()
