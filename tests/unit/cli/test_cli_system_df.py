"""``system df``: docker's summary table and arithmetic, the ``-v`` sections and ``--format``,
plus wharf's container logs row, against a scripted daemon."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from cli_harness import NOW, RunWharf

from wharf.client.fake import FakeTransport, json_response

IMAGE_A = "sha256:" + "a" * 64
IMAGE_B = "sha256:" + "b" * 64
RUNNING = "1" * 64
EXITED = "2" * 64


def go_time(seconds_ago: float) -> str:
    return datetime.fromtimestamp(NOW - seconds_ago, UTC).isoformat().replace("+00:00", "Z")


def container(
    cid: str, name: str, state: str, status: str, size_rw: int, logs: int
) -> dict[str, Any]:
    return {
        "Id": cid, "Names": [f"/{name}"], "Image": "busybox", "ImageID": IMAGE_A,
        "Command": "sh -c 'echo hello; sleep 100'", "Created": int(NOW - 600), "State": state,
        "Status": status, "Ports": [], "Labels": {}, "SizeRw": size_rw,
        "SizeRootFs": size_rw + 4_000_000, "SizeLogs": logs,
        "Mounts": [{"Type": "volume", "Name": "v1", "Driver": "local"}] if cid == EXITED else [],
    }  # fmt: skip


def cache(
    cid: str, kind: str, size: int, *, shared: bool = False, in_use: bool = False
) -> dict[str, Any]:
    return {
        "ID": cid, "Type": kind, "Description": "RUN make", "InUse": in_use, "Shared": shared,
        "Size": size, "CreatedAt": go_time(7200), "LastUsedAt": go_time(60), "UsageCount": 1,
    }  # fmt: skip


USAGE: dict[str, Any] = {
    "LayersSize": 6_000_000,
    "LogsSize": 12288,
    "Images": [
        {"Id": IMAGE_A, "RepoTags": ["busybox:latest"], "RepoDigests": [],
         "Created": int(NOW - 3600), "Size": 4_000_000, "SharedSize": 3_000_000, "Containers": 1},
        {"Id": IMAGE_B, "RepoTags": [], "RepoDigests": [], "Created": int(NOW - 120),
         "Size": 5_000_000, "SharedSize": 3_000_000, "Containers": 0},
    ],
    "Containers": [
        container(RUNNING, "web", "running", "Up 10 minutes", 1000, 4096),
        container(EXITED, "job", "exited", "Exited (0) 5 minutes ago", 3000, 8192),
    ],
    "Volumes": [
        {"Name": "v1", "Driver": "local", "UsageData": {"Size": 10000, "RefCount": 1}},
        {"Name": "v2", "Driver": "local", "UsageData": {"Size": 30000, "RefCount": 0}},
        {"Name": "v3", "Driver": "local", "UsageData": {"Size": -1, "RefCount": 0}},
    ],
    "BuildCache": [
        cache("k" * 25, "regular", 2000),
        cache("s" * 25, "regular", 5000, shared=True),
        cache("m" * 25, "exec.cachemount", 1000, in_use=True),
    ],
}  # fmt: skip


def df_daemon(usage: dict[str, Any]) -> FakeTransport:
    return FakeTransport().on("GET", "/system/df", lambda _r: json_response(usage))


def test_summary_is_docker_s_table_then_the_logs_row(wharf: RunWharf) -> None:
    daemon = df_daemon(USAGE)
    result = wharf(daemon, "system", "df")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "TYPE             TOTAL     ACTIVE    SIZE      RECLAIMABLE",
        "Images           2         1         6MB       5MB (83%)",
        "Containers       2         1         4kB       3kB (75%)",
        "Local Volumes    3         1         40kB      30kB (75%)",
        "Build Cache      3         1         3kB       2kB",
        "Container logs   2         1         12.29kB   8.192kB (66%)",
    ]
    assert daemon.calls()[0].query == ()


def test_a_daemon_that_does_not_count_logs_gets_no_logs_row(wharf: RunWharf) -> None:
    dockerd = {key: value for key, value in USAGE.items() if key != "LogsSize"}
    result = wharf(df_daemon(dockerd), "system", "df")
    assert result.stdout.splitlines() == [
        "TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE",
        "Images          2         1         6MB       5MB (83%)",
        "Containers      2         1         4kB       3kB (75%)",
        "Local Volumes   3         1         40kB      30kB (75%)",
        "Build Cache     3         1         3kB       2kB",
    ]


def test_an_empty_daemon_shows_zeros_without_percentages(wharf: RunWharf) -> None:
    empty = {"LayersSize": 0, "LogsSize": 0, "Images": [], "Containers": [], "Volumes": [],
             "BuildCache": None}  # fmt: skip
    result = wharf(df_daemon(empty), "system", "df")
    assert result.stdout.splitlines()[1:] == [
        "Images           0         0         0B        0B",
        "Containers       0         0         0B        0B",
        "Local Volumes    0         0         0B        0B",
        "Build Cache      0         0         0B        0B",
        "Container logs   0         0         0B        0B",
    ]


def test_verbose_prints_docker_s_sections_then_the_logs(wharf: RunWharf) -> None:
    result = wharf(df_daemon(USAGE), "system", "df", "-v")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "Images space usage:\n"
        "\n"
        "REPOSITORY   TAG       IMAGE ID       CREATED             SIZE      SHARED SIZE"
        "   UNIQUE SIZE   CONTAINERS\n"
        "busybox      latest    aaaaaaaaaaaa   About an hour ago   4MB       3MB"
        "           1MB           1\n"
        "<none>       <none>    bbbbbbbbbbbb   2 minutes ago       5MB       3MB"
        "           2MB           0\n"
        "\n"
        "Containers space usage:\n"
        "\n"
        "CONTAINER ID   IMAGE     COMMAND                  LOCAL VOLUMES   SIZE      CREATED"
        "          STATUS                     NAMES\n"
        '111111111111   busybox   "sh -c \'echo hello; …"   0               1kB       10 minutes'
        " ago   Up 10 minutes              web\n"
        '222222222222   busybox   "sh -c \'echo hello; …"   1               3kB       10 minutes'
        " ago   Exited (0) 5 minutes ago   job\n"
        "\n"
        "Local Volumes space usage:\n"
        "\n"
        "VOLUME NAME   LINKS     SIZE\n"
        "v1            1         10kB\n"
        "v2            0         30kB\n"
        "v3            0         N/A\n"
        "\n"
        "Build cache usage: 3kB\n"
        "\n"
        "CACHE ID        CACHE TYPE        SIZE      CREATED       LAST USED            USAGE"
        "     SHARED\n"
        "kkkkkkkkkkkk    regular           2kB       2 hours ago   About a minute ago   1"
        "         false\n"
        "mmmmmmmmmmmm*   exec.cachemount   1kB       2 hours ago   About a minute ago   1"
        "         false\n"
        "ssssssssssss    regular           5kB       2 hours ago   About a minute ago   1"
        "         true\n"
        "\n"
        "Container logs usage: 12.29kB\n"
        "\n"
        "CONTAINER ID   NAMES     STATUS                     SIZE\n"
        "111111111111   web       Up 10 minutes              4.1kB\n"
        "222222222222   job       Exited (0) 5 minutes ago   8.19kB\n"
    )


def test_format_json_raw_and_templates(wharf: RunWharf) -> None:
    daemon = df_daemon(USAGE)
    lines = wharf(daemon, "system", "df", "--format", "json").stdout.splitlines()
    assert json.loads(lines[0]) == {
        "Active": "1", "Reclaimable": "5MB (83%)", "Size": "6MB", "TotalCount": "2",
        "Type": "Images",
    }  # fmt: skip
    assert len(lines) == 5
    templated = wharf(daemon, "system", "df", "--format", "{{.Type}}: {{.Size}}").stdout
    assert templated.splitlines()[:2] == ["Images: 6MB", "Containers: 4kB"]
    table = wharf(daemon, "system", "df", "--format", "table {{.Type}}\t{{.Active}}").stdout
    assert table.splitlines()[:2] == ["TYPE             ACTIVE", "Images           1"]
    raw = wharf(daemon, "system", "df", "--format", "raw").stdout
    assert raw.startswith(
        "type: Images\ntotal: 2\nactive: 1\nsize: 6MB\nreclaimable: 5MB (83%)\n\ntype: Containers\n"
    )
    verbose = wharf(
        daemon, "system", "df", "-v", "--format", "{{range .Images}}{{.ID}} {{end}}"
    ).stdout
    assert verbose == f"{IMAGE_A} {IMAGE_B} \n"
    bad = wharf(daemon, "system", "df", "--format", "{{.Nope}}")
    assert bad.exit_code == 1 and "Nope" in bad.stderr
