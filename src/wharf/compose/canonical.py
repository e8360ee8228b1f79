"""One compose file, validated and interpolated, rewritten in canonical long form.

Imports: stdlib, ``wharf.compose.{errors,syntax,values,yamlfile}``.

Canonicalizing each file before the merge is what lets the merge work by keys (ports by
``(host_ip, target, published, protocol)``, volumes by target) and lets every value error
name its file. The canonical form of a service (keys absent when the file does not set them):

- lists of strings for ``string_or_list`` keys; mappings ``{key: str | None}`` for
  ``environment``/``build.args`` and ``{key: str}`` for labels, sysctls, annotations
- ``command``/``entrypoint``: a list (a string is split like a shell), or None
- ``ports``/``volumes``/``secrets``/``configs``: lists of long-syntax dicts, defaults filled
- ``networks``/``depends_on``: mappings of long-syntax dicts
- durations as integer nanoseconds, sizes as integer bytes, booleans as bool
- bind sources, build contexts, ``env_file``/``label_file``, secret and config files:
  absolute paths (relative ones against the base directory given)

``!reset`` values stay ``RESET`` and ``!override`` values stay wrapped, for the merge.
Keys the engine has no use for are dropped with a warning (swarm-only deploy keys silently).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wharf.compose import syntax
from wharf.compose.errors import join_path
from wharf.compose.values import (
    ENVIRONMENT,
    LABELS,
    Context,
    Handler,
    apply_handler,
    checked,
    command,
    container_name,
    host_path,
    keep,
    list_items,
    nested,
    object_fields,
    to_bool,
    to_duration,
    to_float,
    to_int,
    to_mode,
    to_size,
    to_strings,
    to_swap,
)
from wharf.compose.yamlfile import scalar_text

# -- compound service keys ---------------------------------------------------------------


def _context(value: Any, ctx: Context, path: str) -> str:
    if "://" in value or value.startswith("git@"):
        raise ctx.error(f'remote build context "{value}" is not supported', path)
    return host_path(value, ctx, path)


def _extra_hosts(value: Any, ctx: Context, path: str) -> list[str]:
    entries: list[tuple[str, str]] = []
    if isinstance(value, list):
        entries = [(sub, str(item)) for sub, item in list_items(value, path)]
    else:
        for host, addresses in value.items():
            sub = join_path(path, host)
            for address in [addresses] if isinstance(addresses, str) else addresses:
                entries.append((sub, f"{host}:{address}"))
    out: list[str] = []
    for sub, text in entries:
        try:
            out.append(syntax.parse_extra_host(text))
        except ValueError as exc:
            raise ctx.error(str(exc), sub) from None
    return out


_BUILD: dict[str, Handler] = {
    "context": _context,
    "dockerfile": keep,
    "dockerfile_inline": keep,
    "args": ENVIRONMENT,
    "labels": LABELS,
    "target": keep,
    "network": keep,
    "no_cache": to_bool,
    "pull": to_bool,
    "cache_from": to_strings,
    "cache_to": to_strings,
    "tags": to_strings,
    "platforms": to_strings,
    "extra_hosts": _extra_hosts,
    "shm_size": to_size,
    "additional_contexts": LABELS,
}


def _build(value: Any, ctx: Context, path: str) -> dict[str, object]:
    return object_fields({"context": value} if isinstance(value, str) else value, _BUILD, ctx, path)


def _ports(value: Any, ctx: Context, path: str) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for sub, item in list_items(value, path):
        try:
            if isinstance(item, dict):
                out.append(_long_port(item, ctx, sub))
            else:
                out.extend(syntax.parse_port(scalar_text(item)))
        except ValueError as exc:
            raise ctx.error(str(exc), sub) from None
    return out


def _long_port(item: dict[str, Any], ctx: Context, path: str) -> dict[str, object]:
    if "target" not in item:
        raise ctx.error("missing target port", path)
    target = to_int(item["target"], ctx, join_path(path, "target"))
    if not 1 <= target <= 65535:
        raise ctx.error(f'invalid port "{item["target"]}"', join_path(path, "target"))
    spec = str(item.get("published", ""))
    protocol = str(item.get("protocol", "tcp")).lower()
    if protocol not in syntax.PROTOCOLS:
        raise ctx.error(f'invalid protocol "{protocol}"', join_path(path, "protocol"))
    mode = str(item.get("mode", "ingress"))
    if mode not in ("ingress", "host"):
        raise ctx.error(f'invalid port mode "{mode}"', join_path(path, "mode"))
    port: dict[str, object] = {
        "target": target,
        "published": syntax.check_published(spec, spec),
        "host_ip": syntax.check_host_ip(str(item.get("host_ip", "")), spec),
        "protocol": protocol,
        "mode": mode,
    }
    for key in ("name", "app_protocol"):
        if key in item:
            port[key] = str(item[key])
    return port


def _volumes(value: Any, ctx: Context, path: str) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for sub, item in list_items(value, path):
        if isinstance(item, str):
            try:
                out.append(syntax.parse_volume(item, ctx.base_dir, ctx.home))
            except ValueError as exc:
                raise ctx.error(str(exc), sub) from None
        else:
            out.append(_long_volume(item, ctx, sub))
    return out


_VOLUME_OPTIONS: dict[str, dict[str, Handler]] = {
    "bind": {"propagation": keep, "create_host_path": to_bool, "selinux": keep, "recursive": keep},
    "volume": {"nocopy": to_bool, "subpath": keep},
    "tmpfs": {"size": to_size, "mode": to_mode},
    "image": {"subpath": keep},
}


def _long_volume(item: dict[str, Any], ctx: Context, path: str) -> dict[str, object]:
    kind = item["type"]
    if kind not in _VOLUME_OPTIONS:
        raise ctx.error(f'volume type "{kind}" is not supported', join_path(path, "type"))
    target = str(item.get("target", ""))
    if not target.startswith("/"):
        raise ctx.error("target must be an absolute path", join_path(path, "target"))
    source = str(item.get("source", ""))
    if kind in ("bind", "image") and not source:
        raise ctx.error(f"a {kind} mount needs a source", path)
    if kind == "tmpfs" and source:
        raise ctx.error("a tmpfs mount takes no source", join_path(path, "source"))
    if kind == "bind":
        source = host_path(source, ctx, path)
    volume: dict[str, object] = {"type": kind, "source": source, "target": target}
    if "read_only" in item:
        volume["read_only"] = to_bool(item["read_only"], ctx, join_path(path, "read_only"))
    if "consistency" in item:
        volume["consistency"] = str(item["consistency"])
    for option, handlers in _VOLUME_OPTIONS.items():
        if option in item:
            sub = join_path(path, option)
            if option != kind:
                raise ctx.error(f'"{option}" options on a {kind} mount', sub)
            volume[option] = object_fields(item[option], handlers, ctx, sub)
    return volume


_SERVICE_NETWORK: dict[str, Handler] = {
    "aliases": to_strings,
    "ipv4_address": keep,
    "ipv6_address": keep,
    "link_local_ips": to_strings,
    "mac_address": keep,
    "interface_name": keep,
    "driver_opts": LABELS,
    "priority": to_int,
    "gw_priority": to_int,
}


def _service_networks(value: Any, ctx: Context, path: str) -> dict[str, object]:
    if isinstance(value, list):
        return {str(item): {} for _, item in list_items(value, path)}
    return {
        name: apply_handler(
            lambda v, c, p: {} if v is None else object_fields(v, _SERVICE_NETWORK, c, p),
            item,
            ctx,
            join_path(path, name),
        )
        for name, item in value.items()
    }


def _depends_on(value: Any, ctx: Context, path: str) -> dict[str, object]:
    started = "service_started"
    if isinstance(value, list):
        return {
            str(item): {"condition": started, "required": True, "restart": False}
            for _, item in list_items(value, path)
        }

    def entry(item: Any, c: Context, p: str) -> dict[str, object]:
        return {
            "condition": item.get("condition", started),
            "required": to_bool(item.get("required", True), c, join_path(p, "required")),
            "restart": to_bool(item.get("restart", False), c, join_path(p, "restart")),
        }

    return {
        name: apply_handler(entry, item, ctx, join_path(path, name)) for name, item in value.items()
    }


def _test(value: Any, ctx: Context, path: str) -> list[str]:
    return ["CMD-SHELL", value] if isinstance(value, str) else [str(v) for v in value]


_HEALTHCHECK: dict[str, Handler] = {
    "test": _test,
    "interval": to_duration,
    "timeout": to_duration,
    "start_period": to_duration,
    "start_interval": to_duration,
    "retries": to_int,
}


def _healthcheck(value: Any, ctx: Context, path: str) -> dict[str, object]:
    out = object_fields(value, _HEALTHCHECK, ctx, path, silent=frozenset({"disable"}))
    if "disable" in value and to_bool(value["disable"], ctx, join_path(path, "disable")):
        out["test"] = ["NONE"]
    return out


_RESOURCES: dict[str, Handler] = {"cpus": to_float, "memory": to_size, "pids": to_int}
_DEPLOY: dict[str, Handler] = {
    "replicas": to_int,
    "mode": keep,
    "labels": LABELS,
    "resources": nested({"limits": nested(_RESOURCES), "reservations": nested(_RESOURCES)}),
    "restart_policy": nested(
        {"condition": keep, "delay": to_duration, "max_attempts": to_int, "window": to_duration}
    ),
}
_SWARM_ONLY = frozenset({"endpoint_mode", "update_config", "rollback_config", "placement"})


def _file_refs(default_dir: str) -> Handler:
    def handler(value: Any, ctx: Context, path: str) -> list[dict[str, object]]:
        out: list[dict[str, object]] = []
        for sub, item in list_items(value, path):
            ref: dict[str, object] = {"source": item} if isinstance(item, str) else {}
            if isinstance(item, dict):
                if "source" not in item:
                    raise ctx.error("missing source", sub)
                ref = {key: item[key] for key in ("source", "target", "uid", "gid") if key in item}
                if "mode" in item:
                    ref["mode"] = to_mode(item["mode"], ctx, join_path(sub, "mode"))
            target = str(ref.get("target") or ref["source"])
            ref["target"] = target if target.startswith("/") else f"{default_dir}/{target}"
            out.append(ref)
        return out

    return handler


def _ulimits(value: Any, ctx: Context, path: str) -> dict[str, object]:
    def limit(item: Any, c: Context, p: str) -> dict[str, int]:
        if isinstance(item, dict):
            return {
                "soft": to_int(item["soft"], c, join_path(p, "soft")),
                "hard": to_int(item["hard"], c, join_path(p, "hard")),
            }
        number = to_int(item, c, p)
        return {"soft": number, "hard": number}

    return {
        name: apply_handler(limit, item, ctx, join_path(path, name)) for name, item in value.items()
    }


def _logging(value: Any, ctx: Context, path: str) -> dict[str, object]:
    def options(item: Any, c: Context, p: str) -> dict[str, str]:
        return {k: scalar_text(v) for k, v in item.items() if v is not None}

    return object_fields(value, {"driver": keep, "options": options}, ctx, path)


def _env_files(value: Any, ctx: Context, path: str) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for sub, item in list_items([value] if isinstance(value, str) else value, path):
        entry = {"path": item} if isinstance(item, str) else dict(item)
        required = to_bool(entry.get("required", True), ctx, join_path(sub, "required"))
        resolved: dict[str, object] = {
            "path": host_path(entry["path"], ctx, sub),
            "required": required,
        }
        if entry.get("format"):
            resolved["format"] = str(entry["format"])
        out.append(resolved)
    return out


def _paths(value: Any, ctx: Context, path: str) -> list[str]:
    return [host_path(item, ctx, path) for item in to_strings(value, ctx, path)]


def _expose(value: Any, ctx: Context, path: str) -> list[str]:
    out = []
    for sub, item in list_items(value, path):
        try:
            out.append(syntax.check_expose(scalar_text(item)))
        except ValueError as exc:
            raise ctx.error(str(exc), sub) from None
    return out


def _devices(value: Any, ctx: Context, path: str) -> list[str]:
    out = []
    for _, item in list_items(value, path):
        if isinstance(item, str):
            out.append(item)
        else:
            source = item["source"]
            out.append(f"{source}:{item.get('target', source)}:{item.get('permissions', 'rwm')}")
    return out


def _extends(value: Any, ctx: Context, path: str) -> dict[str, object]:
    if isinstance(value, str):
        return {"service": value}
    out: dict[str, object] = {"service": value["service"]}
    if "file" in value:
        out["file"] = syntax.resolve_host_path(value["file"], ctx.file_dir, ctx.home)
    return out


def _pid(value: Any, ctx: Context, path: str) -> str:
    return "" if value is None else str(value)


_SERVICE: dict[str, Handler] = {
    "annotations": LABELS,
    "attach": to_bool,
    "build": _build,
    "cap_add": to_strings,
    "cap_drop": to_strings,
    "cgroup": keep,
    "cgroup_parent": keep,
    "command": command,
    "configs": _file_refs(""),
    "container_name": container_name,
    "cpu_period": to_int,
    "cpu_quota": to_int,
    "cpu_shares": to_int,
    "cpus": to_float,
    "cpuset": keep,
    "depends_on": _depends_on,
    "deploy": nested(_DEPLOY, _SWARM_ONLY),
    "device_cgroup_rules": to_strings,
    "devices": _devices,
    "dns": to_strings,
    "dns_opt": to_strings,
    "dns_search": to_strings,
    "domainname": keep,
    "entrypoint": command,
    "env_file": _env_files,
    "environment": ENVIRONMENT,
    "expose": _expose,
    "extends": _extends,
    "external_links": to_strings,
    "extra_hosts": _extra_hosts,
    "group_add": to_strings,
    "healthcheck": _healthcheck,
    "hostname": keep,
    "image": keep,
    "init": to_bool,
    "ipc": keep,
    "label_file": _paths,
    "labels": LABELS,
    "links": to_strings,
    "logging": _logging,
    "mac_address": keep,
    "mem_limit": to_size,
    "mem_reservation": to_size,
    "mem_swappiness": to_int,
    "memswap_limit": to_swap,
    "network_mode": keep,
    "networks": _service_networks,
    "oom_kill_disable": to_bool,
    "oom_score_adj": to_int,
    "pid": _pid,
    "pids_limit": to_int,
    "platform": keep,
    "ports": _ports,
    "privileged": to_bool,
    "profiles": to_strings,
    "pull_policy": checked(syntax.check_pull_policy),
    "read_only": to_bool,
    "restart": checked(syntax.check_restart),
    "runtime": keep,
    "scale": to_int,
    "secrets": _file_refs("/run/secrets"),
    "security_opt": to_strings,
    "shm_size": to_size,
    "stdin_open": to_bool,
    "stop_grace_period": to_duration,
    "stop_signal": keep,
    "storage_opt": LABELS,
    "sysctls": LABELS,
    "tmpfs": to_strings,
    "tty": to_bool,
    "ulimits": _ulimits,
    "user": keep,
    "userns_mode": keep,
    "uts": keep,
    "volumes": _volumes,
    "volumes_from": to_strings,
    "working_dir": keep,
}


def _service(value: Any, ctx: Context, path: str) -> dict[str, object]:
    return object_fields(value, _SERVICE, ctx, path)


def _external(value: Any, ctx: Context, path: str) -> bool:
    return True if isinstance(value, dict) else to_bool(value, ctx, path)


_IPAM_POOL: dict[str, Handler] = {
    "subnet": keep,
    "ip_range": keep,
    "gateway": keep,
    "aux_addresses": LABELS,
}


def _ipam(value: Any, ctx: Context, path: str) -> dict[str, object]:
    def pools(items: Any, c: Context, p: str) -> list[object]:
        return [object_fields(item, _IPAM_POOL, c, sub) for sub, item in list_items(items, p)]

    return object_fields(value, {"driver": keep, "config": pools, "options": LABELS}, ctx, path)


_NETWORK: dict[str, Handler] = {
    "name": keep,
    "driver": keep,
    "driver_opts": LABELS,
    "ipam": _ipam,
    "external": _external,
    "internal": to_bool,
    "enable_ipv4": to_bool,
    "enable_ipv6": to_bool,
    "attachable": to_bool,
    "labels": LABELS,
}
_VOLUME: dict[str, Handler] = {
    "name": keep,
    "driver": keep,
    "driver_opts": LABELS,
    "external": _external,
    "labels": LABELS,
}
_SECRET: dict[str, Handler] = {
    "name": keep,
    "environment": keep,
    "file": host_path,
    "external": _external,
    "labels": LABELS,
}
_CONFIG: dict[str, Handler] = {**_SECRET, "content": keep}


def _resource(handlers: Mapping[str, Handler]) -> Handler:
    def handler(value: Any, ctx: Context, path: str) -> dict[str, object]:
        value = value or {}
        out = object_fields(value, handlers, ctx, path)
        external = value.get("external")
        # The deprecated "external: {name: x}" names the resource.
        if isinstance(external, dict) and "name" in external and "name" not in out:
            out["name"] = external["name"]
        return out

    return handler


_SECTIONS: dict[str, Handler] = {
    "services": _service,
    "networks": _resource(_NETWORK),
    "volumes": _resource(_VOLUME),
    "secrets": _resource(_SECRET),
    "configs": _resource(_CONFIG),
}


def canonicalize(document: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    """The canonical form of one validated, interpolated file."""
    out: dict[str, Any] = {}
    for key, value in document.items():
        if key == "version":
            message = f"{ctx.file}: the attribute `version` is obsolete, it will be ignored"
            if message not in ctx.warnings:
                ctx.warnings.append(message)
        elif key == "name":
            out["name"] = value
        elif key == "include":
            raise ctx.error("include is not supported", "include")
        elif key in _SECTIONS:
            handler = _SECTIONS[key]
            section: dict[str, object] = {}
            for name, item in (value or {}).items():
                if not name.startswith("x-"):
                    section[name] = apply_handler(handler, item, ctx, join_path(key, name))
            out[key] = section
        elif not key.startswith("x-"):
            ctx.ignored(key)
    return out
