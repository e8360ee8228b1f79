"""``wharf compose`` (also the ``wharf-compose`` command): docker compose v2's command line.

Global options come before the command: ``-f`` (repeatable; else ``COMPOSE_FILE``, else the
``compose.yaml``/``docker-compose.yml`` found from the project directory upwards), ``-p``
(else ``COMPOSE_PROJECT_NAME``, else the file's ``name:``, else the directory's name),
``--project-directory``, ``--env-file``, ``--profile`` (else ``COMPOSE_PROFILES``), ``--progress``
and ``--ansi``.

Each command loads the project (``compose.model``), builds a ``ComposeRuntime`` over the
client and renders what it reports (``cli.compose_output``). Without a compose file, the
commands that work from labels alone (``down``, ``ps``, ``logs``, ``start``, ``stop``,
``restart``, ``kill``, ``pause``, ``unpause``, ``rm``, ``top``, ``images``) act on the project
``-p`` names. An invalid file prints the model's message (``<file>: <key path>: <reason>``) on
stderr and exits 1, as docker compose does, before anything is created.

This module holds the group, the global options, the project loading and the lifecycle
commands (up, create, down, start, stop, restart, kill, pause, unpause, rm);
``cli.compose_commands`` holds the others, loaded when one of them runs.

Imports click, the standard library, ``wharf.cli``, and (when a command runs) ``wharf.client``
and ``wharf.compose``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from wharf.cli.command import BIN, CliError, DockerCommand, DockerGroup, Entry, err
from wharf.cli.state import state

if TYPE_CHECKING:
    from wharf.compose.project import Project
    from wharf.compose.runtime import ComposeRuntime

F = TypeVar("F", bound=Callable[..., Any])
_META = "wharf.compose"
_PROGRESS = ("auto", "tty", "plain", "json", "quiet")


class ComposeSettings:
    """The group's global options, kept on the click context for the command to read."""

    def __init__(
        self,
        *,
        files: Sequence[str] = (),
        project_name: str = "",
        project_directory: str = "",
        env_files: Sequence[str] = (),
        profiles: Sequence[str] = (),
        progress: str = "auto",
        ansi: str = "auto",
    ) -> None:
        self.files = tuple(files)
        self.project_name = project_name
        self.project_directory = project_directory
        self.env_files = tuple(env_files)
        self.profiles = tuple(profiles)
        self.progress = progress
        self.ansi = ansi


def settings() -> ComposeSettings:
    ctx = click.get_current_context()
    found = ctx.meta.get(_META)
    return found if isinstance(found, ComposeSettings) else ComposeSettings()


def _files(found: ComposeSettings, environ: dict[str, str]) -> list[Path]:
    from wharf.compose.model import find_compose_files

    if found.files:
        return [Path(f) if f == "-" else Path(f).absolute() for f in found.files]
    listed = environ.get("COMPOSE_FILE", "")
    if listed:
        separator = environ.get("COMPOSE_PATH_SEPARATOR", os.pathsep)
        return [Path(f).absolute() for f in listed.split(separator) if f]
    directory = Path(found.project_directory or os.getcwd()).absolute()
    return list(find_compose_files(directory))


def load(*, require_file: bool = True, services: Sequence[str] = ()) -> tuple[str, Project | None]:
    """(project name, project): the project is None only when no file exists, ``-p`` (or
    ``COMPOSE_PROJECT_NAME``) names one and ``require_file`` is False. ``services`` are the
    services the command names: enabled whatever their profiles, as docker compose does."""
    from wharf.compose.model import load_project
    from wharf.compose.runtime import NO_PROJECT_FILE

    found = settings()
    environ = dict(os.environ)
    files = _files(found, environ)
    if not files:
        name = found.project_name or environ.get("COMPOSE_PROJECT_NAME", "")
        if require_file or not name:
            raise CliError(NO_PROJECT_FILE)
        return _check_project_name(name), None
    project = load_project(
        files,
        project_name=found.project_name or None,
        env_files=[Path(f) for f in found.env_files] or None,
        profiles=found.profiles,
        environ=environ,
        working_dir=Path(found.project_directory) if found.project_directory else None,
        services=services,
    )
    printer = _printer()
    for warning in project.warnings:
        printer.warning(warning)
    return project.name, project


