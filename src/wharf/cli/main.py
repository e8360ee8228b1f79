"""``wharf``: the command-line client (entry point ``wharf.cli.main:main``).

The root group parses the global flags (``-H/--host``, ``-D/--debug``, ``-l/--log-level``,
``-v/--version``) and loads each command's module only when that command runs. This module
imports click and little else: no client, no JSON, no aiohttp, so ``wharf --help`` and the
first byte of every command come fast.

Error reporting is the docker CLI's, in one place (``WharfRoot.main``): a daemon error prints
``Error response from daemon: <message>``; other wharf errors print their message; flag errors
print docker's usage text and exit 125; nothing prints a traceback unless ``--debug``.

Imports click, ``wharf`` (the version) and ``wharf.cli`` modules; never the engine.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any

import click

from wharf import __version__
from wharf.cli.command import BIN, CliError, DockerGroup, Entry, err, flag_error, out
from wharf.cli.state import CliState
from wharf.errdefs import WharfError

_COMMON = "Common Commands"
_MANAGEMENT = "Management Commands"

ENTRIES: dict[str, Entry] = {
    "build": Entry("wharf.cli.build:build_command", "Build an image from a Dockerfile", _COMMON),
    "builder": Entry("wharf.cli.build:builder_group", "Manage builds", _MANAGEMENT),
    "images": Entry("wharf.cli.images:images_command", "List images", _COMMON),
    "info": Entry("wharf.cli.system:info_command", "Display system-wide information", _COMMON),
    "version": Entry(
        "wharf.cli.system:version_command", "Show the Wharf version information", _COMMON
    ),
    "image": Entry("wharf.cli.images:image_group", "Manage images", _MANAGEMENT),
    "system": Entry("wharf.cli.system:system_group", "Manage Wharf", _MANAGEMENT),
    "history": Entry("wharf.cli.images:history_command", "Show the history of an image"),
    "import": Entry(
        "wharf.cli.images:import_command",
        "Import the contents from a tarball to create a filesystem image",
    ),
    "inspect": Entry(
        "wharf.cli.inspect:inspect_command", "Return low-level information on Wharf objects"
    ),
    "load": Entry("wharf.cli.images:load_command", "Load an image from a tar archive or STDIN"),
    "login": Entry("wharf.cli.login:login_command", "Authenticate to a registry", _COMMON),
    "logout": Entry("wharf.cli.login:logout_command", "Log out from a registry", _COMMON),
    "push": Entry("wharf.cli.login:push_command", "Upload an image to a registry", _COMMON),
    "pull": Entry("wharf.cli.pull:pull_command", "Download an image from a registry", _COMMON),
    "registry": Entry(
        "wharf.cli.registry:registry_command",
        "Run the built-in OCI registry server",
        _MANAGEMENT,
    ),
    "rmi": Entry("wharf.cli.images:rmi_command", "Remove one or more images"),
    "save": Entry(
        "wharf.cli.images:save_command",
        "Save one or more images to a tar archive (streamed to STDOUT by default)",
    ),
    "tag": Entry(
        "wharf.cli.images:tag_command", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"
    ),
    # containers
    "run": Entry(
        "wharf.cli.run:run_command", "Create and run a new container from an image", _COMMON
    ),
    "exec": Entry(
        "wharf.cli.exec:exec_command", "Execute a command in a running container", _COMMON
    ),
    "ps": Entry("wharf.cli.containers:ps_command", "List containers", _COMMON),
    "compose": Entry(
        "wharf.cli.compose:compose_group",
        "Define and run multi-container applications",
        _MANAGEMENT,
    ),
    "container": Entry("wharf.cli.containers:container_group", "Manage containers", _MANAGEMENT),
    "volume": Entry("wharf.cli.volumes:volume_group", "Manage volumes", _MANAGEMENT),
    "network": Entry("wharf.cli.network:network_group", "Manage networks", _MANAGEMENT),
    "port": Entry(
        "wharf.cli.network:port_command",
        "List port mappings or a specific mapping for the container",
    ),
    "attach": Entry(
        "wharf.cli.attach:attach_command",
        "Attach local standard input, output, and error streams to a running container",
    ),
    "commit": Entry(
        "wharf.cli.containers:commit_command", "Create a new image from a container's changes"
    ),
    "cp": Entry(
        "wharf.cli.cp:cp_command", "Copy files/folders between a container and the local filesystem"
    ),
    "create": Entry("wharf.cli.run:create_command", "Create a new container"),
    "events": Entry("wharf.cli.events:events_command", "Get real time events from the server"),
    "diff": Entry(
        "wharf.cli.containers:diff_command",
        "Inspect changes to files or directories on a container's filesystem",
    ),
    "export": Entry(
        "wharf.cli.containers:export_command", "Export a container's filesystem as a tar archive"
    ),
    "kill": Entry("wharf.cli.containers:kill_command", "Kill one or more running containers"),
    "logs": Entry("wharf.cli.logs:logs_command", "Fetch the logs of a container"),
    "pause": Entry(
        "wharf.cli.containers:pause_command", "Pause all processes within one or more containers"
    ),
    "rename": Entry("wharf.cli.containers:rename_command", "Rename a container"),
    "restart": Entry("wharf.cli.containers:restart_command", "Restart one or more containers"),
    "rm": Entry("wharf.cli.containers:rm_command", "Remove one or more containers"),
    "start": Entry("wharf.cli.containers:start_command", "Start one or more stopped containers"),
    "stats": Entry(
        "wharf.cli.stats:stats_command",
        "Display a live stream of container(s) resource usage statistics",
    ),
    "stop": Entry("wharf.cli.containers:stop_command", "Stop one or more running containers"),
    "top": Entry(
        "wharf.cli.containers:top_command", "Display the running processes of a container"
    ),
    "unpause": Entry(
        "wharf.cli.containers:unpause_command",
        "Unpause all processes within one or more containers",
    ),
    "update": Entry(
        "wharf.cli.update:update_command", "Update configuration of one or more containers"
    ),
    "wait": Entry(
        "wharf.cli.containers:wait_command",
        "Block until one or more containers stop, then print their exit codes",
    ),
}


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        out(f"Wharf version {__version__}")
        ctx.exit(0)


class WharfRoot(DockerGroup):
    """The root group; ``main`` turns every failure into docker's one-line report."""

    def main(  # type: ignore[override]
        self,
        args: list[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> None:
        obj = extra.setdefault("obj", CliState())
        try:
            result = super().main(
                args, prog_name or BIN, complete_var, standalone_mode=False, **extra
            )
            code = result if isinstance(result, int) else 0
        except BaseException as exc:
            code = _report(exc, debug=isinstance(obj, CliState) and obj.debug)
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            code = _quiet_broken_pipe()
        sys.exit(code)


def _quiet_broken_pipe() -> int:
    # The reader went away (``wharf images | head``): stop quietly, as a Go program would.
    devnull = os.open(os.devnull, os.O_WRONLY)
    with contextlib.suppress(OSError, ValueError):
        os.dup2(devnull, sys.stdout.fileno())
    return 141


def _report(exc: BaseException, *, debug: bool) -> int:
    if isinstance(exc, SystemExit):
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    if isinstance(exc, CliError):
        err(exc.message)
        return exc.exit_code
    if isinstance(exc, click.UsageError):
        ctx = exc.ctx or click.Context(cli, info_name=BIN)
        return _report(flag_error(ctx, exc, "[OPTIONS] COMMAND"), debug=debug)
    if isinstance(exc, click.ClickException):
        err(exc.format_message())
        return exc.exit_code
    if isinstance(exc, (click.Abort, KeyboardInterrupt)):
        return 130
    if isinstance(exc, BrokenPipeError):
        return _quiet_broken_pipe()
    if debug:
        import traceback

        traceback.print_exception(exc)
    if isinstance(exc, WharfError):
        from wharf.client.errors import DaemonError

        if isinstance(exc, DaemonError):
            err(f"Error response from daemon: {exc.message}")
        else:
            err(exc.message)
        return 1
    err(
        f"Error: {type(exc).__name__}: {exc}" + ("" if debug else " (run with --debug for details)")
    )
    return 1


@click.group(
    BIN,
    cls=WharfRoot,
    entries=ENTRIES,
    help="A self-sufficient runtime for containers",
    invoke_without_command=True,
)
@click.option("-H", "--host", metavar="string", help="Daemon socket to connect to", default=None)
@click.option("-D", "--debug", is_flag=True, help="Enable debug mode")
@click.option(
    "-l",
    "--log-level",
    metavar="string",
    default="info",
    help='Set the logging level ("debug", "info", "warn", "error", "fatal")',
)
@click.option(
    "-v",
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Print version information and quit",
)
@click.pass_context
def cli(ctx: click.Context, host: str | None, debug: bool, log_level: str) -> None:
    state = ctx.ensure_object(CliState)
    if host:
        state.host = host
    state.debug = state.debug or debug or os.environ.get("WHARF_DEBUG", "") not in ("", "0")
    if ctx.invoked_subcommand is None:
        out(cli.get_help(ctx))
    del log_level  # accepted for docker compatibility; the client logs nothing yet


def main() -> None:
    """Console-script entry point."""
    cli.main(prog_name=BIN)
