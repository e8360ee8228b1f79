"""Container commands that are one request each (or one per container), and the ``container``
management group.

- ``ps``/``container ls``: docker's table (``CONTAINER ID  IMAGE  COMMAND  CREATED  STATUS
  PORTS  NAMES``; COMMAND quoted after cutting it to 20 characters; STATUS as the daemon words
  it; PORTS grouped into ranges), ``-q``, ``--format json|table ...|TEMPLATE``, ``--no-trunc``,
  ``-s`` (also asked for when the template uses ``.Size``), ``-n``/``-l``, ``--filter``.
- ``start`` (``-a``/``-i`` attach like ``run``), ``stop``, ``restart``, ``kill``, ``rm``,
  ``pause``, ``unpause``, ``wait``: each container in turn; names that worked are printed, the
  daemon's errors follow on stderr and the exit code is 1.
- ``rename``, ``top`` (tabwriter, min width 20), ``diff`` (``C``/``A``/``D`` lines), ``export``,
  ``commit``, ``container prune``, ``container inspect``.

Row fields for ``ps --format``: ``.ID .Image .Command .CreatedAt .RunningFor .Ports .State
.Status .Size .Names .Labels .Mounts .LocalVolumes .Networks``.

Imports click, the standard library, ``wharf.client``, ``wharf.oci.reference`` and
``wharf.cli``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import click

from wharf.cli.command import BIN, CliError, DockerGroup, Entry, docker_command, err, out
from wharf.cli.formatting import ellipsis, go_time, human_duration, human_size, tabwrite
from wharf.cli.formatting import truncate_id as truncate
from wharf.cli.inspect import inspect_all
from wharf.cli.listing import PRUNE_FILTER_HELP, filter_option, force_option
from wharf.cli.state import CliState, state
from wharf.cli.tables import TABLE, render_rows
from wharf.cli.templates import Row, TemplateError
from wharf.client.container_results import ContainerSummary, PortSummary
from wharf.client.containers import WaitCondition
from wharf.client.errors import DaemonError
from wharf.errdefs import InvalidArgument, NotFound, WharfError

_FORMAT_HELP = (
    "Format output using a custom template:\n"
    "'table':            Print output in table format with column headers (default)\n"
    "'table TEMPLATE':   Print output in table format using the given Go template\n"
    "'json':             Print in JSON format\n"
    "'TEMPLATE':         Print output using the given Go template."
)

PS_TITLES = {
    "ID": "CONTAINER ID",
    "Image": "IMAGE",
    "Command": "COMMAND",
    "CreatedAt": "CREATED AT",
    "RunningFor": "CREATED",
    "Ports": "PORTS",
    "State": "STATE",
    "Status": "STATUS",
    "Size": "SIZE",
    "Names": "NAMES",
    "Labels": "LABELS",
    "Mounts": "MOUNTS",
    "LocalVolumes": "LOCAL VOLUMES",
    "Networks": "NETWORKS",
}
DEFAULT_PS_TABLE = (
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
)


# --- text shapes


def go_quote(text: str) -> str:
    """Go's ``strconv.Quote``: double quotes, Go escapes, non-printables as ``\\x``/``\\u``."""
    escapes = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
    escapes.update({"\v": "\\v", "\\": "\\\\", '"': '\\"'})
    parts = []
    for char in text:
        if char in escapes:
            parts.append(escapes[char])
        elif char.isprintable():
            parts.append(char)
        elif ord(char) < 0x80:
            parts.append(f"\\x{ord(char):02x}")
        elif ord(char) <= 0xFFFF:
            parts.append(f"\\u{ord(char):04x}")
        else:
            parts.append(f"\\U{ord(char):08x}")
    return '"' + "".join(parts) + '"'


def _join_host_port(host: str, port: str) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _ip_key(ip: str) -> tuple[int, int, str]:
    if not ip:
        return (0, 0, "")
    import ipaddress  # only published ports need it: ps without them starts faster

    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return (2, 0, ip)
    return (1, int(address), ip) if address.version == 4 else (1, 1 << 40 | int(address), ip)


