"""The value handlers every compose key is canonicalized with, and how they are applied.

Imports: stdlib, ``wharf.compose.errors``, ``wharf.compose.syntax``, ``wharf.compose.yamlfile``.

A handler takes ``(value, ctx, key_path)`` for a value that already passed the schema
(``schema``) and returns its canonical form, or raises ``ComposeError`` naming the file
(``ctx.file``) and key path. ``apply_handler`` passes ``!reset`` through and keeps
``!override`` wrapped around the canonical value, so the merge still sees both;
``object_fields`` applies a table of handlers to a mapping, dropping ``x-*`` keys and
warning about keys that have no handler (accepted by the spec, unused by the engine).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wharf.compose import syntax
from wharf.compose.errors import ComposeError, index_path, join_path
from wharf.compose.yamlfile import RESET, Override, scalar_text


@dataclass(slots=True)
class Context:
    """Where a file's values come from and where warnings go."""

    file: str
    base_dir: Path
    file_dir: Path
    home: str
    warnings: list[str]

    def error(self, reason: str, path: str) -> ComposeError:
        return ComposeError(reason, file=self.file, path=path)

    def ignored(self, path: str) -> None:
        message = f"{self.file}: {path}: not supported, ignored"
        if message not in self.warnings:
            self.warnings.append(message)


Handler = Callable[[Any, Context, str], object]
_CONTAINER_NAME_RE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+")
_TRUE = ("y", "yes", "true", "on", "1")
_FALSE = ("n", "no", "false", "off", "0")


def apply_handler(handler: Handler, value: object, ctx: Context, path: str) -> object:
    if value is RESET:
        return RESET
    if isinstance(value, Override):
        return Override(handler(value.value, ctx, path))
    return handler(value, ctx, path)


def object_fields(
    value: Mapping[str, Any],
    handlers: Mapping[str, Handler],
    ctx: Context,
    path: str,
    *,
    silent: frozenset[str] = frozenset(),
) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, item in value.items():
        sub = join_path(path, key)
        if key.startswith("x-") or key in silent:
            continue
        handler = handlers.get(key)
        if handler is None:
            ctx.ignored(sub)
            continue
        out[key] = apply_handler(handler, item, ctx, sub)
    return out


def list_items(value: list[Any], path: str) -> Iterator[tuple[str, Any]]:
    for i, item in enumerate(value):
        if item is RESET:
            continue
        yield index_path(path, i), item.value if isinstance(item, Override) else item


# -- scalars ---------------------------------------------------------------------------


def keep(value: Any, ctx: Context, path: str) -> object:
    return value


def to_bool(value: Any, ctx: Context, path: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ctx.error(f'invalid boolean "{value}"', path)


def to_int(value: Any, ctx: Context, path: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    try:
        return int(str(value).strip())
    except ValueError:
        raise ctx.error(f'invalid integer "{value}"', path) from None


def to_float(value: Any, ctx: Context, path: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ctx.error(f'invalid number "{value}"', path) from None


def to_size(value: Any, ctx: Context, path: str) -> int:
    try:
        return syntax.parse_size(value)
    except ValueError as exc:
        raise ctx.error(str(exc), path) from None


def to_swap(value: Any, ctx: Context, path: str) -> int:
    # memswap_limit: -1 means unlimited swap, which a size cannot say.
    if str(value).strip() == "-1":
        return -1
    return to_size(value, ctx, path)


def to_duration(value: Any, ctx: Context, path: str) -> int:
    try:
        return syntax.parse_duration(str(value))
    except ValueError as exc:
        raise ctx.error(str(exc), path) from None


def to_mode(value: Any, ctx: Context, path: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(str(value), 8)
    except ValueError:
        raise ctx.error(f'invalid file mode "{value}"', path) from None


def to_strings(value: Any, ctx: Context, path: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [scalar_text(item) for _, item in list_items(value, path)]


def checked(check: Callable[[str], str]) -> Handler:
    def handler(value: Any, ctx: Context, path: str) -> str:
        try:
            return check(str(value))
        except ValueError as exc:
            raise ctx.error(str(exc), path) from None

    return handler


def key_values(none_value: str | None) -> Handler:
    """``list_or_dict`` -> ``{key: str}``; a key without a value maps to ``none_value``."""

    def handler(value: Any, ctx: Context, path: str) -> dict[str, object]:
        out: dict[str, object] = {}
        if isinstance(value, list):
            for sub, item in list_items(value, path):
                key, found, text = str(item).partition("=")
                if not key:
                    raise ctx.error(f'invalid entry "{item}"', sub)
                out[key] = text if found else none_value
            return out
        for key, item in value.items():
            if item is RESET:
                out[key] = RESET
            else:
                plain = item.value if isinstance(item, Override) else item
                out[key] = none_value if plain is None else scalar_text(plain)
        return out

    return handler


ENVIRONMENT = key_values(None)
LABELS = key_values("")


def host_path(value: Any, ctx: Context, path: str) -> str:
    return syntax.resolve_host_path(str(value), ctx.base_dir, ctx.home)


def command(value: Any, ctx: Context, path: str) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError as exc:
            raise ctx.error(f"invalid command: {exc}", path) from None
    return [str(item) for _, item in list_items(value, path)]


def container_name(value: Any, ctx: Context, path: str) -> str:
    if _CONTAINER_NAME_RE.fullmatch(value) is None:
        raise ctx.error(f'invalid container name "{value}"', path)
    return str(value)


def nested(handlers: Mapping[str, Handler], silent: frozenset[str] = frozenset()) -> Handler:
    def handler(value: Any, ctx: Context, path: str) -> dict[str, object]:
        return object_fields(value or {}, handlers, ctx, path, silent=silent)

    return handler
