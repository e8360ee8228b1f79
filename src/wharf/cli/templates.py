"""A subset of Go's ``text/template``, enough for docker's ``--format`` flags.

Supported::

    text {{.Field.Sub}} {{.}} {{$}} {{$var.Field}}      fields of maps (JSON objects) and rows
    {{- trims left}} {{trims right -}}                 whitespace trimming markers
    {{if PIPE}}..{{else if PIPE}}..{{else}}..{{end}}    Go truthiness (empty = false)
    {{range PIPE}}..{{else}}..{{end}}                   lists; maps by sorted key
    {{range $v := PIPE}} {{range $i, $v := PIPE}}       loop variables
    {{with PIPE}}..{{else}}..{{end}}
    {{$x := PIPE}}                                      assignment (no output)
    PIPE = CMD | CMD ...;  CMD = func ARG... or an operand; ARG = field, $var, "str", `raw`,
           number, true, false, nil, (PIPE)
    functions: json join split lower upper title pad truncate len index printf print
               println eq ne lt le gt ge and or not

Values print as Go's ``%v`` does: ``<no value>`` for a missing map key, ``<nil>``, ``true``,
``[a b]``, ``map[k:v]``. A ``Row`` (a table line of ``images``/``history``) is a struct to
templates: an unknown field is an error, as in docker, and ``json`` writes it with sorted keys
and HTML escaping (docker marshals those rows through ``json.Marshal``).

Errors raise ``TemplateError``: its message is docker's first line ("template parsing error:
..." or "template: ...: executing ..."). Pure code; imports only the standard library and
``cli.formatting``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from wharf.cli.formatting import go_json


class TemplateError(Exception):
    """The template is malformed or cannot be executed against the value."""


class _NoValue:
    """A missing map key: prints ``<no value>``, is false."""

    _instance: _NoValue | None = None

    def __new__(cls) -> _NoValue:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<no value>"


NO_VALUE = _NoValue()


class Row(dict[str, Any]):
    """A struct-like context: unknown fields are errors; ``json`` sorts and escapes."""


class WireRow(Row):
    """A ``Row`` whose ``json`` is a given wire form: docker marshals the API type itself
    (``events.Message``), with its own field names and order, not the template's fields."""

    def __init__(self, fields: Mapping[str, Any], wire: Any) -> None:
        super().__init__(fields)
        self.wire = wire


# --- lexing


