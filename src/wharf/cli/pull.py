"""``wharf pull``: download an image through the daemon, drawing Docker's progress lines.

Output as the docker CLI prints it: "Using default tag: latest" when no tag was given, one
line per layer and state (bars on a terminal), then the digest, the status and the full name.
"""

from __future__ import annotations

import sys

import click

from wharf.cli.command import BIN, CliError, docker_command, out
from wharf.cli.progress import display
from wharf.cli.state import state


@docker_command(
    usage="[OPTIONS] NAME[:TAG|@DIGEST]",
    help="Download an image from a registry",
    aliases=(f"{BIN} image pull", f"{BIN} pull"),
    min_args=1,
    max_args=1,
)
@click.option("-q", "--quiet", is_flag=True, help="Suppress verbose output")
@click.option(
    "--platform",
    default="",
    metavar="string",
    help="Set platform if server is multi-platform capable",
)
@click.option("-a", "--all-tags", is_flag=True, help="Download all tagged images in the repository")
def pull_command(args: tuple[str, ...], quiet: bool, platform: str, all_tags: bool) -> None:
    from wharf.client.errors import StreamError
    from wharf.errdefs import InvalidArgument
    from wharf.oci.reference import parse_normalized

    (name,) = args
    try:
        reference = parse_normalized(name)
    except InvalidArgument as exc:
        raise CliError(f"invalid reference format: {exc.message}") from None
    if all_tags:
        if reference.tag is not None or reference.digest is not None:
            raise CliError("tag can't be used with --all-tags/-a")
        messages = state().client().image_pull(reference.name, "", platform=platform)
        try:
            display(messages, sys.stdout, terminal=state().stdout_isatty())
        except StreamError as exc:
            raise CliError(exc.message) from exc
        out(reference.name)
        return
    if reference.tag is None and reference.digest is None:
        if not quiet:
            out("Using default tag: latest")
        reference = reference.with_default_tag()
    tag = str(reference.digest) if reference.digest is not None else (reference.tag or "latest")
    from wharf.client import credentials

    auth = credentials.registry_auth_header(credentials.load(reference.domain))
    messages = (
        state().client().image_pull(reference.name, tag, platform=platform, registry_auth=auth)
    )
    try:
        if quiet:
            for _ in messages:
                pass
        else:
            display(messages, sys.stdout, terminal=state().stdout_isatty())
    except StreamError as exc:
        raise CliError(exc.message) from exc
    out(str(reference))
