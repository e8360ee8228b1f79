"""The container, exec, volume and pull calls of EngineClient: requests sent, results decoded."""

from __future__ import annotations

import base64
import json

import pytest

from support.fake_hijack import HijackFake, frames_server
from wharf.client.api import EngineClient
from wharf.client.container_models import ChangeKind, GoFileMode
from wharf.client.container_spec import (
    ContainerConfig,
    ContainerSpec,
    EndpointSpec,
    ExecSpec,
    HostConfig,
    Mount,
    MountType,
    PortBinding,
    RestartPolicy,
    Ulimit,
)
from wharf.client.containers import WaitCondition
from wharf.client.errors import DaemonConflict, DaemonNotFound, StreamError
from wharf.client.fake import FakeTransport, error_response, json_lines, json_response, response
from wharf.client.streams import StreamKind, demux
from wharf.errdefs import EngineFailure

CID = "c" * 64


def client_for(transport: FakeTransport) -> EngineClient:
    return EngineClient(transport)


def test_create_sends_docker_s_body_and_query() -> None:
    transport = FakeTransport().on(
        "POST", "/containers/create", json_response({"Id": CID, "Warnings": ["low memory"]}, 201)
    )
    spec = ContainerSpec(
        ContainerConfig(
            image="busybox",
            cmd=("sh", "-c", "exit 3"),
            env=("A=1",),
            exposed_ports=("80/tcp",),
            volumes=("/data",),
            tty=True,
            open_stdin=True,
            stdin_once=True,
            attach_stdin=True,
            stop_timeout=3,
        ),
        HostConfig(
            binds=("/src:/dst:ro",),
            port_bindings=(("80/tcp", (PortBinding("", "8080"),)),),
            restart_policy=RestartPolicy("on-failure", 2),
            auto_remove=True,
            memory=32 << 20,
            nano_cpus=1_500_000_000,
            pids_limit=20,
            ulimits=(Ulimit("nofile", 1024, 2048),),
            mounts=(Mount(MountType.TMPFS, "/t", tmpfs_size=1 << 20),),
            tmpfs=(("/run", "rw"),),
            init=True,
        ),
        (EndpointSpec("default"),),
    )
    created = client_for(transport).container_create(spec, name="web", platform="linux/amd64")
    assert created.id == CID
    assert created.warnings == ("low memory",)
    (call,) = transport.calls("POST", "/containers/create")
    assert call.query == (("name", "web"), ("platform", "linux/amd64"))
    assert ("Content-Type", "application/json") in call.headers
    body = json.loads(call.body or b"")
    assert body["Image"] == "busybox"
    assert body["Cmd"] == ["sh", "-c", "exit 3"]
    assert body["Entrypoint"] is None
    assert body["ExposedPorts"] == {"80/tcp": {}}
    assert body["Volumes"] == {"/data": {}}
    assert (body["Tty"], body["OpenStdin"], body["StdinOnce"], body["AttachStdin"]) == (
        True,
        True,
        True,
        True,
    )
    assert body["StopTimeout"] == 3
    assert "StopSignal" not in body
    host = body["HostConfig"]
    assert host["Binds"] == ["/src:/dst:ro"]
    assert host["PortBindings"] == {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}
    assert host["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 2}
    assert host["AutoRemove"] is True
    assert host["Memory"] == 33554432
    assert host["NanoCpus"] == 1500000000
    assert host["PidsLimit"] == 20
    assert host["Ulimits"] == [{"Name": "nofile", "Soft": 1024, "Hard": 2048}]
    assert host["Mounts"] == [
        {"Type": "tmpfs", "Source": "", "Target": "/t", "TmpfsOptions": {"SizeBytes": 1048576}}
    ]
    assert host["Tmpfs"] == {"/run": "rw"}
    assert host["Init"] is True
    assert host["NetworkMode"] == "default"
    assert body["NetworkingConfig"] == {"EndpointsConfig": {"default": {}}}


def test_unset_pointer_fields_are_null_or_absent() -> None:
    body = ContainerSpec(ContainerConfig(image="x")).to_wire()
    assert body["HostConfig"]["PidsLimit"] is None
    assert "Init" not in body["HostConfig"]
    assert "StopTimeout" not in body
    assert body["Cmd"] is None


def test_lifecycle_queries() -> None:
    transport = FakeTransport()
    for verb in ("start", "stop", "restart", "kill", "pause", "unpause", "rename", "resize"):
        transport.on("POST", f"/containers/web/{verb}", lambda _r: response(204))
    transport.on("DELETE", "/containers/web", lambda _r: response(204))
    client = client_for(transport)
    client.container_start("web")
    client.container_stop("web", timeout=0, signal="SIGUSR1")
    client.container_restart("web", timeout=5)
    client.container_kill("web", signal="INT")
    client.container_pause("web")
    client.container_unpause("web")
    client.container_rename("web", "api")
    client.container_resize("web", height=24, width=80)
    client.container_remove("web", force=True, volumes=True)
    queries = [(c.method, c.path, c.query) for c in transport.calls()]
    assert queries == [
        ("POST", "/containers/web/start", ()),
        ("POST", "/containers/web/stop", (("signal", "SIGUSR1"), ("t", "0"))),
        ("POST", "/containers/web/restart", (("t", "5"),)),
        ("POST", "/containers/web/kill", (("signal", "INT"),)),
        ("POST", "/containers/web/pause", ()),
        ("POST", "/containers/web/unpause", ()),
        ("POST", "/containers/web/rename", (("name", "api"),)),
        ("POST", "/containers/web/resize", (("h", "24"), ("w", "80"))),
        ("DELETE", "/containers/web", (("force", "1"), ("v", "1"))),
    ]


def test_errors_are_typed() -> None:
    transport = (
        FakeTransport()
        .on("POST", "/containers/web/start", error_response(404, "No such container: web"))
        .on("DELETE", "/containers/web", error_response(409, "container is running"))
    )
    client = client_for(transport)
    with pytest.raises(DaemonNotFound, match="No such container: web"):
        client.container_start("web")
    with pytest.raises(DaemonConflict):
        client.container_remove("web")


def test_wait_returns_after_the_head_and_reads_the_body_later() -> None:
    transport = FakeTransport().on(
        "POST",
        "/containers/web/wait",
        response(200, chunks=[b'{"StatusCode": 137, "Error": null}\n']),
    )
    handle = client_for(transport).container_wait("web", WaitCondition.NEXT_EXIT)
    (call,) = transport.calls()
    assert call.query == (("condition", "next-exit"),)
    result = handle.result()
    assert (result.status_code, result.error) == (137, "")


def test_wait_error_message_is_decoded() -> None:
    transport = FakeTransport().on(
        "POST",
        "/containers/web/wait",
        json_response({"StatusCode": 0, "Error": {"Message": "container removed"}}),
    )
    assert client_for(transport).container_wait("web").result().error == "container removed"


def test_list_query_and_summary() -> None:
    summary = {
        "Id": CID,
        "Names": ["/web"],
        "Image": "busybox",
        "ImageID": "sha256:" + "a" * 64,
        "Command": "sleep 100",
        "Created": 1700000000,
        "State": "running",
        "Status": "Up 3 seconds",
        "Ports": [{"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"}],
        "Labels": {"a": "b"},
        "SizeRw": 12,
        "Mounts": [{"Name": "data", "Source": "/v", "Driver": "local"}],
        "NetworkSettings": {"Networks": {"bridge": {}}},
    }
    transport = FakeTransport().on("GET", "/containers/json", json_response([summary]))
    (item,) = client_for(transport).container_list(
        all=True, limit=3, size=True, filters={"status": ["exited"]}
    )
    (call,) = transport.calls()
    assert call.query == (
        ("all", "1"),
        ("filters", '{"status":{"exited":true}}'),
        ("limit", "3"),
        ("size", "1"),
    )
    assert item.names == ("/web",)
    assert item.ports[0].public_port == 8080
    assert item.networks == ("bridge",)
    assert item.mounts[0].driver == "local"


def test_inspect_keeps_the_document() -> None:
    document = {
        "Id": CID,
        "Name": "/web",
        "State": {"Status": "exited", "Running": False, "ExitCode": 3, "OOMKilled": True},
        "Config": {"Tty": True, "OpenStdin": False},
        "HostConfig": {"AutoRemove": True},
    }
    transport = FakeTransport().on("GET", "/containers/web/json", json_response(document))
    inspected = client_for(transport).container_inspect("web", size=True)
    assert transport.calls()[0].query == (("size", "1"),)
    assert inspected.state.exit_code == 3 and inspected.state.oom_killed
    assert inspected.tty and inspected.auto_remove
    assert inspected.raw == document


def test_logs_query_follows_docker_s_order() -> None:
    transport = FakeTransport().on("GET", "/containers/web/logs", response(200, b""))
    client_for(transport).container_logs(
        "web", follow=True, since="1700000000", timestamps=True, tail="10"
    ).read()
    assert transport.calls()[0].query == (
        ("follow", "1"),
        ("since", "1700000000"),
        ("stderr", "1"),
        ("stdout", "1"),
        ("tail", "10"),
        ("timestamps", "1"),
    )


def test_attach_hijacks_with_docker_s_query() -> None:
    transport = HijackFake().on_hijack(
        "POST", f"/containers/{CID}/attach", frames_server([(StreamKind.STDOUT, b"hi")])
    )
    conn = client_for(transport).container_attach(CID, stdin=True, detach_keys="ctrl-x")
    data = b""
    while chunk := conn.recv():
        data += chunk
    conn.close()
    transport.join()
    assert next(iter(demux([data]))).data == b"hi"
    (call,) = transport.calls()
    assert call.query == (
        ("detachKeys", "ctrl-x"),
        ("stderr", "1"),
        ("stdin", "1"),
        ("stdout", "1"),
        ("stream", "1"),
    )


def test_exec_calls() -> None:
    transport = (
        HijackFake()
        .on("POST", "/containers/web/exec", json_response({"Id": "e1"}, 201))
        .on("GET", "/exec/e1/json", json_response({"ID": "e1", "Running": False, "ExitCode": 7}))
        .on("POST", "/exec/e1/resize", lambda _r: response(201))
        .on_hijack("POST", "/exec/e1/start", frames_server([]))
    )
    client = client_for(transport)
    spec = ExecSpec(
        cmd=("sh",),
        env=("A=1",),
        tty=True,
        attach_stdin=True,
        attach_stdout=True,
        attach_stderr=True,
        console_size=(24, 80),
    )
    assert client.exec_create("web", spec) == "e1"
    client.exec_attach("e1", tty=True, console_size=(24, 80)).close()
    client.exec_resize("e1", height=30, width=100)
    assert client.exec_inspect("e1").exit_code == 7
    transport.join()
    create, start, resize, _inspect = transport.calls()
    assert json.loads(create.body or b"") == {
        "User": "",
        "Privileged": False,
        "Tty": True,
        "ConsoleSize": [24, 80],
        "AttachStdin": True,
        "AttachStderr": True,
        "AttachStdout": True,
        "DetachKeys": "",
        "Env": ["A=1"],
        "WorkingDir": "",
        "Cmd": ["sh"],
    }
    assert json.loads(start.body or b"") == {"Detach": False, "Tty": True, "ConsoleSize": [24, 80]}
    assert resize.query == (("h", "30"), ("w", "100"))


def test_exec_without_id_is_an_error() -> None:
    transport = FakeTransport().on("POST", "/containers/web/exec", json_response({}, 201))
    with pytest.raises(EngineFailure, match="exec ID empty"):
        client_for(transport).exec_create("web", ExecSpec(cmd=("true",)))


def _stat_header(**fields: object) -> str:
    return base64.b64encode(json.dumps(fields).encode()).decode()


def test_archive_stat_and_get() -> None:
    header = _stat_header(
        name="etc", size=4096, mode=(1 << 31) | 0o755, mtime="2024-01-01T00:00:00Z", linkTarget=""
    )
    transport = (
        FakeTransport()
        .on(
            "HEAD",
            "/containers/web/archive",
            response(200, headers={"X-Docker-Container-Path-Stat": header}),
        )
        .on(
            "GET",
            "/containers/web/archive",
            response(200, b"TAR", headers={"X-Docker-Container-Path-Stat": header}),
        )
    )
    client = client_for(transport)
    stat = client.container_stat_path("web", "/etc")
    assert stat.is_dir and not stat.is_symlink and stat.mode & 0o777 == 0o755
    stat2, chunks = client.container_get_archive("web", "/etc")
    assert stat2 == stat and b"".join(chunks) == b"TAR"
    assert [c.query for c in transport.calls()] == [(("path", "/etc"),), (("path", "/etc"),)]


def test_symlink_stat_mode() -> None:
    header = _stat_header(name="l", size=3, mode=int(GoFileMode.SYMLINK) | 0o777, linkTarget="x")
    transport = FakeTransport().on(
        "HEAD",
        "/containers/web/archive",
        response(200, headers={"X-Docker-Container-Path-Stat": header}),
    )
    stat = client_for(transport).container_stat_path("web", "/l")
    assert stat.is_symlink and not stat.is_regular and stat.link_target == "x"


def test_put_archive_streams_the_tar() -> None:
    transport = FakeTransport().on("PUT", "/containers/web/archive", response(200))
    client_for(transport).container_put_archive(
        "web", "/tmp", iter([b"a", b"b"]), copy_uid_gid=True
    )
    (call,) = transport.calls()
    assert call.streamed and call.body == b"ab"
    assert call.query == (
        ("copyUIDGID", "true"),
        ("noOverwriteDirNonDir", "true"),
        ("path", "/tmp"),
    )


def test_changes_top_commit_and_prune() -> None:
    transport = (
        FakeTransport()
        .on(
            "GET",
            "/containers/web/changes",
            json_response(
                [
                    {"Path": "/tmp", "Kind": 0},
                    {"Path": "/new", "Kind": 1},
                    {"Path": "/gone", "Kind": 2},
                ]
            ),
        )
        .on(
            "GET",
            "/containers/web/top",
            json_response({"Titles": ["PID", "CMD"], "Processes": [["1", "sh"]]}),
        )
        .on("POST", "/commit", json_response({"Id": "sha256:" + "f" * 64}, 201))
        .on(
            "POST",
            "/containers/prune",
            json_response({"ContainersDeleted": ["a"], "SpaceReclaimed": 5}),
        )
    )
    client = client_for(transport)
    changes = client.container_changes("web")
    assert [(c.kind.letter, c.path) for c in changes] == [
        ("C", "/tmp"),
        ("A", "/new"),
        ("D", "/gone"),
    ]
    assert changes[0].kind is ChangeKind.MODIFIED
    top = client.container_top("web", "-ef")
    assert top.titles == ("PID", "CMD") and top.processes == (("1", "sh"),)
    image = client.container_commit(
        "web", repo="docker.io/library/img", tag="latest", changes=["CMD x"], pause=False
    )
    assert image == "sha256:" + "f" * 64
    report = client.containers_prune(filters={"until": ["1h"]})
    assert report.deleted == ("a",) and report.space_reclaimed == 5
    commit_call = transport.calls("POST", "/commit")[0]
    assert commit_call.query == (
        ("author", ""),
        ("changes", "CMD x"),
        ("comment", ""),
        ("container", "web"),
        ("pause", "0"),
        ("repo", "docker.io/library/img"),
        ("tag", "latest"),
    )
    assert transport.calls("GET", "/containers/web/top")[0].query == (("ps_args", "-ef"),)


def test_stats_samples() -> None:
    sample = {
        "id": CID,
        "name": "/web",
        "cpu_stats": {
            "cpu_usage": {"total_usage": 300, "percpu_usage": [1, 2]},
            "system_cpu_usage": 2000,
            "online_cpus": 0,
        },
        "precpu_stats": {"cpu_usage": {"total_usage": 100}, "system_cpu_usage": 1000},
        "memory_stats": {"usage": 1000, "limit": 4000, "stats": {"inactive_file": 200}},
        "pids_stats": {"current": 3},
        "networks": {"eth0": {"rx_bytes": 10, "tx_bytes": 20}},
        "blkio_stats": {"io_service_bytes_recursive": [{"op": "Read", "value": 5}]},
    }
    transport = FakeTransport().on("GET", "/containers/web/stats", json_lines(sample))
    (item,) = list(client_for(transport).container_stats("web", stream=False))
    assert transport.calls()[0].query == (("stream", "0"),)
    assert (item.cpu_total, item.precpu_total, item.percpu_count) == (300, 100, 2)
    assert item.memory_stats == (("inactive_file", 200),)
    assert item.networks == (("eth0", 10, 20),)
    assert item.blkio == (("Read", 5),)


def test_pull_sends_fully_qualified_name_and_auth() -> None:
    transport = FakeTransport().on(
        "POST", "/images/create", json_lines({"status": "Pulling"}, {"error": "denied"})
    )
    messages = client_for(transport).image_pull("docker.io/library/busybox", "latest")
    with pytest.raises(StreamError, match="denied"):
        list(messages)
    (call,) = transport.calls()
    assert call.query == (("fromImage", "docker.io/library/busybox"), ("tag", "latest"))
    assert ("X-Registry-Auth", "e30=") in call.headers


def test_volume_calls() -> None:
    volume = {
        "Name": "data",
        "Driver": "local",
        "Mountpoint": "/v/data/_data",
        "Scope": "local",
        "Labels": {"a": "b"},
    }
    transport = (
        FakeTransport()
        .on("POST", "/volumes/create", json_response(volume, 201))
        .on("GET", "/volumes", json_response({"Volumes": [volume], "Warnings": None}))
        .on("GET", "/volumes/data", json_response(volume))
        .on("DELETE", "/volumes/data", lambda _r: response(204))
        .on(
            "POST",
            "/volumes/prune",
            json_response({"VolumesDeleted": ["data"], "SpaceReclaimed": 0}),
        )
    )
    client = client_for(transport)
    created = client.volume_create("data", labels={"a": "b"}, driver_opts={"o": "x"})
    assert created.name == "data" and created.labels == (("a", "b"),) and created.size == -1
    assert [v.name for v in client.volume_list(filters={"dangling": ["true"]}).volumes] == ["data"]
    assert client.volume_inspect("data").raw == volume
    client.volume_remove("data", force=True)
    assert client.volumes_prune(filters={"all": ["true"]}).deleted == ("data",)
    create, listing, _inspect, remove, prune = transport.calls()
    assert json.loads(create.body or b"") == {
        "Name": "data",
        "Driver": "local",
        "DriverOpts": {"o": "x"},
        "Labels": {"a": "b"},
    }
    assert listing.query == (("filters", '{"dangling":{"true":true}}'),)
    assert remove.query == (("force", "1"),)
    assert prune.query == (("filters", '{"all":{"true":true}}'),)
