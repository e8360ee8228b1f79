"""``docker update``: new resource limits and restart policy for an existing container.

The rules are dockerd's (``verifyPlatformContainerResources`` for what the host can do,
``Container.UpdateContainer`` for what may change given the current settings), with Docker's
wording; a rule broken against the container's current settings is a Conflict worded
``Cannot update container <id>: <why>``, as dockerd words it.

What an update does (one container lock held throughout, so an exit in between sees either the
old record or the new one, never half of it):

1. merge the request into the record's HostConfig (``merge_update``, pure);
2. a running or paused container gets the merged limits at once through the OCI runtime
   (``runc update --resources``), the same ``resources_for`` mapping ``start`` renders, so a
   later restart keeps them; if the runtime refuses, nothing is recorded;
3. the record is saved. A stopped, created or restarting container gets the limits at its next
   start; the restart policy is read from the record when the process ends, so a new policy
   governs the very next exit.

Imports ``wharf.apitypes``, ``wharf.errdefs``, ``wharf.runtime`` (spec, cgroups) and the
container service's own modules.
"""

from __future__ import annotations

from dataclasses import replace

from wharf.apitypes.container_update import UpdateRequest
from wharf.apitypes.containers import HostConfig
from wharf.engine.container_base import ContainerStore
from wharf.engine.container_model import ContainerConfig, Status
from wharf.engine.container_spec import resources_for
from wharf.errdefs import Conflict, EngineFailure, InvalidArgument, NotFound
from wharf.runtime.cgroups import parse_cpuset
from wharf.runtime.spec import HostFacts

NO_SWAP_LIMIT_WARNING = (
    "Your kernel does not support swap limit capabilities or the cgroup is not mounted. "
    "Memory limited without swap."
)
NO_BLKIO_WEIGHT_WARNING = (
    "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded."
)


def check_for_host(request: UpdateRequest, host: HostFacts) -> tuple[UpdateRequest, list[str]]:
    """dockerd's host-dependent checks: the request as this host can honour it, and the
    warnings for what it had to drop. Raises InvalidArgument for what no host setting allows."""
    warnings: list[str] = []
    if request.memory > 0 and request.memory_swap != -1 and not host.swap_limit:
        warnings.append(NO_SWAP_LIMIT_WARNING)
        request = replace(request, memory_swap=-1)
    if request.nano_cpus and not 10_000_000 <= request.nano_cpus <= host.ncpu * 1_000_000_000:
        raise InvalidArgument(
            f"Range of CPUs is from 0.01 to {host.ncpu}.00, as there are only {host.ncpu} "
            "CPUs available"
        )
    if request.cpuset_cpus:
        cpus = parse_cpuset(request.cpuset_cpus)
        if any(cpu >= host.ncpu for cpu in cpus):
            raise InvalidArgument(
                f"Requested CPUs are not available - requested {request.cpuset_cpus}, "
                f"available: {_span(host.ncpu)}"
            )
    if request.cpuset_mems:
        mems = parse_cpuset(request.cpuset_mems, what="cpuset mems")
        if not mems <= parse_cpuset(host.mems, what="cpuset mems"):
            raise InvalidArgument(
                f"Requested memory nodes are not available - requested {request.cpuset_mems}, "
                f"available: {host.mems}"
            )
    if request.blkio_weight > 0 and not host.blkio_weight:
        warnings.append(NO_BLKIO_WEIGHT_WARNING)
        request = replace(request, blkio_weight=0)
    if request.blkio_weight > 0 and not 10 <= request.blkio_weight <= 1000:
        raise InvalidArgument("Range of blkio weight is from 10 to 1000")
    return request, warnings


def _span(ncpu: int) -> str:
    return "0" if ncpu <= 1 else f"0-{ncpu - 1}"


def recorded_swap(hc: HostConfig, *, swap_limit: bool) -> int:
    """The swap limit a container runs with: Docker records ``2 x Memory`` (or -1 without
    swap accounting) when ``--memory`` comes alone; Wharf records 0 and renders the same."""
    if hc.memory_swap == 0 and hc.memory > 0:
        return 2 * hc.memory if swap_limit else -1
    return hc.memory_swap


