"""``update`` / ``container update``: new resource limits and restart policy for containers, as
the docker CLI does it (``cli/command/container/update.go``).

Flags take docker's value types (``-m 64m``, ``--cpus 1.5``, ``--memory-swap -1``); a bad value
is a flag error (usage, exit 125). With no flag at all: "you must provide one or more flags when
using this command" (exit 1). Each container is updated in turn: the names that worked are
printed, then the daemon's warnings, then the errors on stderr (exit 1).

Imports click, the standard library, ``wharf.client`` and ``wharf.cli``.
"""

from __future__ import annotations

import re

import click

from wharf.cli.command import BIN, CliError, docker_command, out
from wharf.cli.opts import (
    OptionError,
    parse_go_int,
    parse_memory_swap,
    parse_nano_cpus,
    parse_restart_policy,
    parse_size,
)
from wharf.cli.run_options import GoFlag
from wharf.cli.state import state
from wharf.client.container_spec import RestartPolicy, UpdateSpec
from wharf.client.errors import DaemonError
from wharf.errdefs import WharfError

NO_FLAGS = "you must provide one or more flags when using this command"


def parse_uint16(text: str) -> int:
    """``strconv.ParseUint(text, 0, 16)`` as pflag's uint16 flags use it (base 10 here)."""
    if not re.fullmatch(r"\+?\d+", text):
        raise OptionError(f'strconv.ParseUint: parsing "{text}": invalid syntax')
    value = int(text)
    if value > 0xFFFF:
        raise OptionError(f'strconv.ParseUint: parsing "{text}": value out of range')
    return value


_BYTES = GoFlag(parse_size, "bytes")
_INT = GoFlag(parse_go_int, "int")


@docker_command(
    usage="[OPTIONS] CONTAINER [CONTAINER...]",
    help="Update configuration of one or more containers",
    aliases=(f"{BIN} container update", f"{BIN} update"),
    min_args=1,
    max_args=None,
)
@click.option(
    "--blkio-weight",
    type=GoFlag(parse_uint16, "uint16"),
    default=None,
    metavar="uint16",
    help="Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)",
)
@click.option(
    "--cpu-period",
    type=_INT,
    default=None,
    metavar="int",
    help="Limit CPU CFS (Completely Fair Scheduler) period",
)
@click.option(
    "--cpu-quota",
    type=_INT,
    default=None,
    metavar="int",
    help="Limit CPU CFS (Completely Fair Scheduler) quota",
)
@click.option(
    "-c",
    "--cpu-shares",
    type=_INT,
    default=None,
    metavar="int",
    help="CPU shares (relative weight)",
)
@click.option(
    "--cpus",
    type=GoFlag(parse_nano_cpus, "decimal"),
    default=None,
    metavar="decimal",
    help="Number of CPUs",
)
@click.option(
    "--cpuset-cpus",
    default=None,
    metavar="string",
    help="CPUs in which to allow execution (0-3, 0,1)",
)
@click.option(
    "--cpuset-mems",
    default=None,
    metavar="string",
    help="MEMs in which to allow execution (0-3, 0,1)",
)
@click.option("-m", "--memory", type=_BYTES, default=None, metavar="bytes", help="Memory limit")
@click.option(
    "--memory-reservation",
    type=_BYTES,
    default=None,
    metavar="bytes",
    help="Memory soft limit",
)
@click.option(
    "--memory-swap",
    type=GoFlag(parse_memory_swap, "bytes"),
    default=None,
    metavar="bytes",
    help="Swap limit equal to memory plus swap: -1 to enable unlimited swap",
)
@click.option(
    "--pids-limit",
    type=_INT,
    default=None,
    metavar="int",
    help="Tune container pids limit (set -1 for unlimited)",
)
@click.option(
    "--restart",
    default=None,
    metavar="string",
    help="Restart policy to apply when a container exits",
)
def update_command(
    args: tuple[str, ...],
    blkio_weight: int | None,
    cpu_period: int | None,
    cpu_quota: int | None,
    cpu_shares: int | None,
    cpus: int | None,
    cpuset_cpus: str | None,
    cpuset_mems: str | None,
    memory: int | None,
    memory_reservation: int | None,
    memory_swap: int | None,
    pids_limit: int | None,
    restart: str | None,
) -> None:
    given = (
        blkio_weight, cpu_period, cpu_quota, cpu_shares, cpus, cpuset_cpus, cpuset_mems, memory,
        memory_reservation, memory_swap, pids_limit, restart,
    )  # fmt: skip
    if all(value is None for value in given):
        raise CliError(NO_FLAGS)
    try:
        policy = parse_restart_policy(restart) if restart else RestartPolicy()
    except OptionError as exc:
        raise CliError(exc.message) from exc
    spec = UpdateSpec(
        memory=memory or 0,
        memory_swap=memory_swap or 0,
        memory_reservation=memory_reservation or 0,
        nano_cpus=cpus or 0,
        cpu_shares=cpu_shares or 0,
        cpu_period=cpu_period or 0,
        cpu_quota=cpu_quota or 0,
        cpuset_cpus=cpuset_cpus or "",
        cpuset_mems=cpuset_mems or "",
        pids_limit=pids_limit,
        blkio_weight=blkio_weight or 0,
        restart_policy=policy,
    )
    client = state().client()
    warnings: list[str] = []
    errors: list[str] = []
    for name in args:
        try:
            warnings.extend(client.container_update(name, spec))
        except DaemonError as exc:
            errors.append(f"Error response from daemon: {exc.message}")
            continue
        except WharfError as exc:
            errors.append(exc.message)
            continue
        out(name)
    if warnings:
        out("\n".join(warnings))
    if errors:
        raise CliError("\n".join(errors))
