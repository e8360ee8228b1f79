"""Merging canonical compose files (the compose spec's ``merge.md``).

Imports: stdlib, ``wharf.compose.yamlfile``.

Rules, applied to the canonical form (``canonical``) of each file in ``-f`` order, and to a
service over the one it ``extends``:

- mappings merge key by key (environment, labels, networks, depends_on, build, deploy...);
- ``command``, ``entrypoint`` and ``healthcheck.test`` are replaced, never appended;
- ``ports`` (by host_ip, target, published, protocol), ``volumes``, ``secrets``, ``configs``
  (by target), ``env_file`` (by path): an entry with a key already present replaces that
  entry in place, others are appended;
- other lists append the entries not already present;
- scalars: the later file wins;
- ``!reset`` removes the key, ``!override`` replaces the value without merging.

``strip_markers`` removes what is left of the markers once every file is merged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wharf.compose.yamlfile import RESET, Override

_REPLACED = (
    ("services", "*", "command"),
    ("services", "*", "entrypoint"),
    ("services", "*", "healthcheck", "test"),
)


def _port_key(port: Any) -> object:
    return (port["host_ip"], port["target"], port["published"], port["protocol"])


def _target_key(entry: Any) -> object:
    return entry["target"]


def _path_key(entry: Any) -> object:
    return entry["path"]


_KEYED: dict[tuple[str, ...], Callable[[Any], object]] = {
    ("services", "*", "ports"): _port_key,
    ("services", "*", "volumes"): _target_key,
    ("services", "*", "secrets"): _target_key,
    ("services", "*", "configs"): _target_key,
    ("services", "*", "env_file"): _path_key,
}


def _matches(path: tuple[str, ...], pattern: tuple[str, ...]) -> bool:
    return len(path) == len(pattern) and all(
        p in ("*", k) for k, p in zip(path, pattern, strict=True)
    )


def merge_value(base: Any, over: Any, path: tuple[str, ...]) -> Any:
    if isinstance(over, Override):
        return over.value
    if any(_matches(path, pattern) for pattern in _REPLACED):
        return over
    if isinstance(base, dict) and isinstance(over, dict):
        return merge_mapping(base, over, path)
    if isinstance(base, list) and isinstance(over, list):
        key = next((fn for pattern, fn in _KEYED.items() if _matches(path, pattern)), None)
        return _merge_list(base, over, key)
    return over


def merge_mapping(
    base: dict[str, Any], over: dict[str, Any], path: tuple[str, ...] = ()
) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if value is RESET:
            merged.pop(key, None)
        elif key in merged:
            merged[key] = merge_value(merged[key], value, (*path, key))
        else:
            merged[key] = value
    return merged


def _merge_list(base: list[Any], over: list[Any], key: Callable[[Any], object] | None) -> list[Any]:
    merged = list(base)
    if key is None:
        merged.extend(item for item in over if item not in base)
        return merged
    positions = {key(item): i for i, item in enumerate(merged)}
    for item in over:
        k = key(item)
        if k in positions:
            merged[positions[k]] = item
        else:
            positions[k] = len(merged)
            merged.append(item)
    return merged


def strip_markers(value: Any) -> Any:
    """The merged tree without ``RESET`` entries and with ``Override`` values unwrapped."""
    if isinstance(value, Override):
        return strip_markers(value.value)
    if isinstance(value, dict):
        return {k: strip_markers(v) for k, v in value.items() if v is not RESET}
    if isinstance(value, list):
        return [strip_markers(v) for v in value if v is not RESET]
    return value
