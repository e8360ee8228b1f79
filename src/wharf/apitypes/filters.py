"""Docker's ``filters`` query parameter, decoded into a typed value.

Clients send either ``{"key": ["v1", "v2"]}`` or the older ``{"key": {"v1": true}}``; both decode
to the same ``Filters``. Unknown keys are refused by the endpoint that knows its own keys.
``until_unix`` reads the time values of ``until``/``since`` filters as dockerd does.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from wharf.apitypes.durations import parse_go_duration_ns
from wharf.errdefs import InvalidArgument


@dataclass(frozen=True, slots=True)
class Filters:
    entries: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> Filters:
        if not text:
            return cls()
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidArgument(f"invalid filter: {text!r} is not JSON") from exc
        if not isinstance(raw, dict):
            raise InvalidArgument(f"invalid filter: {text!r} is not an object")
        entries: list[tuple[str, tuple[str, ...]]] = []
        for key, value in raw.items():
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                entries.append((key, tuple(value)))
            elif isinstance(value, dict):
                entries.append((key, tuple(k for k, on in value.items() if on)))
            else:
                raise InvalidArgument(f"invalid filter value for {key!r}")
        return cls(tuple(sorted(entries)))

    def get(self, key: str) -> tuple[str, ...]:
        for name, values in self.entries:
            if name == key:
                return values
        return ()

    def keys(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.entries)

    def check_keys(self, allowed: Iterable[str]) -> None:
        allowed_set = set(allowed)
        for key in self.keys():
            if key not in allowed_set:
                raise InvalidArgument(f"invalid filter '{key}'")

    def to_json(self) -> str:
        return json.dumps({key: list(values) for key, values in self.entries})


def until_unix(value: str, now: float) -> float:
    """A filter's time (``until=24h``, ``until=2024-01-02T03:04:05Z``, ``until=1700000000.5``)
    as unix seconds, as Docker's ``GetTimestamp``: a Go duration counts back from ``now``, a
    value with ``-`` is a date (UTC unless it says otherwise), anything else unix seconds."""
    if value != "0":
        try:
            return now - parse_go_duration_ns(value) / 1e9
        except InvalidArgument:
            pass
    try:
        if "-" in value:
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            return moment.timestamp()
        return float(value)
    except ValueError:
        raise InvalidArgument(f"invalid filter 'until={value}'") from None