def displayable_ports(ports: Sequence[PortSummary]) -> str:
    """docker's ``DisplayablePorts``: ``0.0.0.0:8080->80/tcp, 9000-9001/tcp``."""
    ordered = sorted(ports, key=lambda p: (p.private_port, _ip_key(p.ip), p.public_port, p.type))
    groups: dict[str, list[int]] = {}
    result: list[str] = []
    mappings: list[str] = []
    for port in ordered:
        key = port.type
        if port.ip:
            if port.public_port != port.private_port:
                host = _join_host_port(port.ip, str(port.public_port))
                mappings.append(f"{host}->{port.private_port}/{port.type}")
                continue
            key = f"{port.ip}/{port.type}"
        group = groups.get(key)
        if group is None:
            groups[key] = [port.private_port, port.private_port]
            continue
        if port.private_port == group[1] + 1:
            group[1] = port.private_port
            continue
        result.append(_form_group(key, group[0], group[1]))
        groups[key] = [port.private_port, port.private_port]
    result.extend(_form_group(key, first, last) for key, (first, last) in groups.items())
    result.extend(mappings)
    return ", ".join(result)


def _form_group(key: str, first: int, last: int) -> str:
    ip, sep, kind = key.rpartition("/")
    group = str(first) if first == last else f"{first}-{last}"
    if sep and ip:
        group = f"{_join_host_port(ip, group)}->{group}"
    return f"{group}/{kind}"


def display_image(container: ContainerSummary, *, trunc: bool) -> str:
    """docker's container ``Image()``: short id, or the familiar name without a digest."""
    if not container.image:
        return "<no image>"
    if not trunc:
        return container.image
    if truncate(container.image_id) == truncate(container.image):
        return truncate(container.image)
    from wharf.oci.reference import parse_normalized

    try:
        reference = parse_normalized(container.image)
    except InvalidArgument:
        return container.image
    if reference.digest is not None:
        tag = reference.tag
        reference = reference.repository()
        if tag is not None:
            reference = reference.with_tag(tag)
    return reference.familiar()


def container_row(container: ContainerSummary, *, trunc: bool, now: float) -> Row:
    names = [name.removeprefix("/") for name in container.names]
    if trunc:
        single = next((name for name in names if "/" not in name), "")
        names_text = single
    else:
        names_text = ",".join(names)
    command = ellipsis(container.command, 20) if trunc else container.command
    size = human_size(container.size_rw, 3)
    if container.size_root_fs > 0:
        size = f"{size} (virtual {human_size(container.size_root_fs, 3)})"
    mounts = []
    for mount in container.mounts:
        name = mount.name or mount.source
        mounts.append(ellipsis(name, 15) if trunc else name)
    return Row(
        ID=truncate(container.id) if trunc else container.id,
        Image=display_image(container, trunc=trunc),
        Command=go_quote(command),
        CreatedAt=go_time(container.created),
        RunningFor=human_duration(now - container.created) + " ago",
        Ports=displayable_ports(container.ports),
        State=container.state,
        Status=container.status,
        Size=size,
        Names=names_text,
        Labels=",".join(sorted(f"{key}={value}" for key, value in container.labels)),
        Mounts=",".join(mounts),
        LocalVolumes=str(sum(1 for mount in container.mounts if mount.driver == "local")),
        Networks=",".join(container.networks),
    )


def ps_format(format_source: str, *, quiet: bool, size: bool) -> str:
    if format_source in ("", TABLE):
        if quiet:
            return "{{.ID}}"
        return DEFAULT_PS_TABLE + ("\t{{.Size}}" if size else "")
    return "{{.ID}}" if quiet else format_source


def render(format_source: str, rows: list[Row], titles: Mapping[str, str]) -> None:
    try:
        text = render_rows(format_source, rows, titles)
    except TemplateError as exc:
        raise CliError(str(exc)) from exc
    out(text, nl=False)


def parse_filters(values: Sequence[str]) -> dict[str, list[str]]:
    if not values:
        return {}  # the usual ps: no need to import the images commands
    from wharf.cli.images import parse_filters as parse

    return parse(values)


