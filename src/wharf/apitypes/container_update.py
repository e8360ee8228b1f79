"""``POST /containers/{id}/update``: Docker's ``ContainerUpdateConfig`` body, decoded and checked.

Imports the standard library and ``wharf.errdefs`` only.

The body is the ``Resources`` part of a ``HostConfig`` (flat) plus ``RestartPolicy``, as the docker
CLI sends it: every field present, zero (or ``null``) meaning "leave as it is"::

    {"Memory": 67108864, "MemorySwap": 134217728, "MemoryReservation": 0, "CpuShares": 512,
     "NanoCpus": 0, "CpuPeriod": 0, "CpuQuota": 0, "CpusetCpus": "", "CpusetMems": "",
     "PidsLimit": null, "BlkioWeight": 0, ...,
     "RestartPolicy": {"Name": "", "MaximumRetryCount": 0}}

``from_wire`` applies the checks dockerd makes before it looks at the container (moby
``verifyPlatformContainerResources`` with ``update=true`` and ``validateRestartPolicy``), with
Docker's wording, as InvalidArgument. Checks that need the host (CPU count, cpuset nodes, which
cgroup files exist) and the rules that compare with the container's current settings are the
engine's. Resource fields dockerd's update ignores are ignored here too; the real-time CPU fields,
which dockerd applies and Wharf cannot, are refused rather than dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

from wharf.errdefs import InvalidArgument

MIN_MEMORY = 6 << 20
RESTART_POLICIES = ("no", "always", "on-failure", "unless-stopped")


def _int(raw: dict[str, object], key: str) -> int:
    value = raw.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise InvalidArgument(f"invalid {key}: expected an integer")
    return int(value)


def _str(raw: dict[str, object], key: str) -> str:
    value = raw.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidArgument(f"invalid {key}: expected a string")
    return value


@dataclass(frozen=True, slots=True)
class UpdateRequest:
    """What to change; 0 / "" / None leave a setting as it is (Docker's reading of the body).

    ``pids_limit`` 0 means "no limit" (dockerd turns 0 and negatives into that);
    ``memory_swap`` -1 means unlimited swap; ``restart_policy`` None keeps the current one."""

    memory: int = 0
    memory_swap: int = 0
    memory_reservation: int = 0
    nano_cpus: int = 0
    cpu_shares: int = 0
    cpu_period: int = 0
    cpu_quota: int = 0
    cpuset_cpus: str = ""
    cpuset_mems: str = ""
    pids_limit: int | None = None
    blkio_weight: int = 0
    restart_policy: str | None = None
    restart_max_retries: int = 0

    @classmethod
    def from_wire(cls, body: object) -> UpdateRequest:
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise InvalidArgument("invalid update config: expected a JSON object")
        for key in ("CpuRealtimePeriod", "CpuRealtimeRuntime"):
            if _int(body, key):
                raise InvalidArgument(f"{key} is not supported by this engine")
        pids_raw = body.get("PidsLimit")
        pids = None if pids_raw is None else max(0, _int(body, "PidsLimit"))
        policy, retries = _restart_policy(body.get("RestartPolicy"))
        request = cls(
            memory=_int(body, "Memory"),
            memory_swap=_int(body, "MemorySwap"),
            memory_reservation=_int(body, "MemoryReservation"),
            nano_cpus=_int(body, "NanoCpus"),
            cpu_shares=_int(body, "CpuShares"),
            cpu_period=_int(body, "CpuPeriod"),
            cpu_quota=_int(body, "CpuQuota"),
            cpuset_cpus=_str(body, "CpusetCpus"),
            cpuset_mems=_str(body, "CpusetMems"),
            pids_limit=pids,
            blkio_weight=_int(body, "BlkioWeight"),
            restart_policy=policy,
            restart_max_retries=retries,
        )
        request.validate()
        return request

    def validate(self) -> None:
        """dockerd's host-independent checks, in its order."""
        if self.memory != 0 and self.memory < MIN_MEMORY:
            raise InvalidArgument("Minimum memory limit allowed is 6MB")
        if self.memory_swap < -1:
            raise InvalidArgument("invalid MemorySwap: must be -1 (unlimited) or a size")
        if self.memory > 0 and self.memory_swap > 0 and self.memory_swap < self.memory:
            raise InvalidArgument(
                "Minimum memoryswap limit should be larger than memory limit, see usage"
            )
        if self.memory_reservation != 0 and self.memory_reservation < MIN_MEMORY:
            raise InvalidArgument("Minimum memory reservation allowed is 6MB")
        if 0 < self.memory < self.memory_reservation:
            raise InvalidArgument(
                "Minimum memory limit can not be less than memory reservation limit, see usage"
            )
        if self.nano_cpus > 0 and self.cpu_period > 0:
            raise InvalidArgument(
                "Conflicting options: Nano CPUs and CPU Period cannot both be set"
            )
        if self.nano_cpus > 0 and self.cpu_quota > 0:
            raise InvalidArgument("Conflicting options: Nano CPUs and CPU Quota cannot both be set")
        if self.cpu_shares < 0:
            raise InvalidArgument("invalid CpuShares: must not be negative")
        if self.cpu_period != 0 and not 1000 <= self.cpu_period <= 1_000_000:
            raise InvalidArgument(
                "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1 second "
                "(i.e. 1000000)"
            )
        if 0 < self.cpu_quota < 1000:
            raise InvalidArgument("CPU cfs quota can not be less than 1ms (i.e. 1000)")
        if self.blkio_weight < 0 or self.blkio_weight > 65535:
            raise InvalidArgument("invalid BlkioWeight: expected an unsigned 16-bit number")

    @property
    def changes_resources(self) -> bool:
        return any(
            (
                self.memory,
                self.memory_swap,
                self.memory_reservation,
                self.nano_cpus,
                self.cpu_shares,
                self.cpu_period,
                self.cpu_quota,
                self.cpuset_cpus,
                self.cpuset_mems,
                self.pids_limit is not None,
                self.blkio_weight,
            )
        )


def _restart_policy(raw: object) -> tuple[str | None, int]:
    """``validateRestartPolicy``: (name or None for "keep the current one", retry count)."""
    if raw is None:
        return None, 0
    if not isinstance(raw, dict):
        raise InvalidArgument("invalid RestartPolicy: expected an object")
    name = _str(raw, "Name")
    retries = _int(raw, "MaximumRetryCount")
    if not name:
        return None, 0
    if name == "on-failure":
        if retries < 0:
            raise InvalidArgument("invalid restart policy: maximum retry count cannot be negative")
        return name, retries
    if name in RESTART_POLICIES:
        if retries != 0:
            message = (
                "invalid restart policy: maximum retry count can only be used with 'on-failure'"
            )
            if retries < 0:
                message += " and cannot be negative"
            raise InvalidArgument(message)
        return name, 0
    raise InvalidArgument(
        f"invalid restart policy: unknown policy '{name}'; use one of 'no', 'always', "
        "'on-failure', or 'unless-stopped'"
    )
