"""Pure translations from instructions to image config values and RUN command lines.

Imports: stdlib, ``wharf.errdefs``, ``wharf.oci.config``, ``wharf.builder.dockerfile``.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence

from wharf.builder.dockerfile import (
    Command,
    ExecCommand,
    HealthcheckInstruction,
    Heredoc,
    ShellCommand,
)
from wharf.errdefs import InvalidArgument
from wharf.oci.config import HealthConfig

DEFAULT_SHELL = ("/bin/sh", "-c")
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def command_argv(command: Command, shell: Sequence[str]) -> tuple[str, ...]:
    """CMD/ENTRYPOINT/RUN argv: exec form as written, shell form through the stage's SHELL."""
    if isinstance(command, ExecCommand):
        return tuple(command.argv)
    return (*(shell or DEFAULT_SHELL), command.text)


def run_argv(
    command: Command, heredocs: Sequence[Heredoc], shell: Sequence[str]
) -> tuple[str, ...]:
    """RUN's argv, heredocs included.

    ``RUN <<EOF`` alone makes the heredoc the script (run by its ``#!`` interpreter when it
    has one); any other command keeps its heredocs inline for the shell to feed them.
    """
    if not heredocs or isinstance(command, ExecCommand):
        return command_argv(command, shell)
    text = command.text.strip()
    only = heredocs[0]
    if len(heredocs) == 1 and text.startswith("<<") and _heredoc_marker_only(text, only.name):
        content = _heredoc_text(only)
        if content.startswith("#!"):
            # sh, bash and python all take their script with -c, so no file lands in a layer.
            interpreter = content[2:].split("\n", 1)[0].strip().split()
            return (*interpreter, "-c", content.split("\n", 1)[1] if "\n" in content else "")
        return (*(shell or DEFAULT_SHELL), content)
    script = command.text
    for heredoc in heredocs:
        script += "\n" + _heredoc_text(heredoc) + heredoc.name
    return (*(shell or DEFAULT_SHELL), script)


def _heredoc_marker_only(text: str, name: str) -> bool:
    marker = text[2:].lstrip("-").strip().strip("'\"")
    return marker == name


def _heredoc_text(heredoc: Heredoc) -> str:
    content = heredoc.content
    if heredoc.chomp_tabs:
        content = "\n".join(line.lstrip("\t") for line in content.split("\n"))
    if content and not content.endswith("\n"):
        content += "\n"
    return content


def healthcheck_config(instruction: HealthcheckInstruction, shell: Sequence[str]) -> HealthConfig:
    if instruction.none:
        return HealthConfig(test=("NONE",))
    command = instruction.command
    if command is None:
        raise InvalidArgument("HEALTHCHECK requires CMD or NONE")
    if isinstance(command, ShellCommand):
        test: tuple[str, ...] = ("CMD-SHELL", command.text)
    else:
        test = ("CMD", *command.argv)
    return HealthConfig(
        test=test,
        interval=instruction.interval_ns or 0,
        timeout=instruction.timeout_ns or 0,
        start_period=instruction.start_period_ns or 0,
        start_interval=instruction.start_interval_ns or 0,
        retries=instruction.retries or 0,
    )


def expose_ports(ports: Sequence[str]) -> list[str]:
    """EXPOSE values as ``port/proto`` keys, ranges spelled out."""
    keys: list[str] = []
    for text in ports:
        port, _, protocol = text.partition("/")
        protocol = (protocol or "tcp").lower()
        if protocol not in ("tcp", "udp", "sctp"):
            raise InvalidArgument(f"invalid proto: {protocol}")
        low, _, high = port.partition("-")
        try:
            first = int(low)
            last = int(high) if high else first
        except ValueError as exc:
            raise InvalidArgument(f"invalid containerPort: {port}") from exc
        if not 0 < first <= last <= 65535:
            raise InvalidArgument(f"invalid range format for --expose: {port}")
        keys.extend(f"{number}/{protocol}" for number in range(first, last + 1))
    return keys


def set_env(env: Sequence[str], pairs: Sequence[tuple[str, str]]) -> tuple[str, ...]:
    """``env`` with ``pairs`` replacing earlier values of the same names, in order."""
    result = list(env)
    for key, value in pairs:
        item = f"{key}={value}"
        for index, existing in enumerate(result):
            if existing.partition("=")[0] == key:
                result[index] = item
                break
        else:
            result.append(item)
    return tuple(result)


def env_map(env: Sequence[str]) -> dict[str, str]:
    return {key: value for key, _, value in (item.partition("=") for item in env)}


def join_workdir(current: str, path: str) -> str:
    if not path:
        raise InvalidArgument("WORKDIR requires a path")
    joined = path if path.startswith("/") else posixpath.join(current or "/", path)
    return posixpath.normpath(joined).replace("//", "/")


def run_env(
    env: Sequence[str], args: Mapping[str, str | None]
) -> tuple[tuple[str, ...], list[str]]:
    """RUN's environment (image ENV plus build args not shadowed by ENV) and the args used."""
    names = env_map(env)
    visible = sorted(
        f"{name}={value}" for name, value in args.items() if value is not None and name not in names
    )
    full = tuple(env) if any(e.startswith("PATH=") for e in env) else (DEFAULT_PATH, *env)
    return (*full, *visible), visible