def _check_project_name(name: str) -> str:
    import re

    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", name):
        raise CliError(
            f'invalid project name "{name}": must consist only of lowercase alphanumeric '
            "characters, hyphens, and underscores as well as start with a letter or number"
        )
    return name


def _printer(*, quiet: bool = False) -> Any:
    from wharf.cli.compose_output import ProgressPrinter

    mode = settings().progress
    return ProgressPrinter(plain=mode == "plain", quiet=quiet or mode == "quiet")


def runtime(
    *, require_file: bool = True, quiet: bool = False, services: Sequence[str] = ()
) -> ComposeRuntime:
    from wharf.compose.runtime import ComposeRuntime

    name, project = load(require_file=require_file, services=services)
    return ComposeRuntime(state().client(), name, project, _printer(quiet=quiet))


def use_color(no_color: bool) -> bool:
    mode = settings().ansi
    if no_color or mode == "never" or os.environ.get("NO_COLOR"):
        return False
    return mode == "always" or state().stdout_isatty()


def _timeout(value: int | None) -> int | None:
    return value if value is not None and value >= 0 else None


def _scale(values: Sequence[str]) -> dict[str, int]:
    scale: dict[str, int] = {}
    for value in values:
        service, sep, count = value.partition("=")
        if not sep or not count.strip().lstrip("-").isdigit():
            raise CliError(f"invalid --scale value {value!r}: expected SERVICE=NUM")
        scale[service] = int(count)
    return scale


# --- the group


