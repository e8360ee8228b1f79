"""Structural validation of one compose file, after interpolation, before anything else.

Imports: stdlib, ``wharf.compose.errors``, ``wharf.compose.yamlfile``.

The rules follow the compose specification's JSON schema (``schema/compose-spec.json``),
written here in a small vocabulary of our own::

    Scalar("string", "number")   one of the JSON types: string integer number boolean null
    ListOf(spec)                 a list whose items match spec
    MapOf(spec, key=regex)       a mapping with free keys (names), values matching spec
    Obj({key: spec}, required=)  a mapping with known keys only; "x-*" keys are always allowed
    AnyOf(spec, ...)             the first alternative whose JSON type fits the value

Objects are strict (an unknown key is an error naming the key); a ``!reset`` value is valid
anywhere and an ``!override`` value is checked as the value it wraps. Value-level checks
(ports, durations, restart policies) come later, in ``canonical``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from wharf.compose.errors import ComposeError, index_path, join_path
from wharf.compose.yamlfile import RESET, Override

_ARTICLES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "null": "null",
}


@dataclass(frozen=True, slots=True)
class Scalar:
    kinds: tuple[str, ...]
    enum: tuple[str, ...] = ()

    def __init__(self, *kinds: str, enum: tuple[str, ...] = ()) -> None:
        object.__setattr__(self, "kinds", kinds)
        object.__setattr__(self, "enum", enum)


@dataclass(frozen=True, slots=True)
class ListOf:
    item: Spec


@dataclass(frozen=True, slots=True)
class MapOf:
    value: Spec
    key: str = ""


@dataclass(frozen=True, slots=True)
class Obj:
    props: Mapping[str, Spec]
    required: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AnyOf:
    options: tuple[Spec, ...] = field(default=())

    def __init__(self, *options: Spec) -> None:
        object.__setattr__(self, "options", options)


@dataclass(frozen=True, slots=True)
class Anything:
    pass


Spec = Scalar | ListOf | MapOf | Obj | AnyOf | Anything

NAME_KEY = r"[a-zA-Z0-9._-]+"

STR = Scalar("string")
INT = Scalar("integer")
BOOL = Scalar("boolean")
STR_BOOL = Scalar("boolean", "string")
NUM_STR = Scalar("number", "string")
INT_STR = Scalar("integer", "string")
ANY = Anything()
STRINGS = ListOf(STR)
STR_OR_LIST = AnyOf(STR, STRINGS)
LIST_OR_DICT = AnyOf(MapOf(Scalar("string", "number", "boolean", "null")), STRINGS)
COMMAND = AnyOf(Scalar("null"), STR, STRINGS)
OPTS = MapOf(Scalar("string", "number"))
EXTRA_HOSTS = AnyOf(MapOf(AnyOf(STR, STRINGS)), STRINGS)
EXTERNAL = AnyOf(STR_BOOL, Obj({"name": STR}))
FILE_REFS = ListOf(
    AnyOf(STR, Obj({"source": STR, "target": STR, "uid": STR, "gid": STR, "mode": NUM_STR}))
)
ULIMITS = MapOf(AnyOf(INT_STR, Obj({"soft": INT_STR, "hard": INT_STR}, ("soft", "hard"))))
DEVICE_REQUESTS = ListOf(
    Obj(
        {
            "capabilities": STRINGS,
            "count": INT_STR,
            "device_ids": STRINGS,
            "driver": STR,
            "options": LIST_OR_DICT,
        }
    )
)
HOOK = Obj(
    {
        "command": COMMAND,
        "user": STR,
        "privileged": STR_BOOL,
        "working_dir": STR,
        "environment": LIST_OR_DICT,
    },
    ("command",),
)
_ROLLOUT = Obj(
    {
        "parallelism": INT_STR,
        "delay": STR,
        "failure_action": STR,
        "monitor": STR,
        "max_failure_ratio": NUM_STR,
        "order": Scalar("string", enum=("start-first", "stop-first")),
    }
)

BUILD = AnyOf(
    STR,
    Obj(
        {
            "context": STR,
            "dockerfile": STR,
            "dockerfile_inline": STR,
            "entitlements": STRINGS,
            "args": LIST_OR_DICT,
            "ssh": LIST_OR_DICT,
            "labels": LIST_OR_DICT,
            "cache_from": STRINGS,
            "cache_to": STRINGS,
            "no_cache": STR_BOOL,
            "additional_contexts": LIST_OR_DICT,
            "network": STR,
            "provenance": STR_BOOL,
            "sbom": STR_BOOL,
            "pull": STR_BOOL,
            "target": STR,
            "shm_size": INT_STR,
            "extra_hosts": EXTRA_HOSTS,
            "isolation": STR,
            "privileged": STR_BOOL,
            "secrets": FILE_REFS,
            "tags": STRINGS,
            "ulimits": ULIMITS,
            "platforms": STRINGS,
        }
    ),
)

DEPLOY = AnyOf(
    Scalar("null"),
    Obj(
        {
            "mode": STR,
            "endpoint_mode": STR,
            "replicas": INT_STR,
            "labels": LIST_OR_DICT,
            "rollback_config": _ROLLOUT,
            "update_config": _ROLLOUT,
            "resources": Obj(
                {
                    "limits": Obj({"cpus": NUM_STR, "memory": INT_STR, "pids": INT_STR}),
                    "reservations": Obj(
                        {
                            "cpus": NUM_STR,
                            "memory": INT_STR,
                            "generic_resources": ListOf(ANY),
                            "devices": DEVICE_REQUESTS,
                        }
                    ),
                }
            ),
            "restart_policy": Obj(
                {"condition": STR, "delay": STR, "max_attempts": INT_STR, "window": STR}
            ),
            "placement": Obj(
                {
                    "constraints": STRINGS,
                    "preferences": ListOf(Obj({"spread": STR})),
                    "max_replicas_per_node": INT_STR,
                }
            ),
        }
    ),
)

SERVICE_VOLUME = AnyOf(
    STR,
    Obj(
        {
            "type": Scalar("string", enum=("bind", "volume", "tmpfs", "cluster", "npipe", "image")),
            "source": STR,
            "target": STR,
            "read_only": STR_BOOL,
            "consistency": STR,
            "bind": Obj(
                {
                    "propagation": STR,
                    "create_host_path": STR_BOOL,
                    "recursive": Scalar(
                        "string", enum=("enabled", "disabled", "writable", "readonly")
                    ),
                    "selinux": Scalar("string", enum=("z", "Z")),
                }
            ),
            "volume": Obj({"labels": LIST_OR_DICT, "nocopy": STR_BOOL, "subpath": STR}),
            "tmpfs": Obj({"size": INT_STR, "mode": NUM_STR}),
            "image": Obj({"subpath": STR}),
        },
        ("type",),
    ),
)

SERVICE_NETWORKS = AnyOf(
    STRINGS,
    MapOf(
        AnyOf(
            Scalar("null"),
            Obj(
                {
                    "aliases": STRINGS,
                    "interface_name": STR,
                    "ipv4_address": STR,
                    "ipv6_address": STR,
                    "link_local_ips": STRINGS,
                    "mac_address": STR,
                    "driver_opts": OPTS,
                    "priority": Scalar("number"),
                    "gw_priority": Scalar("number"),
                }
            ),
        ),
        key=NAME_KEY,
    ),
)

DEPENDS_ON = AnyOf(
    STRINGS,
    MapOf(
        Obj(
            {
                "restart": STR_BOOL,
                "required": BOOL,
                "condition": Scalar(
                    "string",
                    enum=("service_started", "service_healthy", "service_completed_successfully"),
                ),
            },
            ("condition",),
        ),
        key=NAME_KEY,
    ),
)

HEALTHCHECK = Obj(
    {
        "disable": STR_BOOL,
        "interval": STR,
        "retries": NUM_STR,
        "test": AnyOf(STR, STRINGS),
        "timeout": STR,
        "start_period": STR,
        "start_interval": STR,
    }
)

_SERVICE_PROPS: dict[str, Spec] = {
    "develop": AnyOf(Scalar("null"), Obj({"watch": ListOf(ANY)})),
    "deploy": DEPLOY,
    "annotations": LIST_OR_DICT,
    "attach": STR_BOOL,
    "build": BUILD,
    "blkio_config": Obj(
        {
            "device_read_bps": ListOf(ANY),
            "device_read_iops": ListOf(ANY),
            "device_write_bps": ListOf(ANY),
            "device_write_iops": ListOf(ANY),
            "weight": INT_STR,
            "weight_device": ListOf(ANY),
        }
    ),
    "cap_add": STRINGS,
    "cap_drop": STRINGS,
    "cgroup": Scalar("string", enum=("host", "private")),
    "cgroup_parent": STR,
    "command": COMMAND,
    "configs": FILE_REFS,
    "container_name": STR,
    "cpu_count": INT_STR,
    "cpu_percent": INT_STR,
    "cpu_shares": NUM_STR,
    "cpu_quota": NUM_STR,
    "cpu_period": NUM_STR,
    "cpu_rt_period": NUM_STR,
    "cpu_rt_runtime": NUM_STR,
    "cpus": NUM_STR,
    "cpuset": STR,
    "credential_spec": Obj({"config": STR, "file": STR, "registry": STR}),
    "depends_on": DEPENDS_ON,
    "device_cgroup_rules": STRINGS,
    "devices": ListOf(
        AnyOf(STR, Obj({"source": STR, "target": STR, "permissions": STR}, ("source",)))
    ),
    "dns": STR_OR_LIST,
    "dns_opt": STRINGS,
    "dns_search": STR_OR_LIST,
    "domainname": STR,
    "entrypoint": COMMAND,
    "env_file": AnyOf(
        STR,
        ListOf(AnyOf(STR, Obj({"path": STR, "format": STR, "required": STR_BOOL}, ("path",)))),
    ),
    "label_file": STR_OR_LIST,
    "environment": LIST_OR_DICT,
    "expose": ListOf(Scalar("string", "number")),
    "extends": AnyOf(STR, Obj({"service": STR, "file": STR}, ("service",))),
    "provider": Obj({"type": STR, "options": MapOf(ANY)}, ("type",)),
    "external_links": STRINGS,
    "extra_hosts": EXTRA_HOSTS,
    "gpus": AnyOf(Scalar("string", enum=("all",)), ListOf(ANY)),
    "group_add": ListOf(Scalar("string", "number")),
    "healthcheck": HEALTHCHECK,
    "hostname": STR,
    "image": STR,
    "init": STR_BOOL,
    "ipc": STR,
    "isolation": STR,
    "labels": LIST_OR_DICT,
    "links": STRINGS,
    "logging": Obj({"driver": STR, "options": MapOf(Scalar("string", "number", "null"))}),
    "mac_address": STR,
    "mem_limit": NUM_STR,
    "mem_reservation": INT_STR,
    "mem_swappiness": INT_STR,
    "memswap_limit": NUM_STR,
    "network_mode": STR,
    "models": AnyOf(STRINGS, MapOf(ANY)),
    "networks": SERVICE_NETWORKS,
    "oom_kill_disable": STR_BOOL,
    "oom_score_adj": INT_STR,
    "pid": Scalar("string", "null"),
    "pids_limit": NUM_STR,
    "platform": STR,
    "ports": ListOf(
        AnyOf(
            Scalar("number", "string"),
            Obj(
                {
                    "name": STR,
                    "mode": STR,
                    "host_ip": STR,
                    "target": INT_STR,
                    "published": Scalar("string", "integer"),
                    "protocol": STR,
                    "app_protocol": STR,
                }
            ),
        )
    ),
    "post_start": ListOf(HOOK),
    "pre_stop": ListOf(HOOK),
    "privileged": STR_BOOL,
    "profiles": STRINGS,
    "pull_policy": STR,
    "pull_refresh_after": STR,
    "read_only": STR_BOOL,
    "restart": STR,
    "runtime": STR,
    "scale": INT_STR,
    "security_opt": STRINGS,
    "shm_size": NUM_STR,
    "secrets": FILE_REFS,
    "sysctls": LIST_OR_DICT,
    "stdin_open": STR_BOOL,
    "stop_grace_period": STR,
    "stop_signal": STR,
    "storage_opt": MapOf(ANY),
    "tmpfs": STR_OR_LIST,
    "tty": STR_BOOL,
    "ulimits": ULIMITS,
    "use_api_socket": BOOL,
    "user": STR,
    "uts": STR,
    "userns_mode": STR,
    "volumes": ListOf(SERVICE_VOLUME),
    "volumes_from": STRINGS,
    "working_dir": STR,
}
SERVICE = Obj(_SERVICE_PROPS)

NETWORK = AnyOf(
    Scalar("null"),
    Obj(
        {
            "name": STR,
            "driver": STR,
            "driver_opts": OPTS,
            "ipam": Obj(
                {
                    "driver": STR,
                    "config": ListOf(
                        Obj(
                            {
                                "subnet": STR,
                                "ip_range": STR,
                                "gateway": STR,
                                "aux_addresses": MapOf(STR),
                            }
                        )
                    ),
                    "options": MapOf(STR),
                }
            ),
            "external": EXTERNAL,
            "internal": STR_BOOL,
            "enable_ipv4": STR_BOOL,
            "enable_ipv6": STR_BOOL,
            "attachable": STR_BOOL,
            "labels": LIST_OR_DICT,
        }
    ),
)
VOLUME = AnyOf(
    Scalar("null"),
    Obj(
        {
            "name": STR,
            "driver": STR,
            "driver_opts": OPTS,
            "external": EXTERNAL,
            "labels": LIST_OR_DICT,
        }
    ),
)
SECRET = Obj(
    {
        "name": STR,
        "environment": STR,
        "file": STR,
        "external": EXTERNAL,
        "labels": LIST_OR_DICT,
        "driver": STR,
        "driver_opts": OPTS,
        "template_driver": STR,
    }
)
CONFIG = Obj(
    {
        "name": STR,
        "content": STR,
        "environment": STR,
        "file": STR,
        "external": EXTERNAL,
        "labels": LIST_OR_DICT,
        "template_driver": STR,
    }
)
PROJECT = Obj(
    {
        "version": STR,
        "name": STR,
        "include": ListOf(ANY),
        "services": MapOf(SERVICE, key=NAME_KEY),
        "models": MapOf(ANY),
        "networks": MapOf(NETWORK, key=NAME_KEY),
        "volumes": MapOf(VOLUME, key=NAME_KEY),
        "secrets": MapOf(SECRET, key=NAME_KEY),
        "configs": MapOf(CONFIG, key=NAME_KEY),
    }
)


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _accepts(spec: Spec, kind: str) -> bool:
    if isinstance(spec, Anything):
        return True
    if isinstance(spec, Scalar):
        return kind in spec.kinds or (kind == "integer" and "number" in spec.kinds)
    if isinstance(spec, ListOf):
        return kind == "array"
    if isinstance(spec, MapOf | Obj):
        return kind == "object"
    return any(_accepts(option, kind) for option in spec.options)


def _describe(spec: Spec) -> list[str]:
    if isinstance(spec, Scalar):
        return [_ARTICLES[kind] for kind in spec.kinds]
    if isinstance(spec, ListOf):
        return ["a list"]
    if isinstance(spec, MapOf | Obj):
        return ["a mapping"]
    if isinstance(spec, AnyOf):
        names: list[str] = []
        for option in spec.options:
            names.extend(name for name in _describe(option) if name not in names)
        return names
    return ["anything"]


def _expected(spec: Spec) -> str:
    names = _describe(spec)
    return "must be " + (
        " or ".join(names) if len(names) < 3 else ", ".join(names[:-1]) + " or " + names[-1]
    )


def validate(value: object, spec: Spec, *, file: str, path: str = "") -> None:
    """Raise ComposeError naming file and key path at the first mismatch."""
    if value is RESET:
        return
    if isinstance(value, Override):
        validate(value.value, spec, file=file, path=path)
        return
    kind = _json_kind(value)
    if not _accepts(spec, kind):
        raise ComposeError(_expected(spec), file=file, path=path)
    if isinstance(spec, AnyOf):
        chosen = next(option for option in spec.options if _accepts(option, kind))
        validate(value, chosen, file=file, path=path)
    elif isinstance(spec, Scalar):
        if spec.enum and value not in spec.enum:
            raise ComposeError(f"must be one of: {', '.join(spec.enum)}", file=file, path=path)
    elif isinstance(spec, ListOf):
        assert isinstance(value, list)
        for i, item in enumerate(value):
            validate(item, spec.item, file=file, path=index_path(path, i))
    elif isinstance(spec, MapOf):
        assert isinstance(value, dict)
        for key, item in value.items():
            if spec.key and not key.startswith("x-") and re.fullmatch(spec.key, key) is None:
                raise ComposeError(f"invalid name {key!r}", file=file, path=path)
            if not key.startswith("x-") or not spec.key:
                validate(item, spec.value, file=file, path=join_path(path, key))
    elif isinstance(spec, Obj):
        assert isinstance(value, dict)
        for key, item in value.items():
            if key.startswith("x-"):
                continue
            prop = spec.props.get(key)
            if prop is None:
                raise ComposeError(
                    f"additional property '{key}' is not allowed", file=file, path=path
                )
            validate(item, prop, file=file, path=join_path(path, key))
        for key in spec.required:
            if key not in value:
                raise ComposeError(f"missing required property '{key}'", file=file, path=path)
