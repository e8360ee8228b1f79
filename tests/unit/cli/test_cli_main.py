"""The root command: help, docker-style usage errors and exit codes, error reporting, start-up."""

from __future__ import annotations

import subprocess
import sys

import pytest
from cli_harness import RunWharf

from wharf import __version__
from wharf.cli.state import CliState
from wharf.client.api import EngineClient
from wharf.client.errors import DaemonUnreachable, UnreachableReason
from wharf.client.fake import FakeTransport, error_response, json_response
from wharf.errdefs import InvalidArgument


def test_help_lists_commands_by_section(wharf: RunWharf) -> None:
    result = wharf(None, "--help")
    assert result.exit_code == 0
    text = result.stdout
    assert text.startswith("\nUsage:  wharf [OPTIONS] COMMAND\n")
    for heading in ("Common Commands:", "Management Commands:", "Commands:", "Global Options:"):
        assert heading in text
    assert "  images      List images\n" in text
    assert "  -H, --host string" in text
    assert "-h, --help" not in text


def test_no_command_prints_help(wharf: RunWharf) -> None:
    result = wharf(None)
    assert result.exit_code == 0
    assert "Usage:  wharf [OPTIONS] COMMAND" in result.stdout


def test_command_help_has_usage_aliases_and_options(wharf: RunWharf) -> None:
    result = wharf(None, "image", "ls", "--help")
    assert result.exit_code == 0
    assert result.stdout.startswith(
        "\nUsage:  wharf image ls [OPTIONS] [REPOSITORY[:TAG]]\n\nList images\n"
    )
    assert "Aliases:\n  wharf image ls, wharf image list, wharf images\n" in result.stdout
    assert "  -a, --all             Show all images" in result.stdout
    assert "      --digests         Show digests" in result.stdout


def test_version_flag(wharf: RunWharf) -> None:
    result = wharf(None, "-v")
    assert (result.exit_code, result.stdout) == (0, f"Wharf version {__version__}\n")


def test_unknown_command(wharf: RunWharf) -> None:
    result = wharf(None, "frobnicate")
    assert result.exit_code == 1
    assert result.stderr == "wharf: 'frobnicate' is not a wharf command.\nSee 'wharf --help'\n"


def test_unknown_subcommand(wharf: RunWharf) -> None:
    result = wharf(None, "image", "frob")
    assert result.exit_code == 1
    assert result.stderr.startswith("wharf: unknown command: wharf image frob\n")


@pytest.mark.parametrize(
    ("args", "first_line"),
    [
        (["images", "--bogus"], "unknown flag: --bogus"),
        (["images", "-z"], "unknown shorthand flag: 'z' in -z"),
        (["images", "--format"], "flag needs an argument: --format"),
        (["--bogus", "images"], "unknown flag: --bogus"),
    ],
)
def test_flag_errors_exit_125_with_usage(wharf: RunWharf, args: list[str], first_line: str) -> None:
    result = wharf(None, *args)
    assert result.exit_code == 125
    lines = result.stderr.splitlines()
    assert lines[0] == first_line
    assert lines[2].startswith("Usage:  wharf")
    assert lines[-1].startswith("Run 'wharf")


def test_argument_count_errors_exit_1(wharf: RunWharf) -> None:
    result = wharf(None, "tag", "only-one")
    assert result.exit_code == 1
    assert result.stderr == (
        "wharf: 'wharf tag' requires 2 arguments\n\n"
        "Usage:  wharf tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]\n\n"
        "Run 'wharf tag --help' for more information\n"
    )
    assert "accepts no arguments" in wharf(None, "version", "x").stderr
    assert "requires at least 1 argument" in wharf(None, "rmi").stderr


def test_go_style_boolean_flags(wharf: RunWharf) -> None:
    daemon = FakeTransport().on("GET", "/images/json", lambda _r: json_response([]))
    assert wharf(daemon, "images", "--all=false", "-q=true").exit_code == 0
    assert wharf(daemon, "images", "--all=true").exit_code == 0
    calls = daemon.calls()
    assert calls[0].param("all") is None
    assert calls[1].param("all") == "1"


def test_daemon_errors_say_so(wharf: RunWharf) -> None:
    daemon = FakeTransport().on("GET", "/images/json", error_response(500, "disk on fire"))
    result = wharf(daemon, "images")
    assert (result.exit_code, result.stderr) == (1, "Error response from daemon: disk on fire\n")


def test_unreachable_daemon_message(wharf: RunWharf) -> None:
    message = (
        "Cannot connect to the Wharf daemon at unix:///run/wharf/wharf.sock. "
        "Is the wharf daemon running?"
    )

    def down(_state: CliState) -> EngineClient:
        raise DaemonUnreachable(message, reason=UnreachableReason.MISSING, host="unix:///x")

    result = wharf(None, "images", client_factory=down)
    assert (result.exit_code, result.stderr) == (1, message + "\n")


def test_client_side_errors_print_their_message(wharf: RunWharf) -> None:
    def bad(_state: CliState) -> EngineClient:
        raise InvalidArgument("invalid host 'ssh://x': wharf supports unix:///path")

    result = wharf(None, "images", client_factory=bad)
    assert (result.exit_code, result.stderr) == (
        1,
        "invalid host 'ssh://x': wharf supports unix:///path\n",
    )


def test_unexpected_exceptions_never_print_a_traceback(wharf: RunWharf) -> None:
    def boom(_state: CliState) -> EngineClient:
        raise RuntimeError("kaboom")

    result = wharf(None, "images", client_factory=boom)
    assert result.exit_code == 1
    assert result.stderr == "Error: RuntimeError: kaboom (run with --debug for details)\n"
    debug = wharf(None, "--debug", "images", client_factory=boom)
    assert "Traceback" in debug.stderr


def test_host_flag_reaches_the_state(wharf: RunWharf) -> None:
    seen: list[str | None] = []

    def capture(state: CliState) -> EngineClient:
        seen.append(state.host)
        return EngineClient(FakeTransport().on("GET", "/images/json", json_response([])))

    wharf(None, "-H", "unix:///tmp/x.sock", "images", client_factory=capture)
    assert seen == ["unix:///tmp/x.sock"]


def _run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )


def test_startup_imports_stay_small() -> None:
    probe = _run_python(
        "import sys, wharf.cli.main\n"
        "heavy = {'aiohttp', 'rich', 'json', 'http.client', 'wharf.client.api', 'dataclasses',"
        " 'wharf.cli.images', 'wharf.cli.templates', 'subprocess', 'asyncio'}\n"
        "print(sorted(heavy & set(sys.modules)))"
    )
    assert probe.stdout.strip() == "[]"


def test_python_dash_m_runs_the_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "wharf.cli", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout) == (0, f"Wharf version {__version__}\n")