def merge_update(hc: HostConfig, request: UpdateRequest, *, swap_limit: bool) -> HostConfig:
    """The container's HostConfig with ``request`` applied: zero fields keep their value.
    Raises Conflict (with dockerd's message) when the change clashes with what is set."""
    if request.nano_cpus > 0 and hc.cpu_period > 0:
        raise Conflict(
            "Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set"
        )
    if request.nano_cpus > 0 and hc.cpu_quota > 0:
        raise Conflict(
            "Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set"
        )
    if request.cpu_period > 0 and hc.nano_cpus > 0:
        raise Conflict(
            "Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set"
        )
    if request.cpu_quota > 0 and hc.nano_cpus > 0:
        raise Conflict(
            "Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set"
        )
    memory, memory_swap = hc.memory, hc.memory_swap
    if request.memory:
        current_swap = recorded_swap(hc, swap_limit=swap_limit)
        # -1 (unlimited) has nothing to be smaller than; dockerd compares it as a number and
        # refuses every new memory limit, which is a bug, not a rule.
        if request.memory_swap == 0 and current_swap != -1 and request.memory > current_swap:
            raise Conflict(
                "Memory limit should be smaller than already set memoryswap limit, update the "
                "memoryswap at the same time"
            )
        # Pinned, so that the implicit 2 x Memory does not follow the new memory limit.
        memory, memory_swap = request.memory, current_swap
    if request.memory_swap:
        memory_swap = request.memory_swap
    if memory_swap > 0 and not memory:
        # dockerd lets this through and the runtime then refuses the container; say it now.
        raise Conflict(
            "You should always set the Memory limit when using Memoryswap limit, see usage"
        )
    if memory_swap > 0 and memory_swap < memory:
        raise Conflict("Minimum memoryswap limit should be larger than memory limit, see usage")
    restart_policy, retries = hc.restart_policy, hc.restart_max_retries
    if request.restart_policy is not None:
        if hc.auto_remove and request.restart_policy != "no":
            raise Conflict(
                "Restart policy cannot be updated because AutoRemove is enabled for the container"
            )
        restart_policy, retries = request.restart_policy, request.restart_max_retries
    return replace(
        hc,
        memory=memory,
        memory_swap=memory_swap,
        memory_reservation=request.memory_reservation or hc.memory_reservation,
        nano_cpus=request.nano_cpus or hc.nano_cpus,
        cpu_shares=request.cpu_shares or hc.cpu_shares,
        cpu_period=request.cpu_period or hc.cpu_period,
        cpu_quota=request.cpu_quota or hc.cpu_quota,
        cpuset_cpus=request.cpuset_cpus or hc.cpuset_cpus,
        cpuset_mems=request.cpuset_mems or hc.cpuset_mems,
        pids_limit=hc.pids_limit if request.pids_limit is None else request.pids_limit,
        blkio_weight=request.blkio_weight or hc.blkio_weight,
        restart_policy=restart_policy,
        restart_max_retries=retries,
    )


class ContainerUpdates(ContainerStore):
    """``update`` for the container service (a part of it, as ``ContainerExits`` is)."""

    def update(self, reference: str, request: UpdateRequest) -> list[str]:
        """Apply ``request`` to a container; returns dockerd's warnings."""
        container_id = self.resolve_id(reference)
        request, warnings = check_for_host(request, self._host)
        with self._container_lock(container_id):
            config, state = self._load(container_id)
            if state.status in (Status.REMOVING, Status.DEAD):
                raise Conflict(
                    f"Cannot update container {container_id}: container is marked for removal "
                    'and cannot be "update"'
                )
            try:
                host_config = merge_update(
                    config.host_config, request, swap_limit=self._host.swap_limit
                )
            except Conflict as exc:
                raise Conflict(f"Cannot update container {container_id}: {exc.message}") from exc
            updated = replace(config, host_config=host_config)
            if state.running and request.changes_resources:
                self._apply_live(updated, request)
            self._records.update_config(container_id, updated.to_json())
            self.emit(updated, "update")
        return warnings

    def _apply_live(self, config: ContainerConfig, request: UpdateRequest) -> None:
        hc = config.host_config
        resources = resources_for(hc)
        if request.pids_limit is not None:
            # start leaves an unlimited container's pids alone; a live one must lift its limit.
            resources = replace(resources, pids_limit=hc.pids_limit or 0)
        if not self._host.blkio_weight:
            resources = replace(resources, blkio_weight=None)
        try:
            self._runtime(config).update(config.id, resources, swap_limit=self._host.swap_limit)
        except (NotFound, Conflict):
            return  # the process ended meanwhile: the record is what the next start reads
        except EngineFailure as exc:
            raise EngineFailure(f"Cannot update container {config.id}: {exc.message}") from exc
