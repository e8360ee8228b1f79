"""Variable interpolation: the substitution table, nesting, errors, warnings."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wharf.compose.errors import ComposeError
from wharf.compose.interpolate import InterpolationError, Interpolator, substitute

ENV = {"SET": "value", "EMPTY": "", "OTHER": "other"}


def _sub(text: str) -> tuple[str, list[str]]:
    unset: list[str] = []
    return substitute(text, ENV.get, unset.append), unset


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", "plain"),
        ("$SET", "value"),
        ("${SET}", "value"),
        ("a${SET}b", "avalueb"),
        ("$SET.x", "value.x"),
        ("${UNSET:-def}", "def"),
        ("${EMPTY:-def}", "def"),
        ("${SET:-def}", "value"),
        ("${UNSET-def}", "def"),
        ("${EMPTY-def}", ""),
        ("${SET:+alt}", "alt"),
        ("${EMPTY:+alt}", ""),
        ("${UNSET:+alt}", ""),
        ("${EMPTY+alt}", "alt"),
        ("${UNSET+alt}", ""),
        ("${SET:?err}", "value"),
        ("${EMPTY?err}", ""),
        ("$$SET", "$SET"),
        ("$${SET}", "${SET}"),
        ("cost: 5$", "cost: 5$"),
        ("$1 and $ ", "$1 and $ "),
        ("${UNSET:-${OTHER}}", "other"),
        ("${UNSET:-${ALSO_UNSET:-deep}}", "deep"),
        ("${UNSET:-a $SET b}", "a value b"),
        ("${UNSET:-{json}}", "{json}"),
    ],
)
def test_substitution_table(text: str, expected: str) -> None:
    result, unset = _sub(text)
    assert result == expected
    assert unset == []


def test_unset_without_default_is_empty_and_reported() -> None:
    assert _sub("a${NOPE}b$NOPE2") == ("ab", ["NOPE", "NOPE2"])


def test_default_is_not_evaluated_when_unused() -> None:
    assert _sub("${SET:-${NOPE}}") == ("value", [])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("${UNSET:?must be set}", "required variable UNSET is missing a value: must be set"),
        ("${EMPTY:?must be set}", "required variable EMPTY is missing a value: must be set"),
        ("${UNSET?}", "required variable UNSET is missing a value"),
        ("${UNSET?need $SET}", "required variable UNSET is missing a value: need value"),
        ("${", 'invalid interpolation format for "${"'),
        ("x ${SET", 'invalid interpolation format for "x ${SET"'),
        ("${1A}", 'invalid interpolation format for "${1A}"'),
        ("${SET/a/b}", 'invalid interpolation format for "${SET/a/b}"'),
    ],
)
def test_errors(text: str, message: str) -> None:
    with pytest.raises(InterpolationError) as info:
        _sub(text)
    assert str(info.value) == message


@given(st.text().filter(lambda t: "$" not in t))
def test_text_without_dollar_is_identity(text: str) -> None:
    assert substitute(text, ENV.get, lambda _n: None) == text


@given(st.text(alphabet=st.characters(blacklist_characters="${}"), max_size=20))
def test_escaped_dollar_gives_literal(text: str) -> None:
    assert substitute("$$" + text, ENV.get, lambda _n: None) == "$" + text


def test_tree_interpolates_values_not_keys_and_names_the_path() -> None:
    warnings: list[str] = []
    tree = Interpolator(ENV, "compose.yaml", warnings).tree(
        {"services": {"$SET": {"environment": ["A=$SET", 5, None], "image": "${NOPE}"}}}
    )
    assert tree == {"services": {"$SET": {"environment": ["A=value", 5, None], "image": ""}}}
    assert warnings == ['The "NOPE" variable is not set. Defaulting to a blank string.']
    with pytest.raises(ComposeError) as info:
        Interpolator(ENV, "compose.yaml", warnings).tree(
            {"services": {"db": {"environment": {"PASSWORD": "${DB_PASSWORD:?must be set}"}}}}
        )
    assert str(info.value) == (
        "compose.yaml: services.db.environment.PASSWORD: "
        "required variable DB_PASSWORD is missing a value: must be set"
    )