@docker_command(
    help="List containers",
    aliases=(f"{BIN} container ls", f"{BIN} container list", f"{BIN} container ps", f"{BIN} ps"),
    name="ps",
)
@click.option(
    "-a", "--all", "show_all", is_flag=True, help="Show all containers (default shows just running)"
)
@filter_option()
@click.option("--format", "format_source", default="", metavar="string", help=_FORMAT_HELP)
@click.option(
    "-n",
    "--last",
    default=-1,
    type=int,
    metavar="int",
    help="Show n last created containers (includes all states) (default -1)",
)
@click.option(
    "-l", "--latest", is_flag=True, help="Show the latest created container (includes all states)"
)
@click.option("--no-trunc", is_flag=True, help="Don't truncate output")
@click.option("-q", "--quiet", is_flag=True, help="Only display container IDs")
@click.option("-s", "--size", is_flag=True, default=None, help="Display total file sizes")
def ps_command(
    show_all: bool,
    filters: tuple[str, ...],
    format_source: str,
    last: int,
    latest: bool,
    no_trunc: bool,
    quiet: bool,
    size: bool | None,
) -> None:
    cli_state = state()
    if format_source and quiet:
        err("WARNING: Ignoring custom format, because both --format and --quiet are set.")
    want_size = bool(size)
    if format_source and not quiet and size is None and ".Size" in format_source:
        want_size = True
    limit = 1 if latest and last == -1 else last
    containers = cli_state.client().container_list(
        all=show_all, limit=limit, size=want_size, filters=parse_filters(filters)
    )
    now = cli_state.now()
    rows = [container_row(c, trunc=not no_trunc, now=now) for c in containers]
    render(ps_format(format_source, quiet=quiet, size=want_size), rows, PS_TITLES)


# --- one request per container


def for_each(
    names: Sequence[str], action: Callable[[str], object], *, print_names: bool = True
) -> None:
    """Run ``action`` on each name; print the names that worked, then the errors (exit 1)."""
    errors: list[str] = []
    for name in names:
        try:
            action(name)
        except DaemonError as exc:
            errors.append(f"Error response from daemon: {exc.message}")
            continue
        except WharfError as exc:
            errors.append(exc.message)
            continue
        if print_names:
            out(name)
    if errors:
        raise CliError("\n".join(errors))


_signal_option = click.option(
    "-s",
    "--signal",
    "signal_name",
    default="",
    metavar="string",
    help="Signal to send to the container",
)
_timeout_option = click.option(
    "-t",
    "--timeout",
    "--time",
    "timeout",
    type=int,
    default=None,
    metavar="int",
    help="Seconds to wait before killing the container",
)


@docker_command(
    usage="[OPTIONS] CONTAINER [CONTAINER...]",
    help="Stop one or more running containers",
    aliases=(f"{BIN} container stop", f"{BIN} stop"),
    min_args=1,
    max_args=None,
)
@_signal_option
@_timeout_option
def stop_command(args: tuple[str, ...], signal_name: str, timeout: int | None) -> None:
    client = state().client()
    for_each(args, lambda name: client.container_stop(name, timeout=timeout, signal=signal_name))


@docker_command(
    usage="[OPTIONS] CONTAINER [CONTAINER...]",
    help="Restart one or more containers",
    aliases=(f"{BIN} container restart", f"{BIN} restart"),
    min_args=1,
    max_args=None,
)
@_signal_option
@_timeout_option
def restart_command(args: tuple[str, ...], signal_name: str, timeout: int | None) -> None:
    client = state().client()
    for_each(args, lambda name: client.container_restart(name, timeout=timeout, signal=signal_name))


@docker_command(
    usage="[OPTIONS] CONTAINER [CONTAINER...]",
    help="Kill one or more running containers",
    aliases=(f"{BIN} container kill", f"{BIN} kill"),
    min_args=1,
    max_args=None,
)
@_signal_option
def kill_command(args: tuple[str, ...], signal_name: str) -> None:
    client = state().client()
    for_each(args, lambda name: client.container_kill(name, signal=signal_name))


@docker_command(
    usage="[OPTIONS] CONTAINER [CONTAINER...]",
    help="Remove one or more containers",
    aliases=(f"{BIN} container rm", f"{BIN} container remove", f"{BIN} rm"),
    min_args=1,
    max_args=None,
)
@click.option(
    "-f", "--force", is_flag=True, help="Force the removal of a running container (uses SIGKILL)"
)
@click.option("-l", "--link", is_flag=True, help="Remove the specified link")
@click.option(
    "-v", "--volumes", is_flag=True, help="Remove anonymous volumes associated with the container"
)
def rm_command(args: tuple[str, ...], force: bool, link: bool, volumes: bool) -> None:
    client = state().client()
    errors: list[str] = []
    for name in args:
        try:
            client.container_remove(name, force=force, volumes=volumes, link=link)
        except DaemonError as exc:
            message = f"Error response from daemon: {exc.message}"
            if force and isinstance(exc, NotFound):
                err(message)  # docker rm -f of a missing container reports it but succeeds
                continue
            errors.append(message)
            continue
        out(name)
    if errors:
        raise CliError("\n".join(errors))


