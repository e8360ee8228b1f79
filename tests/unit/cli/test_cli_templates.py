"""The Go text/template subset behind ``--format``."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wharf.cli.tables import render_rows
from wharf.cli.templates import Row, TemplateError, format_value, parse, render

DOC: dict[str, Any] = {
    "Id": "sha256:abc",
    "RepoTags": ["a:1", "b:2"],
    "Config": {"Env": ["A=1"], "Cmd": None, "Labels": {"z": "1", "a": "<2>"}},
    "Size": 10,
    "Ratio": 1.5,
    "Empty": [],
    "Flag": False,
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{.Id}}", "sha256:abc"),
        ("id={{ .Id }}!", "id=sha256:abc!"),
        ("{{.Config.Env}}", "[A=1]"),
        ("{{.Config.Cmd}}", "<nil>"),
        ("{{.Missing}}", "<no value>"),
        ("{{.Config.Labels}}", "map[a:<2> z:1]"),
        ("{{.Size}} {{.Ratio}} {{.Flag}}", "10 1.5 false"),
        ("{{json .Config}}", '{"Env":["A=1"],"Cmd":null,"Labels":{"z":"1","a":"<2>"}}'),
        ("{{.Config.Env | json}}", '["A=1"]'),
        ("{{json .Missing}}", "null"),
        ("{{range .RepoTags}}{{.}},{{end}}", "a:1,b:2,"),
        ("{{range $i, $t := .RepoTags}}{{$i}}={{$t}} {{end}}", "0=a:1 1=b:2 "),
        ("{{range $k, $v := .Config.Labels}}{{$k}}{{end}}", "az"),
        ("{{range .Empty}}x{{else}}none{{end}}", "none"),
        ("{{if .Flag}}yes{{else}}no{{end}}", "no"),
        ("{{if .Size}}yes{{end}}", "yes"),
        ("{{if eq .Size 3}}3{{else if eq .Size 10}}ten{{else}}?{{end}}", "ten"),
        ("{{if and .Size .Flag}}x{{else}}y{{end}}", "y"),
        ("{{if or .Flag .Size}}x{{end}}", "x"),
        ("{{if not .Flag}}x{{end}}", "x"),
        ('{{if ne .Id "x"}}differs{{end}}', "differs"),
        ("{{with .Config}}{{.Env}}{{end}}", "[A=1]"),
        ("{{with .Missing}}x{{else}}absent{{end}}", "absent"),
        ('{{index .Config.Labels "a"}}', "<2>"),
        ("{{index .RepoTags 1}}", "b:2"),
        ("{{len .RepoTags}}", "2"),
        ('{{join .RepoTags ", "}}', "a:1, b:2"),
        ('{{split .Id ":"}}', "[sha256 abc]"),
        ('{{upper .Id}} {{lower "AB"}} {{title "hello world"}}', "SHA256:ABC ab Hello World"),
        ("{{truncate .Id 6}}|{{pad .Size 1 2}}|", "sha256| 10  |"),
        ('{{printf "%s has %d tags" .Id (len .RepoTags)}}', "sha256:abc has 2 tags"),
        ("{{println .Size}}", "10\n"),
        ("{{$x := .Size}}{{$x}}{{$.Id}}", "10sha256:abc"),
        ("a  {{- .Size -}}  b", "a10b"),
        ("{{/* a comment */}}x", "x"),
        ("{{(index .RepoTags 0)}}", "a:1"),
        ("{{`raw`}}", "raw"),
    ],
)
def test_render(template: str, expected: str) -> None:
    assert render(template, DOC) == expected


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{.Id", "unclosed action"),
        ("{{if .Id}}", "unexpected EOF"),
        ("{{end}}", "unexpected {{end}}"),
        ("{{nosuch .Id}}", 'function "nosuch" not defined'),
        ("{{.Id 3}}", "can't give argument to non-function"),
        ("{{$undefined}}", 'undefined variable "$undefined"'),
        ("{{index .RepoTags 9}}", "index out of range"),
        ("{{.Id.Deeper}}", "can't evaluate field Deeper"),
        ("{{if .Id}}{{else}}{{else}}{{end}}", "expected end"),
    ],
)
def test_errors(template: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message.replace("$", r"\$").replace("{", r"\{")):
        render(template, DOC)


def test_rows_are_structs_and_json_sorted_and_escaped() -> None:
    row = Row(Tag="<none>", ID="abc")
    assert render("{{json .}}", row) == '{"ID":"abc","Tag":"\\u003cnone\\u003e"}'
    with pytest.raises(TemplateError, match="can't evaluate field Nope"):
        render("{{.Nope}}", row)


def test_table_header_is_the_template_run_on_titles() -> None:
    rows = [Row(ID="a", Size="1B", Labels="x"), Row(ID="bbbbbbbbbbbbbbb", Size="2B", Labels="y")]
    titles = {"ID": "IMAGE ID", "Size": "SIZE", "Labels": "LABELS"}
    text = render_rows("table {{.ID}}\\t{{json .Labels}}\\t{{.Size}}", rows, titles)
    assert text.splitlines() == [
        "IMAGE ID          LABELS    SIZE",
        'a                 "x"       1B',
        'bbbbbbbbbbbbbbb   "y"       2B',
    ]
    assert render_rows("{{.ID}}", rows, titles) == "a\nbbbbbbbbbbbbbbb\n"
    assert render_rows("json", rows[:1], titles) == '{"ID":"a","Labels":"x","Size":"1B"}\n'


def test_parsed_template_renders_many_values() -> None:
    template = parse("{{.Id}}")
    assert [template.render({"Id": n}) for n in ("a", "b")] == ["a", "b"]


@pytest.mark.parametrize(
    ("value", "text"),
    [(1e6, "1e+06"), (123456.0, "123456"), (0.0001, "0.0001"), (1e-05, "1e-05"), (2.0, "2")],
)
def test_floats_print_as_go_does(value: float, text: str) -> None:
    assert format_value(value) == text


@given(st.text(alphabet=st.characters(blacklist_characters="{}"), max_size=40))
def test_plain_text_passes_through(text: str) -> None:
    assert render(text, DOC) == text
