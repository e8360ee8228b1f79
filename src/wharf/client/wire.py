"""Typed reads from decoded JSON: what every client model's ``from_wire`` is built on.

``Fields`` wraps one decoded JSON object and reads typed values out of it, lenient about
absent fields and ``null`` (Go's nil slices and maps), strict about types: a field of the
wrong type raises ``EngineFailure`` naming it (``container summary.Ports is not a list``).

Imports only the standard library and ``wharf.errdefs``.
"""

from __future__ import annotations

from typing import Any

from wharf.errdefs import EngineFailure


class Fields:
    """Typed reads from one decoded JSON object; ``what`` names it in error messages."""

    __slots__ = ("_raw", "_what")

    def __init__(self, raw: object, what: str) -> None:
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise EngineFailure(f"malformed daemon response: {what} is not an object")
        self._raw: dict[str, Any] = raw
        self._what = what

    def _get(self, key: str, kind: type | tuple[type, ...], kind_name: str) -> Any:
        value = self._raw.get(key)
        if value is None:
            return None
        if isinstance(value, bool) and kind is not bool:
            raise self._wrong(key, kind_name)
        if not isinstance(value, kind):
            raise self._wrong(key, kind_name)
        return value

    def _wrong(self, key: str, kind_name: str) -> EngineFailure:
        return EngineFailure(f"malformed daemon response: {self._what}.{key} is not {kind_name}")

    def text(self, key: str, default: str = "") -> str:
        value = self._get(key, str, "a string")
        return default if value is None else str(value)

    def num(self, key: str, default: int = 0) -> int:
        value = self._get(key, (int, float), "a number")
        return default if value is None else int(value)

    def flag(self, key: str, default: bool = False) -> bool:
        value = self._get(key, bool, "a boolean")
        return default if value is None else bool(value)

    def texts(self, key: str) -> tuple[str, ...]:
        value = self._get(key, list, "a list")
        if value is None:
            return ()
        if not all(isinstance(item, str) for item in value):
            raise self._wrong(key, "a list of strings")
        return tuple(value)

    def obj(self, key: str) -> Fields:
        return Fields(self._raw.get(key), f"{self._what}.{key}")

    def objs(self, key: str) -> tuple[Fields, ...]:
        value = self._get(key, list, "a list")
        return tuple(Fields(item, f"{self._what}.{key}[]") for item in value or ())

    def str_map(self, key: str) -> tuple[tuple[str, str], ...]:
        value = self._get(key, dict, "an object")
        if value is None:
            return ()
        return tuple((str(k), v if isinstance(v, str) else str(v)) for k, v in value.items())

    def keys_of(self, key: str) -> tuple[str, ...]:
        value = self._get(key, dict, "an object")
        return tuple(value or ())

    def raw(self) -> dict[str, Any]:
        return self._raw


def as_list(raw: object, what: str) -> list[Any]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise EngineFailure(f"malformed daemon response: {what} is not a list")
    return raw
