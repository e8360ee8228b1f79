"""Wire models of ``POST /build`` and ``POST /build/prune`` (Docker's classic builder API).

Layer L0: imports the standard library, ``wharf.errdefs`` and ``wharf.oci`` (compression,
platform and reference syntax).

``BuildOptions`` is what the router hands the engine: ``from_request`` decodes Docker's query
parameters (and Wharf's extensions), ``to_query``/``secrets_header`` encode the same for the
client, so one module owns the wire both ways. Query parameters, as dockerd reads them::

    t (repeatable) dockerfile target q nocache pull rm forcerm networkmode platform
    extrahosts (repeatable) memory memswap cpushares cpusetcpus cpuperiod cpuquota shmsize
    buildargs={"K":"v","UNSET":null} labels={"k":"v"} cachefrom=["img"] outputs=[...]
    version=1 (2 = BuildKit: refused) remote=<url> (refused) squash (refused)
    Wharf: explaincache=1  compression=gzip|zstd

Booleans are Go's ``httputils.BoolValue``: anything but "", "0", "no", "false", "none" (any
case) is true. Build secrets travel in a header, never in the query (query strings get
logged)::

    X-Wharf-Build-Secrets: base64url(JSON {"<id>": "<base64 of the secret's bytes>"})

The stream a build answers with is JSON lines, one ``BuildMessage`` each::

    {"stream": "Step 1/3 : FROM busybox\\n"}
    {"aux": {"ID": "sha256:..."}}
    {"errorDetail": {"message": "...", "code": 2}, "error": "..."}     (ends a failed build)

Invariants: a secret's bytes never appear in a ``repr``; options are normalized (sorted build
args and labels, a platform in canonical ``os/arch[/variant]`` form) so equal requests give
equal options.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from wharf.errdefs import InvalidArgument, Unsupported
from wharf.oci.mediatypes import Compression

SECRETS_HEADER = "X-Wharf-Build-Secrets"

SECRETS_HEADER_LIMIT = 8190
"""The longest header value aiohttp's server reads by default: a bigger secrets header is
refused by the client with a clear message rather than by the server with a bare 400."""

DEFAULT_DOCKERFILE = "Dockerfile"

_FALSE_WORDS = frozenset({"", "0", "no", "false", "none"})
_COMPRESSIONS = {"gzip": Compression.GZIP, "zstd": Compression.ZSTD}
# Accepted for docker compatibility; the classic builder has nothing to apply them to here.
_IGNORED_INTS = ("memswap", "cpuperiod", "cpuquota")


def docker_bool(value: str | None) -> bool:
    """Go's ``httputils.BoolValue``: only "", "0", "no", "false" and "none" are false."""
    return (value or "").strip().lower() not in _FALSE_WORDS


@dataclass(frozen=True, slots=True)
class BuildSecret:
    """``--secret id=...``: bytes a ``RUN --mount=type=secret`` step may read, never stored."""

    id: str
    data: bytes = field(repr=False)


