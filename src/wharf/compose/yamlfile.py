"""Reads one compose file's YAML the way docker compose (go-yaml v3) does.

Imports: stdlib, ``yaml`` (PyYAML; the C parser when built), ``wharf.compose.errors``.

Differences from PyYAML's defaults, all to match docker compose:

- YAML 1.2 scalars: only ``true``/``false`` are booleans (``restart: no`` and ``FOO: yes``
  stay strings), no sexagesimal ints (``- 22:22`` is a port, not 1342), no timestamps;
  a leading ``0`` or ``0o`` is octal (``mode: 0440``), ``0x`` hex, ``0b`` binary.
- A mapping key given twice is an error (PyYAML silently keeps the last one).
- Keys are strings (``80: x`` has key ``"80"``); floats remember their source text, so
  ``VERSION: 1.10`` becomes the string ``"1.10"`` where a string is wanted.
- ``!reset`` and ``!override`` (compose merge tags) load as ``RESET`` and ``Override(v)``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from wharf.compose.errors import ComposeError


class _Reset:
    """The value of a key tagged ``!reset``: the merge drops the key."""

    _instance: _Reset | None = None

    def __new__(cls) -> _Reset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "RESET"


RESET: Final = _Reset()


@dataclass(frozen=True, slots=True)
class Override:
    """A value tagged ``!override``: the merge replaces instead of merging."""

    value: object


class YamlFloat(float):
    """A float that keeps the text it was written as (``1.10`` is not ``1.1`` in an env)."""

    text: str

    def __new__(cls, value: float, text: str) -> YamlFloat:
        self = super().__new__(cls, value)
        self.text = text
        return self


def scalar_text(value: object) -> str:
    """A scalar as docker compose turns it into a string (environment values, labels)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, YamlFloat):
        return value.text
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# PyYAML's resolver uses re.match, so every pattern is anchored at both ends.
_BOOL_RE = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_INT_RE = re.compile(r"^[-+]?(?:0|[1-9][0-9]*|0o?[0-7]+|0x[0-9a-fA-F]+|0b[01]+)$")
_FLOAT_RE = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_NULL_RE = re.compile(r"^(?:~|null|Null|NULL|)$")
_DIGITS = list("-+0123456789")

_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BaseDumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Loader(_BaseLoader):  # type: ignore[misc]
    # Start from no implicit resolvers at all: the YAML 1.1 ones are what we replace.
    yaml_implicit_resolvers: dict[Any, Any] = {}

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[str, Any]:
        mapping = super().construct_mapping(node, deep=deep)
        return {_key_text(key): value for key, value in mapping.items()}


class _Dumper(_BaseDumper):  # type: ignore[misc]
    """Quotes every string our loader would read back as something else (``0o17``)."""


def _add_resolvers(cls: Any) -> None:
    cls.add_implicit_resolver("tag:yaml.org,2002:bool", _BOOL_RE, list("tTfF"))
    cls.add_implicit_resolver("tag:yaml.org,2002:int", _INT_RE, _DIGITS)
    cls.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_RE, [*_DIGITS, "."])
    cls.add_implicit_resolver("tag:yaml.org,2002:null", _NULL_RE, ["~", "n", "N", ""])
    cls.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^<<$"), ["<"])


def _construct_bool(loader: Any, node: ScalarNode) -> bool:
    return str(loader.construct_scalar(node)).lower() == "true"


def _construct_int(loader: Any, node: ScalarNode) -> int:
    text = str(loader.construct_scalar(node))
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-")
    if len(digits) > 1 and digits[0] == "0" and digits[1] not in "xXbBoO":
        return sign * int(digits, 8)
    return sign * int(digits, 0)


def _construct_float(loader: Any, node: ScalarNode) -> float:
    text = str(loader.construct_scalar(node))
    lowered = text.lower().lstrip("+")
    if lowered in (".inf", "-.inf", ".nan"):
        special = {".inf": math.inf, "-.inf": -math.inf, ".nan": math.nan}[lowered]
        return YamlFloat(special, text)
    return YamlFloat(float(text), text)


def _construct_reset(loader: Any, node: Node) -> object:
    return RESET


def _construct_override(loader: Any, node: Node) -> Override:
    if isinstance(node, MappingNode):
        return Override(loader.construct_mapping(node, deep=True))
    if isinstance(node, SequenceNode):
        return Override(loader.construct_sequence(node, deep=True))
    assert isinstance(node, ScalarNode)
    tag = loader.resolve(ScalarNode, node.value, (True, False))
    plain = ScalarNode(tag, node.value, node.start_mark, node.end_mark, node.style)
    return Override(loader.construct_object(plain, deep=True))


_add_resolvers(_Loader)
_add_resolvers(_Dumper)
_Loader.add_constructor("tag:yaml.org,2002:bool", _construct_bool)
_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)
_Loader.add_constructor("!reset", _construct_reset)
_Loader.add_constructor("!override", _construct_override)


def _key_text(key: object) -> str:
    if key is None:
        return "null"
    return scalar_text(key) if not isinstance(key, str) else key


def _check_duplicate_keys(node: Node, label: str) -> None:
    # Checked on the composed tree, before "<<" merges are flattened into the mappings
    # (a merged key that the mapping redefines is allowed).
    seen_nodes: set[int] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        if id(current) in seen_nodes:
            continue
        seen_nodes.add(id(current))
        if isinstance(current, MappingNode):
            keys: set[str] = set()
            for key_node, value_node in current.value:
                if isinstance(key_node, ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                    if key_node.value in keys:
                        line = key_node.start_mark.line + 1
                        raise ComposeError(
                            f'line {line}: mapping key "{key_node.value}" already defined',
                            file=label,
                        )
                    keys.add(key_node.value)
                stack.extend((key_node, value_node))
        elif isinstance(current, SequenceNode):
            stack.extend(current.value)


def load_yaml(text: str, label: str) -> object:
    """Parse one YAML document; ``label`` names the file in error messages."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_duplicate_keys(node, label)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise ComposeError(f"{where}invalid YAML: {problem}", file=label) from exc
    finally:
        loader.dispose()


def read_yaml_file(path: Path, label: str) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ComposeError("no such file", file=label) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ComposeError(f"cannot read: {exc}", file=label) from exc
    return load_yaml(text, label)


def dump_yaml(data: object) -> str:
    """YAML text that ``load_yaml`` reads back to ``data`` (strings quoted when needed)."""
    text: str = yaml.dump(
        data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True
    )
    return text
