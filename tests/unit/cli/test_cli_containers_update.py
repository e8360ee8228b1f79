"""``wharf update`` / ``wharf container update`` against a scripted daemon: the body sent (the
docker CLI's ``UpdateConfig``), names then warnings on stdout, errors and exit codes."""

from __future__ import annotations

import json

from cli_harness import RunWharf

from wharf.client.fake import (
    FakeTransport,
    RecordedRequest,
    Route,
    error_response,
    json_response,
)
from wharf.client.transport import Response

MiB = 1 << 20


def ok(warnings: list[str] | None = None) -> Route:
    def answer(_request: RecordedRequest) -> Response:
        return json_response({"Warnings": warnings or []})

    return answer


def body(daemon: FakeTransport, index: int = 0) -> dict[str, object]:
    sent = daemon.calls()[index].body
    assert sent is not None
    decoded = json.loads(sent)
    assert isinstance(decoded, dict)
    return decoded


def test_every_flag_lands_in_docker_s_body(wharf: RunWharf) -> None:
    daemon = FakeTransport().on("POST", "/containers/web/update", ok())
    result = wharf(
        daemon,
        "update",
        "-m", "64m", "--memory-swap", "-1", "--memory-reservation", "32m",
        "--cpus", "1.5", "-c", "512", "--cpuset-cpus", "0", "--cpuset-mems", "0",
        "--pids-limit", "-1", "--blkio-weight", "300", "--restart", "on-failure:3",
        "web",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "web\n"
    assert body(daemon) == {
        "BlkioWeight": 300,
        "CpuShares": 512,
        "Memory": 64 * MiB,
        "NanoCpus": 1_500_000_000,
        "CpuPeriod": 0,
        "CpuQuota": 0,
        "CpusetCpus": "0",
        "CpusetMems": "0",
        "MemoryReservation": 32 * MiB,
        "MemorySwap": -1,
        "PidsLimit": -1,
        "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3},
    }
    assert dict(daemon.calls()[0].headers).get("Content-Type") == "application/json"


def test_unset_flags_are_zero_and_pids_limit_stays_null(wharf: RunWharf) -> None:
    daemon = FakeTransport().on("POST", "/containers/a/update", ok())
    result = wharf(
        daemon, "container", "update", "--cpu-period", "50000", "--cpu-quota", "25000", "a"
    )
    assert result.exit_code == 0, result.stderr
    sent = body(daemon)
    assert (sent["CpuPeriod"], sent["CpuQuota"], sent["Memory"]) == (50_000, 25_000, 0)
    assert sent["PidsLimit"] is None
    assert sent["RestartPolicy"] == {"Name": "", "MaximumRetryCount": 0}


def test_names_then_warnings_then_errors(wharf: RunWharf) -> None:
    daemon = (
        FakeTransport()
        .on("POST", "/containers/a/update", ok(["Weight discarded."]))
        .on("POST", "/containers/b/update", error_response(404, "No such container: b"))
        .on("POST", "/containers/c/update", ok())
    )
    result = wharf(daemon, "update", "--blkio-weight", "300", "a", "b", "c")
    assert result.exit_code == 1
    assert result.stdout == "a\nc\nWeight discarded.\n"
    assert result.stderr == "Error response from daemon: No such container: b\n"


def test_no_flag_is_an_error_before_any_request(wharf: RunWharf) -> None:
    result = wharf(None, "update", "web")
    assert result.exit_code == 1
    assert result.stderr == "you must provide one or more flags when using this command\n"


def test_bad_values(wharf: RunWharf) -> None:
    memory = wharf(None, "update", "--memory", "abc", "web")
    assert memory.exit_code == 125
    assert 'invalid argument "abc" for "-m, --memory" flag: invalid size: \'abc\'' in memory.stderr
    weight = wharf(None, "update", "--blkio-weight", "70000", "web")
    assert weight.exit_code == 125
    assert 'strconv.ParseUint: parsing "70000": value out of range' in weight.stderr
    restart = wharf(None, "update", "--restart", "on-failure:x", "web")
    assert restart.exit_code == 1
    assert restart.stderr == (
        "invalid restart policy format: maximum retry count must be an integer\n"
    )
    missing = wharf(None, "update", "-m", "64m")
    assert missing.exit_code == 1
    assert "requires at least 1 argument" in missing.stderr


def test_daemon_conflicts_are_reported_as_docker_does(wharf: RunWharf) -> None:
    message = (
        "Cannot update container abc: Memory limit should be smaller than already set "
        "memoryswap limit, update the memoryswap at the same time"
    )
    daemon = FakeTransport().on("POST", "/containers/web/update", error_response(409, message))
    result = wharf(daemon, "update", "-m", "64m", "web")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == f"Error response from daemon: {message}\n"
