"""The compose YAML reader: YAML 1.2 scalars as docker compose reads them, merge tags."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wharf.compose.errors import ComposeError
from wharf.compose.yamlfile import RESET, Override, dump_yaml, load_yaml, scalar_text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("no", "no"),
        ("yes", "yes"),
        ("on", "on"),
        ("true", True),
        ("False", False),
        ("22:22", "22:22"),
        ("8080:80", "8080:80"),
        ("0440", 0o440),
        ("0o17", 15),
        ("0x1F", 31),
        ("-3", -3),
        ("42", 42),
        ("2001-12-14", "2001-12-14"),
        ("~", None),
        ("null", None),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        ("089", 89.0),
    ],
)
def test_scalars_follow_yaml_1_2_like_docker_compose(text: str, expected: object) -> None:
    value = load_yaml(f"key: {text}\n", "f.yaml")
    assert value == {"key": expected}
    assert type(value["key"]) is type(expected) or isinstance(value["key"], type(expected))  # type: ignore[index]


def test_floats_keep_their_text_for_string_contexts() -> None:
    value = load_yaml("v: 1.10\nw: 2.0\n", "f.yaml")
    assert isinstance(value, dict)
    assert scalar_text(value["v"]) == "1.10"
    assert scalar_text(value["w"]) == "2.0"
    assert scalar_text(True) == "true"
    assert scalar_text(3) == "3"


def test_keys_become_strings() -> None:
    assert load_yaml("80: a\ntrue: b\n", "f.yaml") == {"80": "a", "true": "b"}


def test_duplicate_key_is_an_error_with_line() -> None:
    with pytest.raises(ComposeError) as info:
        load_yaml("services:\n  a: 1\n  a: 2\n", "compose.yaml")
    assert str(info.value) == 'compose.yaml: line 3: mapping key "a" already defined'


def test_merge_key_may_be_redefined() -> None:
    text = "base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\n"
    assert load_yaml(text, "f.yaml") == {"base": {"x": 1, "y": 2}, "other": {"x": 1, "y": 3}}


def test_syntax_error_names_file_and_line() -> None:
    with pytest.raises(
        ComposeError, match=r"^compose.yaml: line 3: invalid YAML: did not find expected"
    ):
        load_yaml("a: [\nb: 1\n", "compose.yaml")


def test_reset_and_override_tags() -> None:
    value = load_yaml("a: !reset []\nb: !override [1]\nc: !override 3\nd: !reset\n", "f")
    assert value == {"a": RESET, "b": Override([1]), "c": Override(3), "d": RESET}


def test_empty_document_is_none() -> None:
    assert load_yaml("", "f") is None
    assert load_yaml("# only a comment\n", "f") is None


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=12),
        lambda children: (
            st.lists(children, max_size=3)
            | st.dictionaries(st.text(min_size=1, max_size=5), children, max_size=3)
        ),
        max_leaves=10,
    )
)
def test_dump_then_load_is_identity(value: object) -> None:
    assert load_yaml(dump_yaml({"v": value}), "f") == {"v": value}
