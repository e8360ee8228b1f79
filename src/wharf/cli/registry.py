"""``wharf registry ...``: runs the built-in OCI registry server (``wharf.registry``).

The registry is its own process with its own storage, not a client of wharfd: this command
becomes that process (exec of ``python -m wharf.registry``), so the CLI never imports the
server side (the import-linter contract on ``wharf.cli`` holds).
"""

from __future__ import annotations

import os
import sys

import click


@click.command(
    "registry",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,
    help="Run the built-in OCI registry (serve, gc, htpasswd)",
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def registry_command(args: tuple[str, ...]) -> None:
    argv = [sys.executable, "-m", "wharf.registry", *args]
    os.execv(sys.executable, argv)
