"""``UpdateRequest.from_wire``: the body of ``POST /containers/{id}/update`` as the docker CLI
sends it, and dockerd's host-independent checks with its wording."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wharf.apitypes.container_update import UpdateRequest
from wharf.errdefs import InvalidArgument

MiB = 1 << 20


def cli_body(**fields: Any) -> dict[str, Any]:
    """What docker 28 sends for ``docker update``: every Resources field, zero when unset."""
    body: dict[str, Any] = {
        "CpuShares": 0, "Memory": 0, "NanoCpus": 0, "CgroupParent": "", "BlkioWeight": 0,
        "BlkioWeightDevice": None, "BlkioDeviceReadBps": None, "BlkioDeviceWriteBps": None,
        "BlkioDeviceReadIOps": None, "BlkioDeviceWriteIOps": None, "CpuPeriod": 0,
        "CpuQuota": 0, "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0, "CpusetCpus": "",
        "CpusetMems": "", "Devices": None, "DeviceCgroupRules": None, "DeviceRequests": None,
        "MemoryReservation": 0, "MemorySwap": 0, "MemorySwappiness": None,
        "OomKillDisable": None, "PidsLimit": None, "Ulimits": None, "CpuCount": 0,
        "CpuPercent": 0, "IOMaximumIOps": 0, "IOMaximumBandwidth": 0,
        "RestartPolicy": {"Name": "", "MaximumRetryCount": 0},
    }  # fmt: skip
    body.update(fields)
    return body


def test_an_all_zero_body_changes_nothing() -> None:
    request = UpdateRequest.from_wire(cli_body())
    assert request == UpdateRequest()
    assert not request.changes_resources
    assert request.restart_policy is None
    assert UpdateRequest.from_wire(None) == UpdateRequest()
    assert UpdateRequest.from_wire({}) == UpdateRequest()


def test_fields_are_read_from_docker_s_keys() -> None:
    request = UpdateRequest.from_wire(
        cli_body(
            Memory=64 * MiB,
            MemorySwap=-1,
            MemoryReservation=32 * MiB,
            CpuShares=512,
            CpuPeriod=50_000,
            CpuQuota=25_000,
            CpusetCpus="0",
            CpusetMems="0",
            PidsLimit=42,
            BlkioWeight=300,
            RestartPolicy={"Name": "on-failure", "MaximumRetryCount": 3},
        )
    )
    assert request == UpdateRequest(
        memory=64 * MiB,
        memory_swap=-1,
        memory_reservation=32 * MiB,
        cpu_shares=512,
        cpu_period=50_000,
        cpu_quota=25_000,
        cpuset_cpus="0",
        cpuset_mems="0",
        pids_limit=42,
        blkio_weight=300,
        restart_policy="on-failure",
        restart_max_retries=3,
    )
    assert request.changes_resources


@pytest.mark.parametrize("sent", [0, -1, -7])
def test_pids_limit_zero_or_negative_lifts_the_limit(sent: int) -> None:
    request = UpdateRequest.from_wire(cli_body(PidsLimit=sent))
    assert request.pids_limit == 0
    assert request.changes_resources


def test_a_restart_policy_alone_changes_no_resources() -> None:
    request = UpdateRequest.from_wire(cli_body(RestartPolicy={"Name": "always"}))
    assert (request.restart_policy, request.restart_max_retries) == ("always", 0)
    assert not request.changes_resources


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"Memory": 4 * MiB}, "Minimum memory limit allowed is 6MB"),
        ({"Memory": -5}, "Minimum memory limit allowed is 6MB"),
        (
            {"Memory": 64 * MiB, "MemorySwap": 32 * MiB},
            "Minimum memoryswap limit should be larger than memory limit, see usage",
        ),
        ({"MemoryReservation": MiB}, "Minimum memory reservation allowed is 6MB"),
        (
            {"Memory": 16 * MiB, "MemoryReservation": 32 * MiB},
            "Minimum memory limit can not be less than memory reservation limit, see usage",
        ),
        (
            {"NanoCpus": 500_000_000, "CpuPeriod": 100_000},
            "Conflicting options: Nano CPUs and CPU Period cannot both be set",
        ),
        (
            {"NanoCpus": 500_000_000, "CpuQuota": 50_000},
            "Conflicting options: Nano CPUs and CPU Quota cannot both be set",
        ),
        ({"CpuPeriod": 999}, "CPU cfs period can not be less than 1ms (i.e. 1000)"),
        ({"CpuPeriod": 1_000_001}, "larger than 1 second (i.e. 1000000)"),
        ({"CpuQuota": 999}, "CPU cfs quota can not be less than 1ms (i.e. 1000)"),
        ({"CpuShares": -2}, "invalid CpuShares"),
        ({"MemorySwap": -2}, "invalid MemorySwap"),
        ({"BlkioWeight": 70_000}, "invalid BlkioWeight"),
        ({"CpuRealtimeRuntime": 950}, "CpuRealtimeRuntime is not supported"),
        ({"Memory": "64m"}, "invalid Memory: expected an integer"),
        ({"Memory": True}, "invalid Memory: expected an integer"),
        ({"CpusetCpus": 1}, "invalid CpusetCpus: expected a string"),
        (
            {"RestartPolicy": {"Name": "sometimes"}},
            "invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', "
            "'on-failure', or 'unless-stopped'",
        ),
        (
            {"RestartPolicy": {"Name": "always", "MaximumRetryCount": 2}},
            "invalid restart policy: maximum retry count can only be used with 'on-failure'",
        ),
        (
            {"RestartPolicy": {"Name": "no", "MaximumRetryCount": -1}},
            "can only be used with 'on-failure' and cannot be negative",
        ),
        (
            {"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": -1}},
            "invalid restart policy: maximum retry count cannot be negative",
        ),
        ({"RestartPolicy": "always"}, "invalid RestartPolicy: expected an object"),
    ],
)
def test_docker_s_checks(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        UpdateRequest.from_wire(cli_body(**fields))
    assert message in caught.value.message


def test_a_body_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="expected a JSON object"):
        UpdateRequest.from_wire([1, 2])


def test_quota_minus_one_lifts_the_quota_and_swap_minus_one_is_unlimited() -> None:
    request = UpdateRequest.from_wire(cli_body(CpuQuota=-1, Memory=64 * MiB, MemorySwap=-1))
    assert (request.cpu_quota, request.memory_swap) == (-1, -1)


_KEYS = st.sampled_from(
    ["Memory", "MemorySwap", "MemoryReservation", "NanoCpus", "CpuShares", "CpuPeriod",
     "CpuQuota", "CpusetCpus", "CpusetMems", "PidsLimit", "BlkioWeight", "RestartPolicy",
     "KernelMemory", "Ulimits"]
)  # fmt: skip
_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.dictionaries(st.sampled_from(["Name", "MaximumRetryCount"]), st.integers() | st.text()),
)


@given(st.dictionaries(_KEYS, _VALUES, max_size=6))
def test_any_body_decodes_or_is_refused_with_invalid_argument(body: dict[str, Any]) -> None:
    try:
        request = UpdateRequest.from_wire(body)
    except InvalidArgument as exc:
        assert exc.message
        return
    # What was accepted passes the checks again, and nothing out of range got through.
    request.validate()
    assert request.memory == 0 or request.memory >= 6 * MiB
    assert request.pids_limit is None or request.pids_limit >= 0
    assert request.restart_policy in (None, "no", "always", "on-failure", "unless-stopped")
