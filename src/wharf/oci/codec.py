"""JSON at the edge of the OCI model: strict typed reading, Go-compatible compact writing.

Reading: ``load_object`` decodes bytes into a JSON object and ``ObjectReader`` hands out
typed fields, raising ``InvalidArgument`` with the document kind and field path
(``invalid manifest: layers[1].size must be an integer, not string``). Unknown keys are
ignored, as Go's decoder ignores them; ``null`` reads like an absent field.

Writing: ``dump`` produces the bytes Go's ``encoding/json`` would for the same structure:
no blanks, non-ASCII kept as UTF-8, ``<``, ``>``, ``&``, U+2028 and U+2029 escaped as
``\\u003c``-style sequences, fields in the order the caller built them. Map-typed fields
must be given with sorted keys (Go sorts them).

Imports: stdlib, ``wharf.errdefs``, ``wharf.oci.annotations``, ``wharf.oci.digest`` (layer L0).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import NoReturn

from wharf.errdefs import InvalidArgument
from wharf.oci.annotations import EMPTY_MAP, FrozenMap
from wharf.oci.digest import Digest

_GO_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
_GO_ESCAPE_RE = re.compile("[<>&\u2028\u2029]")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def json_kind(value: object) -> str:
    """The JSON name of a decoded value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


def load_object(data: bytes, doc: str) -> dict[str, object]:
    """Decode ``data`` as one JSON object, or raise InvalidArgument naming ``doc``."""
    try:
        value = json.loads(data, parse_constant=_reject_constant)
    except RecursionError:
        raise InvalidArgument(f"invalid {doc}: JSON nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise InvalidArgument(f"invalid {doc}: not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise InvalidArgument(f"invalid {doc}: expected a JSON object, not {json_kind(value)}")
    return value


def dump(value: object) -> bytes:
    """Compact JSON bytes, as Go's ``json.Marshal`` writes them (see module docstring)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    text = _GO_ESCAPE_RE.sub(lambda m: _GO_ESCAPES[m.group()], text)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates can come in through "\ud800" escapes; Go writes U+FFFD for them.
        return _SURROGATE_RE.sub("\ufffd", text).encode("utf-8")


class ObjectReader:
    """Typed, validated access to the fields of one decoded JSON object."""

    __slots__ = ("_doc", "_obj", "_path")

    def __init__(self, value: object, doc: str, path: str = "") -> None:
        self._doc = doc
        self._path = path
        if not isinstance(value, dict):
            where = f"{path} must be an object" if path else "expected a JSON object"
            raise InvalidArgument(f"invalid {doc}: {where}, not {json_kind(value)}")
        self._obj: dict[str, object] = value

    def _field(self, key: str) -> str:
        return f"{self._path}.{key}" if self._path else key

    def fail(self, key: str, problem: str) -> NoReturn:
        """Raise InvalidArgument about field ``key`` of this object."""
        raise InvalidArgument(f"invalid {self._doc}: {self._field(key)} {problem}")

    def _wrong_type(self, key: str, expected: str, value: object) -> NoReturn:
        self.fail(key, f"must be {expected}, not {json_kind(value)}")

    def keys(self) -> Iterator[str]:
        return iter(self._obj)

    def has(self, key: str) -> bool:
        """Present and not null."""
        return self._obj.get(key) is not None

    def raw(self, key: str) -> object:
        return self._obj.get(key)

    # -- scalars --------------------------------------------------------------------------

    def opt_str(self, key: str) -> str | None:
        value = self._obj.get(key)
        if value is None or isinstance(value, str):
            return value
        self._wrong_type(key, "a string", value)

    def req_str(self, key: str) -> str:
        value = self.opt_str(key)
        if value is None:
            self.fail(key, "is required")
        return value

    def str_or_empty(self, key: str) -> str:
        value = self.opt_str(key)
        return "" if value is None else value

    def opt_int(self, key: str) -> int | None:
        value = self._obj.get(key)
        if value is None:
            return None
        # bool is an int in Python, never in JSON; floats like 2.0 are not sizes either.
        if isinstance(value, bool) or not isinstance(value, int):
            self._wrong_type(key, "an integer", value)
        return value

    def req_int(self, key: str) -> int:
        value = self.opt_int(key)
        if value is None:
            self.fail(key, "is required")
        return value

    def bool_or_false(self, key: str) -> bool:
        value = self._obj.get(key)
        if value is None:
            return False
        if not isinstance(value, bool):
            self._wrong_type(key, "a boolean", value)
        return value

    def opt_digest(self, key: str) -> Digest | None:
        text = self.opt_str(key)
        if text is None:
            return None
        try:
            return Digest.parse(text)
        except InvalidArgument as exc:
            raise InvalidArgument(f"invalid {self._doc}: {self._field(key)}: {exc}") from exc

    def req_digest(self, key: str) -> Digest:
        value = self.opt_digest(key)
        if value is None:
            self.fail(key, "is required")
        return value

    # -- containers -----------------------------------------------------------------------

    def opt_list(self, key: str) -> list[object] | None:
        value = self._obj.get(key)
        if value is None or isinstance(value, list):
            return value
        self._wrong_type(key, "an array", value)

    def opt_str_tuple(self, key: str) -> tuple[str, ...] | None:
        """An array of strings; None when absent or null (so ``[]`` stays distinguishable)."""
        items = self.opt_list(key)
        if items is None:
            return None
        strings: list[str] = []
        for i, item in enumerate(items):
            if not isinstance(item, str):
                self._wrong_type(f"{key}[{i}]", "a string", item)
            strings.append(item)
        return tuple(strings)

    def str_tuple(self, key: str) -> tuple[str, ...]:
        value = self.opt_str_tuple(key)
        return () if value is None else value

    def digest_tuple(self, key: str) -> tuple[Digest, ...]:
        strings = self.str_tuple(key)
        digests = []
        for i, text in enumerate(strings):
            try:
                digests.append(Digest.parse(text))
            except InvalidArgument as exc:
                field = self._field(f"{key}[{i}]")
                raise InvalidArgument(f"invalid {self._doc}: {field}: {exc}") from exc
        return tuple(digests)

    def str_map(self, key: str) -> FrozenMap:
        """An object of string values (annotations, labels); empty when absent or null."""
        value = self._obj.get(key)
        if value is None:
            return EMPTY_MAP
        if not isinstance(value, dict):
            self._wrong_type(key, "an object", value)
        for name, item in value.items():
            if not isinstance(item, str):
                self._wrong_type(f"{key}[{name!r}]", "a string", item)
        return FrozenMap(value)

    def key_set(self, key: str) -> tuple[str, ...]:
        """The keys of a Go ``map[string]struct{}`` such as ``{"80/tcp": {}}``, in order."""
        value = self._obj.get(key)
        if value is None:
            return ()
        if not isinstance(value, dict):
            self._wrong_type(key, "an object", value)
        for name, item in value.items():
            if item is not None and not isinstance(item, dict):
                self._wrong_type(f"{key}[{name!r}]", "an object", item)
        return tuple(value)

    def opt_object(self, key: str) -> ObjectReader | None:
        value = self._obj.get(key)
        if value is None:
            return None
        return ObjectReader(value, self._doc, self._field(key))

    def req_object(self, key: str) -> ObjectReader:
        reader = self.opt_object(key)
        if reader is None:
            self.fail(key, "is required")
        return reader

    def objects(self, key: str) -> list[ObjectReader]:
        """An array of objects, each with its indexed path; empty when absent or null."""
        items = self.opt_list(key)
        if items is None:
            return []
        return [
            ObjectReader(item, self._doc, self._field(f"{key}[{i}]"))
            for i, item in enumerate(items)
        ]
