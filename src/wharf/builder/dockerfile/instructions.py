"""Typed Dockerfile instructions, and the variable expansion Docker applies to each.

Imports: stdlib, ``.errors``, ``.heredoc``, ``.mounts``, ``.shell``.

Every instruction has ``line`` (1-based first line), ``keyword`` (upper case) and ``source``
(its text with continuations joined, trimmed: history's ``created_by`` and cache keys use it).

Word fields hold the words *as written*, quotes and escapes included, exactly as BuildKit
keeps them until dispatch: ``ENV a="b c"`` parses to the pair ``("a", '"b c"')``. The builder
calls ``expanded(lookup)`` when it reaches the instruction; that removes quotes, applies
escapes and expands ``$VAR`` in the fields Docker expands (each field is one word: no
splitting, except EXPOSE, whose arguments split after expansion). RUN, CMD, ENTRYPOINT,
SHELL, HEALTHCHECK, ONBUILD and MAINTAINER text is never expanded by the builder (the shell
does it at run time); RUN's ``--mount`` values are. Expansion errors (``${X:?msg}``, an
unmatched quote) raise ``DockerfileError`` with the instruction's line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import ClassVar, Self, TypeAlias

from wharf.builder.dockerfile.errors import DockerfileError, Invalid
from wharf.builder.dockerfile.heredoc import Heredoc
from wharf.builder.dockerfile.mounts import MountType, RunMount, parse_mount
from wharf.builder.dockerfile.shell import (
    ExpansionError,
    LexOptions,
    expand_word,
    expand_words,
    process,
)

Lookup = Callable[[str], "str | None"]


@dataclass(frozen=True, slots=True)
class ShellCommand:
    """Shell form: run as ``SHELL + [text]`` (``/bin/sh -c text`` by default)."""

    text: str


@dataclass(frozen=True, slots=True)
class ExecCommand:
    """JSON (exec) form: the argv as written."""

    argv: tuple[str, ...]


Command: TypeAlias = ShellCommand | ExecCommand


@dataclass(frozen=True, slots=True)
class _Instruction:
    line: int
    source: str
    # The escape character of the Dockerfile, which expansion honours.
    escape: str = field(default="\\", kw_only=True, repr=False)
    keyword: ClassVar[str] = ""

    def expanded(self, lookup: Lookup) -> Self:
        return self

    def _word(self, lookup: Lookup) -> Callable[[str], str]:
        escape, line = self.escape, self.line

        def expand(word: str) -> str:
            try:
                return expand_word(word, lookup, escape)
            except ExpansionError as exc:
                raise DockerfileError(line, str(exc)) from None

        return expand


def _optional(expand: Callable[[str], str], value: str | None) -> str | None:
    return None if value is None else expand(value)


@dataclass(frozen=True, slots=True)
class FromInstruction(_Instruction):
    """``FROM [--platform=<p>] <image> [AS <name>]``; the name is lower-cased."""

    image: str
    stage_name: str | None = None
    platform: str | None = None
    keyword: ClassVar[str] = "FROM"

    def expanded(self, lookup: Lookup) -> Self:
        expand = self._word(lookup)
        return replace(self, image=expand(self.image), platform=_optional(expand, self.platform))


@dataclass(frozen=True, slots=True)
class RunInstruction(_Instruction):
    """``RUN [--mount=...]... [--network=default|none|host] [--security=sandbox|insecure] cmd``.

    Heredocs stay beside the command text (``RUN python3 <<EOF`` keeps ``python3 <<EOF`` as
    the command); the builder decides how to run them. ``mount_specs`` are the ``--mount``
    values as written, which ``expanded`` parses again with the variables known.
    """

    command: Command
    heredocs: tuple[Heredoc, ...] = ()
    mounts: tuple[RunMount, ...] = ()
    network: str | None = None
    security: str | None = None
    mount_specs: tuple[str, ...] = ()
    keyword: ClassVar[str] = "RUN"

    def expanded(self, lookup: Lookup) -> Self:
        if not self.mount_specs:
            return self
        expand = self._word(lookup)
        try:
            mounts = parse_mounts(self.mount_specs, expand)
        except Invalid as exc:
            raise DockerfileError(self.line, exc.reason) from None
        return replace(self, mounts=mounts)


def parse_mounts(
    specs: tuple[str, ...], expand: Callable[[str], str] | None
) -> tuple[RunMount, ...]:
    mounts: list[RunMount] = []
    ssh = 0
    for spec in specs:
        mount = parse_mount(spec, expand, ssh)
        ssh += mount.type is MountType.SSH
        mounts.append(mount)
    return tuple(mounts)


@dataclass(frozen=True, slots=True)
class CmdInstruction(_Instruction):
    """``CMD ["exec", "form"]`` or ``CMD shell form``."""

    command: Command
    keyword: ClassVar[str] = "CMD"


@dataclass(frozen=True, slots=True)
class EntrypointInstruction(_Instruction):
    """``ENTRYPOINT ["exec", "form"]`` or ``ENTRYPOINT shell form``."""

    command: Command
    keyword: ClassVar[str] = "ENTRYPOINT"


@dataclass(frozen=True, slots=True)
class ShellInstruction(_Instruction):
    """``SHELL ["executable", "params"]`` (JSON form only)."""

    argv: tuple[str, ...]
    keyword: ClassVar[str] = "SHELL"


def _expand_heredocs(
    heredocs: tuple[Heredoc, ...], lookup: Lookup, line: int
) -> tuple[Heredoc, ...]:
    # BuildKit expands COPY/ADD heredoc bodies with quotes left alone and the default escape.
    options = LexOptions(skip_quotes=True)
    result = []
    for heredoc in heredocs:
        if heredoc.expand:
            try:
                content = process(heredoc.content, lookup, "\\", options)[0]
            except ExpansionError as exc:
                raise DockerfileError(line, str(exc)) from None
            heredoc = replace(heredoc, content=content)
        result.append(heredoc)
    return tuple(result)


@dataclass(frozen=True, slots=True)
class CopyInstruction(_Instruction):
    """``COPY [--from=<stage|image>] [--chown=u:g] [--chmod=m] [--link] [--parents]
    [--exclude=<pattern>]... <src>... <dest>`` (or JSON form); ``COPY <<EOF <dest>`` puts the
    heredoc in ``heredocs`` and not in ``sources``."""

    sources: tuple[str, ...]
    dest: str
    chown: str | None = None
    chmod: str | None = None
    from_stage: str | None = None
    link: bool = False
    heredocs: tuple[Heredoc, ...] = ()
    exclude: tuple[str, ...] = ()
    parents: bool = False
    keyword: ClassVar[str] = "COPY"

    def expanded(self, lookup: Lookup) -> Self:
        expand = self._word(lookup)
        return replace(
            self,
            sources=tuple(expand(s) for s in self.sources),
            dest=expand(self.dest),
            chown=_optional(expand, self.chown),
            chmod=_optional(expand, self.chmod),
            heredocs=_expand_heredocs(self.heredocs, lookup, self.line),
        )


@dataclass(frozen=True, slots=True)
class AddInstruction(_Instruction):
    """``ADD [--chown=u:g] [--chmod=m] [--link] [--checksum=<digest>] [--keep-git-dir]
    [--unpack[=bool]] [--exclude=<pattern>]... <src>... <dest>`` (or JSON form)."""

    sources: tuple[str, ...]
    dest: str
    chown: str | None = None
    chmod: str | None = None
    link: bool = False
    heredocs: tuple[Heredoc, ...] = ()
    exclude: tuple[str, ...] = ()
    parents: bool = False
    checksum: str | None = None
    keep_git_dir: bool = False
    unpack: bool | None = None  # None: Docker's default (unpack local archives only)
    keyword: ClassVar[str] = "ADD"

    def expanded(self, lookup: Lookup) -> Self:
        expand = self._word(lookup)
        return replace(
            self,
            sources=tuple(expand(s) for s in self.sources),
            dest=expand(self.dest),
            chown=_optional(expand, self.chown),
            chmod=_optional(expand, self.chmod),
            checksum=_optional(expand, self.checksum),
            heredocs=_expand_heredocs(self.heredocs, lookup, self.line),
        )


@dataclass(frozen=True, slots=True)
class _PairsInstruction(_Instruction):
    """``ENV`` and ``LABEL``: ``key=value`` pairs, both sides expanded."""

    pairs: tuple[tuple[str, str], ...]

    def expanded(self, lookup: Lookup) -> Self:
        expand = self._word(lookup)
        return replace(self, pairs=tuple((expand(key), expand(value)) for key, value in self.pairs))


@dataclass(frozen=True, slots=True)
class EnvInstruction(_PairsInstruction):
    """``ENV a=b c="d e"`` or the legacy ``ENV key value with spaces``."""

    keyword: ClassVar[str] = "ENV"


@dataclass(frozen=True, slots=True)
class LabelInstruction(_PairsInstruction):
    """``LABEL a=b "c d"="e f"`` (or the legacy ``LABEL key value``)."""

    keyword: ClassVar[str] = "LABEL"


@dataclass(frozen=True, slots=True)
class ArgInstruction(_Instruction):
    """``ARG name`` / ``ARG name=default``, several per line; None: no default."""

    args: tuple[tuple[str, str | None], ...]
    keyword: ClassVar[str] = "ARG"

    def expanded(self, lookup: Lookup) -> Self:
        expand = self._word(lookup)
        return replace(self, args=tuple((expand(k), _optional(expand, v)) for k, v in self.args))


@dataclass(frozen=True, slots=True)
class WorkdirInstruction(_Instruction):
    path: str
    keyword: ClassVar[str] = "WORKDIR"

    def expanded(self, lookup: Lookup) -> Self:
        return replace(self, path=self._word(lookup)(self.path))


@dataclass(frozen=True, slots=True)
class UserInstruction(_Instruction):
    user: str
    keyword: ClassVar[str] = "USER"

    def expanded(self, lookup: Lookup) -> Self:
        return replace(self, user=self._word(lookup)(self.user))


@dataclass(frozen=True, slots=True)
class ExposeInstruction(_Instruction):
    """``EXPOSE 80 443/tcp 53/udp``; expansion may split one argument into several."""

    ports: tuple[str, ...]
    keyword: ClassVar[str] = "EXPOSE"

    def expanded(self, lookup: Lookup) -> Self:
        ports: list[str] = []
        for port in self.ports:
            try:
                ports.extend(expand_words(port, lookup, self.escape))
            except ExpansionError as exc:
                raise DockerfileError(self.line, str(exc)) from None
        return replace(self, ports=tuple(ports))


@dataclass(frozen=True, slots=True)
class VolumeInstruction(_Instruction):
    """``VOLUME ["/a", "/b"]`` or ``VOLUME /a /b``."""

    paths: tuple[str, ...]
    keyword: ClassVar[str] = "VOLUME"

    def expanded(self, lookup: Lookup) -> Self:
        expand = self._word(lookup)
        return replace(self, paths=tuple(expand(path) for path in self.paths))


@dataclass(frozen=True, slots=True)
class StopsignalInstruction(_Instruction):
    signal: str
    keyword: ClassVar[str] = "STOPSIGNAL"

    def expanded(self, lookup: Lookup) -> Self:
        return replace(self, signal=self._word(lookup)(self.signal))


@dataclass(frozen=True, slots=True)
class MaintainerInstruction(_Instruction):
    """Deprecated; Docker sets the image's ``author`` from it."""

    name: str
    keyword: ClassVar[str] = "MAINTAINER"


