"""``version``, ``info`` (also ``system info``): what the client and the daemon are; and
``system prune``.

``version`` prints the ``Client:`` block even when no daemon answers (then the error follows
on stderr, exit 1), and a ``Server:`` block with one entry per component the daemon reports,
aligned as docker's tabwriter does (min width 20). ``info`` prints docker's ``Server:`` block
from ``/info``: counts, storage driver and its status pairs, logging and cgroup drivers,
runtimes and the default one, kernel, OS, CPUs, memory (binary units), name, ID, root dir.
Warnings from the daemon go to stderr. ``--format`` runs a template on the wire JSON
(``{{.ServerVersion}}``, ``{{.Server.Version}}``, ``json``).

``system prune`` asks docker's question (what goes, and the filters), then prunes stopped
containers (their logs go with them, and count in the space reclaimed), unused networks,
anonymous volumes (``--volumes``), dangling images (``-a``: unused ones) and the build cache
(``-a``: all of it) with the same filters, in docker's order, printing each section as its
own ``prune`` command does and the total space reclaimed. ``system df`` is ``cli.system_df``.

Imports click, ``wharf``, ``wharf.client`` and ``wharf.cli``.
"""

from __future__ import annotations

import platform
import sys
from typing import Any

import click

from wharf import __version__
from wharf.cli.command import BIN, CliError, DockerGroup, Entry, docker_command, err, out
from wharf.cli.formatting import bytes_size, tabwrite
from wharf.cli.listing import filter_option, force_option
from wharf.cli.state import CliState, state
from wharf.cli.templates import TemplateError, render
from wharf.client.api import API_VERSION
from wharf.client.models import ComponentVersion, ServerVersion, SystemInfo
from wharf.errdefs import WharfError

_FORMAT_HELP = (
    "Format output using a custom template:\n"
    "'json':             Print in JSON format\n"
    "'TEMPLATE':         Print output using the given Go template."
)


def _template_output(format_source: str, value: Any) -> str:
    source = "{{json .}}" if format_source.strip() == "json" else format_source
    try:
        return render(source.replace("\\t", "\t").replace("\\n", "\n"), value)
    except TemplateError as exc:
        raise CliError(str(exc)) from exc


def _arch() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}.get(
        machine, machine
    )


# --- version


def client_block(api_version: str) -> list[str]:
    downgraded = f" (downgraded from {API_VERSION})" if api_version != API_VERSION else ""
    return [
        "Client:",
        f" Version:\t{__version__}",
        f" API version:\t{api_version}{downgraded}",
        f" Python version:\t{platform.python_version()}",
        f" OS/Arch:\t{sys.platform}/{_arch()}",
    ]


def server_block(server: ServerVersion) -> list[str]:
    name = f" {server.platform_name}" if server.platform_name else ""
    lines = ["", f"Server:{name}"]
    components = list(server.components)
    if not any(component.name == "Engine" for component in components):
        components.insert(0, _engine_from_top_level(server))
    for component in components:
        lines.append(f" {component.name}:")
        if component.name == "Engine":
            lines += _engine_lines(server, component.details)
            continue
        lines.append(f"  Version:\t{component.version}")
        lines += [f"  {key}:\t{value}" for key, value in sorted(component.details)]
    return lines


def _engine_from_top_level(server: ServerVersion) -> ComponentVersion:
    return ComponentVersion("Engine", server.version)


def _engine_lines(server: ServerVersion, details: tuple[tuple[str, str], ...]) -> list[str]:
    detail = dict(details)
    # The Engine component's details win; wharfd may leave them empty and say it at top level.
    api = detail.get("ApiVersion") or server.api_version
    minimum = detail.get("MinAPIVersion") or server.min_api_version
    os_name = detail.get("Os") or server.os
    arch = detail.get("Arch") or server.arch
    experimental = detail.get("Experimental") or ("true" if server.experimental else "false")
    lines = [f"  Version:\t{server.version}"]
    lines.append(f"  API version:\t{api}" + (f" (minimum version {minimum})" if minimum else ""))
    for label, key, fallback in (
        ("Go version", "GoVersion", server.go_version),
        ("Git commit", "GitCommit", server.git_commit),
        ("Built", "BuildTime", server.build_time),
    ):
        if value := detail.get(key) or fallback:
            lines.append(f"  {label}:\t{value}")
    lines.append(f"  OS/Arch:\t{os_name}/{arch}")
    lines.append(f"  Experimental:\t{experimental}")
    return lines


def _version_data(api_version: str, server: ServerVersion | None) -> dict[str, Any]:
    return {
        "Client": {
            "Version": __version__,
            "ApiVersion": api_version,
            "DefaultAPIVersion": API_VERSION,
            "PythonVersion": platform.python_version(),
            "Os": sys.platform,
            "Arch": _arch(),
        },
        "Server": dict(server.raw) if server is not None else None,
    }


