"""The Dockerfile parser: text → syntax tree (nodes with lines) → typed instructions.

Imports: stdlib, ``wharf.errdefs`` (and ``wharf.oci``, unused so far); pure code, no I/O.

Modules, bottom up: ``errors`` (DockerfileError), ``shell`` (word expansion),
``directives`` (``# escape=``, ``# syntax=``), ``words`` (argument shapes, builder flags),
``heredoc``, ``syntax`` (lines → ``Node``), ``flags``, ``units`` (Go durations, sizes),
``mounts`` (``RUN --mount``), ``instructions`` (the typed instructions), ``convert``
(node → instruction), ``parse`` (``parse_dockerfile``, stages).

The behaviour follows BuildKit's Dockerfile frontend; where Wharf differs it says so in the
module that differs.
"""

from __future__ import annotations

from wharf.builder.dockerfile.errors import DockerfileError
from wharf.builder.dockerfile.heredoc import Heredoc
from wharf.builder.dockerfile.instructions import (
    AddInstruction,
    ArgInstruction,
    CmdInstruction,
    Command,
    CopyInstruction,
    EntrypointInstruction,
    EnvInstruction,
    ExecCommand,
    ExposeInstruction,
    FromInstruction,
    HealthcheckInstruction,
    Instruction,
    LabelInstruction,
    Lookup,
    MaintainerInstruction,
    OnbuildInstruction,
    RunInstruction,
    ShellCommand,
    ShellInstruction,
    StopsignalInstruction,
    UserInstruction,
    VolumeInstruction,
    WorkdirInstruction,
)
from wharf.builder.dockerfile.mounts import MountType, RunMount
from wharf.builder.dockerfile.parse import Dockerfile, Stage, parse_dockerfile
from wharf.builder.dockerfile.shell import ExpansionError, expand_word, expand_words

__all__ = [
    "AddInstruction",
    "ArgInstruction",
    "CmdInstruction",
    "Command",
    "CopyInstruction",
    "Dockerfile",
    "DockerfileError",
    "EntrypointInstruction",
    "EnvInstruction",
    "ExecCommand",
    "ExpansionError",
    "ExposeInstruction",
    "FromInstruction",
    "HealthcheckInstruction",
    "Heredoc",
    "Instruction",
    "LabelInstruction",
    "Lookup",
    "MaintainerInstruction",
    "MountType",
    "OnbuildInstruction",
    "RunInstruction",
    "RunMount",
    "ShellCommand",
    "ShellInstruction",
    "Stage",
    "StopsignalInstruction",
    "UserInstruction",
    "VolumeInstruction",
    "WorkdirInstruction",
    "expand_word",
    "expand_words",
    "parse_dockerfile",
]
