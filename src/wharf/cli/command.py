"""Click commands that behave like the docker CLI's cobra commands.

- Help looks like docker's (``Usage:  wharf image ls [OPTIONS] [REPOSITORY[:TAG]]``, the short
  description, ``Aliases:``, ``Options:`` with pflag's column layout).
- Positional arguments are counted the docker way (``wharf: 'wharf tag' requires 2
  arguments`` + usage, exit 1); flag errors read ``unknown flag: --foo`` + usage, exit 125.
- Boolean flags also accept Go's ``--flag=false`` / ``-f=true`` spelling.
- ``LazyGroup`` imports a command's module only when that command runs, so ``wharf version``
  never pays for the image commands (start-up latency is a feature of the CLI).
- ``CliError`` is a failure the CLI reports as one line (or a few) on stderr with an exit code.

Imports click and the standard library only (not even ``dataclasses``: start-up time).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, TypeVar

import click

BIN = "wharf"
FLAG_ERROR_EXIT = 125
_TRUE = ("1", "t", "T", "true", "TRUE", "True")
_FALSE = ("0", "f", "F", "false", "FALSE", "False")

F = TypeVar("F", bound=Callable[..., Any])


class CliError(Exception):
    """An error printed verbatim to stderr (no "Error:" prefix added), then exit."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def out(text: str = "", *, nl: bool = True) -> None:
    """Write to stdout as docker does (no ANSI stripping, no encoding surprises)."""
    sys.stdout.write(text + ("\n" if nl else ""))


def err(text: str) -> None:
    sys.stdout.flush()
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def _use_line(ctx: click.Context, usage: str) -> str:
    return f"{ctx.command_path} {usage}".rstrip()


def _flag_usages(command: click.Command, ctx: click.Context) -> list[str]:
    """pflag's layout: ``  -a, --all   help``; long-only flags indented to line up."""
    rows: list[tuple[str, str]] = []
    for param in command.get_params(ctx):
        if not isinstance(param, click.Option) or param.hidden or "--help" in param.opts:
            continue
        longs = [name for name in param.opts if name.startswith("--")]
        shorts = [name for name in param.opts if not name.startswith("--")]
        if not longs:
            continue
        left = f"  {shorts[0]}, {longs[0]}" if shorts else f"      {longs[0]}"
        if not param.is_flag and param.metavar:
            left += f" {param.metavar}"
        help_text = param.help or ""
        if param.is_flag and param.default is True:
            help_text += " (default true)"
        rows.append((left, help_text))
    if not rows:
        return []
    width = max(len(left) for left, _ in rows) + 3
    lines = []
    for left, help_text in rows:
        first, *rest = help_text.split("\n") or [""]
        lines.append(f"{left.ljust(width)}{first}".rstrip())
        lines.extend(" " * width + more for more in rest)
    return lines


