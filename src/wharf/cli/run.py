"""``run`` and ``create``: the docker CLI's flow, request for request.

``create``: ``POST /containers/create``; a 404 (image unknown) prints ``Unable to find image
'busybox:latest' locally``, pulls (``POST /images/create?fromImage=docker.io/library/busybox
&tag=latest``, progress on stderr unless ``-q``) and creates again (``--pull missing``, the
default; ``always`` pulls first, ``never`` never pulls). ``--cidfile`` gets the id.

``run`` = create, then for an attached run:
``POST /containers/{id}/attach?stream=1&stdout=1&stderr=1[&stdin=1]`` (hijacked) *before*
``POST /containers/{id}/wait?condition=next-exit`` (``removed`` with ``--rm``), both before
``POST /containers/{id}/start``; then the session (``cli.attach``) until the output ends, and
the exit code is the container's. ``-d`` prints the full id and returns at once.

Failures, as docker reports them: bad flag combinations and values, and create or pull errors
print ``wharf: <error>.`` + ``See 'wharf run --help'.``; a start error prints ``wharf: <error>.``
alone. The exit code is 125, except 127 when the error says ``executable file not found`` or
``no such file or directory`` and 126 for ``permission denied`` or ``is a directory`` (docker
decides from the message text; the engine writes it so).

Imports click, the standard library, ``wharf.client``, ``wharf.oci.reference`` and ``wharf.cli``.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Iterator
from typing import Any

import click

from wharf.cli.attach import (
    Terminal,
    check_tty,
    console_size,
    exit_status,
    process_io,
    run_session,
)
from wharf.cli.command import BIN, CliError, err, out
from wharf.cli.opts import PULL_ALWAYS, PULL_NEVER, OptionError, validate_pull
from wharf.cli.progress import display
from wharf.cli.run_options import CreateFlags, PassthroughCommand, build_spec, container_options
from wharf.cli.state import CliState, state
from wharf.client.api import EngineClient
from wharf.client.container_spec import ContainerSpec
from wharf.client.containers import WaitCondition
from wharf.client.errors import DaemonError, StreamError
from wharf.client.streams import PumpEnd
from wharf.errdefs import InvalidArgument, NotFound, WharfError


def run_error(message: str, *, command: str, with_help: bool) -> None:
    """docker's ``reportError``: ``wharf: <message>.`` and maybe ``See 'wharf run --help'.``"""
    text = f"{BIN}: {message.removesuffix('.')}."
    if with_help:
        text += f"\nSee '{BIN} {command} --help'."
    err(text)


def error_text(exc: BaseException) -> str:
    """The error as docker's client words it (``Error response from daemon: ...``)."""
    if isinstance(exc, DaemonError):
        return f"Error response from daemon: {exc.message}"
    if isinstance(exc, WharfError):
        return exc.message
    return str(exc)


def start_error_code(message: str) -> int:
    """docker's ``runStartContainerErr``: 127 not found, 126 not executable, else 125."""
    trimmed = message.removeprefix("Error response from daemon: ")
    if any(
        text in trimmed
        for text in (
            "executable file not found",
            "no such file or directory",
            "system cannot find the file specified",
        )
    ):
        return 127
    if "permission denied" in trimmed or "is a directory" in trimmed:
        return 126
    return 125


# --- create, with the pull on a missing image


class _CidFile:
    """``--cidfile``: refused if it exists; written with the id; removed if create fails."""

    def __init__(self, path: str) -> None:
        self.path = path
        if not path:
            return
        if os.path.exists(path):
            raise CliError(
                f"container ID file found, make sure the other container isn't running "
                f"or delete {path}"
            )
        try:
            with open(path, "x"):
                pass
        except OSError as exc:
            raise CliError(f"failed to create the container ID file: {exc.strerror}") from exc

    def write(self, container_id: str) -> None:
        if self.path:
            with open(self.path, "w") as handle:
                handle.write(container_id)

    def discard(self) -> None:
        if self.path:
            with contextlib.suppress(OSError):
                os.remove(self.path)


# One docker.io path component with an optional tag: a strict subset of what
# ``oci.reference.parse_normalized`` accepts (no ``/``, so no domain; lower case only; the
# length bound keeps ``library/<name>`` under the 255-character path limit).
_PLAIN_REFERENCE = re.compile(
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?::\w[\w.-]{0,127})?", re.ASCII
)
_PLAIN_MAX = 200


