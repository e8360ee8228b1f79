"""``volume create|ls|inspect|rm|prune``: docker's flags and output.

``volume ls`` prints ``DRIVER    VOLUME NAME`` (``-q``: names only), sorted by name in natural
order; row fields for ``--format``: ``.Name .Driver .Scope .Mountpoint .Labels .Links .Size``.
``volume prune`` removes unused anonymous volumes (``-a``: all unused ones, sent as the filter
``all=true``), after docker's ``[y/N]`` prompt unless ``-f``.

Imports click, the standard library, ``wharf.client`` and ``wharf.cli``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import click

from wharf.cli.command import BIN, CliError, DockerGroup, docker_command, err, out
from wharf.cli.formatting import human_size
from wharf.cli.inspect import inspect_all
from wharf.cli.listing import (
    filter_option,
    force_option,
    list_format,
    print_deleted,
    print_reclaimed,
    print_rows,
    remove_each,
)
from wharf.cli.state import state
from wharf.cli.templates import Row
from wharf.client.container_models import Volume

VOLUME_TITLES = {
    "Name": "VOLUME NAME",
    "Driver": "DRIVER",
    "Scope": "SCOPE",
    "Mountpoint": "MOUNTPOINT",
    "Labels": "LABELS",
    "Links": "LINKS",
    "Size": "SIZE",
}
DEFAULT_VOLUME_TABLE = "table {{.Driver}}\t{{.Name}}"
_FORMAT_HELP = (
    "Format output using a custom template:\n"
    "'table':            Print output in table format with column headers (default)\n"
    "'table TEMPLATE':   Print output in table format using the given Go template\n"
    "'json':             Print in JSON format\n"
    "'TEMPLATE':         Print output using the given Go template."
)
_PRUNE_ANONYMOUS = (
    "WARNING! This will remove anonymous local volumes not used by at least one container.\n"
    "Are you sure you want to continue?"
)
_PRUNE_ALL = (
    "WARNING! This will remove all local volumes not used by at least one container.\n"
    "Are you sure you want to continue?"
)


def natural_key(name: str) -> list[tuple[int, int | str]]:
    """Natural order (``v2`` before ``v10``), as docker's ``sortorder.NaturalLess``."""
    return [
        (0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", name) if part
    ]


def volume_row(volume: Volume) -> Row:
    return Row(
        Name=volume.name,
        Driver=volume.driver,
        Scope=volume.scope,
        Mountpoint=volume.mountpoint,
        Labels=",".join(f"{key}={value}" for key, value in volume.labels),
        Links="N/A" if volume.ref_count < 0 else str(volume.ref_count),
        Size="N/A" if volume.size < 0 else human_size(volume.size),
    )


def _key_values(values: tuple[str, ...]) -> dict[str, str]:
    result: dict[str, str] = {}
    for value in values:
        key, _, item = value.partition("=")
        result[key] = item
    return result


@docker_command(
    usage="[OPTIONS] [VOLUME]",
    help="Create a volume",
    min_args=0,
    max_args=1,
    name="create",
)
@click.option(
    "-d",
    "--driver",
    default="local",
    metavar="string",
    help='Specify volume driver name (default "local")',
)
@click.option("--label", "labels", multiple=True, metavar="list", help="Set metadata for a volume")
@click.option("--name", default="", metavar="string", help="Specify volume name", hidden=True)
@click.option(
    "-o",
    "--opt",
    "opts",
    multiple=True,
    metavar="map",
    help="Set driver specific options (default map[])",
)
def create_command(
    args: tuple[str, ...], driver: str, labels: tuple[str, ...], name: str, opts: tuple[str, ...]
) -> None:
    if args:
        if name and name != args[0]:
            raise CliError(
                "conflicting options: cannot specify a volume-name through both --name and as "
                "a positional arg"
            )
        name = args[0]
    volume = (
        state()
        .client()
        .volume_create(
            name, driver=driver, driver_opts=_key_values(opts), labels=_key_values(labels)
        )
    )
    out(volume.name)


@docker_command(
    help="List volumes",
    aliases=(f"{BIN} volume ls", f"{BIN} volume list"),
    name="ls",
)
@filter_option('Provide filter values (e.g. "dangling=true")')
@click.option("--format", "format_source", default="", metavar="string", help=_FORMAT_HELP)
@click.option("-q", "--quiet", is_flag=True, help="Only display volume names")
def ls_command(filters: tuple[str, ...], format_source: str, quiet: bool) -> None:
    from wharf.cli.images import parse_filters

    listing = state().client().volume_list(filters=parse_filters(filters))
    for warning in listing.warnings:
        err(warning)
    volumes = sorted(listing.volumes, key=lambda v: natural_key(v.name))
    source = list_format(
        format_source, quiet=quiet, quiet_source="{{.Name}}", default_table=DEFAULT_VOLUME_TABLE
    )
    print_rows(source, [volume_row(v) for v in volumes], VOLUME_TITLES)


@docker_command(
    usage="[OPTIONS] VOLUME [VOLUME...]",
    help="Display detailed information on one or more volumes",
    min_args=1,
    max_args=None,
    name="inspect",
)
@click.option("-f", "--format", "format_source", default="", metavar="string", help=_FORMAT_HELP)
def inspect_command(args: tuple[str, ...], format_source: str) -> None:
    client = state().client()

    def get(name: str) -> Mapping[str, Any]:
        return client.volume_inspect(name).raw

    inspect_all(args, get, format_source)


@docker_command(
    usage="[OPTIONS] VOLUME [VOLUME...]",
    help="Remove one or more volumes",
    aliases=(f"{BIN} volume rm", f"{BIN} volume remove"),
    min_args=1,
    max_args=None,
    name="rm",
)
@click.option("-f", "--force", is_flag=True, help="Force the removal of one or more volumes")
def rm_command(args: tuple[str, ...], force: bool) -> None:
    client = state().client()
    remove_each(args, lambda name: client.volume_remove(name, force=force))


@docker_command(help="Remove unused local volumes", name="prune")
@click.option(
    "-a",
    "--all",
    "prune_all",
    is_flag=True,
    help="Remove all unused volumes, not just anonymous ones",
)
@filter_option('Provide filter values (e.g. "label=<label>")', short=False)
@force_option
def prune_command(prune_all: bool, filters: tuple[str, ...], force: bool) -> None:
    from wharf.cli.images import confirm, parse_filters

    parsed = parse_filters(filters)
    if prune_all:
        if "all" in parsed:
            raise CliError("conflicting options: cannot specify both --all and --filter all=1", 125)
        parsed["all"] = ["true"]
    if not force and not confirm(_PRUNE_ALL if prune_all else _PRUNE_ANONYMOUS):
        return
    report = state().client().volumes_prune(filters=parsed)
    print_deleted("Volumes", report.deleted)
    print_reclaimed(report.space_reclaimed if report.deleted else 0)


volume_group = DockerGroup(
    "volume",
    help="Manage volumes",
    aliases={"list": "ls", "remove": "rm"},
)
volume_group.add_command(create_command, "create")
volume_group.add_command(inspect_command, "inspect")
volume_group.add_command(ls_command, "ls")
volume_group.add_command(prune_command, "prune")
volume_group.add_command(rm_command, "rm")