@docker_command(
    usage="CONTAINER [CONTAINER...]",
    help="Pause all processes within one or more containers",
    aliases=(f"{BIN} container pause", f"{BIN} pause"),
    min_args=1,
    max_args=None,
)
def pause_command(args: tuple[str, ...]) -> None:
    client = state().client()
    for_each(args, client.container_pause)


@docker_command(
    usage="CONTAINER [CONTAINER...]",
    help="Unpause all processes within one or more containers",
    aliases=(f"{BIN} container unpause", f"{BIN} unpause"),
    min_args=1,
    max_args=None,
)
def unpause_command(args: tuple[str, ...]) -> None:
    client = state().client()
    for_each(args, client.container_unpause)


@docker_command(
    usage="CONTAINER [CONTAINER...]",
    help="Block until one or more containers stop, then print their exit codes",
    aliases=(f"{BIN} container wait", f"{BIN} wait"),
    min_args=1,
    max_args=None,
)
def wait_command(args: tuple[str, ...]) -> None:
    client = state().client()

    def wait(name: str) -> None:
        result = client.container_wait(name, WaitCondition.NOT_RUNNING).result()
        if result.error:
            raise WharfError(result.error)
        out(str(result.status_code))

    for_each(args, wait, print_names=False)


@docker_command(
    usage="CONTAINER NEW_NAME",
    help="Rename a container",
    aliases=(f"{BIN} container rename", f"{BIN} rename"),
    min_args=2,
    max_args=2,
)
def rename_command(args: tuple[str, ...]) -> None:
    old, new = (arg.strip() for arg in args)
    if not old or not new:
        raise CliError("Error: Neither old nor new names may be empty")
    state().client().container_rename(old, new)


@docker_command(
    usage="CONTAINER [ps OPTIONS]",
    help="Display the running processes of a container",
    aliases=(f"{BIN} container top", f"{BIN} top"),
    min_args=1,
    max_args=None,
)
def top_command(args: tuple[str, ...]) -> None:
    result = state().client().container_top(args[0], " ".join(args[1:]))
    lines = ["\t".join(result.titles)]
    lines.extend("\t".join(row) for row in result.processes)
    out(tabwrite("\n".join(lines) + "\n", minwidth=20, padding=3), nl=False)


@docker_command(
    usage="CONTAINER",
    help="Inspect changes to files or directories on a container's filesystem",
    aliases=(f"{BIN} container diff", f"{BIN} diff"),
    min_args=1,
    max_args=1,
)
def diff_command(args: tuple[str, ...]) -> None:
    for change in state().client().container_changes(args[0]):
        out(f"{change.kind.letter} {change.path}")


@docker_command(
    usage="[OPTIONS] CONTAINER",
    help="Export a container's filesystem as a tar archive",
    aliases=(f"{BIN} container export", f"{BIN} export"),
    min_args=1,
    max_args=1,
)
@click.option(
    "-o", "--output", default="", metavar="string", help="Write to a file, instead of STDOUT"
)
def export_command(args: tuple[str, ...], output: str) -> None:
    cli_state = state()
    if not output:
        if cli_state.stdout_isatty():
            raise CliError("cowardly refusing to save to a terminal. Use the -o flag or redirect")
        chunks = cli_state.client().container_export(args[0])
        sys.stdout.flush()
        sink = sys.stdout.buffer
        for chunk in chunks:
            sink.write(chunk)
        sink.flush()
        return
    from pathlib import Path

    from wharf.cli.images import AtomicFile

    path = Path(output)
    if path.is_dir() or not path.parent.is_dir():
        where = path if path.is_dir() else path.parent
        raise CliError(
            f'failed to export container: invalid output path: "{where}" is not a writable file'
        )
    target = AtomicFile(path)
    try:
        for chunk in cli_state.client().container_export(args[0]):
            target.file.write(chunk)
        target.commit()
    except BaseException:
        target.discard()
        raise


