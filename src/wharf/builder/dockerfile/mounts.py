"""``RUN --mount=...``: BuildKit's mount syntax, parsed into ``RunMount``.

Imports: stdlib, ``.errors``, ``.units``.

A mount is a CSV list of ``key=value`` fields (a field may be double-quoted to hold commas):

    type      bind (default) | cache | tmpfs | secret | ssh
    target    also dst, destination; relative targets are relative to WORKDIR
    source    also src; for secrets it is the secret's id
    from      stage or image to take bind/cache contents from (no variables)
    ro/readonly, rw/readwrite   bare or =bool; default read-only except cache and tmpfs
    id        cache id (default: the cleaned target), secret id, ssh agent id (default "default")
    sharing   shared (default) | private | locked; cache only
    mode      octal; uid, gid decimal; secret, ssh and cache only
    required  bare or =bool; secret and ssh only
    size      tmpfs only, ``64m``-style
    env       secret only: expose the secret as this environment variable

Defaults filled here, so the builder reads final values: a secret's id is its source, else
its id, else the base name of its target, and its target is ``/run/secrets/<id>`` unless
``env`` is given; an ssh mount's target is ``/run/buildkit/ssh_agent.<n>`` (n counts the ssh
mounts of the RUN). Values are taken as written: ``parse_mount`` gets an ``expand`` callable
when the builder has the variables; without one, fields whose value holds ``$`` cannot be
checked yet and keep their defaults until ``RunInstruction.expanded``.
"""

from __future__ import annotations

import csv
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from wharf.builder.dockerfile.errors import Invalid, go_quote, with_suggestion
from wharf.builder.dockerfile.units import parse_ram_bytes

_KEYS = [
    "type", "from", "source", "target", "readonly", "id", "sharing", "required", "size",
    "mode", "uid", "gid", "src", "dst", "destination", "ro", "rw", "readwrite", "env",
]  # fmt: skip
_SHARING = ("shared", "private", "locked")
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})
_OCTAL = re.compile(r"[0-7]+\Z")
_DECIMAL = re.compile(r"[0-9]+\Z")


class MountType(Enum):
    BIND = "bind"
    CACHE = "cache"
    SECRET = "secret"
    TMPFS = "tmpfs"
    SSH = "ssh"


@dataclass(frozen=True, slots=True)
class RunMount:
    type: MountType
    target: str
    source: str | None = None
    from_stage: str | None = None
    id: str | None = None
    readonly: bool = True
    sharing: str = "shared"
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    required: bool = False
    size: int | None = None
    env: str | None = None


def parse_mount(
    spec: str, expand: Callable[[str], str] | None = None, ssh_index: int = 0
) -> RunMount:
    """One ``--mount`` value; ``ssh_index`` is how many ssh mounts precede it in the RUN."""
    try:
        fields = next(csv.reader([spec], strict=True), [])
    except csv.Error as exc:
        raise Invalid(f"failed to parse csv mounts: {exc}") from None
    state = _State()
    for field in fields or [""]:
        key, has_value, value = field.partition("=")
        key = key.lower()
        if not has_value:
            state.bare(key, field)
            continue
        if expand is not None:
            value = expand(value)
        elif key == "from" and 0 <= value.find("$") < len(value) - 1:
            raise Invalid(f"'{key}' doesn't support variable expansion, define alias stage instead")
        state.set(key, value, field, deferred=expand is None and "$" in value)
    return state.finish(ssh_index)


def _parse_bool(key: str, value: str) -> bool:
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise Invalid(f"invalid value for {key}: {value}")


def _parse_uint32(key: str, value: str, pattern: re.Pattern[str], base: int) -> int:
    if pattern.match(value) is None or int(value, base) > 0xFFFFFFFF:
        raise Invalid(f"invalid value {value} for {key}")
    return int(value, base)


def _go_clean(path: str) -> str:
    cleaned = posixpath.normpath(path) if path else "."
    return "/" + cleaned.lstrip("/") if cleaned.startswith("/") else cleaned


def _go_base(path: str) -> str:
    if not path:
        return "."
    stripped = path.rstrip("/")
    return posixpath.basename(stripped) if stripped else "/"