@docker_command(help=f"Show the {BIN.capitalize()} version information")
@click.option("-f", "--format", "format_source", default="", metavar="string", help=_FORMAT_HELP)
def version_command(format_source: str) -> None:
    cli_state = state()
    server: ServerVersion | None = None
    failure: WharfError | None = None
    api_version = API_VERSION
    try:
        client = cli_state.client()
        server = client.version()
        api_version = client.api_version
    except WharfError as exc:
        failure = exc
    if format_source:
        out(_template_output(format_source, _version_data(api_version, server)))
    else:
        lines = client_block(api_version)
        if server is not None:
            lines += server_block(server)
        out(tabwrite("\n".join(lines) + "\n", minwidth=20, padding=1), nl=False)
    if failure is not None:
        raise failure


# --- info


def _security_lines(options: tuple[str, ...]) -> list[str]:
    lines = []
    for option in options:
        if not option.startswith("name="):
            lines.append(f"  {option}")
            continue
        fields = dict(part.partition("=")[::2] for part in option.split(","))
        lines.append(f"  {fields.pop('name', '')}")
        if "profile" in fields:
            lines.append(f"   Profile: {fields['profile']}")
    return lines


def server_info_lines(info: SystemInfo, *, debug: bool = False) -> list[str]:
    lines = [
        f" Containers: {info.containers}",
        f"  Running: {info.containers_running}",
        f"  Paused: {info.containers_paused}",
        f"  Stopped: {info.containers_stopped}",
        f" Images: {info.images}",
    ]
    if info.server_version:
        lines.append(f" Server Version: {info.server_version}")
    if info.driver:
        lines.append(f" Storage Driver: {info.driver}")
        lines += [f"  {key}: {value}" for key, value in info.driver_status]
    lines.append(f" Logging Driver: {info.logging_driver}")
    lines.append(f" Cgroup Driver: {info.cgroup_driver}")
    if info.cgroup_version:
        lines.append(f" Cgroup Version: {info.cgroup_version}")
    lines += [
        " Plugins:",
        f"  Volume: {' '.join(info.volume_plugins)}",
        f"  Network: {' '.join(info.network_plugins)}",
    ]
    if info.authorization_plugins:
        lines.append(f"  Authorization: {' '.join(info.authorization_plugins)}")
    lines.append(f"  Log: {' '.join(info.log_plugins)}")
    if info.swarm_state:
        lines.append(f" Swarm: {info.swarm_state}")
    if info.runtimes:
        lines.append(f" Runtimes: {' '.join(info.runtimes)}")
    lines.append(f" Default Runtime: {info.default_runtime}")
    if info.os_type == "linux":
        if info.init_binary:
            lines.append(f" Init Binary: {info.init_binary}")
        for name, commit in (
            ("containerd", info.containerd_commit),
            ("runc", info.runc_commit),
            ("init", info.init_commit),
        ):
            if commit:
                lines.append(f" {name} version: {commit}")
        if info.security_options:
            lines.append(" Security Options:")
            lines += _security_lines(info.security_options)
    for label, value in (
        ("Kernel Version", info.kernel_version),
        ("Operating System", info.operating_system),
        ("OSType", info.os_type),
        ("Architecture", info.architecture),
    ):
        if value:
            lines.append(f" {label}: {value}")
    lines.append(f" CPUs: {info.ncpu}")
    lines.append(f" Total Memory: {bytes_size(info.mem_total)}")
    if info.name:
        lines.append(f" Name: {info.name}")
    if info.id:
        lines.append(f" ID: {info.id}")
    lines.append(f" Docker Root Dir: {info.docker_root_dir}")
    lines.append(f" Debug Mode: {'true' if info.debug else 'false'}")
    if info.debug or debug:
        lines += [
            f"  File Descriptors: {info.nfd}",
            f"  Goroutines: {info.ngoroutines}",
            f"  System Time: {info.system_time}",
            f"  EventsListeners: {info.nevents_listener}",
        ]
    for label, value in (
        ("HTTP Proxy", info.http_proxy),
        ("HTTPS Proxy", info.https_proxy),
        ("No Proxy", info.no_proxy),
    ):
        if value:
            lines.append(f" {label}: {value}")
    if info.labels:
        lines.append(" Labels:")
        lines += [f"  {label}" for label in info.labels]
    lines.append(f" Experimental: {'true' if info.experimental_build else 'false'}")
    if info.insecure_registries:
        lines.append(" Insecure Registries:")
        lines += [f"  {registry}" for registry in info.insecure_registries]
    if info.registry_mirrors:
        lines.append(" Registry Mirrors:")
        lines += [f"  {mirror}" for mirror in info.registry_mirrors]
    lines.append(f" Live Restore Enabled: {'true' if info.live_restore else 'false'}")
    return lines