@docker_command(
    usage="[OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
    help="Create a new image from a container's changes",
    aliases=(f"{BIN} container commit", f"{BIN} commit"),
    min_args=1,
    max_args=2,
)
@click.option(
    "-a",
    "--author",
    default="",
    metavar="string",
    help='Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")',
)
@click.option(
    "-c",
    "--change",
    "changes",
    multiple=True,
    metavar="list",
    help="Apply Dockerfile instruction to the created image",
)
@click.option("-m", "--message", default="", metavar="string", help="Commit message")
@click.option("-p", "--pause", is_flag=True, default=True, help="Pause container during commit")
def commit_command(
    args: tuple[str, ...], author: str, changes: tuple[str, ...], message: str, pause: bool
) -> None:
    repo = tag = ""
    if len(args) > 1:
        from wharf.oci.reference import parse_normalized

        try:
            reference = parse_normalized(args[1])
        except InvalidArgument as exc:
            raise CliError(exc.message) from exc
        if reference.digest is not None:
            raise CliError("refusing to create a tag with a digest reference")
        repo, tag = reference.name, reference.tag or "latest"
    image_id = (
        state()
        .client()
        .container_commit(
            args[0],
            repo=repo,
            tag=tag,
            comment=message,
            author=author,
            changes=changes,
            pause=pause,
        )
    )
    out(image_id)


# --- start


@docker_command(
    usage="[OPTIONS] CONTAINER [CONTAINER...]",
    help="Start one or more stopped containers",
    aliases=(f"{BIN} container start", f"{BIN} start"),
    min_args=1,
    max_args=None,
)
@click.option("-a", "--attach", is_flag=True, help="Attach STDOUT/STDERR and forward signals")
@click.option(
    "--detach-keys",
    default="",
    metavar="string",
    help="Override the key sequence for detaching a container",
)
@click.option("-i", "--interactive", is_flag=True, help="Attach container's STDIN")
def start_command(args: tuple[str, ...], attach: bool, detach_keys: str, interactive: bool) -> int:
    cli_state = state()
    client = cli_state.client()
    if attach or interactive:
        if len(args) > 1:
            raise CliError("you cannot start and attach multiple containers at once")
        return _start_attached(cli_state, args[0], stdin=interactive, detach_keys=detach_keys)
    failed: list[str] = []
    for name in args:
        try:
            client.container_start(name, detach_keys=detach_keys)
        except DaemonError as exc:
            err(f"Error response from daemon: {exc.message}")
            failed.append(name)
            continue
        out(name)
    if failed:
        raise CliError(f"Error: failed to start containers: {', '.join(failed)}")
    return 0


def _start_attached(cli_state: CliState, name: str, *, stdin: bool, detach_keys: str) -> int:
    from wharf.cli.attach import Terminal, check_tty, exit_status, process_io, run_session
    from wharf.client.streams import PumpEnd

    client = cli_state.client()
    inspected = client.container_inspect(name)
    tty = inspected.tty
    with_stdin = stdin and inspected.open_stdin
    check_tty(cli_state, attach_stdin=stdin, tty=tty)
    container_id = inspected.id or name
    conn = client.container_attach(
        container_id, stdin=with_stdin, stdout=True, stderr=True, detach_keys=detach_keys
    )
    try:
        condition = WaitCondition.REMOVED if inspected.auto_remove else WaitCondition.NEXT_EXIT
        waiter = client.container_wait(container_id, condition)
        try:
            client.container_start(container_id, detach_keys=detach_keys)
        except DaemonError:
            waiter.close()
            raise
        resize = None
        if tty and cli_state.stdout_isatty():

            def resize_container(height: int, width: int) -> None:
                client.container_resize(container_id, height=height, width=width)

            resize = resize_container
        forward = None
        if not tty:

            def forward_signal(signal_name: str) -> None:
                client.container_kill(container_id, signal=signal_name)

            forward = forward_signal
        end = run_session(
            conn,
            process_io(stdin=with_stdin, stdout=True, stderr=True, tty=tty),
            tty=tty,
            detach_keys=detach_keys,
            terminal=Terminal(),
            resize=resize,
            forward=forward,
        )
    finally:
        conn.close()
    if end is PumpEnd.DETACHED:
        waiter.close()
        return 0
    return exit_status(waiter)