def plainly_valid(image: str) -> bool:
    """True only for references the full parser is sure to accept (``busybox``, ``alpine:3``).

    ``run`` validates the image reference before any request; for these it can leave the
    parsing (and the import of ``oci.reference``, with ``hashlib`` behind it) until a pull
    actually needs the parsed name.
    """
    return len(image) <= _PLAIN_MAX and _PLAIN_REFERENCE.fullmatch(image) is not None


def _pull_target(image: str) -> tuple[str, str, str] | None:
    """(fromImage, tag, familiar name) to pull ``image``, or None for an image id."""
    from wharf.oci.reference import parse_normalized

    bare = image.removeprefix("sha256:")
    if len(bare) == 64 and all(c in "0123456789abcdef" for c in bare):
        return None
    try:
        reference = parse_normalized(image).with_default_tag()
    except InvalidArgument as exc:
        raise InvalidArgument(exc.message) from None
    tag = str(reference.digest) if reference.digest is not None else reference.tag or ""
    return reference.name, tag, reference.familiar()


def pull_image(client: EngineClient, image: str, *, platform: str, quiet: bool) -> None:
    target = _pull_target(image)
    if target is None:
        raise NotFound(f"No such image: {image}")
    repo, tag, _ = target
    messages = client.image_pull(repo, tag, platform=platform)
    if quiet:
        for _ in messages:
            pass
        return
    sys.stdout.flush()
    display(messages, sys.stderr, terminal=sys.stderr.isatty())


def create_container(
    client: EngineClient,
    spec: ContainerSpec,
    *,
    name: str,
    platform: str,
    pull: str,
    quiet: bool,
    cidfile: str,
) -> str:
    """docker's ``createContainer``: create, pulling first or on a 404 as ``pull`` says."""
    image = spec.config.image
    # A reference that may be invalid is parsed now: its error must come before any request.
    deferred = plainly_valid(image)
    parsed = None if deferred else _pull_target(image)

    def pull_target() -> tuple[str, str, str] | None:
        return _pull_target(image) if deferred else parsed

    cid = _CidFile(cidfile)
    try:
        if pull == PULL_ALWAYS and pull_target() is not None:
            pull_image(client, spec.config.image, platform=platform, quiet=quiet)
        try:
            created = client.container_create(spec, name=name, platform=platform)
        except NotFound as exc:
            target = pull_target()
            # Only a missing image is worth a pull (not, say, a missing network).
            if (
                target is None
                or pull in (PULL_NEVER, PULL_ALWAYS)
                or "no such image" not in exc.message.lower()
            ):
                raise
            if not quiet:
                err(f"Unable to find image '{target[2]}' locally")
            pull_image(client, spec.config.image, platform=platform, quiet=quiet)
            created = client.container_create(spec, name=name, platform=platform)
        for warning in created.warnings:
            err(f"WARNING: {warning}")
        cid.write(created.id)
        return created.id
    except BaseException:
        cid.discard()
        raise


def _spec(
    flags: CreateFlags,
    args: tuple[str, ...],
    *,
    command: str,
    detach: bool,
    cli_state: CliState,
    terminal: Terminal,
) -> ContainerSpec:
    try:
        validate_pull(flags.pull)
        return build_spec(
            flags,
            args[0],
            args[1:],
            detach=detach,
            console_size=console_size(cli_state, terminal),
        )
    except OptionError as exc:
        run_error(exc.message, command=command, with_help=True)
        raise click.exceptions.Exit(125) from None


# --- the commands

_RUN_ONLY = {
    "detach": click.option(
        "-d",
        "--detach",
        is_flag=True,
        default=False,
        help="Run container in background and print container ID",
    ),
    "detach-keys": click.option(
        "--detach-keys",
        default="",
        metavar="string",
        help="Override the key sequence for detaching a container",
    ),
    "sig-proxy": click.option(
        "--sig-proxy", is_flag=True, default=True, help="Proxy received signals to the process"
    ),
}


@click.command(
    "create",
    cls=PassthroughCommand,
    hostname_flag=True,
    help="Create a new container",
    usage="[OPTIONS] IMAGE [COMMAND] [ARG...]",
    aliases=(f"{BIN} container create", f"{BIN} create"),
    min_args=1,
    max_args=None,
)
@click.argument("args", nargs=-1)
@container_options()
def create_command(args: tuple[str, ...], **params: Any) -> int:
    cli_state = state()
    flags = CreateFlags.from_params(params)
    # Like docker's, the record says what a later ``start -a`` attaches (stdout, stderr, -i).
    spec = _spec(
        flags, args, command="create", detach=False, cli_state=cli_state, terminal=Terminal()
    )
    container_id = create_container(
        cli_state.client(),
        spec,
        name=flags.name,
        platform=flags.platform,
        pull=validate_pull(flags.pull),
        quiet=flags.quiet,
        cidfile=flags.cidfile,
    )
    out(container_id)
    return 0


