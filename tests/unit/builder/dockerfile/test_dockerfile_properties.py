"""Property tests: the parser refuses bad input only with DockerfileError, and keeps lines."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from wharf.builder.dockerfile import (
    DockerfileError,
    Instruction,
    RunInstruction,
    ShellCommand,
    expand_word,
    parse_dockerfile,
)

KEYWORDS = [
    "FROM", "RUN", "CMD", "COPY", "ADD", "ENV", "ARG", "LABEL", "EXPOSE", "VOLUME", "USER",
    "WORKDIR", "SHELL", "ONBUILD", "HEALTHCHECK", "STOPSIGNAL", "MAINTAINER", "ENTRYPOINT",
    "from", "run", "BOGUS",
]  # fmt: skip
PIECES = [
    " ", "  ", "\t", "\n", "\r\n", "\\", "\\\n", "`", "#", "# escape=`\n", "# syntax=x\n", "=",
    '"', "'", "$", "${", "}", ":-", "[", "]", ",", '"a"', "--", "--mount=", "--from=",
    "--chown=", "type=cache", "target=/x", "<<", "<<-", "EOF", "\nEOF\n", "\t", "AS", "x",
    "/dst", "CMD", "NONE", "--interval=", "1s", "é", "\x00", "\ufeff",
]  # fmt: skip

line_text = st.lists(
    st.one_of(st.sampled_from(KEYWORDS), st.sampled_from(PIECES), st.text(max_size=4)),
    max_size=12,
).map("".join)
dockerfile_text = st.lists(line_text, max_size=10).map("\n".join)
# A word opening with "-" could start RUN's flags (``--`` ends them), so none does here.
plain_word = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_./", min_size=1, max_size=8
).filter(lambda word: not word.startswith("-"))


def _values(name: str) -> str | None:
    return None if len(name) % 3 == 0 else name.lower() + " $X"


@settings(max_examples=300, deadline=None)
@given(st.one_of(dockerfile_text, st.text(max_size=200)))
def test_parse_raises_only_dockerfile_error(text: str) -> None:
    try:
        dockerfile = parse_dockerfile(text)
    except DockerfileError as exc:
        assert exc.line >= 1
        assert str(exc).startswith(f"dockerfile parse error on line {exc.line}: ")
        return
    instructions: list[Instruction] = [*dockerfile.meta_args]
    for stage in dockerfile.stages:
        instructions += [stage.base, *stage.instructions]
    lines = [instruction.line for instruction in instructions]
    assert lines == sorted(lines) and len(set(lines)) == len(lines)
    assert all(1 <= line <= text.count("\n") + 1 for line in lines)
    for instruction in instructions:
        assert "\n" not in instruction.source
        try:
            instruction.expanded(_values)
        except DockerfileError as exc:
            assert exc.line == instruction.line


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_parse_bytes_raises_only_dockerfile_error(data: bytes) -> None:
    with contextlib.suppress(DockerfileError):
        parse_dockerfile(data)


instruction_pieces = st.lists(st.lists(plain_word, min_size=1, max_size=3), min_size=1, max_size=4)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(instruction_pieces, st.sampled_from(["", "\n", "# note\n", "  \n"])),
        min_size=1,
        max_size=6,
    )
)
def test_continuations_join_pieces_and_keep_first_line_numbers(
    runs: list[tuple[list[list[str]], str]],
) -> None:
    lines = ["FROM base"]
    expected: list[tuple[int, str]] = []
    for pieces, gap in runs:
        first = len(lines) + 1
        physical = [" ".join(words) for words in pieces]
        for index, text in enumerate(physical):
            last = index == len(physical) - 1
            prefix = "RUN " if index == 0 else "  "
            lines.append(prefix + text + ("" if last else " \\"))
            if not last and gap == "# note\n":
                lines.append("# inside")
        expected.append((first, "RUN " + "   ".join(physical)))
        lines.extend(gap.splitlines())
    dockerfile = parse_dockerfile("\n".join(lines) + "\n")
    runs_found = dockerfile.stages[0].instructions
    assert [(r.line, r.source) for r in runs_found] == expected
    for run, (_, source) in zip(runs_found, expected, strict=True):
        assert isinstance(run, RunInstruction)
        assert run.command == ShellCommand(source.removeprefix("RUN "))


@given(st.text(max_size=40))
def test_single_quotes_keep_any_text_without_quote(text: str) -> None:
    literal = text.replace("'", "")
    assert expand_word(f"'{literal}'", lambda _: "X") == literal


@given(st.text(max_size=40))
def test_escaping_every_character_gives_it_back(text: str) -> None:
    assert expand_word("".join("\\" + ch for ch in text), lambda _: "X") == text
    assert expand_word("".join("`" + ch for ch in text), lambda _: "X", "`") == text


@given(st.text(alphabet=st.characters(blacklist_characters="$'\"\\"), max_size=40))
def test_text_without_special_characters_is_unchanged(text: str) -> None:
    assert expand_word(text, lambda _: "X") == text