# --- prune and inspect

_PRUNE_WARNING = (
    "WARNING! This will remove all stopped containers.\nAre you sure you want to continue?"
)


@docker_command(help="Remove all stopped containers", name="prune")
@filter_option(PRUNE_FILTER_HELP, short=False)
@force_option
def prune_command(filters: tuple[str, ...], force: bool) -> None:
    from wharf.cli.images import confirm

    parsed = parse_filters(filters)
    if not force and not confirm(_PRUNE_WARNING):
        return
    report = state().client().containers_prune(filters=parsed)
    if report.deleted:
        out("Deleted Containers:")
        for container_id in report.deleted:
            out(container_id)
        out()
    reclaimed = report.space_reclaimed if report.deleted else 0
    out(f"Total reclaimed space: {human_size(reclaimed)}")


@docker_command(
    usage="[OPTIONS] CONTAINER [CONTAINER...]",
    help="Display detailed information on one or more containers",
    min_args=1,
    max_args=None,
    name="inspect",
)
@click.option("-f", "--format", "format_source", default="", metavar="string", help=_FORMAT_HELP)
@click.option("-s", "--size", is_flag=True, help="Display total file sizes")
def container_inspect_command(args: tuple[str, ...], format_source: str, size: bool) -> None:
    client = state().client()

    def get(name: str) -> Mapping[str, Any]:
        return client.container_inspect(name, size=size).raw

    inspect_all(args, get, format_source)


# --- the ``container`` management command

_C = "wharf.cli"
container_group = DockerGroup(
    "container",
    help="Manage containers",
    aliases={"list": "ls", "ps": "ls", "remove": "rm"},
    entries={
        "attach": Entry(
            f"{_C}.attach:attach_command",
            "Attach local standard input, output, and error streams to a running container",
        ),
        "commit": Entry(
            f"{_C}.containers:commit_command", "Create a new image from a container's changes"
        ),
        "cp": Entry(
            f"{_C}.cp:cp_command", "Copy files/folders between a container and the local filesystem"
        ),
        "create": Entry(f"{_C}.run:create_command", "Create a new container"),
        "diff": Entry(
            f"{_C}.containers:diff_command",
            "Inspect changes to files or directories on a container's filesystem",
        ),
        "exec": Entry(f"{_C}.exec:exec_command", "Execute a command in a running container"),
        "export": Entry(
            f"{_C}.containers:export_command", "Export a container's filesystem as a tar archive"
        ),
        "inspect": Entry(
            f"{_C}.containers:container_inspect_command",
            "Display detailed information on one or more containers",
        ),
        "kill": Entry(f"{_C}.containers:kill_command", "Kill one or more running containers"),
        "logs": Entry(f"{_C}.logs:logs_command", "Fetch the logs of a container"),
        "ls": Entry(f"{_C}.containers:ps_command", "List containers"),
        "pause": Entry(
            f"{_C}.containers:pause_command", "Pause all processes within one or more containers"
        ),
        "prune": Entry(f"{_C}.containers:prune_command", "Remove all stopped containers"),
        "rename": Entry(f"{_C}.containers:rename_command", "Rename a container"),
        "restart": Entry(f"{_C}.containers:restart_command", "Restart one or more containers"),
        "rm": Entry(f"{_C}.containers:rm_command", "Remove one or more containers"),
        "run": Entry(f"{_C}.run:run_command", "Create and run a new container from an image"),
        "start": Entry(f"{_C}.containers:start_command", "Start one or more stopped containers"),
        "stats": Entry(
            f"{_C}.stats:stats_command",
            "Display a live stream of container(s) resource usage statistics",
        ),
        "stop": Entry(f"{_C}.containers:stop_command", "Stop one or more running containers"),
        "top": Entry(
            f"{_C}.containers:top_command", "Display the running processes of a container"
        ),
        "unpause": Entry(
            f"{_C}.containers:unpause_command",
            "Unpause all processes within one or more containers",
        ),
        "update": Entry(
            f"{_C}.update:update_command", "Update configuration of one or more containers"
        ),
        "wait": Entry(
            f"{_C}.containers:wait_command",
            "Block until one or more containers stop, then print their exit codes",
        ),
    },
)
