"""``parse_dockerfile``: text → syntax tree → typed instructions grouped into stages.

Imports: stdlib, ``.convert``, ``.errors``, ``.instructions``, ``.syntax``.

Layout of the result::

    Dockerfile(escape="\\\\", syntax=None, warnings=(...),
               meta_args=(ArgInstruction, ...),          # ARGs before the first FROM
               stages=(Stage(index=0, name="build", base=FromInstruction, instructions=(...)),
                       Stage(index=1, name=None, ...)))

Only ARG may come before the first FROM; stage names are unique (case-insensitively, as
they are lower-cased). Nothing is expanded here: the builder expands each instruction with
the variables in scope when it gets there.
"""

from __future__ import annotations

from dataclasses import dataclass

from wharf.builder.dockerfile.convert import convert
from wharf.builder.dockerfile.errors import DockerfileError, go_quote
from wharf.builder.dockerfile.instructions import ArgInstruction, FromInstruction, Instruction
from wharf.builder.dockerfile.syntax import parse_syntax

_RESERVED_STAGE_NAMES = frozenset({"context", "scratch"})


@dataclass(frozen=True, slots=True)
class Stage:
    """A FROM and the instructions after it, up to the next FROM."""

    index: int
    name: str | None
    base: FromInstruction
    instructions: tuple[Instruction, ...]


@dataclass(frozen=True, slots=True)
class Dockerfile:
    escape: str
    syntax: str | None  # the ``# syntax=`` directive, accepted and ignored
    meta_args: tuple[ArgInstruction, ...]
    stages: tuple[Stage, ...]
    warnings: tuple[str, ...]


def parse_dockerfile(source: str | bytes) -> Dockerfile:
    """Parse a Dockerfile; raises ``DockerfileError`` (an ``InvalidArgument``) with the line."""
    text = source.decode("utf-8", errors="replace") if isinstance(source, bytes) else source
    tree = parse_syntax(text)
    warnings = list(tree.warnings)
    meta_args: list[ArgInstruction] = []
    stages: list[tuple[FromInstruction, list[Instruction]]] = []
    names: set[str] = set()
    for node in tree.nodes:
        instruction = convert(node, tree.escape, warnings)
        if isinstance(instruction, FromInstruction):
            name = instruction.stage_name
            if name is not None:
                if name in names:
                    raise DockerfileError(
                        instruction.line, f"duplicate stage name {go_quote(name)}"
                    )
                if name in _RESERVED_STAGE_NAMES:
                    warnings.append(
                        f"line {instruction.line}: Stage name should not use the same name as "
                        f"reserved stage {go_quote(name)} (ReservedStageName)"
                    )
                names.add(name)
            stages.append((instruction, []))
        elif stages:
            stages[-1][1].append(instruction)
        elif isinstance(instruction, ArgInstruction):
            meta_args.append(instruction)
        else:
            raise DockerfileError(instruction.line, "no build stage in current context")
    return Dockerfile(
        escape=tree.escape,
        syntax=tree.syntax,
        meta_args=tuple(meta_args),
        stages=tuple(
            Stage(index, base.stage_name, base, tuple(body))
            for index, (base, body) in enumerate(stages)
        ),
        warnings=tuple(warnings),
    )
