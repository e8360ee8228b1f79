"""Word processing and variable expansion, as the Dockerfile reference documents it."""

from __future__ import annotations

import pytest

from wharf.builder.dockerfile import (
    AddInstruction,
    CopyInstruction,
    EnvInstruction,
    ExpansionError,
    WorkdirInstruction,
    expand_word,
    expand_words,
    parse_dockerfile,
)
from wharf.errdefs import InvalidArgument

ENV = {"foo": "/bar", "str": "foobarbaz", "empty": "", "two": "a  b", "HOME": "/root"}


def lookup(name: str) -> str | None:
    return ENV.get(name)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Plain words and variables.
        ("hello", "hello"),
        ("$foo", "/bar"),
        ("${foo}", "/bar"),
        ("${foo}/baz", "/bar/baz"),
        ("$foo.txt", "/bar.txt"),
        ("pre${foo}post", "pre/barpost"),
        ("$unset", ""),
        ("${unset}x", "x"),
        ("$", "$"),
        ("$.", "$."),
        ("a$", "a$"),
        ("$1", ""),
        ("$@", ""),
        # ${variable:-word} / ${variable-word}
        ("${foo:-word}", "/bar"),
        ("${unset:-word}", "word"),
        ("${empty:-word}", "word"),
        ("${empty-word}", ""),
        ("${unset-word}", "word"),
        ("${unset:-$foo}", "/bar"),
        ("${unset:-${empty:-nested}}", "nested"),
        # ${variable:+word} / ${variable+word}
        ("${foo:+word}", "word"),
        ("${unset:+word}", ""),
        ("${empty:+word}", ""),
        ("${empty+word}", "word"),
        ("${foo:+${HOME}}", "/root"),
        # ${variable:?msg} when the variable is fine
        ("${foo:?must be set}", "/bar"),
        ("${empty?must be set}", ""),
        # Pattern removal and replacement (documented in the reference since 1.6).
        ("${str#f*b}", "arbaz"),
        ("${str##f*b}", "az"),
        ("${str%b*z}", "foobar"),
        ("${str%%b*z}", "foo"),
        ("${str/ba/fo}", "fooforbaz"),
        ("${str//ba/fo}", "fooforfoz"),
        ("${str#?}", "oobarbaz"),
        ("${str%\\*}", "foobarbaz"),
        ("${unset#x}", ""),
        # Escapes: the escape character makes the next character literal.
        ("\\$foo", "$foo"),
        ("\\${foo}", "${foo}"),
        ("\\\\$foo", "\\/bar"),
        ("a\\ b", "a b"),
        ("abc\\tdef", "abctdef"),
        ("trailing\\", "trailing"),
        # Single quotes are literal; double quotes expand and escape only " $ and \.
        ("'$foo'", "$foo"),
        ("'\\$foo'", "\\$foo"),
        ("'a\\'", "a\\"),
        ('"$foo"', "/bar"),
        ('"\\$foo"', "$foo"),
        ('"a\\tb"', "a\\tb"),
        ('"a\\\\b"', "a\\b"),
        ('"say \\"hi\\""', 'say "hi"'),
        ('"it\'s"', "it's"),
        ("'\"quoted\"'", '"quoted"'),
        ("he'll'o", "hello"),
        ('"$two"', "a  b"),
        ("$two", "a  b"),
        ("${unset:-a b}", "a b"),
        ('"${unset:-"inner"}"', "inner"),
        ("${unset:-bbb {x}", "bbb {x"),
        ("${foo}}", "/bar}"),
    ],
)
def test_expand_word(text: str, expected: str) -> None:
    assert expand_word(text, lookup) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("${unset:?must be set}", 'failed to process "${unset:?must be set}": unset: must be set'),
        ("${unset?}", 'failed to process "${unset?}": unset: is not allowed to be unset'),
        ("${empty:?}", 'failed to process "${empty:?}": empty: is not allowed to be empty'),
        ("'open", "unexpected end of statement while looking for matching single-quote"),
        ('"open', "unexpected end of statement while looking for matching double-quote"),
        ('"open\\"', "unexpected end of statement while looking for matching double-quote"),
        ("${}", "syntax error: bad substitution"),
        ("${:-x}", "syntax error: bad substitution"),
        ("${{x}", "syntax error: bad substitution"),
        ("${foo", "syntax error: missing '}'"),
        ("${foo:-word", "syntax error: missing '}'"),
        ("${foo:=x}", "unsupported modifier (:=) in substitution"),
        ("${foo.x}", "unsupported modifier (.) in substitution"),
        ("${foo:#x}", "unsupported modifier (:#) in substitution"),
        ("${str/x", "syntax error: missing '/' in ${}"),
        ("${str#\\x}", "invalid escape '\\x'"),
    ],
)
def test_expand_word_errors(text: str, message: str) -> None:
    with pytest.raises(ExpansionError) as caught:
        expand_word(text, lookup)
    assert message in str(caught.value)
    assert isinstance(caught.value, InvalidArgument)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a b  c", ["a", "b", "c"]),
        ("  lead trail  ", ["lead", "trail"]),
        ("$two", ["a", "b"]),
        ('"$two"', ["a  b"]),
        ("x${two}y", ["xa", "by"]),
        ("a\\ b c", ["a b", "c"]),
        ("'a b' \"c d\"", ["a b", "c d"]),
        ('"" x', ["x"]),
        ("$unset", []),
        ("80/tcp ${unset:-443}", ["80/tcp", "443"]),
    ],
)
def test_expand_words(text: str, expected: list[str]) -> None:
    assert expand_words(text, lookup) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("`$foo", "$foo"),
        ("C:\\path\\$foo", "C:\\path\\/bar"),
        ('"a`"b"', 'a"b'),
        ("a` b", "a b"),
        ("``", "`"),
    ],
)
def test_backtick_escape(text: str, expected: str) -> None:
    assert expand_word(text, lookup, "`") == expected


def test_reference_example_workdir_add_copy() -> None:
    # The "Environment replacement" example of the Dockerfile reference.
    dockerfile = parse_dockerfile(
        "FROM busybox\nENV FOO=/bar\nWORKDIR ${FOO}\nADD . $FOO\nCOPY \\$FOO /quux\n"
    )
    stage = dockerfile.stages[0]
    env: dict[str, str] = {}
    for instruction in stage.instructions:
        expanded = instruction.expanded(env.get)
        if isinstance(expanded, EnvInstruction):
            env.update(expanded.pairs)
    workdir, add, copy = (i.expanded(env.get) for i in stage.instructions[1:])
    assert isinstance(workdir, WorkdirInstruction)
    assert isinstance(add, AddInstruction)
    assert isinstance(copy, CopyInstruction)
    assert workdir.path == "/bar"
    assert (add.sources, add.dest) == ((".",), "/bar")
    assert (copy.sources, copy.dest) == (("$FOO",), "/quux")


def test_env_values_see_the_values_before_the_instruction() -> None:
    # "ENV abc=bye def=$abc": def gets the value abc had before this ENV (the reference).
    env = parse_dockerfile("FROM x\nENV abc=bye def=$abc\n").stages[0].instructions[0]
    assert isinstance(env, EnvInstruction)
    assert env.expanded({"abc": "hello"}.get).pairs == (("abc", "bye"), ("def", "hello"))
