"""``exec``: run a command in a running container, as the docker CLI does.

Requests: ``GET /containers/{id}/json`` (so "No such container" comes first, and before an exec
is created that could leak), ``POST /containers/{id}/exec`` (Cmd, Env, User, WorkingDir,
Privileged, Tty, AttachStdin/out/err, DetachKeys, ConsoleSize with ``-t``), then either
``POST /exec/{id}/start`` with ``{"Detach": true}`` (``-d``) or the same start hijacked, the
session (``cli.attach``; resized through ``POST /exec/{id}/resize``), and
``GET /exec/{id}/json``, whose ``ExitCode`` becomes ours. Typing the detach keys ends the session
with docker's ``read escape sequence`` (exit 1).

Imports click, the standard library, ``wharf.client`` and ``wharf.cli``.
"""

from __future__ import annotations

import click

from wharf.cli.attach import (
    ESCAPE_MESSAGE,
    Terminal,
    check_tty,
    console_size,
    process_io,
    run_session,
)
from wharf.cli.command import BIN, CliError
from wharf.cli.opts import OptionError, read_kv_env, validate_env
from wharf.cli.run_options import GoFlag, PassthroughCommand
from wharf.cli.state import state
from wharf.client.container_spec import ExecSpec
from wharf.client.errors import StreamError
from wharf.client.streams import PumpEnd


@click.command(
    "exec",
    cls=PassthroughCommand,
    help="Execute a command in a running container",
    usage="[OPTIONS] CONTAINER COMMAND [ARG...]",
    aliases=(f"{BIN} container exec", f"{BIN} exec"),
    min_args=2,
    max_args=None,
)
@click.argument("args", nargs=-1)
@click.option("-d", "--detach", is_flag=True, help="Detached mode: run command in the background")
@click.option(
    "--detach-keys",
    default="",
    metavar="string",
    help="Override the key sequence for detaching a container",
)
@click.option(
    "-e",
    "--env",
    multiple=True,
    metavar="list",
    type=GoFlag(validate_env, "list"),
    help="Set environment variables",
)
@click.option(
    "--env-file", multiple=True, metavar="list", help="Read in a file of environment variables"
)
@click.option("-i", "--interactive", is_flag=True, help="Keep STDIN open even if not attached")
@click.option("--privileged", is_flag=True, help="Give extended privileges to the command")
@click.option("-t", "--tty", is_flag=True, help="Allocate a pseudo-TTY")
@click.option(
    "-u",
    "--user",
    default="",
    metavar="string",
    help='Username or UID (format: "<name|uid>[:<group|gid>]")',
)
@click.option(
    "-w", "--workdir", default="", metavar="string", help="Working directory inside the container"
)
def exec_command(
    args: tuple[str, ...],
    detach: bool,
    detach_keys: str,
    env: tuple[str, ...],
    env_file: tuple[str, ...],
    interactive: bool,
    privileged: bool,
    tty: bool,
    user: str,
    workdir: str,
) -> int:
    cli_state = state()
    container, command = args[0], args[1:]
    try:
        environment = read_kv_env(env_file, env)
    except OptionError as exc:
        raise CliError(exc.message) from exc
    client = cli_state.client()
    client.container_inspect(container)
    attach_stdin = interactive and not detach
    if not detach:
        check_tty(cli_state, attach_stdin=attach_stdin, tty=tty)
    terminal = Terminal()
    size = console_size(cli_state, terminal) if tty else None
    spec = ExecSpec(
        cmd=command,
        env=environment,
        user=user,
        working_dir=workdir,
        privileged=privileged,
        tty=tty,
        attach_stdin=attach_stdin,
        attach_stdout=not detach,
        attach_stderr=not detach,
        detach_keys=detach_keys,
        console_size=size,
    )
    exec_id = client.exec_create(container, spec)
    if detach:
        client.exec_start_detached(exec_id, tty=tty)
        return 0
    conn = client.exec_attach(exec_id, tty=tty, console_size=size)
    resize = None
    if tty and cli_state.stdout_isatty():

        def resize_exec(height: int, width: int) -> None:
            client.exec_resize(exec_id, height=height, width=width)

        resize = resize_exec
    try:
        end = run_session(
            conn,
            process_io(stdin=attach_stdin, stdout=True, stderr=True, tty=tty),
            tty=tty,
            detach_keys=detach_keys,
            terminal=terminal,
            resize=resize,
        )
    except StreamError as exc:
        raise CliError(exc.message) from exc
    finally:
        conn.close()
    if end is PumpEnd.DETACHED:
        raise CliError(ESCAPE_MESSAGE)
    inspected = client.exec_inspect(exec_id)
    return inspected.exit_code or 0
