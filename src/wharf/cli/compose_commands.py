"""The ``wharf compose`` commands loaded lazily: one-off ``run``, ``exec``, ``build``/``pull``/
``push``, and the commands that show things (``ps``, ``logs``, ``config``, ``images``, ``top``,
``port``, ``ls``, ``version``).

- ``run SERVICE [CMD]``: ``up`` of the service's dependencies, then a one-off container
  (``<project>-<service>-run-<hex>``, label ``com.docker.compose.oneoff=True``, no published
  ports unless ``--service-ports``) run in the foreground through the same attach/wait/start
  sequence as ``wharf run`` (``cli.run``); ``--rm`` removes it afterwards; ``-d`` prints its name.
- ``exec SERVICE CMD``: ``wharf exec`` on replica ``--index`` (default 1) of the service; a
  TTY unless ``-T`` or stdin is not a terminal.
- ``config`` prints ``Project.to_yaml()``; ``--services``/``--volumes``/``--networks``/``--images``
  print names, ``-q`` only validates.

Imports click, the standard library, ``wharf.cli``, ``wharf.client`` and ``wharf.compose``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import click

from wharf.cli.command import BIN, CliError, DockerCommand, out
from wharf.cli.compose import command, load, runtime, use_color
from wharf.cli.opts import validate_env
from wharf.cli.run_options import GoFlag, PassthroughCommand
from wharf.cli.state import state

if TYPE_CHECKING:
    from wharf.compose.runtime import ComposeRuntime


class _Transfer(Protocol):
    def __call__(self, services: Sequence[str] = (), *, ignore_failures: bool = False) -> None: ...


# --- run and exec


def _env_map(values: tuple[str, ...]) -> dict[str, str]:
    import os

    env: dict[str, str] = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if sep:
            env[key] = rest
        elif key in os.environ:
            env[key] = os.environ[key]
    return env


def _label_map(values: tuple[str, ...]) -> dict[str, str]:
    labels = {}
    for value in values:
        key, _, rest = value.partition("=")
        labels[key] = rest
    return labels


@command(
    "run",
    "Run a one-off command on a service",
    usage="[OPTIONS] SERVICE [COMMAND] [ARGS...]",
    min_args=1,
    cls=PassthroughCommand,
    register=False,
)
@click.option(
    "-d", "--detach", is_flag=True, help="Run container in background and print container ID"
)
@click.option(
    "--rm", "remove", is_flag=True, help="Automatically remove the container when it exits"
)
@click.option("--name", default="", metavar="string", help="Assign a name to the container")
@click.option(
    "-e", "--env", multiple=True, type=GoFlag(validate_env, "stringArray"),
    metavar="stringArray", help="Set environment variables",
)  # fmt: skip
@click.option(
    "-l", "--label", "labels", multiple=True, metavar="stringArray", help="Add or override a label"
)
@click.option(
    "-u", "--user", default=None, metavar="string", help="Run as specified username or uid"
)
@click.option(
    "-w", "--workdir", default=None, metavar="string", help="Working directory inside the container"
)
@click.option(
    "--entrypoint", default=None, metavar="string", help="Override the entrypoint of the image"
)
@click.option(
    "-T",
    "--no-TTY",
    "no_tty",
    is_flag=True,
    help="Disable pseudo-TTY allocation (default: auto-detected)",
)
@click.option(
    "-i", "--interactive", is_flag=True, default=True, help="Keep STDIN open even if not attached"
)
@click.option("--no-deps", is_flag=True, help="Don't start linked services")
@click.option(
    "--service-ports",
    is_flag=True,
    help="Run command with all service's ports enabled and mapped to the host",
)
@click.option(
    "--use-aliases",
    is_flag=True,
    help="Use the service's network useAliases in the network(s) the container connects to",
)
@click.option("--build", is_flag=True, help="Build image before starting container")
@click.option("--quiet-pull", is_flag=True, help="Pull without printing progress information")
def run_command(args: tuple[str, ...], **flags: Any) -> int:
    import shlex

    from wharf.cli.attach import Terminal
    from wharf.cli.run import _run_created
    from wharf.compose.images import ImageOptions
    from wharf.compose.runtime import RunOptions

    cli_state = state()
    service, command_args = args[0], args[1:]
    detach = flags["detach"]
    tty = not flags["no_tty"] and not detach and cli_state.stdin_isatty()
    interactive = flags["interactive"] and not detach
    entrypoint = flags["entrypoint"]
    options = RunOptions(
        command=command_args or None,
        entrypoint=tuple(shlex.split(entrypoint)) if entrypoint is not None else None,
        environment=_env_map(flags["env"]),
        labels=_label_map(flags["labels"]),
        user=flags["user"],
        workdir=flags["workdir"],
        name=flags["name"],
        tty=tty,
        stdin_open=interactive,
        no_deps=flags["no_deps"],
        service_ports=flags["service_ports"],
        use_aliases=flags["use_aliases"],
        remove=flags["remove"],
        images=ImageOptions(build=flags["build"], quiet=flags["quiet_pull"]),
    )
    rt = runtime(services=[service])
    plan = rt.prepare_run(service, options)
    config = plan.spec.config._replace(
        attach_stdin=interactive,
        attach_stdout=not detach,
        attach_stderr=not detach,
        open_stdin=interactive,
        stdin_once=interactive,
    )
    host = plan.spec.host_config._replace(auto_remove=flags["remove"])
    plan = plan.__class__(plan.name, plan.spec._replace(config=config, host_config=host),
                          plan.attachments, plan.injections)  # fmt: skip
    container_id = rt.create_planned(plan)
    if detach:
        rt.client.container_start(container_id)
        out(plan.name)
        return 0
    return _run_created(
        rt.client,
        cli_state,
        container_id,
        plan.spec,
        detach=False,
        detach_keys="",
        sig_proxy=True,
        terminal=Terminal(),
    )


@command(
    "exec",
    "Execute a command in a running container",
    usage="[OPTIONS] SERVICE COMMAND [ARGS...]",
    min_args=2,
    cls=PassthroughCommand,
    register=False,
)
@click.option("-d", "--detach", is_flag=True, help="Detached mode: Run command in the background")
@click.option(
    "-e", "--env", multiple=True, type=GoFlag(validate_env, "stringArray"),
    metavar="stringArray", help="Set environment variables",
)  # fmt: skip
@click.option(
    "--index",
    type=int,
    default=1,
    metavar="int",
    help="Index of the container if service has multiple replicas",
)
@click.option("--privileged", is_flag=True, help="Give extended privileges to the process")
@click.option(
    "-T",
    "--no-TTY",
    "no_tty",
    is_flag=True,
    help="Disable pseudo-TTY allocation. By default 'docker compose exec' allocates a TTY",
)
@click.option(
    "-i", "--interactive", is_flag=True, default=True, help="Keep STDIN open even if not attached"
)
@click.option("-u", "--user", default="", metavar="string", help="Run the command as this user")
@click.option(
    "-w",
    "--workdir",
    default="",
    metavar="string",
    help="Path to workdir directory for this command",
)
def exec_command(args: tuple[str, ...], **flags: Any) -> int:
    from wharf.cli.exec import exec_command as wharf_exec

    cli_state = state()
    service, command_args = args[0], args[1:]
    container = runtime(require_file=False).find(service, flags["index"])
    tty = not flags["no_tty"] and cli_state.stdin_isatty() and not flags["detach"]
    result = click.get_current_context().invoke(
        wharf_exec,
        args=(container.id, *command_args),
        detach=flags["detach"],
        detach_keys="",
        env=flags["env"],
        env_file=(),
        interactive=flags["interactive"] and cli_state.stdin_isatty(),
        privileged=flags["privileged"],
        tty=tty,
        user=flags["user"],
        workdir=flags["workdir"],
    )
    return int(result or 0)


# --- images


@command("build", "Build or rebuild services", register=False)
@click.option("--no-cache", is_flag=True, help="Do not use cache when building the image")
@click.option("--pull", is_flag=True, help="Always attempt to pull a newer version of the image")
@click.option("-q", "--quiet", is_flag=True, help="Don't print anything to STDOUT")
def build_command(args: tuple[str, ...], no_cache: bool, pull: bool, quiet: bool) -> None:
    runtime(quiet=quiet).build(args, no_cache=no_cache, pull=pull)


def _transfer_command(
    name: str, help_text: str, method: Callable[[ComposeRuntime], _Transfer]
) -> DockerCommand:
    """``compose pull`` or ``compose push``: the same flags, each calling its runtime method."""
    verb = name.capitalize()

    @command(name, help_text, register=False)
    @click.option(
        f"--ignore-{name}-failures",
        "ignore_failures",
        is_flag=True,
        help=f"{verb} what it can and ignores images with {name} failures",
    )
    @click.option(
        "-q", "--quiet", is_flag=True, help=f"{verb} without printing progress information"
    )
    def transfer(args: tuple[str, ...], ignore_failures: bool, quiet: bool) -> None:
        method(runtime(quiet=quiet))(args, ignore_failures=ignore_failures)

    return transfer


pull_command = _transfer_command("pull", "Pull service images", lambda rt: rt.pull)
push_command = _transfer_command("push", "Push service images", lambda rt: rt.push)


# --- showing things

_table_or_json = click.option(
    "--format",
    "format_source",
    default="table",
    metavar="string",
    help="Format the output. Values: [table | json]",
)


@command("ps", "List containers", register=False)
@click.option(
    "-a",
    "--all",
    "show_all",
    is_flag=True,
    help="Show all stopped containers (including those created by the run command)",
)
@click.option(
    "--format",
    "format_source",
    default="table",
    metavar="string",
    help="Format output using a custom template: 'table', 'json' or a Go template",
)
@click.option("-q", "--quiet", is_flag=True, help="Only display IDs")
@click.option("--services", is_flag=True, help="Display services")
@click.option(
    "--status", "statuses", multiple=True, metavar="stringArray", help="Filter services by status"
)
def ps_command(
    args: tuple[str, ...],
    show_all: bool,
    format_source: str,
    quiet: bool,
    services: bool,
    statuses: tuple[str, ...],
) -> None:
    from wharf.cli.compose_output import PS_TABLE, PS_TITLES, ps_row
    from wharf.cli.containers import render
    from wharf.compose import naming

    rt = runtime(require_file=False)
    rows = rt.summaries(args, all=show_all or bool(statuses))
    if not show_all:
        rows = [r for r in rows if dict(r.labels).get(naming.ONEOFF) != naming.TRUE]
    if statuses:
        rows = [r for r in rows if r.state in statuses]
    if services:
        names = dict.fromkeys(dict(r.labels).get(naming.SERVICE, "") for r in rows)
        for name in names:
            out(name)
        return
    if quiet:
        for row in rows:
            out(row.id)
        return
    now = state().now()
    source = PS_TABLE if format_source == "table" else format_source
    render(source, [ps_row(r, now=now) for r in rows], PS_TITLES)


@command("logs", "View output from containers", register=False)
@click.option("-f", "--follow", is_flag=True, help="Follow log output")
@click.option(
    "--index",
    type=int,
    default=0,
    metavar="int",
    help="index of the container if service has multiple replicas",
)
@click.option("--no-color", is_flag=True, help="Produce monochrome output")
@click.option("--no-log-prefix", is_flag=True, help="Don't print prefix in logs")
@click.option("--since", default="", metavar="string", help="Show logs since timestamp or relative")
@click.option(
    "-n",
    "--tail",
    default="all",
    metavar="string",
    help="Number of lines to show from the end of the logs for each container",
)
@click.option("-t", "--timestamps", is_flag=True, help="Show timestamps")
@click.option(
    "--until", default="", metavar="string", help="Show logs before a timestamp or relative"
)
def logs_command(args: tuple[str, ...], **flags: Any) -> None:
    from datetime import datetime

    from wharf.cli.compose_output import LogPrinter
    from wharf.cli.logs import go_timestamp
    from wharf.compose.logs import LogLine, LogOptions, ReadFailed

    rt = runtime(require_file=False)
    containers = rt.containers(args, all=True)
    if flags["index"]:
        containers = [c for c in containers if c.number == flags["index"]]
    now = datetime.fromtimestamp(state().now()).astimezone()
    options = LogOptions(
        follow=flags["follow"],
        tail=flags["tail"],
        timestamps=flags["timestamps"],
        since=go_timestamp(flags["since"], now) if flags["since"] else "",
        until=go_timestamp(flags["until"], now) if flags["until"] else "",
    )
    stream = rt.logs(containers=containers, options=options)
    printer = LogPrinter(
        stream.sources, color=use_color(flags["no_color"]), prefix=not flags["no_log_prefix"]
    )
    stream.start()
    try:
        for item in stream.lines():
            if isinstance(item, LogLine):
                printer.line(item)
            elif isinstance(item, ReadFailed):
                raise CliError(f"{item.source}: {item.message}")
    finally:
        stream.close()


@command(
    "config",
    "Parse, resolve and render compose file in canonical format",
    usage="[OPTIONS] [SERVICE...]",
    register=False,
)
@click.option(
    "-q", "--quiet", is_flag=True, help="Only validate the configuration, don't print anything"
)
@click.option("--services", is_flag=True, help="Print the service names, one per line")
@click.option("--volumes", is_flag=True, help="Print the volume names, one per line")
@click.option("--networks", is_flag=True, help="Print the network names, one per line")
@click.option("--images", is_flag=True, help="Print the image names, one per line")
@click.option(
    "-o", "--output", default="", metavar="string", help="Save to file (default to stdout)"
)
def config_command(args: tuple[str, ...], **flags: Any) -> None:
    _, project = load(services=args)
    assert project is not None
    if flags["quiet"]:
        return
    for kind, names in (
        ("services", project.services),
        ("volumes", project.volumes),
        ("networks", project.networks),
    ):
        if flags[kind]:
            for name in names:
                out(name)
            return
    if flags["images"]:
        from wharf.compose.images import image_name

        for service in project.services.values():
            out(image_name(project, service))
        return
    text = project.to_yaml()
    if flags["output"]:
        from pathlib import Path

        Path(flags["output"]).write_text(text)
        return
    out(text, nl=not text.endswith("\n"))


@command("images", "List images used by the created containers", register=False)
@_table_or_json
@click.option("-q", "--quiet", is_flag=True, help="Only display IDs")
def images_command(args: tuple[str, ...], format_source: str, quiet: bool) -> None:
    from wharf.cli.containers import render
    from wharf.cli.formatting import human_size
    from wharf.cli.templates import Row
    from wharf.errdefs import NotFound

    rt = runtime(require_file=False)
    rows = []
    for container in rt.containers(args, all=True):
        try:
            image = rt.client.image_inspect(container.image_id or container.name)
        except NotFound:
            continue
        summary_image = image.repo_tags[0] if image.repo_tags else ""
        repository, _, tag = summary_image.rpartition(":") if summary_image else ("", "", "")
        rows.append(
            Row(
                ContainerName=container.name,
                Repository=repository or "<none>",
                Tag=tag or "<none>",
                ID=image.id.removeprefix("sha256:")[:12],
                Size=human_size(image.size),
            )
        )
    if quiet:
        for row in dict.fromkeys(r["ID"] for r in rows):
            out(row)
        return
    table = (
        "table {{.ContainerName}}\t{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.Size}}"
        if format_source == "table"
        else format_source
    )
    titles = {
        "ContainerName": "CONTAINER",
        "Repository": "REPOSITORY",
        "Tag": "TAG",
        "ID": "IMAGE ID",
        "Size": "SIZE",
    }
    render(table, rows, titles)


@command("top", "Display the running processes", register=False)
def top_command(args: tuple[str, ...]) -> None:
    from wharf.cli.formatting import tabwrite

    rt = runtime(require_file=False)
    first = True
    for container in rt.containers(args, all=False):
        result = rt.client.container_top(container.id)
        if not first:
            out("")
        first = False
        out(container.name)
        lines = ["\t".join(result.titles), *("\t".join(row) for row in result.processes)]
        out(tabwrite("\n".join(lines) + "\n", minwidth=0, padding=3), nl=False)


@command(
    "port",
    "Print the public port for a port binding",
    usage="[OPTIONS] SERVICE PRIVATE_PORT",
    min_args=2,
    max_args=2,
    register=False,
)
@click.option(
    "--index",
    type=int,
    default=1,
    metavar="int",
    help="Index of the container if service has multiple replicas",
)
@click.option("--protocol", default="tcp", metavar="string", help="tcp or udp")
def port_command(args: tuple[str, ...], index: int, protocol: str) -> None:
    from wharf.client.network_models import port_mappings

    service, private = args
    rt = runtime(require_file=False)
    container = rt.find(service, index)
    document = rt.client.container_inspect(container.id).raw
    wanted = f"{private}/{protocol}"
    for mapping in port_mappings(document.get("NetworkSettings", {}).get("Ports")):
        if mapping.port == wanted:
            host = mapping.host_ip or "0.0.0.0"
            out(f"{host}:{mapping.host_port}")
            return
    raise CliError(f"no port {wanted} for container {container.name}")


@command("ls", "List running compose projects", usage="[OPTIONS]", max_args=0, register=False)
@click.option("-a", "--all", "show_all", is_flag=True, help="Show all stopped Compose projects")
@_table_or_json
@click.option("-q", "--quiet", is_flag=True, help="Only display project names")
def ls_command(show_all: bool, format_source: str, quiet: bool) -> None:
    from wharf.cli.containers import render
    from wharf.cli.templates import Row
    from wharf.compose import naming

    client = state().client()
    projects: dict[str, dict[str, Any]] = {}
    for summary in client.container_list(all=True, filters={"label": [naming.PROJECT]}):
        labels = dict(summary.labels)
        entry = projects.setdefault(
            labels.get(naming.PROJECT, ""),
            {"states": {}, "files": labels.get(naming.CONFIG_FILES, "")},
        )
        entry["states"][summary.state] = entry["states"].get(summary.state, 0) + 1
    rows = []
    for name in sorted(projects):
        states = projects[name]["states"]
        if not show_all and "running" not in states:
            continue
        status = ", ".join(f"{state}({count})" for state, count in sorted(states.items()))
        rows.append(Row(Name=name, Status=status, ConfigFiles=projects[name]["files"]))
    if quiet:
        for row in rows:
            out(row["Name"])
        return
    table = (
        "table {{.Name}}\t{{.Status}}\t{{.ConfigFiles}}"
        if format_source == "table"
        else format_source
    )
    render(table, rows, {"Name": "NAME", "Status": "STATUS", "ConfigFiles": "CONFIG FILES"})


@command(
    "version",
    "Show the Wharf Compose version information",
    usage="[OPTIONS]",
    max_args=0,
    register=False,
)
@click.option("--short", is_flag=True, help="Shows only Compose's version number")
def version_command(short: bool) -> None:
    from wharf import __version__

    out(__version__ if short else f"{BIN.capitalize()} Compose version v{__version__}")
