"""``wharf login``, ``wharf logout`` and ``wharf push``: registry credentials kept on the
client (Docker's config.json, see ``client.credentials``) and sent as ``X-Registry-Auth``.

``login`` asks the daemon to check the credentials against the registry (``POST /auth``)
and stores them only if it says "Login Succeeded", as the docker CLI does.
"""

from __future__ import annotations

import json
import sys

import click

from wharf.cli.command import BIN, CliError, docker_command, err, out
from wharf.cli.state import state


def _host_of(server: str) -> str:
    host = server.removeprefix("https://").removeprefix("http://").split("/")[0]
    return host or "docker.io"


@docker_command(
    usage="[OPTIONS] [SERVER]",
    help="Authenticate to a registry",
    aliases=(f"{BIN} login",),
    min_args=0,
    max_args=1,
)
@click.option("-u", "--username", default="", metavar="string", help="Username")
@click.option("-p", "--password", default="", metavar="string", help="Password")
@click.option("--password-stdin", is_flag=True, help="Take the password from stdin")
def login_command(
    args: tuple[str, ...], username: str, password: str, password_stdin: bool
) -> None:
    from wharf.client import credentials

    server = args[0] if args else credentials.HUB_KEY
    key = credentials.server_key(_host_of(server) if args else "docker.io")
    if password_stdin:
        if password:
            raise CliError("--password and --password-stdin are mutually exclusive")
        password = sys.stdin.read().rstrip("\n")
    elif password:
        err("WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
    if not username:
        if not state().stdin_isatty():
            raise CliError("Cannot perform an interactive login from a non TTY device")
        username = input("Username: ").strip()
    if not password:
        if not state().stdin_isatty():
            raise CliError("Cannot perform an interactive login from a non TTY device")
        import getpass

        password = getpass.getpass("Password: ")
    if not username or not password:
        raise CliError("Username and password are required")
    body = json.dumps({"username": username, "password": password, "serveraddress": key})
    with (
        state()
        .client()
        .request(
            "POST", "/auth", headers=[("Content-Type", "application/json")], body=body.encode()
        ) as response
    ):
        reply = json.loads(response.read() or b"{}")
    token = str(reply.get("IdentityToken") or "")
    stored = (
        credentials.Credentials("<token>", token, key)
        if token
        else (credentials.Credentials(username, password, key))
    )
    path = credentials.store(stored)
    err(f"WARNING! Your password will be stored unencrypted in {path}.")
    out(str(reply.get("Status") or "Login Succeeded"))


@docker_command(
    usage="[SERVER]",
    help="Log out from a registry",
    aliases=(f"{BIN} logout",),
    min_args=0,
    max_args=1,
)
def logout_command(args: tuple[str, ...]) -> None:
    from wharf.client import credentials

    key = credentials.server_key(_host_of(args[0]) if args else "docker.io")
    if credentials.erase(key):
        out(f"Removing login credentials for {key}")
    else:
        out(f"Not logged in to {key}")


@docker_command(
    usage="[OPTIONS] NAME[:TAG]",
    help="Upload an image to a registry",
    aliases=(f"{BIN} image push", f"{BIN} push"),
    min_args=1,
    max_args=1,
)
@click.option("-q", "--quiet", is_flag=True, help="Suppress verbose output")
@click.option("-a", "--all-tags", is_flag=True, help="Push all tags of an image to the repository")
def push_command(args: tuple[str, ...], quiet: bool, all_tags: bool) -> None:
    from wharf.cli.progress import display
    from wharf.client import credentials
    from wharf.client.api import _json_messages
    from wharf.client.errors import StreamError
    from wharf.errdefs import InvalidArgument
    from wharf.oci.reference import parse_normalized

    (name,) = args
    try:
        reference = parse_normalized(name)
    except InvalidArgument as exc:
        raise CliError(f"invalid reference format: {exc.message}") from None
    if all_tags:
        raise CliError("push --all-tags is not supported yet")
    if reference.tag is None:
        if not quiet:
            out("Using default tag: latest")
        reference = reference.with_default_tag()
    auth = credentials.registry_auth_header(credentials.load(reference.domain))
    response = (
        state()
        .client()
        .request(
            "POST",
            f"/images/{reference.name}/push",
            query=[("tag", reference.tag or "latest")],
            headers=[("X-Registry-Auth", auth)],
        )
    )
    try:
        messages = _json_messages(response)
        if quiet:
            for _ in messages:
                pass
        else:
            display(messages, sys.stdout, terminal=state().stdout_isatty())
    except StreamError as exc:
        raise CliError(exc.message) from exc
