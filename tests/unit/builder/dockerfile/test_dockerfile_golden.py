"""Golden tests of the Dockerfile parser.

``cases/<case>/Dockerfile`` parses to ``cases/<case>/expected`` (the ``describe`` dump below);
``errors/<case>/Dockerfile`` fails with exactly the one-line message in ``errors/<case>/expected``.
Set ``WHARF_REGEN_GOLDEN=1`` to rewrite the expected files after a deliberate change, then
read the diff.

The dump lists each instruction as ``<line> <KEYWORD>: <source>``, its fields that are not at
their default as JSON, and ``=> field: value`` for each field that ``expanded`` changes under
``ENVIRONMENT``.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import os
from pathlib import Path
from typing import Any

import pytest

from wharf.builder.dockerfile import Dockerfile, DockerfileError, Instruction, parse_dockerfile

HERE = Path(__file__).resolve().parent
CASES = sorted(p.name for p in (HERE / "cases").iterdir() if p.is_dir())
ERRORS = sorted(p.name for p in (HERE / "errors").iterdir() if p.is_dir())
REGENERATE = os.environ.get("WHARF_REGEN_GOLDEN") == "1"

ENVIRONMENT = {
    "HOME": "/root",
    "USER": "builder",
    "NAME": "world",
    "VERSION": "1.2.3",
    "BASE": "alpine",
    "EMPTY": "",
    "PORTS": "80/tcp  443",
    "UID": "1000",
    "TARGETPLATFORM": "linux/arm64",
    "BUILDPLATFORM": "linux/amd64",
    "CACHE": "pip",
}


def plain(value: Any) -> Any:
    """A JSON-able view of parser values (dataclasses as dicts, enums as their value)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        keyword = getattr(value, "keyword", "")
        if keyword:
            out["keyword"] = keyword
        for field in dataclasses.fields(value):
            if field.name != "escape":
                out[field.name] = plain(getattr(value, field.name))
        return out
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [plain(item) for item in value]
    return value


def _fields(instruction: Instruction) -> dict[str, Any]:
    """The instruction's own fields, leaving out those still at their default."""
    data = plain(instruction)
    for field in dataclasses.fields(instruction):
        if field.name in ("line", "source", "escape"):
            data.pop(field.name, None)
        elif field.default is not dataclasses.MISSING and data[field.name] == plain(field.default):
            data.pop(field.name)
    data.pop("keyword")
    return dict(data)


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _describe_instruction(instruction: Instruction) -> list[str]:
    lines = [f"  {instruction.line} {instruction.keyword}: {instruction.source}"]
    fields = _fields(instruction)
    lines.extend(f"    {name}: {_dump(value)}" for name, value in fields.items())
    try:
        expanded = instruction.expanded(ENVIRONMENT.get)
    except DockerfileError as exc:
        lines.append(f"    => error: {exc}")
        return lines
    for name, value in _fields(expanded).items():
        if value != fields.get(name):
            lines.append(f"    => {name}: {_dump(value)}")
    return lines


def describe(dockerfile: Dockerfile) -> str:
    lines = [f"escape: {_dump(dockerfile.escape)}", f"syntax: {_dump(dockerfile.syntax)}"]
    lines.append("warnings:")
    lines.extend(f"  {warning}" for warning in dockerfile.warnings)
    lines.append("meta_args:")
    for arg in dockerfile.meta_args:
        lines.extend(_describe_instruction(arg))
    for stage in dockerfile.stages:
        lines.append(f"stage {stage.index} name={_dump(stage.name)}")
        lines.extend(_describe_instruction(stage.base))
        for instruction in stage.instructions:
            lines.extend(_describe_instruction(instruction))
    return "\n".join(lines) + "\n"


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 25
    assert len(ERRORS) >= 25


@pytest.mark.parametrize("case", CASES)
def test_golden_case(case: str) -> None:
    directory = HERE / "cases" / case
    got = describe(parse_dockerfile((directory / "Dockerfile").read_bytes()))
    expected = directory / "expected"
    if REGENERATE:
        expected.write_text(got, encoding="utf-8")
    assert got == expected.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", ERRORS)
def test_error_case(case: str) -> None:
    directory = HERE / "errors" / case
    with pytest.raises(DockerfileError) as caught:
        parse_dockerfile((directory / "Dockerfile").read_bytes())
    got = str(caught.value)
    assert "\n" not in got
    assert got == f"dockerfile parse error on line {caught.value.line}: {caught.value.reason}"
    expected = directory / "expected"
    if REGENERATE:
        expected.write_text(got + "\n", encoding="utf-8")
    assert got == expected.read_text(encoding="utf-8").rstrip("\n")