class _State:
    def __init__(self) -> None:
        self.type = MountType.BIND
        self.deferred = False
        self.read_only: bool | None = None
        self.strings: dict[str, str] = {}
        self.numbers: dict[str, int] = {}
        self.sharing: str | None = None
        self.required = False

    def bare(self, key: str, field: str) -> None:
        if key in ("readonly", "ro"):
            self.read_only = True
        elif key in ("readwrite", "rw"):
            self.read_only = False
        elif key == "required":
            self._only_for(key, MountType.SECRET, MountType.SSH)
            self.required = True
        else:
            raise Invalid(f"invalid field '{field}' must be a key=value pair")

    def set(self, key: str, value: str, field: str, *, deferred: bool) -> None:
        if key not in _KEYS:
            reason = f"unexpected key '{key}' in '{field}'"
            raise Invalid(with_suggestion(reason, key, _KEYS, case_sensitive=True))
        if deferred and key not in (
            "from",
            "source",
            "src",
            "target",
            "dst",
            "destination",
            "id",
            "env",
        ):
            self.deferred = True
            return
        if key == "type":
            try:
                self.type = MountType(value.lower())
            except ValueError:
                reason = f"unsupported mount type {go_quote(value)}"
                options = [kind.value for kind in MountType]
                raise Invalid(
                    with_suggestion(reason, value, options, case_sensitive=True)
                ) from None
        elif key in ("source", "src"):
            self.strings["source"] = value
        elif key in ("target", "dst", "destination"):
            self.strings["target"] = value
        elif key in ("from", "id", "env"):
            self.strings[key] = value
        elif key in ("readonly", "ro"):
            self.read_only = _parse_bool(key, value)
        elif key in ("readwrite", "rw"):
            self.read_only = not _parse_bool(key, value)
        elif key == "required":
            self._only_for(key, MountType.SECRET, MountType.SSH)
            self.required = _parse_bool(key, value)
        elif key == "size":
            self._only_for(key, MountType.TMPFS)
            try:
                self.numbers["size"] = parse_ram_bytes(value)
            except Invalid:
                raise Invalid(f"invalid value for {key}: {value}") from None
        elif key == "sharing":
            if value.lower() not in _SHARING:
                reason = f"unsupported sharing value {go_quote(value)}"
                raise Invalid(with_suggestion(reason, value, list(_SHARING), case_sensitive=True))
            self.sharing = value.lower()
        elif key == "mode":
            self.numbers["mode"] = _parse_uint32(key, value, _OCTAL, 8)
        else:
            self.numbers[key] = _parse_uint32(key, value, _DECIMAL, 10)

    def _only_for(self, key: str, *kinds: MountType) -> None:
        if self.type not in kinds and not self.deferred:
            raise Invalid(f"unexpected key '{key}' for mount type '{self.type.value}'")

    def finish(self, ssh_index: int) -> RunMount:
        kind = self.type
        source = self.strings.get("source")
        target = self.strings.get("target", "")
        mount_id = self.strings.get("id")
        if not self.deferred:
            self._validate()
        read_only = self.read_only
        if read_only is None:
            read_only = kind not in (MountType.CACHE, MountType.TMPFS)
        env = self.strings.get("env")
        if kind is MountType.SECRET:
            mount_id = source or mount_id or (_go_base(target) if target else None)
            if not target and env is None and mount_id:
                target = "/run/secrets/" + _go_base(mount_id)
        elif kind is MountType.SSH:
            mount_id = mount_id or "default"
            target = target or f"/run/buildkit/ssh_agent.{ssh_index}"
        elif kind is MountType.CACHE and not mount_id:
            mount_id = _go_clean(target)
        return RunMount(
            type=kind,
            target=target,
            source=source,
            from_stage=self.strings.get("from"),
            id=mount_id,
            readonly=read_only,
            sharing=self.sharing or "shared",
            mode=self.numbers.get("mode"),
            uid=self.numbers.get("uid"),
            gid=self.numbers.get("gid"),
            required=self.required,
            size=self.numbers.get("size"),
            env=env,
        )

    def _validate(self) -> None:
        kind = self.type
        if kind not in (MountType.SECRET, MountType.SSH, MountType.CACHE):
            for key in ("mode", "uid", "gid"):
                if key in self.numbers:
                    raise Invalid(f"{key} not allowed for {go_quote(kind.value)} type mounts")
        if kind is MountType.SECRET:
            if "from" in self.strings:
                raise Invalid("secret mount should not have a from")
            if self.sharing is not None:
                raise Invalid("secret mount should not define sharing")
            if not any(self.strings.get(key) for key in ("source", "target", "id")):
                raise Invalid("invalid secret mount. one of source, target required")
            if self.strings.get("source") and self.strings.get("id"):
                raise Invalid("both source and id can't be set")
        if kind is MountType.SSH and self.strings.get("source"):
            raise Invalid("ssh does not support source")
        if self.sharing is not None and kind is not MountType.CACHE:
            raise Invalid(f"invalid cache sharing set for {kind.value} mount")