_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.DOTALL)
_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<declare>:=)
  | (?P<punct>[|(),=])
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+|\.)
  | (?P<var>\$[A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    """,
    re.VERBOSE,
)


class _Tok(NamedTuple):
    kind: str
    text: str


def _tokenize(source: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    while pos < len(source):
        match = _TOKEN.match(source, pos)
        if match is None:
            raise TemplateError(
                f"template parsing error: unexpected {source[pos]!r} in action {source!r}"
            )
        pos = match.end()
        kind = match.lastgroup or ""
        if kind == "space":
            continue
        text = match.group()
        if kind == "field" and tokens and tokens[-1].text == ")":
            kind = "chain"  # (pipe).Field
        tokens.append(_Tok(kind, text))
    return tokens


# --- syntax tree (plain classes: ``dataclasses`` would cost CLI start-up time)


class _Operand:
    __slots__ = ("chain", "kind", "value")

    def __init__(self, kind: str, value: Any, chain: tuple[str, ...] = ()) -> None:
        self.kind = kind  # field, var, string, number, bool, nil, pipe, ident
        self.value = value
        self.chain = chain


class _Command:
    __slots__ = ("args",)

    def __init__(self, args: list[_Operand]) -> None:
        self.args = args


class _Pipe:
    __slots__ = ("commands", "declare")

    def __init__(self, commands: list[_Command], declare: tuple[str, ...] = ()) -> None:
        self.commands = commands
        self.declare = declare


class _Text:
    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class _Output:
    __slots__ = ("pipe",)

    def __init__(self, pipe: _Pipe) -> None:
        self.pipe = pipe


class _Branch:
    __slots__ = ("body", "kind", "orelse", "pipe")

    def __init__(self, kind: str, pipe: _Pipe) -> None:
        self.kind = kind  # if, range, with
        self.pipe = pipe
        self.body: list[Any] = []
        self.orelse: list[Any] = []


class _PipeParser:
    def __init__(self, tokens: list[_Tok], source: str) -> None:
        self.tokens = tokens
        self.pos = 0
        self.source = source

    def error(self, message: str) -> TemplateError:
        return TemplateError(f"template parsing error: {message} in {{{{{self.source}}}}}")

    def finish(self) -> None:
        token = self.peek()
        if token is not None:
            raise self.error(f"unexpected {token.text!r}")

    def peek(self) -> _Tok | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> _Tok:
        token = self.peek()
        if token is None:
            raise self.error("unexpected end of action")
        self.pos += 1
        return token

    def pipe(self, *, allow_declare: bool) -> _Pipe:
        declare: list[str] = []
        if allow_declare:
            declare = self._declarations()
        commands = [self.command()]
        while (token := self.peek()) is not None and token.text == "|":
            self.take()
            commands.append(self.command())
        return _Pipe(commands, tuple(declare))

    def _declarations(self) -> list[str]:
        start = self.pos
        names: list[str] = []
        while (token := self.peek()) is not None and token.kind == "var" and "." not in token.text:
            names.append(self.take().text)
            following = self.peek()
            if following is not None and following.text == ",":
                self.take()
                continue
            if following is not None and following.kind == "declare":
                self.take()
                return names
            break
        self.pos = start
        return []

    def command(self) -> _Command:
        args: list[_Operand] = []
        while (token := self.peek()) is not None and token.text not in ("|", ")"):
            args.append(self.operand())
        if not args:
            raise self.error("missing value for command")
        return _Command(args)

    def operand(self) -> _Operand:
        token = self.take()
        if token.kind == "field":
            fields = () if token.text == "." else tuple(token.text[1:].split("."))
            return _Operand("field", None, fields)
        if token.kind == "var":
            name, *rest = token.text.split(".")
            return _Operand("var", name, tuple(rest))
        if token.kind == "string":
            return _Operand("string", json.loads(token.text))
        if token.kind == "raw":
            return _Operand("string", token.text[1:-1])
        if token.kind == "number":
            number: int | float = float(token.text) if "." in token.text else int(token.text)
            return _Operand("number", number)
        if token.kind == "ident":
            if token.text in ("true", "false"):
                return _Operand("bool", token.text == "true")
            if token.text == "nil":
                return _Operand("nil", None)
            return _Operand("ident", token.text)
        if token.text == "(":
            inner = self.pipe(allow_declare=False)
            if self.take().text != ")":
                raise self.error("unclosed left paren")
            chain_token = self.peek()
            chain: tuple[str, ...] = ()
            if chain_token is not None and chain_token.kind == "chain":
                self.take()
                chain = tuple(chain_token.text[1:].split("."))
            return _Operand("pipe", inner, chain)
        raise self.error(f"unexpected {token.text!r}")


def _split(source: str) -> list[_Text | list[_Tok]]:
    """Text and actions (as tokens), with ``{{-``/``-}}`` trimming applied; comments dropped."""
    items: list[_Text | list[_Tok]] = []
    pos = 0
    trim_next = False
    for match in _ACTION.finditer(source):
        text = source[pos : match.start()]
        if trim_next:
            text = text.lstrip()
        if match.group(1):
            text = text.rstrip()
        if text:
            items.append(_Text(text))
        pos = match.end()
        trim_next = bool(match.group(3))
        body = match.group(2).strip()
        if body.startswith("/*"):
            continue
        tokens = _tokenize(body)
        if not tokens:
            raise TemplateError("template parsing error: missing value for command")
        items.append(tokens)
    tail = source[pos:]
    if trim_next:
        tail = tail.lstrip()
    if "{{" in tail:
        raise TemplateError("template parsing error: template: :1: unclosed action")
    if tail:
        items.append(_Text(tail))
    return items


_KEYWORDS = ("if", "range", "with", "else", "end")


class _TreeParser:
    def __init__(self, items: list[_Text | list[_Tok]]) -> None:
        self.items = items
        self.pos = 0

    def block(self) -> tuple[list[Any], str, _PipeParser | None]:
        """Nodes up to an ``else`` or ``end`` (returned with the rest of that action), or EOF."""
        nodes: list[Any] = []
        while self.pos < len(self.items):
            item = self.items[self.pos]
            self.pos += 1
            if isinstance(item, _Text):
                nodes.append(item)
                continue
            head = item[0].text if item[0].kind == "ident" and item[0].text in _KEYWORDS else ""
            parser = _PipeParser(item[1:] if head else item, " ".join(t.text for t in item))
            if head in ("if", "range", "with"):
                nodes.append(self.branch(head, parser))
            elif head in ("else", "end"):
                return nodes, head, parser
            else:
                nodes.append(_Output(parser.pipe(allow_declare=True)))
                parser.finish()
        return nodes, "", None

    def branch(self, kind: str, parser: _PipeParser) -> _Branch:
        node = _Branch(kind, parser.pipe(allow_declare=kind == "range"))
        parser.finish()
        node.body, terminator, rest = self.block()
        if terminator == "else":
            assert rest is not None
            following = rest.peek()
            if following is not None and following.text == "if":
                rest.take()
                # ``else if`` is an ``if`` nested in the else part, sharing this ``end``.
                node.orelse = [self.branch("if", rest)]
                return node
            rest.finish()
            node.orelse, terminator, rest = self.block()
            if terminator == "else":
                raise TemplateError("template parsing error: expected end; found {{else}}")
        if terminator != "end":
            raise TemplateError("template parsing error: template: :1: unexpected EOF")
        assert rest is not None
        rest.finish()
        return node


def _parse(source: str) -> list[Any]:
    parser = _TreeParser(_split(source))
    nodes, terminator, _ = parser.block()
    if terminator:
        raise TemplateError(
            f"template parsing error: template: :1: unexpected {{{{{terminator}}}}}"
        )
    return nodes


# --- evaluation


def _truth(value: Any) -> bool:
    if value is None or value is NO_VALUE:
        return False
    if isinstance(value, (bool, int, float)):
        return bool(value)
    if isinstance(value, (str, list, tuple, dict)):
        return len(value) > 0
    return True


def _go_float(value: float) -> str:
    """Go's ``%v`` for a float64: shortest digits, exponent form outside [1e-4, 1e6)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "0"
    from decimal import Decimal  # rare: keep it off the start-up path

    exact = Decimal(repr(value)).normalize()
    sign, digits, exp = exact.as_tuple()
    assert isinstance(exp, int)
    exponent = len(digits) - 1 + exp
    prefix = "-" if sign else ""
    if exponent < -4 or exponent >= 6:
        text = "".join(map(str, digits))
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{prefix}{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    return format(exact, "f")


def format_value(value: Any) -> str:
    """Go's ``%v`` for decoded JSON values."""
    if value is NO_VALUE:
        return "<no value>"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(_nested(item) for item in value) + "]"
    if isinstance(value, dict):
        items = " ".join(f"{key}:{_nested(value[key])}" for key in sorted(value))
        return f"map[{items}]"
    return str(value)


def _nested(value: Any) -> str:
    return "<nil>" if value is NO_VALUE else format_value(value)


def _json(value: Any) -> str:
    if value is NO_VALUE:
        value = None
    if isinstance(value, WireRow):
        return go_json(value.wire, escape_html=True)
    if isinstance(value, Row):
        return go_json(dict(sorted(value.items())), escape_html=True)
    return go_json(value, escape_html=False)


def _index(value: Any, *keys: Any) -> Any:
    for key in keys:
        if value is None or value is NO_VALUE:
            raise TemplateError("error calling index: index of untyped nil")
        if isinstance(value, dict):
            value = value.get(key, NO_VALUE)
        elif isinstance(value, (list, tuple, str)):
            if not isinstance(key, int) or not 0 <= key < len(value):
                raise TemplateError(f"error calling index: index out of range: {key}")
            value = value[key]
        else:
            raise TemplateError(f"error calling index: can't index item of type {type(value)}")
    return value


def _printf(fmt: str, *args: Any) -> str:
    values = iter(args)

    def substitute(match: re.Match[str]) -> str:
        verb = match.group(1)
        if verb == "%":
            return "%"
        try:
            value = next(values)
        except StopIteration:
            return f"%!{verb}(MISSING)"
        if verb == "q":
            return json.dumps(format_value(value), ensure_ascii=False)
        if verb == "d" and isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(int(value))
        return format_value(value)

    return re.sub(r"%[-+# 0-9.]*([%vsdq])", substitute, fmt)


def _title(text: str) -> str:
    return re.sub(r"(^|\s)(\S)", lambda m: m.group(1) + m.group(2).upper(), text)


def _truncate(text: str, length: int) -> str:
    return text[:length] if len(text) > length else text


def _compare(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(a: Any, b: Any) -> bool:
        try:
            return op(a, b)
        except TypeError as exc:
            raise TemplateError(f"error calling comparison: incompatible types: {exc}") from exc

    return compare


def _and(*values: Any) -> Any:
    for value in values:
        if not _truth(value):
            return value
    return values[-1] if values else None


def _or(*values: Any) -> Any:
    for value in values:
        if _truth(value):
            return value
    return values[-1] if values else None


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "json": _json,
    "join": lambda items, sep: sep.join(format_value(i) for i in items or ()),
    "split": lambda text, sep: str(text).split(sep),
    "lower": lambda text: format_value(text).lower(),
    "upper": lambda text: format_value(text).upper(),
    "title": lambda text: _title(format_value(text)),
    "pad": lambda text, before, after: " " * before + format_value(text) + " " * after,
    "truncate": lambda text, length: _truncate(format_value(text), int(length)),
    "len": lambda value: len(value) if value not in (None, NO_VALUE) else 0,
    "index": _index,
    "printf": _printf,
    "print": lambda *args: "".join(format_value(a) for a in args),
    "println": lambda *args: " ".join(format_value(a) for a in args) + "\n",
    "eq": lambda a, *others: any(a == other for other in others),
    "ne": _compare(lambda a, b: a != b),
    "lt": _compare(lambda a, b: a < b),
    "le": _compare(lambda a, b: a <= b),
    "gt": _compare(lambda a, b: a > b),
    "ge": _compare(lambda a, b: a >= b),
    "and": _and,
    "or": _or,
    "not": lambda value: not _truth(value),
}


def _header_passthrough(value: Any = "", *_rest: Any) -> Any:
    return value


# docker renders a table's header by running the row template on the column titles, with the
# value-shaping functions made transparent so ``{{json .Labels}}`` heads its column "LABELS".
HEADER_FUNCTIONS: dict[str, Callable[..., Any]] = {
    **FUNCTIONS,
    **{
        name: _header_passthrough
        for name in ("json", "join", "split", "lower", "upper", "title", "pad", "truncate")
    },
}


class _Scope:
    def __init__(self, dot: Any, variables: dict[str, Any]) -> None:
        self.dot = dot
        self.variables = variables


def _field(value: Any, chain: Sequence[str]) -> Any:
    for name in chain:
        if isinstance(value, Row):
            if name not in value:
                raise TemplateError(
                    f'template: :1: executing "" at <.{name}>: can\'t evaluate field {name}'
                )
            value = value[name]
        elif isinstance(value, Mapping):
            value = value.get(name, NO_VALUE)
        elif value is None or value is NO_VALUE:
            raise TemplateError(
                f'template: :1: executing "" at <.{name}>: nil pointer evaluating .{name}'
            )
        else:
            raise TemplateError(
                f'template: :1: executing "" at <.{name}>: can\'t evaluate field {name} '
                f"in type {type(value).__name__}"
            )
    return value


class _Machine:
    def __init__(self, out: list[str], functions: Mapping[str, Callable[..., Any]]) -> None:
        self.out = out
        self.functions = functions

    def run(self, nodes: list[Any], scope: _Scope) -> None:
        for node in nodes:
            if isinstance(node, _Text):
                self.out.append(node.text)
            elif isinstance(node, _Output):
                value = self.pipe(node.pipe, scope)
                if not node.pipe.declare:
                    self.out.append(format_value(value))
            else:
                self.branch(node, scope)

    def branch(self, node: _Branch, scope: _Scope) -> None:
        value = self.pipe(node.pipe, scope, declare=node.kind != "range")
        if node.kind == "if":
            self.run(node.body if _truth(value) else node.orelse, scope)
        elif node.kind == "with":
            if _truth(value):
                self.run(node.body, _Scope(value, scope.variables))
            else:
                self.run(node.orelse, scope)
        else:
            self.loop(node, value, scope)

    def loop(self, node: _Branch, value: Any, scope: _Scope) -> None:
        if isinstance(value, dict):
            pairs: list[tuple[Any, Any]] = [(key, value[key]) for key in sorted(value)]
        elif isinstance(value, (list, tuple)):
            pairs = list(enumerate(value))
        elif value is None or value is NO_VALUE:
            pairs = []
        else:
            raise TemplateError(f"range can't iterate over {format_value(value)}")
        if not pairs:
            self.run(node.orelse, scope)
            return
        names = node.pipe.declare
        for key, item in pairs:
            variables = dict(scope.variables)
            if len(names) == 1:
                variables[names[0]] = item
            elif len(names) == 2:
                variables[names[0]], variables[names[1]] = key, item
            self.run(node.body, _Scope(item, variables))

    def pipe(self, pipe: _Pipe, scope: _Scope, *, declare: bool = True) -> Any:
        value: Any = NO_VALUE
        piped = False
        for command in pipe.commands:
            value = self.command(command, scope, value if piped else None, piped)
            piped = True
        if declare and pipe.declare:
            scope.variables[pipe.declare[0]] = value
        return value

    def command(self, command: _Command, scope: _Scope, piped_value: Any, piped: bool) -> Any:
        head = command.args[0]
        if head.kind == "ident":
            function = self.functions.get(head.value)
            if function is None:
                raise TemplateError(
                    f'template parsing error: template: :1: function "{head.value}" not defined'
                )
            args = [self.operand(arg, scope) for arg in command.args[1:]]
            if piped:
                args.append(piped_value)
            try:
                return function(*args)
            except TemplateError:
                raise
            except (TypeError, ValueError, AttributeError) as exc:
                raise TemplateError(
                    f'template: :1: executing "" at <{head.value}>: error calling '
                    f"{head.value}: {exc}"
                ) from exc
        if len(command.args) > 1 or piped:
            raise TemplateError("template: :1: can't give argument to non-function")
        return self.operand(head, scope)

    def operand(self, operand: _Operand, scope: _Scope) -> Any:
        if operand.kind == "field":
            return _field(scope.dot, operand.chain)
        if operand.kind == "var":
            name = operand.value
            if name == "$":
                base = scope.variables["$"]
            elif name in scope.variables:
                base = scope.variables[name]
            else:
                raise TemplateError(f'template parsing error: undefined variable "{name}"')
            return _field(base, operand.chain)
        if operand.kind == "pipe":
            return _field(self.pipe(operand.value, scope), operand.chain)
        if operand.kind == "ident":
            return self.command(_Command([operand]), scope, None, False)
        return operand.value


class Template:
    """A parsed template; ``render`` may be called for many values."""

    __slots__ = ("nodes", "source")

    def __init__(self, source: str, nodes: list[Any]) -> None:
        self.source = source
        self.nodes = nodes

    def render(self, value: Any, *, header: bool = False) -> str:
        """Execute on ``value``; ``header`` renders a table header from a row of titles."""
        out: list[str] = []
        functions = HEADER_FUNCTIONS if header else FUNCTIONS
        _Machine(out, functions).run(self.nodes, _Scope(value, {"$": value}))
        return "".join(out)


def parse(source: str) -> Template:
    return Template(source, _parse(source))


def render(source: str, value: Any) -> str:
    return parse(source).render(value)