class _Query:
    """Docker's query parameters as Go reads them: the first value of a repeated key wins."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._values: dict[str, list[str]] = {}
        for key, value in pairs:
            self._values.setdefault(key, []).append(value)

    def get(self, key: str) -> str:
        values = self._values.get(key)
        return values[0] if values else ""

    def all(self, key: str) -> list[str]:
        return list(self._values.get(key, ()))

    def flag(self, key: str) -> bool:
        return docker_bool(self.get(key))

    def int(self, key: str) -> int:
        text = self.get(key).strip()
        if not text:
            return 0
        try:
            return int(text, 10)
        except ValueError:
            raise InvalidArgument(f"invalid {key} {text!r}: expected an integer") from None

    def json(self, key: str, what: str) -> Any:
        text = self.get(key)
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError as exc:
            raise InvalidArgument(f"error reading {what} ({key}): {exc}") from exc


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def _b64decode(text: str) -> bytes:
    """Standard or URL-safe base64, padded or not (clients differ)."""
    normalized = text.strip().replace("-", "+").replace("_", "/")
    normalized += "=" * (-len(normalized) % 4)
    return base64.b64decode(normalized, validate=True)


def _string_map(raw: Any, key: str, what: str, *, nulls: bool) -> dict[str, str | None]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidArgument(f"error reading {what} ({key}): expected a JSON object")
    out: dict[str, str | None] = {}
    for name, value in raw.items():
        if value is None and nulls:
            out[name] = None
        elif isinstance(value, str):
            out[name] = value
        else:
            raise InvalidArgument(f"error reading {what} ({key}): {name!r} is not a string")
    return out


def _string_list(raw: Any, key: str, what: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise InvalidArgument(f"error reading {what} ({key}): expected a JSON array of strings")
    return tuple(raw)


def _check_tag(tag: str) -> None:
    from wharf.oci.reference import parse_normalized

    try:
        reference = parse_normalized(tag)
    except InvalidArgument as exc:
        raise InvalidArgument(f"invalid tag {tag!r}: {exc.message}") from exc
    if reference.digest is not None:
        raise InvalidArgument(f"invalid tag {tag!r}: refusing to create a tag with a digest")


def _normalize_platform(text: str) -> str:
    from wharf.oci.platform import parse_platform

    return str(parse_platform(text)) if text.strip() else ""


def _check_outputs(raw: Any) -> None:
    # The classic builder always writes an image into the store; dockerd's "moby" exporter.
    if raw is None:
        return
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        raise InvalidArgument("invalid outputs specified: expected a JSON array of objects")
    for item in raw:
        kind = item.get("Type", item.get("type", ""))
        if kind not in ("moby", "image", ""):
            raise InvalidArgument(
                f"build outputs of type {kind!r} are not supported by wharf's classic builder"
            )


def parse_secrets_header(value: str | None) -> tuple[BuildSecret, ...]:
    """Decode ``X-Wharf-Build-Secrets``; a malformed header is the caller's error."""
    if not value:
        return ()
    try:
        raw = json.loads(_b64decode(value))
    except (binascii.Error, ValueError) as exc:
        raise InvalidArgument(f"invalid {SECRETS_HEADER} header: not base64 JSON") from exc
    if not isinstance(raw, dict):
        raise InvalidArgument(f"invalid {SECRETS_HEADER} header: not a JSON object")
    secrets = []
    for secret_id, data in sorted(raw.items()):
        if not secret_id:
            raise InvalidArgument(f"invalid {SECRETS_HEADER} header: a secret has no id")
        if not isinstance(data, str):
            raise InvalidArgument(
                f"invalid {SECRETS_HEADER} header: secret {secret_id!r} is not a base64 string"
            )
        try:
            secrets.append(BuildSecret(secret_id, _b64decode(data)))
        except (binascii.Error, ValueError) as exc:
            raise InvalidArgument(
                f"invalid {SECRETS_HEADER} header: secret {secret_id!r} is not base64"
            ) from exc
    return tuple(secrets)


