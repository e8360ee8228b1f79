"""Output shared by the ``ls``, ``rm`` and ``prune`` commands of the object groups.

- ``list_format``: a list command's ``--format``/``-q`` choice, docker's way (``-q`` wins;
  plain ``table`` means the command's default columns).
- ``print_rows``: rows printed through ``cli.tables``; a bad template is a ``CliError``.
- ``remove_each``: ``rm NAME...``: each removed name printed as it goes, each daemon error
  collected and reported together at the end (exit 1), as docker does.
- ``print_deleted`` / ``print_reclaimed``: the report of a prune.
- ``filter_option`` / ``force_option``: the ``--filter`` and ``-f/--force`` flags those
  commands declare, with docker's help texts.

Imports ``cli.command``, ``cli.formatting``, ``cli.tables``, ``cli.templates`` and
``client.errors`` only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import click

from wharf.cli.command import CliError, out
from wharf.cli.formatting import human_size
from wharf.cli.tables import TABLE, render_rows
from wharf.cli.templates import Row, TemplateError
from wharf.client.errors import DaemonError

LIST_FILTER_HELP = "Filter output based on conditions provided"
PRUNE_FILTER_HELP = 'Provide filter values (e.g. "until=<timestamp>")'


def filter_option(
    help: str = LIST_FILTER_HELP, *, short: bool = True
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``[-f] --filter`` (repeatable) into the ``filters`` parameter; prune commands have no
    ``-f`` for it, since there ``-f`` is ``--force``."""
    names = ("-f", "--filter") if short else ("--filter",)
    return click.option(*names, "filters", multiple=True, metavar="filter", help=help)


force_option = click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation")


def list_format(format_source: str, *, quiet: bool, quiet_source: str, default_table: str) -> str:
    """The template a list command renders: ``quiet_source`` under ``-q``, else ``--format``
    with ``table`` (or no format) meaning ``default_table``."""
    if quiet:
        return quiet_source
    source = format_source or TABLE
    return default_table if source == TABLE else source


def print_rows(format_source: str, rows: Iterable[Row], titles: Mapping[str, str]) -> None:
    try:
        text = render_rows(format_source, rows, titles)
    except TemplateError as exc:
        raise CliError(str(exc)) from exc
    out(text, nl=False)


def _never(exc: DaemonError) -> bool:
    return False


def remove_each(
    names: Iterable[str],
    remove: Callable[[str], object],
    *,
    ignore: Callable[[DaemonError], bool] = _never,
) -> None:
    """Remove each name, printing it once gone; errors the daemon gives (but those ``ignore``
    accepts) are raised together as one ``CliError`` after every name was tried."""
    errors = []
    for name in names:
        try:
            remove(name)
        except DaemonError as exc:
            if ignore(exc):
                continue
            errors.append(f"Error response from daemon: {exc.message}")
            continue
        out(name)
    if errors:
        raise CliError("\n".join(errors))


def print_deleted(title: str, lines: Sequence[str]) -> None:
    """``Deleted <title>:``, one line per item and a blank line; nothing when none was."""
    if lines:
        out(f"Deleted {title}:")
        for line in lines:
            out(line)
        out()


def print_reclaimed(space: int) -> None:
    out(f"Total reclaimed space: {human_size(space)}")