@dataclass(frozen=True, slots=True)
class HealthcheckInstruction(_Instruction):
    """``HEALTHCHECK NONE`` or ``HEALTHCHECK [--interval=d] [--timeout=d] [--start-period=d]
    [--start-interval=d] [--retries=n] CMD command``. Durations are Go durations in
    nanoseconds; None means the flag was not given (0 given means "inherit", as Docker)."""

    none: bool
    command: Command | None = None
    interval_ns: int | None = None
    timeout_ns: int | None = None
    start_period_ns: int | None = None
    start_interval_ns: int | None = None
    retries: int | None = None
    keyword: ClassVar[str] = "HEALTHCHECK"


@dataclass(frozen=True, slots=True)
class OnbuildInstruction(_Instruction):
    """``ONBUILD <instruction>``; ``trigger_source`` is the text stored in the image config
    (heredoc bodies appended, as Docker stores them), ``trigger`` its parse."""

    trigger: Instruction
    trigger_source: str
    keyword: ClassVar[str] = "ONBUILD"


Instruction: TypeAlias = (
    FromInstruction
    | RunInstruction
    | CmdInstruction
    | EntrypointInstruction
    | ShellInstruction
    | CopyInstruction
    | AddInstruction
    | EnvInstruction
    | ArgInstruction
    | LabelInstruction
    | WorkdirInstruction
    | UserInstruction
    | ExposeInstruction
    | VolumeInstruction
    | StopsignalInstruction
    | MaintainerInstruction
    | HealthcheckInstruction
    | OnbuildInstruction
)
