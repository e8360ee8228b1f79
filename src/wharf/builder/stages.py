"""Stage planning: which stages a build needs, what each depends on, and the global ARGs.

Imports: stdlib, ``wharf.errdefs``, ``wharf.builder.dockerfile``.

A stage depends on another when it stands on it (``FROM <stage>``), copies from it
(``COPY --from=<stage>``) or mounts it (``RUN --mount=...,from=<stage>``). A reference is a
stage when it names one (case-insensitive) or is the index of an earlier stage; otherwise it
is an image. Only the target stage and what it depends on run; the others are skipped, as
BuildKit does (the classic builder ran them all).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from wharf.builder.dockerfile import (
    CopyInstruction,
    Dockerfile,
    OnbuildInstruction,
    RunInstruction,
    Stage,
    expand_word,
)
from wharf.errdefs import InvalidArgument

Lookup = Callable[[str], "str | None"]

# Args every build knows without an ARG line in the global scope (BuildKit's automatic args).
PLATFORM_ARGS = (
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETARCH",
    "TARGETVARIANT",
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDARCH",
    "BUILDVARIANT",
)
# Proxy args pass through without a declaration and never count as unconsumed (Docker).
PROXY_ARGS = frozenset(
    name
    for base in ("HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY", "ALL_PROXY")
    for name in (base, base.lower())
)


@dataclass(frozen=True, slots=True)
class StagePlan:
    stage: Stage
    base_stage: int | None  # index of the stage it stands on, None for an image or scratch
    base_image: str  # the expanded FROM reference ("scratch" for none)
    depends_on: frozenset[int]


def platform_args(os: str, architecture: str, variant: str | None) -> dict[str, str]:
    platform = f"{os}/{architecture}" + (f"/{variant}" if variant else "")
    values = {"PLATFORM": platform, "OS": os, "ARCH": architecture, "VARIANT": variant or ""}
    return {
        f"{prefix}{key}": value for prefix in ("TARGET", "BUILD") for key, value in values.items()
    }


def global_args(
    dockerfile: Dockerfile, build_args: Mapping[str, str | None], automatic: Mapping[str, str]
) -> dict[str, str | None]:
    """The global scope: ARGs before the first FROM, with build args applied."""
    scope: dict[str, str | None] = dict(automatic)

    def lookup(name: str) -> str | None:
        return scope.get(name)

    for instruction in dockerfile.meta_args:
        expanded = instruction.expanded(lookup)
        for name, default in expanded.args:
            given = build_args.get(name) if name in build_args else None
            scope[name] = given if given is not None else default
    return scope


def stage_index(dockerfile: Dockerfile, reference: str, *, before: int) -> int | None:
    """The stage ``reference`` names (name or index), if it names one defined earlier."""
    wanted = reference.lower()
    for stage in dockerfile.stages[:before]:
        if stage.name is not None and stage.name == wanted:
            return stage.index
    if wanted.isdigit():
        index = int(wanted)
        if index < before:
            return index
        raise InvalidArgument(
            f"invalid from flag value {reference}: refers to current or later build stage"
        )
    return None


def plan_stages(
    dockerfile: Dockerfile, target: str, scope: Mapping[str, str | None]
) -> list[StagePlan]:
    """The stages the build needs, in Dockerfile order."""
    if not dockerfile.stages:
        raise InvalidArgument("the Dockerfile has no FROM instruction")

    def lookup(name: str) -> str | None:
        return scope.get(name)

    plans: list[StagePlan] = []
    for stage in dockerfile.stages:
        base = stage.base.expanded(lookup).image
        if not base:
            raise InvalidArgument(f"base name ({stage.base.image}) should not be blank")
        base_stage = (
            stage_index(dockerfile, base, before=stage.index) if not base.isdigit() else None
        )
        depends: set[int] = set()
        if base_stage is not None:
            depends.add(base_stage)
        for reference in _from_references(stage, lookup):
            index = stage_index(dockerfile, reference, before=stage.index)
            if index is not None:
                depends.add(index)
        plans.append(StagePlan(stage, base_stage, base, frozenset(depends)))

    target_index = len(plans) - 1
    if target:
        named = [p.stage.index for p in plans if p.stage.name == target.lower()]
        if not named:
            raise InvalidArgument(f"failed to reach build target {target} in Dockerfile")
        target_index = named[0]
    needed: set[int] = set()
    pending = [target_index]
    while pending:
        index = pending.pop()
        if index not in needed:
            needed.add(index)
            pending.extend(plans[index].depends_on)
    return [plan for plan in plans if plan.stage.index in needed]


def _from_references(stage: Stage, lookup: Lookup) -> list[str]:
    references: list[str] = []
    for instruction in stage.instructions:
        if isinstance(instruction, OnbuildInstruction):
            continue
        if isinstance(instruction, CopyInstruction) and instruction.from_stage:
            references.append(expand_word(instruction.from_stage, lookup))
        elif isinstance(instruction, RunInstruction):
            references.extend(
                expand_word(mount.from_stage, lookup)
                for mount in instruction.mounts
                if mount.from_stage
            )
    return references
