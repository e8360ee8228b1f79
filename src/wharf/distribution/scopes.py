"""Token scopes (``repository:NAME:pull,push``) and ``WWW-Authenticate`` challenges.

Layer L0. Imports: stdlib, ``wharf.errdefs``, ``wharf.distribution.routes``.

Scope grammar (docker token spec)::

    scope    := type ":" name ":" actions        type: repository | registry | ...
    actions  := action ("," action)*            action: pull | push | delete | *

The name is what lies between the first and the last ``:`` (it may itself hold a
``host:port``). ``*`` means every action. ``registry:catalog:*`` grants the catalog.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from wharf.distribution.routes import Route, RouteKind
from wharf.errdefs import InvalidArgument


class Action(enum.Enum):
    PULL = "pull"
    PUSH = "push"
    DELETE = "delete"
    ALL = "*"


ALL_ACTIONS = frozenset({Action.PULL, Action.PUSH, Action.DELETE})


def expand(actions: Iterable[Action]) -> frozenset[Action]:
    """``*`` replaced by the actions it stands for."""
    out: set[Action] = set()
    for action in actions:
        if action is Action.ALL:
            out |= ALL_ACTIONS
        else:
            out.add(action)
    return frozenset(out)


@dataclass(frozen=True, slots=True)
class Scope:
    """Access to one resource: ``type`` (``repository``/``registry``), ``name``, actions."""

    type: str
    name: str
    actions: frozenset[str]

    def __str__(self) -> str:
        return f"{self.type}:{self.name}:{','.join(sorted(self.actions))}"

    @classmethod
    def repository(cls, name: str, *actions: Action) -> Scope:
        return cls("repository", name, frozenset(a.value for a in actions))

    @classmethod
    def catalog(cls) -> Scope:
        return cls("registry", "catalog", frozenset({"*"}))

    @classmethod
    def parse(cls, text: str) -> Scope:
        first = text.find(":")
        last = text.rfind(":")
        if first <= 0 or last == first or last == len(text) - 1:
            raise InvalidArgument(f"invalid scope {text[:200]!r}: expected type:name:actions")
        actions = frozenset(a.strip() for a in text[last + 1 :].split(",") if a.strip())
        return cls(text[:first], text[first + 1 : last], actions)

    def covers(self, wanted: Scope) -> bool:
        """Whether this grant includes every action ``wanted`` asks for."""
        if (self.type, self.name) != (wanted.type, wanted.name):
            return False
        return "*" in self.actions or wanted.actions <= self.actions


def parse_scopes(values: Iterable[str]) -> list[Scope]:
    """Scopes from ``scope=`` query values; a value may hold several, space-separated."""
    scopes: list[Scope] = []
    for value in values:
        for part in value.split():
            scopes.append(Scope.parse(part))
    return scopes


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def bearer_challenge(
    realm: str, service: str, scopes: Iterable[Scope] = (), error: str | None = None
) -> str:
    """``Bearer realm="...",service="...",scope="..."[,error="..."]``."""
    parts = [f"realm={_quote(realm)}", f"service={_quote(service)}"]
    scope_text = " ".join(str(s) for s in scopes)
    if scope_text:
        parts.append(f"scope={_quote(scope_text)}")
    if error:
        parts.append(f"error={_quote(error)}")
    return "Bearer " + ",".join(parts)


def basic_challenge(realm: str) -> str:
    return f"Basic realm={_quote(realm)}"


def required_scopes(route: Route, method: str) -> list[Scope]:
    """The scopes a request needs (docker token spec): reads pull, writes push, deletes
    delete, the catalog ``registry:catalog:*``, ``/v2/`` only an authenticated caller.

    A cross-repository mount also wants ``pull`` on the source; that one is optional (the
    upload falls back to a plain one) and is not listed here.
    """
    if route.kind is RouteKind.BASE:
        return []
    if route.kind is RouteKind.CATALOG:
        return [Scope.catalog()]
    name = route.repository
    if method in ("GET", "HEAD") and route.kind is not RouteKind.UPLOAD:
        return [Scope.repository(name, Action.PULL)]
    if method == "DELETE" and route.kind in (RouteKind.MANIFEST, RouteKind.BLOB):
        return [Scope.repository(name, Action.DELETE)]
    return [Scope.repository(name, Action.PUSH)]