@dataclass(frozen=True, slots=True)
class BuildOptions:
    """One build request, typed. ``build_args`` values are None for ``--build-arg KEY`` with
    no value anywhere (dockerd keeps them, to warn when no ``ARG`` uses them)."""

    tags: tuple[str, ...] = ()
    dockerfile: str = DEFAULT_DOCKERFILE
    build_args: tuple[tuple[str, str | None], ...] = ()
    target: str = ""
    no_cache: bool = False
    pull: bool = False
    quiet: bool = False
    remove: bool = True
    force_remove: bool = False
    labels: tuple[tuple[str, str], ...] = ()
    network_mode: str = ""
    platform: str = ""
    extra_hosts: tuple[str, ...] = ()
    shm_size: int = 0
    memory: int = 0
    cpu_shares: int = 0
    cache_from: tuple[str, ...] = ()
    secrets: tuple[BuildSecret, ...] = ()
    explain_cache: bool = False
    compression: Compression = Compression.GZIP

    @classmethod
    def from_request(
        cls,
        query: Mapping[str, str] | Iterable[tuple[str, str]],
        headers: Mapping[str, str] | None = None,
    ) -> BuildOptions:
        """Decode ``POST /build``'s query (a multidict's ``items()`` carry repeated ``t``)."""
        q = _Query(query.items() if isinstance(query, Mapping) else query)
        remote = q.get("remote")
        if remote:
            raise Unsupported(f"remote build contexts are not supported by wharf: {remote}")
        version = q.get("version").strip()
        if version == "2":
            raise InvalidArgument(
                "BuildKit builds (version=2) are not supported by wharf: use the classic "
                "builder (DOCKER_BUILDKIT=0)"
            )
        if version not in ("", "1"):
            raise InvalidArgument(f"invalid builder version {version!r}: wharf supports 1")
        if q.flag("squash"):
            raise InvalidArgument("squash is not supported")
        if q.all("securityopt"):
            raise InvalidArgument("security options are not supported on linux")
        for key in _IGNORED_INTS:
            q.int(key)
        tags = tuple(q.all("t"))
        for tag in tags:
            _check_tag(tag)
        compression_name = q.get("compression").strip().lower() or "gzip"
        compression = _COMPRESSIONS.get(compression_name)
        if compression is None:
            raise InvalidArgument(
                f"invalid compression {compression_name!r}: expected gzip or zstd"
            )
        _check_outputs(q.json("outputs", "outputs"))
        build_args = _string_map(
            q.json("buildargs", "build args"), "buildargs", "build args", nulls=True
        )
        labels = _string_map(q.json("labels", "labels"), "labels", "labels", nulls=False)
        force_remove = q.flag("forcerm")
        return cls(
            tags=tags,
            dockerfile=q.get("dockerfile") or DEFAULT_DOCKERFILE,
            build_args=tuple(sorted(build_args.items())),
            target=q.get("target"),
            no_cache=q.flag("nocache"),
            pull=q.flag("pull"),
            quiet=q.flag("q"),
            # dockerd: rm defaults to true, and forcerm implies it.
            remove=force_remove or not q.get("rm") or q.flag("rm"),
            force_remove=force_remove,
            labels=tuple(sorted((k, v) for k, v in labels.items() if v is not None)),
            network_mode=q.get("networkmode"),
            platform=_normalize_platform(q.get("platform")),
            extra_hosts=tuple(q.all("extrahosts")),
            shm_size=q.int("shmsize"),
            memory=q.int("memory"),
            cpu_shares=q.int("cpushares"),
            cache_from=_string_list(q.json("cachefrom", "cache-from"), "cachefrom", "cache-from"),
            secrets=parse_secrets_header(_header(headers or {}, SECRETS_HEADER)),
            explain_cache=q.flag("explaincache"),
            compression=compression,
        )

    def to_query(self) -> list[tuple[str, str]]:
        """The query the docker CLI would send for these options, keys sorted as Go does."""
        query: list[tuple[str, str]] = [("t", tag) for tag in self.tags]
        query.append(("dockerfile", self.dockerfile))
        if self.build_args:
            query.append(("buildargs", _compact(dict(self.build_args))))
        if self.cache_from:
            query.append(("cachefrom", _compact(list(self.cache_from))))
        if self.compression is not Compression.GZIP:
            query.append(("compression", self.compression.value))
        if self.cpu_shares:
            query.append(("cpushares", str(self.cpu_shares)))
        if self.explain_cache:
            query.append(("explaincache", "1"))
        query.extend(("extrahosts", host) for host in self.extra_hosts)
        if self.force_remove:
            query.append(("forcerm", "1"))
        if self.labels:
            query.append(("labels", _compact(dict(self.labels))))
        if self.memory:
            query.append(("memory", str(self.memory)))
        if self.network_mode and self.network_mode != "default":
            query.append(("networkmode", self.network_mode))
        if self.no_cache:
            query.append(("nocache", "1"))
        if self.platform:
            query.append(("platform", self.platform.lower()))
        if self.pull:
            query.append(("pull", "1"))
        if self.quiet:
            query.append(("q", "1"))
        if not self.remove:
            query.append(("rm", "0"))  # the daemon's default is to remove: sent only to opt out
        if self.shm_size:
            query.append(("shmsize", str(self.shm_size)))
        if self.target:
            query.append(("target", self.target))
        query.append(("version", "1"))
        return sorted(query, key=lambda pair: pair[0])

    def secrets_header(self) -> str | None:
        """The ``X-Wharf-Build-Secrets`` value, or None when there are no secrets."""
        if not self.secrets:
            return None
        payload = {
            secret.id: base64.b64encode(secret.data).decode("ascii") for secret in self.secrets
        }
        return base64.urlsafe_b64encode(_compact(payload).encode()).decode("ascii")