def _check_progress(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    if value not in _PROGRESS:
        raise click.BadParameter(f"unsupported --progress value {value!r}")
    return value


class ComposeGroup(DockerGroup):
    """``wharf compose``: a group whose help lists its own (global) options, as docker
    compose's does."""

    def get_help(self, ctx: click.Context) -> str:
        from wharf.cli.command import _flag_usages

        text = (
            super()
            .get_help(ctx)
            .replace(
                f"Usage:  {ctx.command_path} COMMAND",
                f"Usage:  {ctx.command_path} [OPTIONS] COMMAND",
            )
        )
        flags = _flag_usages(self, ctx)
        head, sep, tail = text.rpartition("\n\nRun '")
        return f"{head}\n\nOptions:\n" + "\n".join(flags) + f"{sep}{tail}" if sep else text


@click.group(
    "compose",
    cls=ComposeGroup,
    help="Define and run multi-container applications with Wharf",
    entries={},
)
@click.option(
    "-f",
    "--file",
    "files",
    multiple=True,
    metavar="stringArray",
    help="Compose configuration files",
)
@click.option("-p", "--project-name", default="", metavar="string", help="Project name")
@click.option(
    "--project-directory",
    default="",
    metavar="string",
    help="Specify an alternate working directory (default: the path of the first "
    "specified Compose file)",
)
@click.option(
    "--env-file",
    "env_files",
    multiple=True,
    metavar="stringArray",
    help="Specify an alternate environment file",
)
@click.option(
    "--profile",
    "profiles",
    multiple=True,
    metavar="stringArray",
    help="Specify a profile to enable",
)
@click.option(
    "--progress",
    default="auto",
    metavar="string",
    callback=_check_progress,
    help='Set type of progress output ("auto", "tty", "plain", "json", "quiet")',
)
@click.option(
    "--ansi",
    default="auto",
    type=click.Choice(["never", "always", "auto"]),
    metavar="string",
    help='Control when to print ANSI control characters ("never"|"always"|"auto")',
)
@click.pass_context
def compose_group(
    ctx: click.Context,
    files: tuple[str, ...],
    project_name: str,
    project_directory: str,
    env_files: tuple[str, ...],
    profiles: tuple[str, ...],
    progress: str,
    ansi: str,
) -> None:
    ctx.meta[_META] = ComposeSettings(
        files=files,
        project_name=project_name,
        project_directory=project_directory,
        env_files=env_files,
        profiles=profiles,
        progress=progress,
        ansi=ansi,
    )


_LAZY = {
    "run": "Run a one-off command on a service",
    "exec": "Execute a command in a running container",
    "ps": "List containers",
    "logs": "View output from containers",
    "config": "Parse, resolve and render compose file in canonical format",
    "images": "List images used by the created containers",
    "top": "Display the running processes",
    "port": "Print the public port for a port binding",
    "ls": "List running compose projects",
    "build": "Build or rebuild services",
    "pull": "Pull service images",
    "push": "Push service images",
    "version": "Show the Wharf Compose version information",
}
for _name, _short in _LAZY.items():
    compose_group.entries[_name] = Entry(f"wharf.cli.compose_commands:{_name}_command", _short)


def command(
    name: str,
    help_text: str,
    *,
    usage: str = "[OPTIONS] [SERVICE...]",
    min_args: int = 0,
    max_args: int | None = None,
    cls: type[DockerCommand] = DockerCommand,
    register: bool = True,
) -> Callable[[Callable[..., Any]], DockerCommand]:
    """A compose subcommand; positional arguments arrive as ``args``. ``register`` adds it to
    the group now (the lazily loaded commands are found through ``entries`` instead)."""

    def decorate(function: Callable[..., Any]) -> DockerCommand:
        function = click.argument("args", nargs=-1)(function)
        made = click.command(
            name, cls=cls, help=help_text, usage=usage, min_args=min_args, max_args=max_args
        )(function)
        assert isinstance(made, DockerCommand)
        if register:
            compose_group.add_command(made)
        return made

    return decorate


def main() -> None:
    """The ``wharf-compose`` console script: ``wharf compose`` under another name."""
    from wharf.cli.main import cli

    cli.main(["compose", *sys.argv[1:]], prog_name=BIN)


# --- up, create, down


def _image_options(*, build: bool, no_build: bool, pull: str, quiet: bool = False) -> Any:
    from wharf.compose.images import ImageOptions

    if build and no_build:
        raise CliError("--build and --no-build are incompatible")
    if pull not in ("", "always", "missing", "never", "build"):
        raise CliError(f"invalid --pull option {pull!r}")
    return ImageOptions(build=build, no_build=no_build, pull=pull, quiet=quiet)


def _recreate(force: bool, never: bool) -> Any:
    from wharf.compose.convergence import Recreate

    if force and never:
        raise CliError("--force-recreate and --no-recreate are incompatible")
    return Recreate.FORCE if force else Recreate.NEVER if never else Recreate.DIVERGED


_UP_SHARED = [
    click.option("--build", is_flag=True, help="Build images before starting containers"),
    click.option("--no-build", is_flag=True, help="Don't build an image, even if it's missing"),
    click.option(
        "--force-recreate",
        is_flag=True,
        help="Recreate containers even if their configuration and image haven't changed",
    ),
    click.option(
        "--no-recreate",
        is_flag=True,
        help="If containers already exist, don't recreate them",
    ),
    click.option(
        "--remove-orphans",
        is_flag=True,
        help="Remove containers for services not defined in the Compose file",
    ),
    click.option(
        "--pull",
        default="",
        metavar="string",
        help='Pull image before running ("always"|"missing"|"never")',
    ),
    click.option(
        "--scale",
        multiple=True,
        metavar="scale",
        help="Scale SERVICE to NUM instances. Overrides the scale setting in the Compose file",
    ),
]


def _with(options: list[Callable[[F], F]]) -> Callable[[F], F]:
    def decorate(function: F) -> F:
        for option in reversed(options):
            function = option(function)
        return function

    return decorate


@command("up", "Create and start containers", usage="[OPTIONS] [SERVICE...]")
@_with(_UP_SHARED)
@click.option(
    "-d", "--detach", is_flag=True, help="Detached mode: Run containers in the background"
)
@click.option("--no-deps", is_flag=True, help="Don't start linked services")
@click.option("--no-start", is_flag=True, help="Don't start the services after creating them")
@click.option(
    "--wait", is_flag=True, help="Wait for services to be running|healthy. Implies detached mode."
)
@click.option(
    "--wait-timeout", type=int, default=None, metavar="int",
    help="Maximum duration in seconds to wait for the project to be running|healthy",
)  # fmt: skip
@click.option(
    "--abort-on-container-exit",
    is_flag=True,
    help="Stops all containers if any container was stopped. Incompatible with -d",
)
@click.option(
    "--exit-code-from",
    default="",
    metavar="string",
    help="Return the exit code of the selected service container. Implies "
    "--abort-on-container-exit",
)
@click.option(
    "-t", "--timeout", type=int, default=None, metavar="int",
    help="Use this timeout in seconds for container shutdown when attached or when containers "
    "are already running",
)  # fmt: skip
@click.option("--no-color", is_flag=True, help="Produce monochrome output")
@click.option("--no-log-prefix", is_flag=True, help="Don't print prefix in logs")
@click.option("--quiet-pull", is_flag=True, help="Pull without printing progress information")
def up_command(args: tuple[str, ...], **flags: Any) -> int:
    from wharf.compose.up import UpOptions

    detach = flags["detach"] or flags["wait"]
    exit_code_from = flags["exit_code_from"]
    abort = flags["abort_on_container_exit"] or bool(exit_code_from)
    if detach and abort:
        raise CliError("--abort-on-container-exit and --detach are incompatible")
    options = UpOptions(
        services=args,
        no_deps=flags["no_deps"],
        recreate=_recreate(flags["force_recreate"], flags["no_recreate"]),
        remove_orphans=flags["remove_orphans"],
        scale=_scale(flags["scale"]),
        start=not flags["no_start"],
        wait=flags["wait"],
        wait_timeout=flags["wait_timeout"],
        timeout=_timeout(flags["timeout"]),
        images=_image_options(
            build=flags["build"],
            no_build=flags["no_build"],
            pull=flags["pull"],
            quiet=flags["quiet_pull"],
        ),
    )
    rt = runtime(services=args)
    if exit_code_from and exit_code_from not in rt.project.services:
        raise CliError(f"no such service: {exit_code_from}")
    if detach or flags["no_start"]:
        rt.up(options)
        return 0
    from wharf.cli.compose_attach import attached_up

    return attached_up(
        rt,
        options,
        abort=abort,
        exit_code_from=exit_code_from,
        color=use_color(flags["no_color"]),
        prefix=not flags["no_log_prefix"],
    )


@command("create", "Creates containers for a service", usage="[OPTIONS] [SERVICE...]")
@_with(_UP_SHARED)
def create_command(args: tuple[str, ...], **flags: Any) -> None:
    from wharf.compose.up import UpOptions

    runtime(services=args).up(
        UpOptions(
            services=args,
            recreate=_recreate(flags["force_recreate"], flags["no_recreate"]),
            remove_orphans=flags["remove_orphans"],
            scale=_scale(flags["scale"]),
            start=False,
            images=_image_options(
                build=flags["build"], no_build=flags["no_build"], pull=flags["pull"]
            ),
        )
    )


@command("down", "Stop and remove containers, networks", usage="[OPTIONS] [SERVICES]")
@click.option(
    "--remove-orphans",
    is_flag=True,
    help="Remove containers for services not defined in the Compose file",
)
@click.option(
    "--rmi",
    default="",
    metavar="string",
    help='Remove images used by services. "local" remove only images that don\'t have a custom '
    'tag ("local"|"all")',
)
@click.option(
    "-t", "--timeout", type=int, default=None, metavar="int",
    help="Specify a shutdown timeout in seconds",
)  # fmt: skip
@click.option(
    "-v",
    "--volumes",
    is_flag=True,
    help='Remove named volumes declared in the "volumes" section of the Compose file and '
    "anonymous volumes attached to containers",
)
def down_command(
    args: tuple[str, ...], remove_orphans: bool, rmi: str, timeout: int | None, volumes: bool
) -> None:
    from wharf.compose.down import DownOptions, RemoveImages

    if rmi not in ("", "local", "all"):
        raise CliError(f'invalid value for --rmi: "{rmi}"')
    rt = runtime(require_file=False)
    if args:
        # docker compose down SERVICE: stop and remove just those.
        rt.stop(args, timeout=_timeout(timeout))
        rt.rm(rt.removable(args, stop_first=True), volumes=volumes)
        return
    rt.down(
        DownOptions(
            remove_orphans=remove_orphans,
            volumes=volumes,
            images=RemoveImages(rmi),
            timeout=_timeout(timeout),
        )
    )


# --- lifecycle of existing containers


@command("start", "Start services")
def start_command(args: tuple[str, ...]) -> None:
    runtime(require_file=False).start(args)


@command("stop", "Stop services")
@click.option(
    "-t", "--timeout", type=int, default=None, metavar="int",
    help="Specify a shutdown timeout in seconds",
)  # fmt: skip
def stop_command(args: tuple[str, ...], timeout: int | None) -> None:
    runtime(require_file=False).stop(args, timeout=_timeout(timeout))


@command("restart", "Restart service containers")
@click.option(
    "-t", "--timeout", type=int, default=None, metavar="int",
    help="Specify a shutdown timeout in seconds",
)  # fmt: skip
@click.option("--no-deps", is_flag=True, help="Don't restart dependent services")
def restart_command(args: tuple[str, ...], timeout: int | None, no_deps: bool) -> None:
    del no_deps  # restart acts on the named services only, dependencies or not
    runtime(require_file=False).restart(args, timeout=_timeout(timeout))


@command("kill", "Force stop service containers")
@click.option(
    "-s", "--signal", "signal_name", default="SIGKILL", metavar="string",
    help='SIGNAL to send to the container (default "SIGKILL")',
)  # fmt: skip
@click.option(
    "--remove-orphans",
    is_flag=True,
    help="Remove containers for services not defined in the Compose file",
)
def kill_command(args: tuple[str, ...], signal_name: str, remove_orphans: bool) -> None:
    del remove_orphans
    runtime(require_file=False).kill(args, signal=signal_name)


@command("pause", "Pause services")
def pause_command(args: tuple[str, ...]) -> None:
    runtime(require_file=False).pause(args)


@command("unpause", "Unpause services")
def unpause_command(args: tuple[str, ...]) -> None:
    runtime(require_file=False).unpause(args)


@command("rm", "Removes stopped service containers")
@click.option("-f", "--force", is_flag=True, help="Don't ask to confirm removal")
@click.option(
    "-s", "--stop", is_flag=True, help="Stop the containers, if required, before removing"
)
@click.option(
    "-v", "--volumes", is_flag=True, help="Remove any anonymous volumes attached to containers"
)
def rm_command(args: tuple[str, ...], force: bool, stop: bool, volumes: bool) -> None:
    rt = runtime(require_file=False)
    found = rt.removable(args, stop_first=stop)
    if not found:
        err("No stopped containers")
        return
    if not force:
        names = ", ".join(c.name for c in found)
        if not click.confirm(f"Going to remove {names}\nAre you sure?", default=False, err=True):
            return
    rt.rm(found, stop_first=stop, volumes=volumes)
