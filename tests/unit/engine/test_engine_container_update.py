"""``update``: dockerd's merge rules (``merge_update``), its host checks (``check_for_host``),
and the container service recording the change and applying it to a running container through
the OCI runtime (a recording fake), with a real metadata store."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import pytest

from wharf.apitypes.container_update import UpdateRequest
from wharf.apitypes.containers import ContainerConfig as WireConfig
from wharf.apitypes.containers import HostConfig
from wharf.engine.container_model import ContainerConfig, ContainerState, Status
from wharf.engine.container_update import (
    NO_BLKIO_WEIGHT_WARNING,
    NO_SWAP_LIMIT_WARNING,
    check_for_host,
    merge_update,
)
from wharf.engine.containers import ContainerService
from wharf.errdefs import Conflict, EngineFailure, InvalidArgument, NotFound
from wharf.events.bus import EventBus
from wharf.metadata.containers import ContainerRecords, ContainerRow
from wharf.metadata.db import MetadataDB
from wharf.runtime.oci import OciRuntime
from wharf.runtime.spec import HostFacts, Resources

MiB = 1 << 20
CID = "ab" * 32
HOST = HostFacts(ncpu=2, swap_limit=True, blkio_weight=False, mems="0")


# --- merge_update


def test_zero_fields_keep_what_is_set() -> None:
    hc = HostConfig(memory=64 * MiB, cpu_shares=256, pids_limit=10, restart_policy="always")
    merged = merge_update(hc, UpdateRequest(cpu_shares=512), swap_limit=True)
    assert merged == replace(hc, cpu_shares=512)


def test_memory_alone_must_fit_under_the_swap_limit() -> None:
    with pytest.raises(Conflict, match=r"^Memory limit should be smaller than already set "):
        merge_update(HostConfig(), UpdateRequest(memory=64 * MiB), swap_limit=True)
    both = merge_update(
        HostConfig(), UpdateRequest(memory=64 * MiB, memory_swap=128 * MiB), swap_limit=True
    )
    assert (both.memory, both.memory_swap) == (64 * MiB, 128 * MiB)


def test_memory_alone_under_docker_s_implicit_swap_pins_that_swap() -> None:
    # Created with -m 48m: Docker records MemorySwap 96m; the new limit keeps that swap.
    hc = HostConfig(memory=48 * MiB)
    merged = merge_update(hc, UpdateRequest(memory=64 * MiB), swap_limit=True)
    assert (merged.memory, merged.memory_swap) == (64 * MiB, 96 * MiB)
    with pytest.raises(Conflict, match="smaller than already set memoryswap"):
        merge_update(hc, UpdateRequest(memory=97 * MiB), swap_limit=True)
    # Without swap accounting the container runs with unlimited swap: nothing to fit under.
    free = merge_update(hc, UpdateRequest(memory=512 * MiB), swap_limit=False)
    assert (free.memory, free.memory_swap) == (512 * MiB, -1)


def test_swap_without_any_memory_limit_is_refused() -> None:
    with pytest.raises(Conflict, match="You should always set the Memory limit"):
        merge_update(HostConfig(), UpdateRequest(memory_swap=128 * MiB), swap_limit=True)
    with pytest.raises(Conflict, match="Minimum memoryswap limit should be larger"):
        merge_update(
            HostConfig(memory=64 * MiB, memory_swap=128 * MiB),
            UpdateRequest(memory_swap=32 * MiB),
            swap_limit=True,
        )
    unlimited = merge_update(HostConfig(), UpdateRequest(memory_swap=-1), swap_limit=True)
    assert unlimited.memory_swap == -1


@pytest.mark.parametrize(
    ("current", "request_", "message"),
    [
        (
            HostConfig(cpu_period=50_000),
            UpdateRequest(nano_cpus=10**9),
            "Nano CPUs cannot be updated as CPU Period has already been set",
        ),
        (
            HostConfig(cpu_quota=50_000),
            UpdateRequest(nano_cpus=10**9),
            "Nano CPUs cannot be updated as CPU Quota has already been set",
        ),
        (
            HostConfig(nano_cpus=10**9),
            UpdateRequest(cpu_period=50_000),
            "CPU Period cannot be updated as NanoCPUs has already been set",
        ),
        (
            HostConfig(nano_cpus=10**9),
            UpdateRequest(cpu_quota=50_000),
            "CPU Quota cannot be updated as NanoCPUs has already been set",
        ),
        (
            HostConfig(auto_remove=True),
            UpdateRequest(restart_policy="always"),
            "Restart policy cannot be updated because AutoRemove is enabled for the container",
        ),
    ],
)
def test_conflicts_with_current_settings(
    current: HostConfig, request_: UpdateRequest, message: str
) -> None:
    with pytest.raises(Conflict) as caught:
        merge_update(current, request_, swap_limit=True)
    assert message in caught.value.message


def test_restart_policy_and_cpu_changes() -> None:
    hc = HostConfig(auto_remove=True, nano_cpus=10**9)
    same = merge_update(
        hc, UpdateRequest(restart_policy="no", nano_cpus=2 * 10**9), swap_limit=True
    )
    assert (same.restart_policy, same.nano_cpus) == ("no", 2 * 10**9)
    policy = merge_update(
        HostConfig(restart_policy="always"),
        UpdateRequest(restart_policy="on-failure", restart_max_retries=4, pids_limit=0),
        swap_limit=True,
    )
    assert (policy.restart_policy, policy.restart_max_retries, policy.pids_limit) == (
        "on-failure",
        4,
        0,
    )


# --- check_for_host


def test_host_checks_and_warnings() -> None:
    request, warnings = check_for_host(
        UpdateRequest(memory=64 * MiB, blkio_weight=500), replace(HOST, swap_limit=False)
    )
    assert warnings == [NO_SWAP_LIMIT_WARNING, NO_BLKIO_WEIGHT_WARNING]
    assert (request.memory_swap, request.blkio_weight) == (-1, 0)
    # A weight the host could take is checked for range; one it cannot is dropped first.
    with pytest.raises(InvalidArgument, match="Range of blkio weight is from 10 to 1000"):
        check_for_host(UpdateRequest(blkio_weight=5), replace(HOST, blkio_weight=True))
    assert check_for_host(UpdateRequest(blkio_weight=5), HOST)[0].blkio_weight == 0
    with pytest.raises(InvalidArgument, match=r"Range of CPUs is from 0\.01 to 2\.00"):
        check_for_host(UpdateRequest(nano_cpus=3 * 10**9), HOST)
    with pytest.raises(InvalidArgument, match="requested 0-3, available: 0-1"):
        check_for_host(UpdateRequest(cpuset_cpus="0-3"), HOST)
    with pytest.raises(InvalidArgument, match="Invalid value x for cpuset cpus"):
        check_for_host(UpdateRequest(cpuset_cpus="x"), HOST)
    with pytest.raises(InvalidArgument, match="memory nodes are not available - requested 1"):
        check_for_host(UpdateRequest(cpuset_mems="1"), HOST)
    assert check_for_host(UpdateRequest(cpuset_mems="0", cpuset_cpus="1"), HOST)[1] == []


# --- the service


class RecordingRuntime(OciRuntime):
    """Records ``update`` calls; ``failure`` is raised by the next one."""

    def __init__(self, state_root: Path) -> None:
        super().__init__("runc", "/nonexistent/runc", state_root)
        self.updates: list[tuple[str, Resources, bool]] = []
        self.failure: Exception | None = None

    def update(self, container_id: str, resources: Resources, *, swap_limit: bool = True) -> None:
        if self.failure is not None:
            raise self.failure
        self.updates.append((container_id, resources, swap_limit))


@pytest.fixture
def db(tmp_path: Path) -> Iterator[MetadataDB]:
    database = MetadataDB(tmp_path / "metadata.db")
    yield database
    database.close()


class Lab:
    def __init__(self, db: MetadataDB, tmp_path: Path) -> None:
        self.records = ContainerRecords(db)
        self.runtime = RecordingRuntime(tmp_path / "runtime")
        self.bus = EventBus()
        self.service = ContainerService(
            records=self.records,
            images=cast(Any, None),
            snapshotter=cast(Any, None),
            runtimes={"runc": self.runtime},
            default_runtime="runc",
            data_root=tmp_path / "data",
            exec_root=tmp_path / "exec",
            host=HOST,
            publish=self.bus.publish,
        )

    def add(self, host_config: HostConfig, status: Status = Status.RUNNING) -> ContainerConfig:
        config = ContainerConfig(
            id=CID,
            name="web",
            created="2024-01-01T00:00:00.000000000Z",
            image_ref="busybox",
            image_id="sha256:" + "1" * 64,
            path="sleep",
            args=("600",),
            config=WireConfig.from_wire({"Image": "busybox"}),
            host_config=host_config,
        )
        state = ContainerState(status=status, pid=4242 if status is Status.RUNNING else 0)
        self.records.insert(
            ContainerRow(CID, "web", config.image_id, 0.0, config.to_json(), state.to_json())
        )
        return config

    def host_config(self) -> HostConfig:
        return ContainerConfig.from_json(self.records.get(CID).config).host_config


@pytest.fixture
def lab(db: MetadataDB, tmp_path: Path) -> Lab:
    return Lab(db, tmp_path)


def test_a_running_container_gets_its_limits_now_and_in_its_record(lab: Lab) -> None:
    lab.add(HostConfig(memory=48 * MiB, cpu_shares=256))
    warnings = lab.service.update(
        "web", UpdateRequest(memory=64 * MiB, pids_limit=20, cpu_quota=50_000)
    )
    assert warnings == []
    hc = lab.host_config()
    assert (hc.memory, hc.memory_swap, hc.pids_limit, hc.cpu_quota, hc.cpu_shares) == (
        64 * MiB,
        96 * MiB,
        20,
        50_000,
        256,
    )
    [(container_id, resources, swap_limit)] = lab.runtime.updates
    assert (container_id, swap_limit) == (CID, True)
    assert resources == Resources(
        memory=64 * MiB, memory_swap=96 * MiB, cpu_shares=256, cpu_quota=50_000, pids_limit=20
    )
    assert lab.host_config().to_wire()["MemorySwap"] == 96 * MiB
    [event] = [e for e in lab.bus.recent() if e.action == "update"]
    assert (event.actor_id, event.attributes["name"]) == (CID, "web")


def test_lifting_a_pids_limit_live_sends_unlimited(lab: Lab) -> None:
    lab.add(HostConfig(pids_limit=10))
    lab.service.update(CID[:12], UpdateRequest(pids_limit=0))
    assert lab.runtime.updates[0][1].pids_limit == 0  # rendered as -1 for runc
    assert lab.host_config().pids_limit == 0


@pytest.mark.parametrize("status", [Status.EXITED, Status.CREATED, Status.RESTARTING])
def test_a_container_that_is_not_running_only_changes_its_record(lab: Lab, status: Status) -> None:
    lab.add(HostConfig(), status)
    lab.service.update("web", UpdateRequest(cpu_shares=512, restart_policy="always"))
    assert lab.runtime.updates == []
    hc = lab.host_config()
    assert (hc.cpu_shares, hc.restart_policy) == (512, "always")


def test_a_restart_policy_alone_does_not_touch_the_runtime(lab: Lab) -> None:
    lab.add(HostConfig())
    lab.service.update("web", UpdateRequest(restart_policy="on-failure", restart_max_retries=2))
    assert lab.runtime.updates == []
    assert (lab.host_config().restart_policy, lab.host_config().restart_max_retries) == (
        "on-failure",
        2,
    )


def test_the_exit_handling_reads_the_new_policy(lab: Lab) -> None:
    lab.add(HostConfig(), Status.RUNNING)
    exited = ContainerState(status=Status.EXITED, exit_code=137)
    config, _ = lab.service.config_and_state(CID)
    assert not lab.service._should_restart(config, exited)
    lab.service.update("web", UpdateRequest(restart_policy="always"))
    config, _ = lab.service.config_and_state(CID)
    assert lab.service._should_restart(config, exited)


def test_a_runtime_refusal_leaves_the_record_alone(lab: Lab) -> None:
    lab.add(HostConfig(memory=48 * MiB))
    lab.runtime.failure = EngineFailure("runc update x: device or resource busy")
    with pytest.raises(EngineFailure) as caught:
        lab.service.update("web", UpdateRequest(memory=8 * MiB))
    assert caught.value.message == (
        f"Cannot update container {CID}: runc update x: device or resource busy"
    )
    assert lab.host_config().memory == 48 * MiB


def test_a_process_that_just_ended_still_gets_the_record_changed(lab: Lab) -> None:
    lab.add(HostConfig())
    lab.runtime.failure = NotFound("no such container in runc")
    lab.service.update("web", UpdateRequest(cpu_shares=100))
    assert lab.host_config().cpu_shares == 100


def test_errors_name_the_container(lab: Lab) -> None:
    with pytest.raises(NotFound, match="No such container: nope"):
        lab.service.update("nope", UpdateRequest(cpu_shares=2))
    lab.add(HostConfig(auto_remove=True))
    with pytest.raises(Conflict) as caught:
        lab.service.update("web", UpdateRequest(restart_policy="unless-stopped"))
    assert caught.value.message == (
        f"Cannot update container {CID}: Restart policy cannot be updated because AutoRemove "
        "is enabled for the container"
    )
    with pytest.raises(InvalidArgument, match="Range of CPUs"):
        lab.service.update("web", UpdateRequest(nano_cpus=5 * 10**9))
    assert lab.runtime.updates == []


def test_host_warnings_come_back_and_the_weight_is_dropped(lab: Lab) -> None:
    lab.add(HostConfig())
    warnings = lab.service.update("web", UpdateRequest(blkio_weight=300, cpu_shares=300))
    assert warnings == [NO_BLKIO_WEIGHT_WARNING]
    assert lab.host_config().blkio_weight == 0
    assert lab.runtime.updates[0][1].blkio_weight is None