def _client_info_lines(cli_state: CliState) -> list[str]:
    return [
        "Client:",
        f" Version:    {__version__}",
        " Context:    default",
        f" Debug Mode: {'true' if cli_state.debug else 'false'}",
    ]


@docker_command(
    help="Display system-wide information",
    name="info",
    aliases=(f"{BIN} system info", f"{BIN} info"),
)
@click.option("-f", "--format", "format_source", default="", metavar="string", help=_FORMAT_HELP)
def info_command(format_source: str) -> None:
    cli_state = state()
    if format_source:
        info = cli_state.client().info()
        out(_template_output(format_source, dict(info.raw)))
        return
    out("\n".join(_client_info_lines(cli_state)))
    out()
    out("Server:")
    info = cli_state.client().info()
    out("\n".join(server_info_lines(info, debug=cli_state.debug)))
    out()
    for warning in info.warnings:
        err(warning)


# --- prune


def prune_warning(*, prune_all: bool, volumes: bool, filters: dict[str, list[str]]) -> str:
    """docker's confirmation text: what will go, and the filters that narrow it."""
    from wharf.cli.volumes import natural_key

    warnings = ["all stopped containers", "all networks not used by at least one container"]
    if volumes:
        warnings.append("all anonymous volumes not used by at least one container")
    warnings.append(
        "all images without at least one container associated to them"
        if prune_all
        else "all dangling images"
    )
    warnings.append("all build cache" if prune_all else "unused build cache")
    lines = ["WARNING! This will remove:", *(f"  - {warning}" for warning in warnings), ""]
    # docker names only these filters, in natural order.
    shown = [
        f"{key}={value}" for key in ("label", "label!", "until") for value in filters.get(key, ())
    ]
    if shown:
        lines.append("  Items to be pruned will be filtered with:")
        lines += [f"  - {text}" for text in sorted(shown, key=natural_key)]
        lines.append("")
    lines.append("Are you sure you want to continue?")
    return "\n".join(lines)


@docker_command(help="Remove unused data", name="prune")
@click.option(
    "-a",
    "--all",
    "prune_all",
    is_flag=True,
    help="Remove all unused images not just dangling ones",
)
@filter_option('Provide filter values (e.g. "label=<key>=<value>")', short=False)
@force_option
@click.option("--volumes", is_flag=True, help="Prune anonymous volumes")
def prune_command(prune_all: bool, filters: tuple[str, ...], force: bool, volumes: bool) -> None:
    from wharf.cli.build import cache_prune_lines
    from wharf.cli.formatting import human_size
    from wharf.cli.images import confirm, parse_filters
    from wharf.client.models import DeleteKind

    parsed = parse_filters(filters)
    if volumes and "until" in parsed:
        raise CliError('ERROR: The "until" filter is not supported with "--volumes"')
    if not force and not confirm(
        prune_warning(prune_all=prune_all, volumes=volumes, filters=parsed)
    ):
        return
    client = state().client()
    reclaimed = 0
    containers = client.containers_prune(filters=parsed)
    if containers.deleted:
        reclaimed += containers.space_reclaimed
        out("\n".join(["Deleted Containers:", *containers.deleted, ""]))
    networks = client.networks_prune(filters=parsed)
    if networks:
        out("\n".join(["Deleted Networks:", *networks, ""]))
    if volumes:
        removed_volumes = client.volumes_prune(filters=parsed)
        if removed_volumes.deleted:
            reclaimed += removed_volumes.space_reclaimed
            out("\n".join(["Deleted Volumes:", *removed_volumes.deleted, ""]))
    images = client.images_prune(dangling_only=not prune_all, filters=parsed)
    if images.deleted:
        reclaimed += images.space_reclaimed
        lines = ["Deleted Images:"]
        for item in images.deleted:
            label = "deleted" if item.kind is DeleteKind.DELETED else "untagged"
            lines.append(f"{label}: {item.ref}")
        out("\n".join([*lines, ""]))
    cache = client.build_cache_prune(all=prune_all, filters=parsed)
    reclaimed += cache.space_reclaimed
    if cache_lines := cache_prune_lines(cache.caches_deleted):
        out("\n".join(cache_lines))
    out(f"Total reclaimed space: {human_size(reclaimed)}")


system_group = DockerGroup("system", help=f"Manage {BIN.capitalize()}")
system_group.add_command(info_command, "info")
system_group.add_command(prune_command, "prune")
system_group.entries["events"] = Entry(
    "wharf.cli.events:events_command", "Get real time events from the server"
)
# Loaded when it runs: its tables import the container, image and volume commands.
system_group.entries["df"] = Entry("wharf.cli.system_df:df_command", f"Show {BIN} disk usage")
