"""``network create|ls|inspect|rm|prune|connect|disconnect`` and ``port``: docker's flags and
output, plus ``port add|rm`` (wharf's live port changes).

``network ls`` prints ``NETWORK ID  NAME  DRIVER  SCOPE`` sorted by name (``-q``: IDs); row
fields for ``--format``: ``.ID .Name .Driver .Scope .IPv6 .Internal .Labels .CreatedAt``.
``port CONTAINER`` prints ``80/tcp -> 0.0.0.0:8080`` lines; ``port CONTAINER 80`` the host
sides only. ``port add CONTAINER [IP:]HOSTPORT:PORT[/PROTO]`` and ``port rm CONTAINER
PORT[/PROTO]`` change a container's published ports, running or not.

Imports click, the standard library, ``wharf.client`` and ``wharf.cli``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from wharf.cli.command import BIN, CliError, DockerGroup, docker_command, out
from wharf.cli.inspect import inspect_all
from wharf.cli.listing import (
    PRUNE_FILTER_HELP,
    filter_option,
    force_option,
    list_format,
    print_deleted,
    print_rows,
    remove_each,
)
from wharf.cli.state import state
from wharf.cli.templates import Row

NETWORK_TITLES = {
    "ID": "NETWORK ID",
    "Name": "NAME",
    "Driver": "DRIVER",
    "Scope": "SCOPE",
    "IPv6": "IPV6",
    "Internal": "INTERNAL",
    "Labels": "LABELS",
    "CreatedAt": "CREATED AT",
}
DEFAULT_NETWORK_TABLE = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"
_FORMAT_HELP = (
    "Format output using a custom template:\n"
    "'table':            Print output in table format with column headers (default)\n"
    "'table TEMPLATE':   Print output in table format using the given Go template\n"
    "'json':             Print in JSON format\n"
    "'TEMPLATE':         Print output using the given Go template."
)
_PRUNE_WARNING = (
    "WARNING! This will remove all custom networks not used by at least one container.\n"
    "Are you sure you want to continue?"
)


def _key_values(values: tuple[str, ...], flag: str) -> dict[str, str]:
    result: dict[str, str] = {}
    for value in values:
        key, sep, item = value.partition("=")
        if not sep or not key:
            raise CliError(
                f'invalid argument "{value}" for "{flag}" flag: bad format, expected key=value',
                125,
            )
        result[key] = item
    return result


@docker_command(
    usage="[OPTIONS] NETWORK",
    help="Create a network",
    min_args=1,
    max_args=1,
    name="create",
)
@click.option("--attachable", is_flag=True, help="Enable manual container attachment")
@click.option(
    "-d", "--driver", default="bridge", metavar="string", help="Driver to manage the Network"
)
@click.option(
    "--gateway",
    "gateways",
    multiple=True,
    metavar="strings",
    help="IPv4 or IPv6 Gateway for the master subnet",
)
@click.option("--internal", is_flag=True, help="Restrict external access to the network")
@click.option(
    "--ip-range",
    "ip_ranges",
    multiple=True,
    metavar="strings",
    help="Allocate container ip from a sub-range",
)
@click.option(
    "--ipam-driver", default="default", metavar="string", help="IP Address Management Driver"
)
@click.option(
    "--ipam-opt", "ipam_opts", multiple=True, metavar="map", help="Set IPAM driver specific options"
)
@click.option("--ipv6", is_flag=True, help="Enable IPv6 networking")
@click.option("--label", "labels", multiple=True, metavar="list", help="Set metadata on a network")
@click.option(
    "-o", "--opt", "opts", multiple=True, metavar="map", help="Set driver specific options"
)
@click.option(
    "--subnet",
    "subnets",
    multiple=True,
    metavar="strings",
    help="Subnet in CIDR format that represents a network segment",
)
def create_command(
    args: tuple[str, ...],
    attachable: bool,
    driver: str,
    gateways: tuple[str, ...],
    internal: bool,
    ip_ranges: tuple[str, ...],
    ipam_driver: str,
    ipam_opts: tuple[str, ...],
    ipv6: bool,
    labels: tuple[str, ...],
    opts: tuple[str, ...],
    subnets: tuple[str, ...],
) -> None:  # fmt: skip
    if (gateways or ip_ranges) and not subnets:
        raise CliError("every ip-range or gateway must have a corresponding subnet")
    if len(gateways) > len(subnets) or len(ip_ranges) > len(subnets):
        raise CliError("every ip-range or gateway must have a corresponding subnet")
    label_map = {}
    for label in labels:
        key, _, value = label.partition("=")
        label_map[key] = value
    network_id = (
        state()
        .client()
        .network_create(
            args[0],
            driver=driver,
            subnets=subnets,
            gateways=gateways,
            ip_ranges=ip_ranges,
            internal=internal,
            attachable=attachable,
            ipv6=ipv6,
            labels=label_map,
            options=_key_values(opts, "-o, --opt"),
            ipam_driver=ipam_driver,
            ipam_options=_key_values(ipam_opts, "--ipam-opt"),
        )
    )
    out(network_id)


@docker_command(
    help="List networks",
    aliases=(f"{BIN} network ls", f"{BIN} network list"),
    name="ls",
)
@filter_option('Provide filter values (e.g. "driver=bridge")')
@click.option("--format", "format_source", default="", metavar="string", help=_FORMAT_HELP)
@click.option("--no-trunc", is_flag=True, help="Do not truncate the output")
@click.option("-q", "--quiet", is_flag=True, help="Only display network IDs")
def ls_command(filters: tuple[str, ...], format_source: str, no_trunc: bool, quiet: bool) -> None:
    from wharf.cli.images import parse_filters

    networks = state().client().network_list(filters=parse_filters(filters))
    networks.sort(key=lambda n: n.name)
    rows = [
        Row(
            ID=n.id if no_trunc else n.id[:12],
            Name=n.name,
            Driver=n.driver,
            Scope=n.scope,
            IPv6=str(n.enable_ipv6).lower(),
            Internal=str(n.internal).lower(),
            Labels=",".join(f"{k}={v}" for k, v in n.labels),
            CreatedAt=n.created,
        )
        for n in networks
    ]
    source = list_format(
        format_source, quiet=quiet, quiet_source="{{.ID}}", default_table=DEFAULT_NETWORK_TABLE
    )
    print_rows(source, rows, NETWORK_TITLES)


@docker_command(
    usage="[OPTIONS] NETWORK [NETWORK...]",
    help="Display detailed information on one or more networks",
    min_args=1,
    max_args=None,
    name="inspect",
)
@click.option("-f", "--format", "format_source", default="", metavar="string", help=_FORMAT_HELP)
@click.option("-v", "--verbose", is_flag=True, help="Verbose output for diagnostics")
def inspect_command(args: tuple[str, ...], format_source: str, verbose: bool) -> None:
    del verbose  # one node, no services: nothing more to show
    client = state().client()

    def get(name: str) -> Mapping[str, Any]:
        return client.network_inspect(name).raw

    inspect_all(args, get, format_source)


@docker_command(
    usage="[OPTIONS] NETWORK [NETWORK...]",
    help="Remove one or more networks",
    aliases=(f"{BIN} network rm", f"{BIN} network remove"),
    min_args=1,
    max_args=None,
    name="rm",
)
@click.option("-f", "--force", is_flag=True, help="Do not error if the network does not exist")
def rm_command(args: tuple[str, ...], force: bool) -> None:
    from wharf.errdefs import NotFound

    remove_each(
        args,
        state().client().network_remove,
        ignore=lambda exc: force and isinstance(exc, NotFound),
    )


@docker_command(help="Remove all unused networks", name="prune")
@filter_option(PRUNE_FILTER_HELP, short=False)
@force_option
def prune_command(filters: tuple[str, ...], force: bool) -> None:
    from wharf.cli.images import confirm, parse_filters

    parsed = parse_filters(filters)
    if not force and not confirm(_PRUNE_WARNING):
        return
    removed = state().client().networks_prune(filters=parsed)
    print_deleted("Networks", removed)


@docker_command(
    usage="[OPTIONS] NETWORK CONTAINER",
    help="Connect a container to a network",
    min_args=2,
    max_args=2,
    name="connect",
)
@click.option(
    "--alias",
    "aliases",
    multiple=True,
    metavar="strings",
    help="Add network-scoped alias for the container",
)
@click.option(
    "--driver-opt",
    "driver_opts",
    multiple=True,
    metavar="strings",
    help="driver options for the network",
)
@click.option("--ip", default="", metavar="string", help='IPv4 address (e.g., "172.30.100.104")')
@click.option("--ip6", default="", metavar="string", help='IPv6 address (e.g., "2001:db8::33")')
@click.option(
    "--link", "links", multiple=True, metavar="list", help="Add link to another container"
)
@click.option(
    "--link-local-ip",
    "link_local",
    multiple=True,
    metavar="strings",
    help="Add a link-local address for the container",
)
def connect_command(
    args: tuple[str, ...],
    aliases: tuple[str, ...],
    driver_opts: tuple[str, ...],
    ip: str,
    ip6: str,
    links: tuple[str, ...],
    link_local: tuple[str, ...],
) -> None:  # fmt: skip
    if links:
        raise CliError("--link is not supported: use a user-defined network and container names")
    del driver_opts, link_local
    network, container = args
    state().client().network_connect(
        network, container, aliases=aliases, ipv4_address=ip, ipv6_address=ip6
    )


@docker_command(
    usage="[OPTIONS] NETWORK CONTAINER",
    help="Disconnect a container from a network",
    min_args=2,
    max_args=2,
    name="disconnect",
)
@click.option(
    "-f", "--force", is_flag=True, help="Force the container to disconnect from a network"
)
def disconnect_command(args: tuple[str, ...], force: bool) -> None:
    network, container = args
    state().client().network_disconnect(network, container, force=force)


network_group = DockerGroup(
    "network",
    help="Manage networks",
    aliases={"list": "ls", "remove": "rm"},
)
for _command in (
    connect_command,
    create_command,
    disconnect_command,
    inspect_command,
    ls_command,
    prune_command,
    rm_command,
):
    network_group.add_command(_command, _command.name)


# --- port ----------------------------------------------------------------------------------


def _port_key(text: str) -> str:
    number, _, proto = text.partition("/")
    if not number.isdigit() or not 0 < int(number) < 65536:
        raise CliError(f"Error: invalid port ({text}): must be a number from 1 to 65535")
    return f"{int(number)}/{(proto or 'tcp').lower()}"


def _host_side(host_ip: str, host_port: str) -> str:
    return f"[{host_ip}]:{host_port}" if ":" in host_ip else f"{host_ip}:{host_port}"


def _sort_key(port: str) -> tuple[int, str]:
    number, _, proto = port.partition("/")
    return (int(number) if number.isdigit() else 0, proto)


def _port_add(container: str, specs: tuple[str, ...]) -> None:
    from wharf.cli.opts import OptionError, parse_port_spec

    add = []
    for spec in specs:
        try:
            mappings = parse_port_spec(spec)
        except OptionError as exc:
            raise CliError(f"Error: invalid port specification {spec!r}: {exc.message}") from exc
        for port, binding in mappings:
            add.append((port, binding.host_ip, binding.host_port))
    _print_mappings(state().client().container_ports_update(container, add=add))


def _port_rm(container: str, ports: tuple[str, ...]) -> None:
    keys = [_port_key(port) for port in ports]
    state().client().container_ports_update(container, remove=keys)


def _print_mappings(mappings: list[Any], *, only: str | None = None) -> None:
    lines = []
    for m in sorted(mappings, key=lambda m: (_sort_key(m.port), m.host_ip)):
        if only is not None:
            if m.port == only:
                lines.append(_host_side(m.host_ip, m.host_port))
        else:
            lines.append(f"{m.port} -> {_host_side(m.host_ip, m.host_port)}")
    for line in lines:
        out(line)


@docker_command(
    usage="CONTAINER [PRIVATE_PORT[/PROTO]]",
    help="List port mappings or a specific mapping for the container",
    min_args=1,
    max_args=None,
    name="port",
)
def port_command(args: tuple[str, ...]) -> None:
    """Also ``port add CONTAINER [IP:]HOSTPORT:PORT[/PROTO]...`` and ``port rm CONTAINER
    PORT[/PROTO]...``: publish or unpublish on a container, even a running one."""
    if len(args) >= 3 and args[0] in ("add", "rm"):
        if args[0] == "add":
            _port_add(args[1], args[2:])
        else:
            _port_rm(args[1], args[2:])
        return
    if len(args) > 2:
        raise CliError(f'"{BIN} port" requires at most 2 arguments.', 125)
    from wharf.client.network_models import port_mappings

    document = state().client().container_inspect(args[0]).raw
    ports = document.get("NetworkSettings", {}).get("Ports")
    mappings = port_mappings(ports)
    if len(args) == 2:
        key = _port_key(args[1])
        if not any(m.port == key for m in mappings):
            raise CliError(f"Error: No public port '{key}' published for {args[0]}")
        _print_mappings(mappings, only=key)
        return
    _print_mappings(mappings)
