"""``inspect`` and ``image inspect``: the daemon's JSON documents, printed as docker prints them.

Without ``--format`` (or with ``--format json``) the documents print as one JSON array
indented by 4 spaces, Go-style (``<``, ``>``, ``&`` escaped), ``[]`` when nothing was found.
With a template each document renders to one line. Names that fail are reported on stderr
after the output, and the command exits 1 (``Error: No such object: NAME`` for ``inspect``,
the daemon's error for ``image inspect``).

``inspect`` tries each object type in turn (containers, then images, then volumes) as docker
does; ``--type`` limits it to one. Networks join the list when they exist.

Imports click, ``wharf.client`` and ``wharf.cli``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import click

from wharf.cli.command import BIN, CliError, docker_command, out
from wharf.cli.formatting import go_json
from wharf.cli.state import state
from wharf.cli.templates import Template, TemplateError, parse
from wharf.client.errors import DaemonError
from wharf.errdefs import NotFound

_FORMAT_HELP = (
    "Format output using a custom template:\n"
    "'json':             Print in JSON format\n"
    "'TEMPLATE':         Print output using the given Go template."
)
_TYPES = (
    "config",
    "container",
    "image",
    "network",
    "node",
    "plugin",
    "secret",
    "service",
    "task",
    "volume",
)

Getter = Callable[[str], Mapping[str, Any]]


def _template(format_source: str) -> Template | None:
    if not format_source or format_source.strip() == "json":
        return None
    try:
        return parse(format_source.replace("\\t", "\t").replace("\\n", "\n"))
    except TemplateError as exc:
        raise CliError(str(exc)) from exc


def inspect_all(names: Sequence[str], getter: Getter, format_source: str) -> None:
    """Print every document ``getter`` finds; report the rest; exit 1 if any failed."""
    template = _template(format_source)
    documents: list[Mapping[str, Any]] = []
    errors: list[str] = []
    for name in names:
        try:
            documents.append(getter(name))
        except CliError as exc:
            errors.append(exc.message)
        except DaemonError as exc:
            errors.append(f"Error response from daemon: {exc.message}")
    if template is None:
        out(go_json(documents, indent=4) if documents else "[]")
    else:
        lines = []
        for document in documents:
            try:
                lines.append(template.render(document))
            except TemplateError as exc:
                message = str(exc)
                if not message.startswith("template parsing error"):
                    message = f"template parsing error: {message}"
                raise CliError(message) from exc
        out("\n".join(lines))
    if errors:
        raise CliError("\n".join(errors))


def _image_document(name: str) -> Mapping[str, Any]:
    return state().client().image_inspect(name).raw


@docker_command(
    usage="[OPTIONS] IMAGE [IMAGE...]",
    help="Display detailed information on one or more images",
    min_args=1,
    max_args=None,
    name="inspect",
)
@click.option("-f", "--format", "format_source", default="", metavar="string", help=_FORMAT_HELP)
@click.option("--platform", default="", metavar="string", help="Inspect a specific platform")
def image_inspect_command(args: tuple[str, ...], format_source: str, platform: str) -> None:
    del platform  # single-platform store: the one image is the answer
    inspect_all(args, _image_document, format_source)


def _container_document(name: str, *, size: bool = False) -> Mapping[str, Any]:
    return state().client().container_inspect(name, size=size).raw


def _volume_document(name: str) -> Mapping[str, Any]:
    return state().client().volume_inspect(name).raw


def _network_document(name: str) -> Mapping[str, Any]:
    return state().client().network_inspect(name).raw


def _any_document(kind: str, *, size: bool) -> Getter:
    """docker's order: containers, images, networks, then volumes (``--type`` picks one)."""
    getters: dict[str, Getter] = {
        "container": lambda name: _container_document(name, size=size),
        "image": _image_document,
        "network": _network_document,
        "volume": _volume_document,
    }
    if kind and kind not in getters:
        raise CliError(f"{BIN} inspect --type={kind} is not supported yet")
    chosen = [getters[kind]] if kind else list(getters.values())

    def get(name: str) -> Mapping[str, Any]:
        for getter in chosen:
            try:
                return getter(name)
            except NotFound:
                continue
        raise CliError(f"Error: No such object: {name}")

    return get


@docker_command(
    usage="[OPTIONS] NAME|ID [NAME|ID...]",
    help="Return low-level information on Wharf objects",
    min_args=1,
    max_args=None,
)
@click.option("-f", "--format", "format_source", default="", metavar="string", help=_FORMAT_HELP)
@click.option(
    "-s", "--size", is_flag=True, help="Display total file sizes if the type is container"
)
@click.option(
    "--type", "kind", default="", metavar="string", help="Only inspect objects of the given type"
)
def inspect_command(args: tuple[str, ...], format_source: str, size: bool, kind: str) -> None:
    if kind and kind not in _TYPES:
        raise CliError(f'"{kind}" is not a valid value for --type')
    inspect_all(args, _any_document(kind, size=size), format_source)
