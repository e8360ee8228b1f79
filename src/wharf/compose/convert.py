"""Merged canonical compose data (see ``canonical``) turned into the typed model.

Imports: stdlib, ``wharf.compose.{errors,envfile,consistency,project}``.

This is where the project-wide resolutions happen, after every file is merged:
``env_file`` and ``label_file`` contents are read (environment/labels win over them);
``environment`` and ``build.args`` entries without a value take theirs from the project
environment (or stay None); legacy resource keys fold into ``deploy.resources``; implicit
dependencies join ``depends_on``; a service with neither ``networks`` nor ``network_mode``
joins the project's ``default`` network; resource names get the project prefix.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wharf.compose.consistency import service_reference
from wharf.compose.envfile import read_env_file
from wharf.compose.errors import ComposeError
from wharf.compose.project import (
    BindOptions,
    BuildConfig,
    Dependency,
    DependencyCondition,
    Deploy,
    FileObject,
    Healthcheck,
    ImageOptions,
    Ipam,
    IpamPool,
    Logging,
    NetworkConfig,
    PortConfig,
    PortProtocol,
    Resources,
    ResourceSpec,
    RestartPolicy,
    Service,
    ServiceFileRef,
    ServiceNetwork,
    ServiceVolume,
    TmpfsOptions,
    Ulimit,
    VolumeConfig,
    VolumeOptions,
    VolumeType,
)

# Keys whose canonical value is already the typed value (lists become tuples).
_DIRECT = frozenset(
    {
        "image", "command", "entrypoint", "expose", "network_mode", "restart", "scale",
        "annotations", "container_name", "user", "working_dir", "stop_signal", "init",
        "read_only", "cap_add", "cap_drop", "extra_hosts", "hostname", "domainname", "dns",
        "dns_search", "dns_opt", "profiles", "tty", "stdin_open", "privileged", "tmpfs",
        "sysctls", "pull_policy", "platform", "links", "external_links", "volumes_from",
        "devices", "device_cgroup_rules", "group_add", "security_opt", "ipc", "pid", "uts",
        "userns_mode", "cgroup", "cgroup_parent", "runtime", "mac_address", "cpuset",
        "cpu_shares", "cpu_quota", "cpu_period", "shm_size", "mem_swappiness",
        "memswap_limit", "oom_kill_disable", "oom_score_adj", "storage_opt", "attach",
    }
)  # fmt: skip


def _freeze(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _resolved(values: Mapping[str, str | None], env: Mapping[str, str]) -> dict[str, str | None]:
    return {key: env.get(key) if value is None else value for key, value in values.items()}


def build_service(
    name: str, raw: Mapping[str, Any], *, env: Mapping[str, str], working_dir: Path
) -> Service:
    where = f"services.{name}"
    fields: dict[str, Any] = {key: _freeze(raw[key]) for key in _DIRECT if key in raw}
    if "build" in raw:
        fields["build"] = _build(raw["build"], env, working_dir)
    fields["environment"] = _environment(raw, env, where)
    labels: dict[str, str] = {}
    for path in raw.get("label_file", ()):
        labels.update(_read(Path(path), env, f"{where}.label_file"))
    labels.update(raw.get("labels", {}))
    fields["labels"] = labels
    fields["ports"] = tuple(_port(p) for p in raw.get("ports", ()))
    fields["volumes"] = tuple(_volume(v) for v in raw.get("volumes", ()))
    fields["networks"] = _networks(raw, where)
    fields["depends_on"] = _depends_on(raw, fields)
    if "healthcheck" in raw:
        fields["healthcheck"] = Healthcheck(
            test=tuple(raw["healthcheck"].get("test", ())),
            **{k: v for k, v in raw["healthcheck"].items() if k != "test"},
        )
    fields["deploy"] = _deploy(raw)
    fields["secrets"] = tuple(ServiceFileRef(**ref) for ref in raw.get("secrets", ()))
    fields["configs"] = tuple(ServiceFileRef(**ref) for ref in raw.get("configs", ()))
    fields["ulimits"] = {k: Ulimit(**v) for k, v in raw.get("ulimits", {}).items()}
    if "logging" in raw:
        fields["logging"] = Logging(**raw["logging"])
    if "stop_grace_period" in raw:
        fields["stop_grace_period_ns"] = raw["stop_grace_period"]
    return Service(name=name, **fields)


def _read(path: Path, env: Mapping[str, str], where: str) -> dict[str, str]:
    try:
        return read_env_file(path, label=str(path), lookup=env.get)
    except ComposeError as exc:
        raise ComposeError(exc.reason, file=exc.file, path=exc.path or where) from exc


def _environment(
    raw: Mapping[str, Any], env: Mapping[str, str], where: str
) -> dict[str, str | None]:
    values: dict[str, str | None] = {}
    for entry in raw.get("env_file", ()):
        path = Path(entry["path"])
        if not path.exists() and not entry["required"]:
            continue
        values.update(_read(path, env, f"{where}.env_file"))
    values.update(_resolved(raw.get("environment", {}), env))
    return values


def _build(raw: Mapping[str, Any], env: Mapping[str, str], working_dir: Path) -> BuildConfig:
    fields = {k: _freeze(v) for k, v in raw.items() if k != "context"}
    if "args" in fields:
        fields["args"] = _resolved(fields["args"], env)
    return BuildConfig(context=Path(raw.get("context", working_dir)), **fields)


def _port(raw: Mapping[str, Any]) -> PortConfig:
    return PortConfig(**{**raw, "protocol": PortProtocol(raw["protocol"])})


def _volume(raw: Mapping[str, Any]) -> ServiceVolume:
    options: dict[str, Any] = {}
    if "bind" in raw:
        options["bind"] = BindOptions(**raw["bind"])
    if "volume" in raw:
        options["volume"] = VolumeOptions(**raw["volume"])
    if "tmpfs" in raw:
        options["tmpfs"] = TmpfsOptions(**raw["tmpfs"])
    if "image" in raw:
        options["image"] = ImageOptions(**raw["image"])
    plain = {k: v for k, v in raw.items() if k not in ("bind", "volume", "tmpfs", "image", "type")}
    return ServiceVolume(type=VolumeType(raw["type"]), **plain, **options)


def _networks(raw: Mapping[str, Any], where: str) -> dict[str, ServiceNetwork]:
    if "networks" in raw and raw.get("network_mode"):
        raise ComposeError("network_mode and networks cannot be combined", path=where)
    if raw.get("network_mode"):
        return {}
    if "networks" not in raw:
        return {"default": ServiceNetwork()}
    return {
        key: ServiceNetwork(**{k: _freeze(v) for k, v in net.items()})
        for key, net in raw["networks"].items()
    }


def _depends_on(raw: Mapping[str, Any], fields: Mapping[str, Any]) -> dict[str, Dependency]:
    result = {
        key: Dependency(DependencyCondition(dep["condition"]), dep["required"], dep["restart"])
        for key, dep in raw.get("depends_on", {}).items()
    }
    implicit: list[str] = [link.split(":", 1)[0] for link in raw.get("links", ())]
    if raw.get("network_mode", "").startswith("service:"):
        implicit.append(raw["network_mode"].removeprefix("service:"))
    for source in raw.get("volumes_from", ()):
        target = service_reference(source)
        if target is not None:
            implicit.append(target)
    for target in implicit:
        result.setdefault(target, Dependency())
    return result


def _spec(raw: Mapping[str, Any]) -> ResourceSpec:
    return ResourceSpec(**{k: raw[k] for k in ("cpus", "memory", "pids") if k in raw})


def _deploy(raw: Mapping[str, Any]) -> Deploy:
    deploy = raw.get("deploy", {})
    resources = deploy.get("resources", {})
    limits = dict(resources.get("limits", {}))
    reservations = dict(resources.get("reservations", {}))
    for legacy, key in (("cpus", "cpus"), ("mem_limit", "memory"), ("pids_limit", "pids")):
        if legacy in raw:
            limits.setdefault(key, raw[legacy])
    if "mem_reservation" in raw:
        reservations.setdefault("memory", raw["mem_reservation"])
    policy = deploy.get("restart_policy")
    return Deploy(
        replicas=deploy.get("replicas"),
        mode=deploy.get("mode", ""),
        resources=Resources(limits=_spec(limits), reservations=_spec(reservations)),
        labels=deploy.get("labels", {}),
        restart_policy=RestartPolicy(**policy) if policy is not None else None,
    )


def _real_name(project: str, key: str, raw: Mapping[str, Any]) -> str:
    if raw.get("name"):
        return str(raw["name"])
    return key if raw.get("external") else f"{project}_{key}"


def _check_external(kind: str, key: str, raw: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    if raw.get("external"):
        for option in raw:
            if option not in ("external", "name", *allowed):
                raise ComposeError(
                    f'"external" cannot be combined with "{option}"', path=f"{kind}.{key}"
                )


def build_network(project: str, key: str, raw: Mapping[str, Any]) -> NetworkConfig:
    _check_external("networks", key, raw, ("labels",))
    fields = {k: v for k, v in raw.items() if k not in ("name", "ipam")}
    if "ipam" in raw:
        ipam = raw["ipam"]
        fields["ipam"] = Ipam(
            driver=ipam.get("driver", ""),
            config=tuple(IpamPool(**pool) for pool in ipam.get("config", ())),
            options=ipam.get("options", {}),
        )
    return NetworkConfig(name=_real_name(project, key, raw), **fields)


def build_volume(project: str, key: str, raw: Mapping[str, Any]) -> VolumeConfig:
    _check_external("volumes", key, raw, ("labels",))
    fields = {k: v for k, v in raw.items() if k != "name"}
    return VolumeConfig(name=_real_name(project, key, raw), **fields)


def build_file_object(project: str, kind: str, key: str, raw: Mapping[str, Any]) -> FileObject:
    _check_external(kind, key, raw, ("labels",))
    sources = [s for s in ("file", "environment", "content", "external") if raw.get(s)]
    if len(sources) != 1:
        choices = (
            "file, environment or external"
            if kind == "secrets"
            else ("file, environment, content or external")
        )
        raise ComposeError(f"must set exactly one of {choices}", path=f"{kind}.{key}")
    return FileObject(
        name=_real_name(project, key, raw),
        file=Path(raw["file"]) if "file" in raw else None,
        environment=raw.get("environment"),
        content=raw.get("content"),
        external=bool(raw.get("external", False)),
        labels=raw.get("labels", {}),
    )