class DockerCommand(click.Command):
    """A leaf command; ``usage`` is what follows the command path in the usage line."""

    def __init__(
        self,
        *args: Any,
        usage: str = "[OPTIONS]",
        aliases: Sequence[str] = (),
        min_args: int = 0,
        max_args: int | None = 0,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("context_settings", {})["help_option_names"] = ["-h", "--help"]
        super().__init__(*args, **kwargs)
        self.usage = usage
        self.aliases = tuple(aliases)
        self.min_args = min_args
        self.max_args = max_args

    def get_help(self, ctx: click.Context) -> str:
        parts = [f"\nUsage:  {_use_line(ctx, self.usage)}", "", self.help or ""]
        if self.aliases:
            parts += ["", "Aliases:", f"  {', '.join(self.aliases)}"]
        flags = _flag_usages(self, ctx)
        if flags:
            parts += ["", "Options:", *flags]
        return "\n".join(parts)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        args, overrides = self._go_bools(ctx, args)
        try:
            rest = super().parse_args(ctx, args)
        except click.UsageError as exc:
            raise flag_error(ctx, exc, self.usage) from exc
        ctx.params.update(overrides)
        count = len(ctx.params.get("args") or ())
        self._check_count(ctx, count)
        if self.max_args == 0:
            ctx.params.pop("args", None)  # counted above; the callback takes no arguments
        return rest

    def _go_bools(self, ctx: click.Context, args: list[str]) -> tuple[list[str], dict[str, bool]]:
        """Take ``--flag=false`` spellings out of ``args``; return them as param values."""
        flags: dict[str, str] = {}
        for param in self.get_params(ctx):
            if isinstance(param, click.Option) and param.is_flag and param.name:
                for opt in param.opts:
                    flags[opt] = param.name
        kept: list[str] = []
        overrides: dict[str, bool] = {}
        for index, arg in enumerate(args):
            if arg == "--":
                kept.extend(args[index:])
                break
            name, sep, value = arg.partition("=")
            if sep and name in flags and (value in _TRUE or value in _FALSE):
                overrides[flags[name]] = value in _TRUE
                continue
            kept.append(arg)
        return kept, overrides

    def _check_count(self, ctx: click.Context, count: int) -> None:
        low, high = self.min_args, self.max_args
        if low <= count and (high is None or count <= high):
            return
        path = ctx.command_path
        if high == 0:
            what = f"'{path}' accepts no arguments"
        elif low == high:
            what = f"'{path}' requires {low} argument{'s' if low != 1 else ''}"
        elif high is None:
            what = f"'{path}' requires at least {low} argument{'s' if low != 1 else ''}"
        elif low == 0:
            what = f"'{path}' requires at most {high} argument{'s' if high != 1 else ''}"
        else:
            what = f"'{path}' requires at least {low} and at most {high} arguments"
        raise CliError(
            f"{BIN}: {what}\n\nUsage:  {_use_line(ctx, self.usage)}\n\n"
            f"Run '{path} --help' for more information"
        )


def flag_error(ctx: click.Context, exc: click.UsageError, usage: str) -> CliError:
    """Docker's wording for a bad flag, exit 125."""
    message = exc.format_message()
    if isinstance(exc, click.NoSuchOption):
        name = exc.option_name
        message = (
            f"unknown flag: {name}"
            if name.startswith("--")
            else f"unknown shorthand flag: '{name.lstrip('-')[:1]}' in {name}"
        )
    elif isinstance(exc, click.BadOptionUsage) and "requires an argument" in message:
        name = exc.option_name
        message = (
            f"flag needs an argument: {name}"
            if name.startswith("--")
            else f"flag needs an argument: '{name.lstrip('-')}' in {name}"
        )
    return CliError(
        f"{message}\n\nUsage:  {_use_line(ctx, usage)}\n\n"
        f"Run '{ctx.command_path} --help' for more information",
        FLAG_ERROR_EXIT,
    )


class Entry(NamedTuple):
    """A lazily imported subcommand: ``module:attribute``, its one-line help, its section."""

    target: str
    short: str
    section: str = "Commands"  # or "Common Commands", "Management Commands"


class DockerGroup(click.Group):
    """A command with subcommands (``wharf``, ``wharf image``), subcommands loaded lazily."""

    def __init__(
        self,
        *args: Any,
        entries: dict[str, Entry] | None = None,
        aliases: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("context_settings", {})["help_option_names"] = ["-h", "--help"]
        super().__init__(*args, **kwargs)
        self.entries = dict(entries or {})
        self.alias_of = dict(aliases or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.entries, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        name = self.alias_of.get(cmd_name, cmd_name)
        if name in self.commands:
            return self.commands[name]
        entry = self.entries.get(name)
        if entry is None:
            return None
        module_name, _, attribute = entry.target.partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{entry.target} is not a click command")
        return command

    def short_help_of(self, ctx: click.Context, name: str) -> str:
        if name in self.entries:
            return self.entries[name].short
        command = self.commands[name]
        return command.short_help or (command.help or "").split("\n")[0]

    def section_of(self, name: str) -> str:
        if name in self.entries:
            return self.entries[name].section
        return "Commands"

    def get_help(self, ctx: click.Context) -> str:
        names = self.list_commands(ctx)
        padding = max([11, *(len(name) for name in names)]) + 1
        options = "[OPTIONS] " if ctx.parent is None else ""
        parts = [f"\nUsage:  {ctx.command_path} {options}COMMAND", "", self.help or ""]
        for section in ("Common Commands", "Management Commands", "Commands"):
            members = [name for name in names if self.section_of(name) == section]
            if members:
                parts += ["", f"{section}:"]
                parts += [
                    f"  {name.ljust(padding)}{self.short_help_of(ctx, name)}" for name in members
                ]
        flags = _flag_usages(self, ctx)
        if flags and ctx.parent is None:
            parts += ["", "Global Options:", *flags]
        parts += ["", f"Run '{ctx.command_path} COMMAND --help' for more information on a command."]
        return "\n".join(parts)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args:
            out(self.get_help(ctx))
            ctx.exit(0)
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            raise flag_error(ctx, exc, "[OPTIONS] COMMAND") from exc

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        command = self.get_command(ctx, name)
        if command is None:
            if name.startswith("-"):
                raise flag_error(ctx, click.NoSuchOption(name), "[OPTIONS] COMMAND")
            if ctx.parent is None:
                raise CliError(f"{BIN}: '{name}' is not a {BIN} command.\nSee '{BIN} --help'")
            raise CliError(
                f"{BIN}: unknown command: {ctx.command_path} {name}\n\n"
                f"Usage:  {ctx.command_path} COMMAND\n\n"
                f"Run '{ctx.command_path} --help' for more information"
            )
        return name, command, args[1:]


def docker_command(
    *,
    usage: str = "[OPTIONS]",
    help: str,
    aliases: Sequence[str] = (),
    min_args: int = 0,
    max_args: int | None = 0,
    name: str | None = None,
) -> Callable[[F], DockerCommand]:
    """Declare a docker-like command; positional arguments arrive as ``args: tuple[str, ...]``."""

    def decorate(function: F) -> DockerCommand:
        # Always collect positionals, so that a stray one gets docker's message, not click's.
        function = click.argument("args", nargs=-1)(function)
        command = click.command(
            name,
            cls=DockerCommand,
            help=help,
            usage=usage,
            aliases=aliases,
            min_args=min_args,
            max_args=max_args,
        )(function)
        assert isinstance(command, DockerCommand)
        return command

    return decorate