def _compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


@dataclass(frozen=True, slots=True)
class BuildMessage:
    """One line of the build stream (Docker's ``JSONMessage`` shapes).

    ``error_code`` is the failing step's exit code when there is one; the docker CLI exits
    with it (1 when absent).
    """

    stream: str = ""
    aux_id: str = ""
    error: str = ""
    error_code: int | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {}
        if self.stream:
            wire["stream"] = self.stream
        if self.aux_id:
            wire["aux"] = {"ID": self.aux_id}
        if self.error:
            detail: dict[str, Any] = {"message": self.error}
            if self.error_code is not None:
                detail["code"] = self.error_code
            wire["errorDetail"] = detail
            wire["error"] = self.error
        return wire

    @classmethod
    def from_wire(cls, raw: object) -> BuildMessage:
        """Decode a line; dockerd's pull progress (``status``/``id``) becomes stream text, and
        progress-bar updates are dropped as the docker CLI drops them off a terminal."""
        if not isinstance(raw, dict):
            raise InvalidArgument("malformed build message: not a JSON object")
        stream = raw.get("stream")
        text = stream if isinstance(stream, str) else ""
        status = raw.get("status")
        if not text and isinstance(status, str) and status and not _has_progress(raw):
            ident = raw.get("id")
            text = f"{ident}: {status}\n" if isinstance(ident, str) and ident else f"{status}\n"
        aux = raw.get("aux")
        aux_id = aux.get("ID") if isinstance(aux, dict) else None
        detail = raw.get("errorDetail")
        detail = detail if isinstance(detail, dict) else {}
        error = raw.get("error")
        message = detail.get("message")
        if isinstance(error, str) and error:
            error_text = error
        else:
            error_text = message if isinstance(message, str) else ""
        code = detail.get("code")
        return cls(
            stream=text,
            aux_id=aux_id if isinstance(aux_id, str) else "",
            error=error_text,
            error_code=code if isinstance(code, int) and not isinstance(code, bool) else None,
        )


def _has_progress(raw: dict[str, Any]) -> bool:
    detail = raw.get("progressDetail")
    return bool(raw.get("progress")) or (isinstance(detail, dict) and bool(detail))


@dataclass(frozen=True, slots=True)
class BuildPruneReport:
    """``POST /build/prune``: ``{"CachesDeleted": [...], "SpaceReclaimed": N}``."""

    caches_deleted: tuple[str, ...] = ()
    space_reclaimed: int = 0

    def to_wire(self) -> dict[str, Any]:
        return {"CachesDeleted": list(self.caches_deleted), "SpaceReclaimed": self.space_reclaimed}

    @classmethod
    def from_wire(cls, raw: object) -> BuildPruneReport:
        if not isinstance(raw, dict):
            raise InvalidArgument("malformed build prune report: not a JSON object")
        deleted = raw.get("CachesDeleted") or []
        space = raw.get("SpaceReclaimed") or 0
        if not isinstance(deleted, list) or not all(isinstance(d, str) for d in deleted):
            raise InvalidArgument("malformed build prune report: CachesDeleted")
        if not isinstance(space, int) or isinstance(space, bool):
            raise InvalidArgument("malformed build prune report: SpaceReclaimed")
        return cls(tuple(deleted), space)