@click.command(
    "run",
    cls=PassthroughCommand,
    hostname_flag=True,
    help="Create and run a new container from an image",
    usage="[OPTIONS] IMAGE [COMMAND] [ARG...]",
    aliases=(f"{BIN} container run", f"{BIN} run"),
    min_args=1,
    max_args=None,
)
@click.argument("args", nargs=-1)
@container_options(_RUN_ONLY)
def run_command(
    args: tuple[str, ...], detach: bool, detach_keys: str, sig_proxy: bool, **params: Any
) -> int:
    cli_state = state()
    flags = CreateFlags.from_params(params)
    terminal = Terminal()
    spec = _spec(flags, args, command="run", detach=detach, cli_state=cli_state, terminal=terminal)
    config = spec.config
    if not detach:
        check_tty(cli_state, attach_stdin=config.attach_stdin, tty=config.tty)
    client = cli_state.client()
    try:
        container_id = create_container(
            client,
            spec,
            name=flags.name,
            platform=flags.platform,
            pull=validate_pull(flags.pull),
            quiet=flags.quiet,
            cidfile=flags.cidfile,
        )
    except (WharfError, CliError) as exc:
        message = exc.message if isinstance(exc, CliError) else error_text(exc)
        run_error(message, command="run", with_help=True)
        return start_error_code(message)
    return _run_created(
        client,
        cli_state,
        container_id,
        spec,
        detach=detach,
        detach_keys=detach_keys,
        sig_proxy=sig_proxy and not config.tty,
        terminal=terminal,
    )


def _run_created(
    client: EngineClient,
    cli_state: CliState,
    container_id: str,
    spec: ContainerSpec,
    *,
    detach: bool,
    detach_keys: str,
    sig_proxy: bool,
    terminal: Terminal,
) -> int:
    config = spec.config
    attached = config.attach_stdin or config.attach_stdout or config.attach_stderr
    if not config.attach_stdout and not config.attach_stderr:
        out(container_id)
        sys.stdout.flush()
    if detach:
        try:
            client.container_start(container_id)
        except WharfError as exc:
            message = error_text(exc)
            run_error(message, command="run", with_help=False)
            return start_error_code(message)
        return 0
    conn = None
    if attached:
        conn = client.container_attach(
            container_id,
            stdin=config.attach_stdin,
            stdout=config.attach_stdout,
            stderr=config.attach_stderr,
            detach_keys=detach_keys,
        )
    with _closing(conn):
        condition = (
            WaitCondition.REMOVED if spec.host_config.auto_remove else WaitCondition.NEXT_EXIT
        )
        waiter = client.container_wait(container_id, condition)
        try:
            client.container_start(container_id)
        except WharfError as exc:
            if conn is not None:
                conn.close()
            message = error_text(exc)
            run_error(message, command="run", with_help=False)
            if spec.host_config.auto_remove:
                with contextlib.suppress(WharfError):
                    waiter.result()
            else:
                waiter.close()
            return start_error_code(message)
        if conn is None:
            return exit_status(waiter)
        resize = None
        if config.tty and cli_state.stdout_isatty():

            def resize_container(height: int, width: int) -> None:
                client.container_resize(container_id, height=height, width=width)

            resize = resize_container
        forward = None
        if sig_proxy:

            def forward_signal(name: str) -> None:
                client.container_kill(container_id, signal=name)

            forward = forward_signal
        try:
            end = run_session(
                conn,
                process_io(
                    stdin=config.attach_stdin,
                    stdout=config.attach_stdout,
                    stderr=config.attach_stderr,
                    tty=config.tty,
                ),
                tty=config.tty,
                detach_keys=detach_keys,
                terminal=terminal,
                resize=resize,
                forward=forward,
            )
        except StreamError as exc:
            waiter.close()
            raise CliError(exc.message) from exc
        if end is PumpEnd.DETACHED:
            waiter.close()
            return 0
    return exit_status(waiter)


@contextlib.contextmanager
def _closing(conn: Any) -> Iterator[None]:
    try:
        yield
    finally:
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.close()
