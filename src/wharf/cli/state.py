"""What every command shares: global flags, the way to get a client, and the terminal.

``CliState`` is the click context object. Its ``client()`` connects on first use (commands
that never talk to the daemon never import the client), through ``client_factory`` when one is
given: that is the seam tests use (``CliRunner().invoke(cli, args, obj=CliState(...))``) to put
a fake transport under the real commands. ``stdin_isatty``/``stdout_isatty`` and ``now`` are
seams too, for the terminal checks (``save``, ``load``) and "3 minutes ago".

Imports click and the standard library at module level; ``wharf.client`` only when connecting.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from wharf.client.api import EngineClient


def _stdin_isatty() -> bool:
    return sys.stdin.isatty()


def _stdout_isatty() -> bool:
    return sys.stdout.isatty()


class CliState:
    """The click context object (a plain class: ``dataclasses`` costs start-up time)."""

    def __init__(
        self,
        *,
        host: str | None = None,
        debug: bool = False,
        client_factory: Callable[[CliState], EngineClient] | None = None,
        stdin_isatty: Callable[[], bool] = _stdin_isatty,
        stdout_isatty: Callable[[], bool] = _stdout_isatty,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.host = host
        self.debug = debug
        self.client_factory = client_factory
        self.stdin_isatty = stdin_isatty
        self.stdout_isatty = stdout_isatty
        self.now = now
        self._client: EngineClient | None = None

    def client(self) -> EngineClient:
        if self._client is None:
            if self.client_factory is not None:
                self._client = self.client_factory(self)
            else:
                from wharf.client.connect import connect

                self._client = connect(self.host)
        return self._client


def state() -> CliState:
    """The current command's ``CliState``."""
    ctx = click.get_current_context()
    return ctx.ensure_object(CliState)
