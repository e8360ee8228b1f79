"""Syntax tree node → typed instruction, with Docker's checks and messages.

Imports: stdlib, ``.errors``, ``.flags``, ``.heredoc``, ``.instructions``, ``.mounts``,
``.shell``, ``.syntax``, ``.units``, ``.words``.

Each converter reads one ``Node``: it checks the builder flags the instruction accepts,
shapes the arguments (JSON or shell form, whitespace list, quote-aware words) and raises
``Invalid`` with BuildKit's reason; ``convert`` adds the line. Checks BuildKit leaves to
dispatch time but that need no variables (an ONBUILD trigger's own syntax, RUN mounts
without ``$``, no variables in ``COPY --from``) are made here, so a bad Dockerfile fails
before anything runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from wharf.builder.dockerfile.errors import DockerfileError, Invalid, go_quote, with_suggestion
from wharf.builder.dockerfile.flags import FlagKind, ParsedFlags, parse_flags
from wharf.builder.dockerfile.heredoc import Heredoc, Marker, chomp, parse_marker
from wharf.builder.dockerfile.instructions import (
    AddInstruction,
    ArgInstruction,
    CmdInstruction,
    Command,
    CopyInstruction,
    EntrypointInstruction,
    EnvInstruction,
    ExecCommand,
    ExposeInstruction,
    FromInstruction,
    HealthcheckInstruction,
    Instruction,
    LabelInstruction,
    MaintainerInstruction,
    OnbuildInstruction,
    RunInstruction,
    ShellCommand,
    ShellInstruction,
    StopsignalInstruction,
    UserInstruction,
    VolumeInstruction,
    WorkdirInstruction,
    parse_mounts,
)
from wharf.builder.dockerfile.shell import ExpansionError, expand_word, strip_space
from wharf.builder.dockerfile.syntax import Node, RawHeredoc, healthcheck_parts
from wharf.builder.dockerfile.units import parse_duration_ns
from wharf.builder.dockerfile.words import (
    parse_name_values,
    parse_words,
    split_whitespace,
)

_STAGE_NAME = re.compile(r"[a-z][a-z0-9\-_.]*\Z")
_ONBUILD_PREFIX = re.compile(r"^[\t\n\v\f\r ]*ONBUILD[\t\n\v\f\r ]*", re.I)
_NETWORKS = ("default", "none", "host")
_SECURITY = ("sandbox", "insecure")
_B, _S, _M = FlagKind.BOOL, FlagKind.STRING, FlagKind.STRINGS
_COPY_FLAGS = {"chown": _S, "from": _S, "chmod": _S, "link": _B, "exclude": _M, "parents": _B}
_ADD_FLAGS = {
    "chown": _S, "chmod": _S, "link": _B, "keep-git-dir": _B, "checksum": _S, "unpack": _B,
    "exclude": _M,
}  # fmt: skip
_RUN_FLAGS = {"mount": _M, "network": _S, "security": _S}
_HEALTH_FLAGS = {
    "interval": _S, "timeout": _S, "start-period": _S, "start-interval": _S, "retries": _S,
}  # fmt: skip
_LEGACY = (
    '"{keyword} key=value" should be used instead of legacy "{keyword} key value" format '
    "(LegacyKeyValueFormat)"
)
KEYWORDS = (
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
    "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
)  # fmt: skip


def convert(node: Node, escape: str, warnings: list[str] | None = None) -> Instruction:
    """The instruction ``node`` is; lint-style warnings are appended to ``warnings``."""
    try:
        return _convert(node, escape, warnings if warnings is not None else [])
    except Invalid as exc:
        raise DockerfileError(node.line, exc.reason) from None


def _convert(node: Node, escape: str, warnings: list[str]) -> Instruction:
    keyword = node.keyword.upper()
    converter = _CONVERTERS.get(keyword)
    if converter is None:
        reason = f"unknown instruction: {node.keyword}"
        raise Invalid(with_suggestion(reason, node.keyword, list(KEYWORDS), case_sensitive=False))
    return converter(_Request(node, escape, warnings))


class _Request:
    """One node being converted: its flags, its arguments, and the common fields."""

    def __init__(self, node: Node, escape: str, warnings: list[str]) -> None:
        self.node = node
        self.escape = escape
        self.warnings = warnings
        self.line = node.line
        self.source = strip_space(node.original)
        self.rest = node.rest

    def flags(self, accepted: dict[str, FlagKind] | None = None) -> ParsedFlags:
        return parse_flags(self.node.flags, accepted or {})

    def list_args(self) -> list[str]:
        """JSON-form strings, else the whitespace-separated words."""
        if self.node.json is not None:
            return list(self.node.json)
        return split_whitespace(self.rest)

    def command(self) -> Command:
        if self.node.json is not None:
            return ExecCommand(self.node.json)
        return ShellCommand(self.rest)

    def warn(self, message: str) -> None:
        self.warnings.append(f"line {self.line}: {message}")

    def one_argument(self) -> str:
        if not self.rest:
            raise Invalid(f"{self.node.keyword.upper()} requires exactly one argument")
        return self.rest


def _from(req: _Request) -> FromInstruction:
    args = split_whitespace(req.rest)
    name: str | None = None
    if len(args) == 3 and args[1].lower() == "as":
        name = args[2].lower()
        if _STAGE_NAME.match(name) is None:
            raise Invalid(
                f"invalid name for build stage: {go_quote(args[2])}, "
                "name can't start with a number or contain symbols"
            )
    elif len(args) != 1:
        raise Invalid("FROM requires either one or three arguments")
    flags = req.flags({"platform": _S})
    return FromInstruction(
        req.line, req.source, args[0], name, flags.string("platform"), escape=req.escape
    )


def _run(req: _Request) -> RunInstruction:
    flags = req.flags(_RUN_FLAGS)
    network = flags.string("network")
    if network is not None and network not in _NETWORKS:
        raise Invalid(f"invalid network mode {go_quote(network)}")
    security = flags.string("security")
    if security is not None and security not in _SECURITY:
        raise Invalid(f"security {go_quote(security)} is not valid")
    specs = flags.strings("mount")
    return RunInstruction(
        req.line,
        req.source,
        req.command(),
        heredocs=tuple(_heredoc(raw) for raw in req.node.heredocs),
        mounts=parse_mounts(specs, None),
        network=network,
        security=security,
        mount_specs=specs,
        escape=req.escape,
    )


def _heredoc(raw: RawHeredoc) -> Heredoc:
    marker = raw.marker
    content = chomp(raw.content) if marker.chomp_tabs else raw.content
    return Heredoc(marker.name, content, marker.expand, marker.chomp_tabs)


def _command_form(
    kind: type[CmdInstruction] | type[EntrypointInstruction],
) -> Callable[[_Request], Instruction]:
    """``CMD`` and ``ENTRYPOINT``: no flags, a command in shell or exec form."""

    def convert(req: _Request) -> Instruction:
        req.flags()
        return kind(req.line, req.source, req.command(), escape=req.escape)

    return convert


def _shell(req: _Request) -> ShellInstruction:
    req.flags()
    if not req.rest or req.node.json == ():
        raise Invalid("SHELL requires at least one argument")
    if req.node.json is None:
        raise Invalid("SHELL requires the arguments to be in JSON form")
    return ShellInstruction(req.line, req.source, req.node.json, escape=req.escape)


def _sources_and_dest(
    req: _Request, keyword: str
) -> tuple[tuple[str, ...], str, tuple[Heredoc, ...]]:
    args = req.list_args()
    if len(args) < 2:
        raise Invalid(
            f"{keyword} requires at least two arguments, but only one was provided. "
            "Destination could not be determined"
        )
    *sources, dest = args
    if _marker(dest) is not None:
        raise Invalid(f"{keyword} cannot accept a heredoc as a destination")
    bodies = {raw.marker.name: raw for raw in req.node.heredocs}
    paths: list[str] = []
    heredocs: list[Heredoc] = []
    for source in sources:
        marker = _marker(source) if req.node.json is None else None
        if marker is None:
            paths.append(source)
            continue
        # The line's lexer and this whitespace split can disagree on odd quoting; BuildKit
        # then copies an empty body, and so do we.
        body = bodies.get(marker.name)
        heredocs.append(_heredoc(RawHeredoc(marker, body.content if body is not None else "")))
    return tuple(paths), dest, tuple(heredocs)


def _marker(word: str) -> Marker | None:
    try:
        return parse_marker(word)
    except (ExpansionError, Invalid):
        return None


def _copy(req: _Request) -> CopyInstruction:
    flags = req.flags(_COPY_FLAGS)
    sources, dest, heredocs = _sources_and_dest(req, "COPY")
    origin = flags.string("from")
    if origin is not None and _has_variables(origin, req.escape):
        raise Invalid(
            "variable expansion is not supported for --from, "
            "define a new stage with FROM using ARG from global scope as a workaround"
        )
    return CopyInstruction(
        req.line,
        req.source,
        sources,
        dest,
        chown=flags.string("chown"),
        chmod=flags.string("chmod"),
        from_stage=origin,
        link=flags.boolean("link"),
        heredocs=heredocs,
        exclude=flags.strings("exclude"),
        parents=flags.boolean("parents"),
        escape=req.escape,
    )


def _has_variables(word: str, escape: str) -> bool:
    try:
        return expand_word(word, lambda _: None, escape) != word
    except ExpansionError:
        return True


def _add(req: _Request) -> AddInstruction:
    flags = req.flags(_ADD_FLAGS)
    sources, dest, heredocs = _sources_and_dest(req, "ADD")
    return AddInstruction(
        req.line,
        req.source,
        sources,
        dest,
        chown=flags.string("chown"),
        chmod=flags.string("chmod"),
        link=flags.boolean("link"),
        heredocs=heredocs,
        exclude=flags.strings("exclude"),
        checksum=flags.string("checksum"),
        keep_git_dir=flags.boolean("keep-git-dir"),
        unpack=flags.boolean("unpack") if flags.given("unpack") else None,
        escape=req.escape,
    )


def _name_values(
    kind: type[EnvInstruction] | type[LabelInstruction],
) -> Callable[[_Request], Instruction]:
    """``ENV`` and ``LABEL``: no flags, ``key=value`` pairs (the legacy form warned about)."""

    def convert(req: _Request) -> Instruction:
        req.flags()
        pairs, legacy = parse_name_values(req.rest, kind.keyword, req.escape)
        if legacy:
            req.warn(_LEGACY.format(keyword=kind.keyword))
        return kind(req.line, req.source, tuple(pairs), escape=req.escape)

    return convert


def _arg(req: _Request) -> ArgInstruction:
    req.flags()
    words = parse_words(req.rest, req.escape)
    if not words:
        raise Invalid("ARG requires at least one argument")
    args: list[tuple[str, str | None]] = []
    for word in words:
        name, has_value, value = word.partition("=")
        if has_value and not name:
            raise Invalid("ARG names can not be blank")
        args.append((name, value if has_value else None))
    return ArgInstruction(req.line, req.source, tuple(args), escape=req.escape)


def _one_argument(
    kind: type[WorkdirInstruction] | type[UserInstruction] | type[StopsignalInstruction],
) -> Callable[[_Request], Instruction]:
    """``WORKDIR``, ``USER`` and ``STOPSIGNAL``: no flags, exactly one argument."""

    def convert(req: _Request) -> Instruction:
        req.flags()
        return kind(req.line, req.source, req.one_argument(), escape=req.escape)

    return convert


def _maintainer(req: _Request) -> MaintainerInstruction:
    req.flags()
    req.warn("Maintainer instruction is deprecated in favor of using label (MaintainerDeprecated)")
    return MaintainerInstruction(req.line, req.source, req.one_argument(), escape=req.escape)


def _expose(req: _Request) -> ExposeInstruction:
    req.flags()
    ports = split_whitespace(req.rest)
    if not ports:
        raise Invalid("EXPOSE requires at least one argument")
    return ExposeInstruction(req.line, req.source, tuple(ports), escape=req.escape)


def _volume(req: _Request) -> VolumeInstruction:
    req.flags()
    paths = req.list_args()
    if not paths:
        raise Invalid("VOLUME requires at least one argument")
    cleaned = tuple(strip_space(path) for path in paths)
    if any(not path for path in cleaned):
        raise Invalid("VOLUME specified can not be an empty string")
    return VolumeInstruction(req.line, req.source, cleaned, escape=req.escape)


def _healthcheck(req: _Request) -> HealthcheckInstruction:
    kind, command_text = healthcheck_parts(req.rest)
    if not kind:
        raise Invalid("HEALTHCHECK requires at least one argument")
    kind = kind.upper()
    if kind == "NONE":
        # BuildKit does not look at flags here, so "HEALTHCHECK --interval=5s NONE" passes.
        if command_text:
            raise Invalid("HEALTHCHECK NONE takes no arguments")
        return HealthcheckInstruction(req.line, req.source, True, escape=req.escape)
    flags = req.flags(_HEALTH_FLAGS)
    if kind != "CMD":
        raise Invalid(f"Unknown type {go_quote(kind)} in HEALTHCHECK (try CMD)")
    if req.node.json is not None:
        if not req.node.json:
            raise Invalid("Missing command after HEALTHCHECK CMD")
        command: Command = ExecCommand(req.node.json)
    elif not command_text:
        raise Invalid("Missing command after HEALTHCHECK CMD")
    else:
        command = ShellCommand(command_text)
    retries: int | None = None
    text = flags.string("retries")
    if text is not None:
        retries = _parse_int32(text)
        if retries < 0:
            raise Invalid(f"--retries cannot be negative ({retries})")
    return HealthcheckInstruction(
        req.line,
        req.source,
        False,
        command,
        interval_ns=_interval(flags, "interval"),
        timeout_ns=_interval(flags, "timeout"),
        start_period_ns=_interval(flags, "start-period"),
        start_interval_ns=_interval(flags, "start-interval"),
        retries=retries,
        escape=req.escape,
    )


def _interval(flags: ParsedFlags, name: str) -> int | None:
    text = flags.string(name)
    if not text:
        return None
    value = parse_duration_ns(text)
    if 0 != value < 1_000_000:
        raise Invalid(f"Interval {go_quote(name)} cannot be less than 1ms")
    return value


def _parse_int32(text: str) -> int:
    if re.fullmatch(r"[+-]?[0-9]+", text) is None:
        raise Invalid(f"strconv.ParseInt: parsing {go_quote(text)}: invalid syntax")
    value = int(text)
    if not -(2**31) <= value < 2**31:
        raise Invalid(f"strconv.ParseInt: parsing {go_quote(text)}: value out of range")
    return value


def _onbuild(req: _Request) -> OnbuildInstruction:
    child = req.node.child
    if child is None:
        raise Invalid("ONBUILD requires at least one argument")
    req.flags()
    trigger_keyword = child.keyword.upper()
    if trigger_keyword == "ONBUILD":
        raise Invalid("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
    if trigger_keyword in ("MAINTAINER", "FROM"):
        raise Invalid(f"{trigger_keyword} isn't allowed as an ONBUILD trigger")
    trigger = _convert(child, req.escape, req.warnings)
    text = _ONBUILD_PREFIX.sub("", req.node.original, count=1)
    for raw in req.node.heredocs:
        text += "\n" + raw.content + raw.marker.name
    return OnbuildInstruction(req.line, req.source, trigger, text, escape=req.escape)


_CONVERTERS: dict[str, Callable[[_Request], Instruction]] = {
    "ADD": _add,
    "ARG": _arg,
    "CMD": _command_form(CmdInstruction),
    "COPY": _copy,
    "ENTRYPOINT": _command_form(EntrypointInstruction),
    "ENV": _name_values(EnvInstruction),
    "EXPOSE": _expose,
    "FROM": _from,
    "HEALTHCHECK": _healthcheck,
    "LABEL": _name_values(LabelInstruction),
    "MAINTAINER": _maintainer,
    "ONBUILD": _onbuild,
    "RUN": _run,
    "SHELL": _shell,
    "STOPSIGNAL": _one_argument(StopsignalInstruction),
    "USER": _one_argument(UserInstruction),
    "VOLUME": _volume,
    "WORKDIR": _one_argument(WorkdirInstruction),
}
