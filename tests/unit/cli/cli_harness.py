"""Runs the real ``wharf`` command tree in-process against a scripted daemon (fake transport).

Imported by name (``from cli_harness import ...``); ``conftest.py`` turns ``make_runner`` into
the ``wharf`` fixture. A module of its own because ``conftest`` is not a safe import name when
several test directories have one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from click.testing import CliRunner, Result

from wharf.cli.main import cli
from wharf.cli.state import CliState
from wharf.client.api import EngineClient
from wharf.client.fake import FakeTransport

NOW = 1_700_000_000.0


class RunWharf(Protocol):
    def __call__(
        self,
        transport: FakeTransport | None,
        *args: str,
        input: str | bytes | None = None,
        stdout_tty: bool = False,
        stdin_tty: bool = False,
        client_factory: Callable[[CliState], EngineClient] | None = None,
    ) -> Result: ...


def make_runner() -> RunWharf:
    def run(
        transport: FakeTransport | None,
        *args: str,
        input: str | bytes | None = None,
        stdout_tty: bool = False,
        stdin_tty: bool = False,
        client_factory: Callable[[CliState], EngineClient] | None = None,
    ) -> Result:
        def factory(_state: CliState) -> EngineClient:
            if transport is None:
                raise AssertionError("this command must not talk to the daemon")
            return EngineClient(transport)

        state = CliState(
            client_factory=client_factory or factory,
            stdout_isatty=lambda: stdout_tty,
            stdin_isatty=lambda: stdin_tty,
            now=lambda: NOW,
        )
        return CliRunner().invoke(cli, list(args), obj=state, input=input)

    return run
