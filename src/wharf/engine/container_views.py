"""How containers look from outside: ``ps`` rows with Docker's status words, ``inspect``
documents, and the ``ps`` filters. Pure functions of config + state (+ now)."""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime
from typing import Any

from wharf.apitypes.containers import ContainerInspect, ContainerStateView, ContainerSummary
from wharf.apitypes.filters import Filters
from wharf.apitypes.networks import NetworkSettings, ports_summary
from wharf.engine.container_model import ZERO_TIME, ContainerConfig, ContainerState, Status
from wharf.errdefs import InvalidArgument

PS_FILTERS = (
    "id",
    "name",
    "label",
    "status",
    "ancestor",
    "exited",
    "before",
    "since",
    "volume",
    "network",
    "health",
    "is-task",
    "publish",
    "expose",
)


@functools.lru_cache(maxsize=8192)
def parse_time(text: str) -> datetime | None:
    """An RFC 3339 time of a record; memoized: ``ps`` parses every container's times."""
    if not text or text == ZERO_TIME:
        return None
    text = re.sub(r"(\.\d{6})\d*", r"\1", text.replace("Z", "+00:00"))
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def human_duration(seconds: float) -> str:
    """Docker's go-units HumanDuration."""
    if seconds < 1:
        return "Less than a second"
    if seconds < 2:
        return "1 second"
    if seconds < 60:
        return f"{int(seconds)} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{hours // 24 // 365} years"


_HEALTH_SUFFIX = {
    "starting": " (health: starting)",
    "healthy": " (healthy)",
    "unhealthy": " (unhealthy)",
}


def status_text(
    state: ContainerState, now: datetime | None = None, *, health: str | None = None
) -> str:
    now = now or datetime.now(UTC)
    if state.status in (Status.RUNNING, Status.PAUSED):
        started = parse_time(state.started_at)
        up = human_duration((now - started).total_seconds()) if started else "Less than a second"
        if state.status is Status.PAUSED:
            return f"Up {up} (Paused)"
        return f"Up {up}{_HEALTH_SUFFIX.get(health or '', '')}"
    if state.status is Status.RESTARTING:
        finished = parse_time(state.finished_at)
        ago = human_duration((now - finished).total_seconds()) if finished else "Less than a second"
        return f"Restarting ({state.exit_code}) {ago} ago"
    if state.status is Status.EXITED:
        finished = parse_time(state.finished_at)
        ago = human_duration((now - finished).total_seconds()) if finished else "Less than a second"
        return f"Exited ({state.exit_code}) {ago} ago"
    if state.status is Status.REMOVING:
        return "Removal In Progress"
    if state.status is Status.DEAD:
        return "Dead"
    return "Created"


def command_text(config: ContainerConfig) -> str:
    return " ".join((config.path, *config.args))


def summary(
    config: ContainerConfig,
    state: ContainerState,
    *,
    network_settings: NetworkSettings | None = None,
    health: str | None = None,
) -> ContainerSummary:
    created = parse_time(config.created)
    return ContainerSummary(
        id=config.id,
        names=(f"/{config.name}",),
        image=config.image_ref,
        image_id=config.image_id,
        command=command_text(config),
        created=int(created.timestamp()) if created else 0,
        state=state.status.value,
        status=status_text(state, health=health),
        labels=dict(config.config.labels),
        network_mode=config.host_config.network_mode or "none",
        mounts=tuple(m.to_wire() for m in config.mounts),
        ports=tuple(ports_summary(network_settings.ports)) if network_settings else (),
        network_settings=network_settings,
    )


def state_view(state: ContainerState, health: dict[str, Any] | None = None) -> ContainerStateView:
    return ContainerStateView(
        status=state.status.value,
        running=state.status in (Status.RUNNING, Status.PAUSED),
        paused=state.status is Status.PAUSED,
        restarting=state.status is Status.RESTARTING,
        oom_killed=state.oom_killed,
        dead=state.status is Status.DEAD,
        pid=state.pid,
        exit_code=state.exit_code,
        error=state.error,
        started_at=state.started_at,
        finished_at=state.finished_at,
        health=health,
    )


def inspect(
    config: ContainerConfig,
    state: ContainerState,
    *,
    data_dir: str,
    graph_driver_data: dict[str, str],
    network_settings: NetworkSettings | None = None,
    health: dict[str, Any] | None = None,
) -> ContainerInspect:
    return ContainerInspect(
        id=config.id,
        created=config.created,
        path=config.path,
        args=config.args,
        state=state_view(state, health),
        image_id=config.image_id,
        resolv_conf_path=f"{data_dir}/resolv.conf",
        hostname_path=f"{data_dir}/hostname",
        hosts_path=f"{data_dir}/hosts",
        log_path=f"{data_dir}/{config.id}-json.log",
        name=config.name,
        restart_count=state.restart_count,
        exec_ids=state.exec_ids,
        host_config=config.host_config,
        graph_driver_data=graph_driver_data,
        mounts=tuple(m.to_wire() for m in config.mounts),
        config=config.config,
        network_mode=config.host_config.network_mode or "none",
        network_settings=network_settings,
    )


def matches(
    config: ContainerConfig,
    state: ContainerState,
    filters: Filters,
    *,
    image_ids_for: dict[str, set[str]],
    created_of: dict[str, float],
    networks: list[str] | None = None,
    health: str | None = None,
) -> bool:
    """Docker's ps filters; ``image_ids_for`` maps an ancestor filter value to image IDs."""
    ids = filters.get("id")
    if ids and not any(config.id.startswith(value) for value in ids):
        return False
    names = filters.get("name")
    if names and not any(re.search(value.lstrip("/"), config.name) for value in names):
        return False
    for value in filters.get("status"):
        if value not in {s.value for s in Status}:
            raise InvalidArgument(f"invalid filter 'status={value}'")
    statuses = filters.get("status")
    if statuses and state.status.value not in statuses:
        return False
    wanted_health = filters.get("health")
    for value in wanted_health:
        if value not in ("starting", "healthy", "unhealthy", "none"):
            raise InvalidArgument(f"Unrecognised filter value for health: {value}")
    if wanted_health and (health or "none") not in wanted_health:
        return False
    labels = config.config.labels
    for wanted in filters.get("label"):
        key, has_value, value = wanted.partition("=")
        if key not in labels or (has_value and labels[key] != value):
            return False
    exited = filters.get("exited")
    if exited:
        if state.status is not Status.EXITED:
            return False
        try:
            codes = {int(v) for v in exited}
        except ValueError as exc:
            raise InvalidArgument(f"invalid filter 'exited={exited[0]}'") from exc
        if state.exit_code not in codes:
            return False
    ancestors = filters.get("ancestor")
    if ancestors and not any(
        config.image_id in image_ids_for.get(value, set()) or config.image_ref == value
        for value in ancestors
    ):
        return False
    created = created_of.get(config.id, 0.0)
    for key, older in (("before", True), ("since", False)):
        for value in filters.get(key):
            pivot = created_of.get(value)
            if pivot is None:
                raise InvalidArgument(f"No such container: {value}")
            if (older and created >= pivot) or (not older and created <= pivot):
                return False
    volumes = filters.get("volume")
    if volumes and not any(
        m.name in volumes or m.destination in volumes or m.source in volumes for m in config.mounts
    ):
        return False
    wanted_networks = filters.get("network")
    if not wanted_networks:
        return True
    joined = networks if networks is not None else [config.host_config.network_mode or "none"]
    return any(value in joined for value in wanted_networks)
