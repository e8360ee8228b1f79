"""Unit tests of the parser's pieces and of the public API beyond the golden files."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from wharf.builder import dockerfile as df
from wharf.builder.dockerfile import (
    ArgInstruction,
    CmdInstruction,
    CopyInstruction,
    DockerfileError,
    ExecCommand,
    FromInstruction,
    MountType,
    OnbuildInstruction,
    RunInstruction,
    ShellCommand,
    parse_dockerfile,
)
from wharf.builder.dockerfile.errors import Invalid
from wharf.builder.dockerfile.mounts import parse_mount
from wharf.builder.dockerfile.units import parse_duration_ns, parse_ram_bytes
from wharf.builder.dockerfile.words import extract_builder_flags, parse_words
from wharf.errdefs import InvalidArgument


def only(text: str) -> df.Instruction:
    """The single instruction after ``FROM x``."""
    (instruction,) = parse_dockerfile("FROM x\n" + text).stages[0].instructions
    return instruction


def test_error_is_invalid_argument_with_line_and_reason() -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_dockerfile("FROM x\n\nRUNX y\n")
    error = caught.value
    assert isinstance(error, DockerfileError)
    assert (error.line, error.reason) == (3, "unknown instruction: RUNX (did you mean RUN?)")
    assert (
        str(error)
        == "dockerfile parse error on line 3: unknown instruction: RUNX (did you mean RUN?)"
    )
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.line, copy.reason, str(copy)) == (error.line, error.reason, str(error))


def test_stages_meta_args_and_indices() -> None:
    dockerfile = parse_dockerfile(
        "ARG A\nARG B=1\nFROM a AS One\nRUN x\nARG C\nFROM b\nCMD y\nFROM one AS three\n"
    )
    assert [arg.line for arg in dockerfile.meta_args] == [1, 2]
    assert [(s.index, s.name, s.base.image) for s in dockerfile.stages] == [
        (0, "one", "a"),
        (1, None, "b"),
        (2, "three", "one"),
    ]
    assert [i.keyword for i in dockerfile.stages[0].instructions] == ["RUN", "ARG"]
    assert [i.keyword for i in dockerfile.stages[1].instructions] == ["CMD"]
    assert dockerfile.stages[2].instructions == ()
    assert dockerfile.escape == "\\"
    assert dockerfile.syntax is None


def test_bytes_are_utf8_and_bad_bytes_do_not_break_parsing() -> None:
    text = "FROM x\nLABEL a=\u00e9\n".encode()
    label = parse_dockerfile(text).stages[0].instructions[0]
    assert isinstance(label, df.LabelInstruction)
    assert label.pairs == (("a", "\u00e9"),)
    assert parse_dockerfile(b"FROM x\nRUN echo \xff\n").stages[0].instructions[0].keyword == "RUN"


def test_every_instruction_class_has_its_keyword() -> None:
    for name in df.__all__:
        cls = getattr(df, name)
        if isinstance(cls, type) and name.endswith("Instruction"):
            assert getattr(cls, "keyword", None) == name.removesuffix("Instruction").upper()
            assert dataclasses.is_dataclass(cls)


@pytest.mark.parametrize(
    "text",
    ["RUN echo $HOME", "CMD echo $HOME", 'ENTRYPOINT ["$HOME"]', 'SHELL ["$X"]',
     "HEALTHCHECK CMD echo $X", "ONBUILD RUN echo $X", "MAINTAINER $X"],
)  # fmt: skip
def test_instructions_docker_does_not_expand_return_themselves(text: str) -> None:
    instruction = only(text)
    assert instruction.expanded(lambda _: "EXPANDED") is instruction


def test_expansion_errors_carry_the_instruction_line() -> None:
    dockerfile = parse_dockerfile("FROM x\nRUN true\nWORKDIR ${DIR:?DIR is required}\n")
    workdir = dockerfile.stages[0].instructions[1]
    with pytest.raises(DockerfileError) as caught:
        workdir.expanded(lambda _: None)
    assert caught.value.line == 3
    assert caught.value.reason.endswith("DIR: DIR is required")


def test_from_expands_image_and_platform_but_not_the_stage_name() -> None:
    from_ = parse_dockerfile("FROM --platform=$P ${IMG}:1 AS n\n").stages[0].base
    expanded = from_.expanded({"P": "linux/arm64", "IMG": "alpine"}.get)
    assert (expanded.image, expanded.platform, expanded.stage_name) == (
        "alpine:1",
        "linux/arm64",
        "n",
    )
    assert isinstance(expanded, FromInstruction)
    assert expanded.line == from_.line and expanded.source == from_.source


def test_escape_directive_reaches_expansion() -> None:
    dockerfile = parse_dockerfile("# escape=`\nFROM x\nWORKDIR C:\\dir\\`$NAME\n")
    workdir = dockerfile.stages[0].instructions[0]
    assert isinstance(workdir, df.WorkdirInstruction)
    assert workdir.expanded({"NAME": "n"}.get).path == "C:\\dir\\$NAME"


def test_run_mounts_with_variables_are_checked_when_expanded() -> None:
    run = only("RUN --mount=type=$T,target=$DIR,size=$SIZE true")
    assert isinstance(run, RunInstruction)
    tmpfs = run.expanded({"T": "tmpfs", "DIR": "/scratch", "SIZE": "1k"}.get).mounts[0]
    assert (tmpfs.type, tmpfs.target, tmpfs.size, tmpfs.readonly) == (
        MountType.TMPFS,
        "/scratch",
        1024,
        False,
    )
    with pytest.raises(DockerfileError) as caught:
        run.expanded({"T": "volume"}.get)
    assert caught.value.line == 2
    assert caught.value.reason == 'unsupported mount type "volume"'
    with pytest.raises(DockerfileError, match="unexpected key 'size' for mount type 'cache'"):
        run.expanded({"T": "cache", "DIR": "/c", "SIZE": "1"}.get)


def test_secret_and_ssh_defaults() -> None:
    secret = parse_mount("type=secret,id=aws")
    assert (secret.id, secret.target, secret.readonly, secret.required) == (
        "aws",
        "/run/secrets/aws",
        True,
        False,
    )
    by_target = parse_mount("type=secret,target=/root/.config/token/")
    assert (by_target.id, by_target.target) == ("token", "/root/.config/token/")
    env = parse_mount("type=secret,id=t,env=TOKEN")
    assert (env.target, env.env) == ("", "TOKEN")
    ssh = parse_mount("type=ssh,mode=0600", ssh_index=2)
    assert (ssh.id, ssh.target, ssh.mode) == ("default", "/run/buildkit/ssh_agent.2", 0o600)
    cache = parse_mount("type=cache,target=//a/./b/")
    assert (cache.id, cache.sharing, cache.readonly) == ("/a/b", "shared", False)


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("type=cache,target=/x,uid=-1", "invalid value -1 for uid"),
        ("type=cache,target=/x,gid=4294967296", "invalid value 4294967296 for gid"),
        ("target=/x,ro=maybe", "invalid value for ro: maybe"),
        ("type=cache,target=/x,sharing=exclusive", 'unsupported sharing value "exclusive"'),
        ("type=tmpfs,target=/x,size=lots", "invalid value for size: lots"),
        ("type=secret,id=a,from=b", "secret mount should not have a from"),
        ("type=secret,id=a,sharing=locked", "secret mount should not define sharing"),
        ("type=cach,target=/x", 'unsupported mount type "cach" (did you mean cache?)'),
        ("", "invalid field '' must be a key=value pair"),
    ],
)
def test_mount_errors(spec: str, reason: str) -> None:
    with pytest.raises(Invalid) as caught:
        parse_mount(spec, lambda value: value)
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("0", 0),
        ("30s", 30_000_000_000),
        ("1m30s", 90_000_000_000),
        ("500ms", 500_000_000),
        ("1.5h", 5_400_000_000_000),
        (".5s", 500_000_000),
        ("1us", 1_000),
        ("1\u00b5s", 1_000),
        ("2h45m", 9_900_000_000_000),
        ("-1s", -1_000_000_000),
        ("+3ns", 3),
    ],
)
def test_go_durations(text: str, ns: int) -> None:
    assert parse_duration_ns(text) == ns


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", 'time: invalid duration ""'),
        ("s", 'time: invalid duration "s"'),
        ("5", 'time: missing unit in duration "5"'),
        ("5d", 'time: unknown unit "d" in duration "5d"'),
        (".s", 'time: invalid duration ".s"'),
        ("1s1", 'time: missing unit in duration "1s1"'),
        ("9999999999h", 'time: invalid duration "9999999999h"'),
    ],
)
def test_go_duration_errors(text: str, message: str) -> None:
    with pytest.raises(Invalid) as caught:
        parse_duration_ns(text)
    assert caught.value.reason == message


@pytest.mark.parametrize(
    ("text", "size"),
    [("100", 100), ("1k", 1024), ("64m", 64 << 20), ("1.5g", 3 << 29), ("2GiB", 2 << 30),
     ("1 MB", 1 << 20), ("10b", 10), ("1T", 1 << 40)],
)  # fmt: skip
def test_ram_sizes(text: str, size: int) -> None:
    assert parse_ram_bytes(text) == size


@pytest.mark.parametrize("text", ["", "-1", "1x", "1kk", "k", "1 k b"])
def test_ram_size_errors(text: str) -> None:
    with pytest.raises(Invalid):
        parse_ram_bytes(text)


@pytest.mark.parametrize(
    ("text", "rest", "flags"),
    [
        ("--a=1 --b cmd", "cmd", ("--a=1", "--b")),
        ("cmd --a=1", "cmd --a=1", ()),
        ('--a="x y" cmd', "cmd", ("--a=x y",)),
        ("--a='x\\' y' cmd", "cmd", ("--a=x' y",)),
        ("--a=x\\ y cmd", "cmd", ("--a=x y",)),
        ("--a -- --b", " --b", ("--a",)),
        ("--a --", "", ("--a",)),
        ("-a --b", "-a --b", ()),
        ("--only", "", ("--only",)),
    ],
)
def test_builder_flags(text: str, rest: str, flags: tuple[str, ...]) -> None:
    assert extract_builder_flags(text, "\\") == (rest, flags)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("foo", ["foo"]),
        ("foo bar", ["foo", "bar"]),
        ("foo\\ bar", ["foo\\ bar"]),
        ("a='x y' b=\"c d\"", ["a='x y'", 'b="c d"']),
        ('k="esc \\" quote" z', ['k="esc \\" quote"', "z"]),
        ("'\\' x", ["'\\'", "x"]),
        ("tail\\", ["tail"]),
    ],
)
def test_quote_aware_words_keep_quotes(text: str, words: list[str]) -> None:
    assert parse_words(text, "\\") == words


@pytest.mark.parametrize(
    "directive",
    ["#escape=`", "# escape =`", "#\tescape= `", "# escape = `", "#\t  eScApE=`", "   # escape=`"],
)
def test_directive_spellings_from_the_reference(directive: str) -> None:
    assert parse_dockerfile(directive + "\nFROM x\n").escape == "`"


def test_heredoc_fields() -> None:
    run = only("RUN <<-'EOT' bash\n\t\techo $HOME\n\tEOT\n")
    assert isinstance(run, RunInstruction)
    assert run.command == ShellCommand("<<-'EOT' bash")
    (heredoc,) = run.heredocs
    assert (heredoc.name, heredoc.content, heredoc.expand, heredoc.chomp_tabs) == (
        "EOT",
        "echo $HOME\n",
        False,
        True,
    )


def test_copy_heredoc_is_expanded_only_when_its_delimiter_is_unquoted() -> None:
    copy = only("COPY <<A <<'B' /d/\n$X \"$X\"\nA\n$X\nB\n")
    assert isinstance(copy, CopyInstruction)
    expanded = copy.expanded({"X": "1"}.get)
    assert [h.content for h in expanded.heredocs] == ['1 "1"\n', "$X\n"]
    assert copy.sources == () and expanded.dest == "/d/"


def test_onbuild_trigger_is_a_typed_instruction() -> None:
    onbuild = only('ONBUILD  cmd ["a"]')
    assert isinstance(onbuild, OnbuildInstruction)
    assert onbuild.trigger == CmdInstruction(2, 'cmd ["a"]', ExecCommand(("a",)))
    assert onbuild.trigger_source == 'cmd ["a"]'
    assert onbuild.source == 'ONBUILD  cmd ["a"]'


def test_arg_without_and_with_defaults() -> None:
    arg = parse_dockerfile('ARG A B= C="x y"\nFROM x\n').meta_args[0]
    assert isinstance(arg, ArgInstruction)
    assert arg.args == (("A", None), ("B", ""), ("C", '"x y"'))
    assert arg.expanded(lambda _: None).args == (("A", None), ("B", ""), ("C", "x y"))


def test_instruction_lines_skip_heredoc_bodies_and_continuations() -> None:
    dockerfile = parse_dockerfile("FROM x\nRUN a \\\n  b \\\n\n  c\nRUN <<E\n1\n2\nE\n# c\nCMD z\n")
    assert [i.line for i in dockerfile.stages[0].instructions] == [2, 6, 11]
    assert len(dockerfile.warnings) == 1 and dockerfile.warnings[0].startswith("line 2: ")
