"""``run``/``create``/``exec``/``start -a``/``attach`` against a scripted daemon that can hijack."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest
from cli_harness import RunWharf

from support.fake_hijack import HijackFake, frames_server, raw_server
from wharf.client.fake import RecordedRequest, error_response, json_lines, json_response, response
from wharf.client.streams import StreamKind

CID = "4" * 64


def run_daemon(
    *,
    frames: list[tuple[StreamKind, bytes]] | None = None,
    exit_code: int = 0,
    start_error: str = "",
    raw: list[bytes] | None = None,
    read_stdin: bool = False,
    received: list[bytes] | None = None,
) -> HijackFake:
    """create -> attach -> wait -> start, as dockerd answers them."""
    started = threading.Event()
    transport = HijackFake(raw_stream=raw is not None)
    transport.on(
        "POST", "/containers/create", lambda _r: json_response({"Id": CID, "Warnings": []}, 201)
    )

    def start(_request: RecordedRequest) -> Any:
        if start_error:
            started.set()
            return error_response(500, start_error)
        started.set()
        return response(204)

    transport.on("POST", f"/containers/{CID}/start", start)
    transport.on(
        "POST",
        f"/containers/{CID}/wait",
        lambda _r: json_response({"StatusCode": exit_code, "Error": None}),
    )
    if raw is not None:
        server = raw_server(raw, after=started)
    else:
        server = frames_server(
            frames or [], after=started, read_stdin=read_stdin, received=received
        )
    transport.on_hijack("POST", f"/containers/{CID}/attach", server)
    return transport


def create_body(transport: HijackFake) -> dict[str, Any]:
    (call,) = transport.calls("POST", "/containers/create")
    body = json.loads(call.body or b"")
    assert isinstance(body, dict)
    return body


# --- the attached flow


def test_attached_run_orders_attach_wait_start_and_exits_with_the_code(
    wharf: RunWharf,
) -> None:
    daemon = run_daemon(
        frames=[(StreamKind.STDOUT, b"out\n"), (StreamKind.STDERR, b"err\n")], exit_code=3
    )
    result = wharf(daemon, "run", "--rm", "busybox", "sh", "-c", "exit 3")
    daemon.join()
    assert result.exit_code == 3, result.stderr
    assert result.stdout == "out\n"
    assert result.stderr == "err\n"
    assert [(c.method, c.path) for c in daemon.calls()] == [
        ("POST", "/containers/create"),
        ("POST", f"/containers/{CID}/attach"),
        ("POST", f"/containers/{CID}/wait"),
        ("POST", f"/containers/{CID}/start"),
    ]
    attach = daemon.calls("POST", f"/containers/{CID}/attach")[0]
    assert attach.query == (("stderr", "1"), ("stdout", "1"), ("stream", "1"))
    wait = daemon.calls("POST", f"/containers/{CID}/wait")[0]
    assert wait.query == (("condition", "removed"),)
    body = create_body(daemon)
    assert body["Cmd"] == ["sh", "-c", "exit 3"]
    assert body["HostConfig"]["AutoRemove"] is True
    assert (body["AttachStdout"], body["AttachStderr"], body["AttachStdin"]) == (
        True,
        True,
        False,
    )


def test_without_rm_waits_for_next_exit(wharf: RunWharf) -> None:
    daemon = run_daemon()
    assert wharf(daemon, "run", "busybox", "true").exit_code == 0
    daemon.join()
    assert daemon.calls("POST", f"/containers/{CID}/wait")[0].query == (("condition", "next-exit"),)


def test_interactive_run_sends_stdin_and_half_closes(wharf: RunWharf) -> None:
    received: list[bytes] = []
    daemon = run_daemon(
        frames=[(StreamKind.STDOUT, b"got it\n")], read_stdin=True, received=received
    )
    result = wharf(daemon, "run", "-i", "busybox", "cat", input=b"line one\nline two\n")
    daemon.join()
    assert result.exit_code == 0, result.stderr
    assert received == [b"line one\nline two\n"]
    assert result.stdout == "got it\n"
    body = create_body(daemon)
    assert (body["OpenStdin"], body["StdinOnce"], body["AttachStdin"]) == (True, True, True)
    attach = daemon.calls("POST", f"/containers/{CID}/attach")[0]
    assert ("stdin", "1") in attach.query


def test_tty_run_copies_raw_output(wharf: RunWharf) -> None:
    daemon = run_daemon(raw=[b"\x1b[1mbold\x1b[0m\r\n"])
    result = wharf(daemon, "run", "-t", "busybox", "echo")
    daemon.join()
    assert result.exit_code == 0
    assert result.stdout_bytes == b"\x1b[1mbold\x1b[0m\r\n"
    assert create_body(daemon)["Tty"] is True


def test_it_needs_a_terminal_on_stdin(wharf: RunWharf) -> None:
    daemon = run_daemon()
    result = wharf(daemon, "run", "-it", "busybox", "sh")
    assert result.exit_code == 1
    assert result.stderr == "the input device is not a TTY\n"
    assert daemon.calls() == []


def test_detach_keys_end_a_tty_session_with_exit_0(wharf: RunWharf) -> None:
    release = threading.Event()
    got: list[bytes] = []

    def server(_request: RecordedRequest, sock: Any) -> None:
        got.append(sock.recv(1024))
        release.wait(5)

    daemon = run_daemon()
    daemon.raw_stream = True
    daemon.on_hijack("POST", f"/containers/{CID}/attach", server)
    try:
        result = wharf(daemon, "run", "-it", "busybox", "sh", input=b"ls\n\x10\x11", stdin_tty=True)
    finally:
        release.set()
    daemon.join()
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""
    assert got == [b"ls\n"]


def test_detached_run_prints_the_full_id_and_never_attaches(wharf: RunWharf) -> None:
    daemon = run_daemon()
    result = wharf(daemon, "run", "-d", "--rm", "--name", "web", "busybox", "sleep", "9")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == CID + "\n"
    assert [(c.method, c.path) for c in daemon.calls()] == [
        ("POST", "/containers/create"),
        ("POST", f"/containers/{CID}/start"),
    ]
    assert daemon.calls()[0].query == (("name", "web"),)
    body = create_body(daemon)
    assert body["HostConfig"]["AutoRemove"] is True
    assert (body["AttachStdout"], body["AttachStderr"]) == (False, False)


def test_detach_with_attach_conflicts(wharf: RunWharf) -> None:
    result = wharf(None, "run", "-d", "-a", "stdout", "busybox")
    assert result.exit_code == 125
    assert result.stderr == (
        "wharf: conflicting options: cannot specify both --attach and --detach.\n"
        "See 'wharf run --help'.\n"
    )


# --- missing images and failures


def test_missing_image_is_pulled_then_created_again(wharf: RunWharf) -> None:
    daemon = run_daemon()
    calls = {"n": 0}

    def create(_request: RecordedRequest) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            return error_response(404, "No such image: busybox:latest")
        return json_response({"Id": CID, "Warnings": []}, 201)

    daemon.on("POST", "/containers/create", create)
    daemon.on(
        "POST",
        "/images/create",
        lambda _r: json_lines({"status": "Pulling from library/busybox", "id": "latest"}),
    )
    result = wharf(daemon, "run", "-d", "busybox")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.startswith("Unable to find image 'busybox:latest' locally\n")
    assert "latest: Pulling from library/busybox" in result.stderr
    pull = daemon.calls("POST", "/images/create")[0]
    assert pull.query == (("fromImage", "docker.io/library/busybox"), ("tag", "latest"))
    assert calls["n"] == 2


def test_failed_pull_is_reported_like_docker_with_125(wharf: RunWharf) -> None:
    daemon = run_daemon()
    daemon.on("POST", "/containers/create", error_response(404, "No such image: nope:latest"))
    daemon.on(
        "POST",
        "/images/create",
        error_response(404, "pull access denied for nope, repository does not exist"),
    )
    result = wharf(daemon, "run", "nope")
    assert result.exit_code == 125
    assert result.stderr == (
        "Unable to find image 'nope:latest' locally\n"
        "wharf: Error response from daemon: pull access denied for nope, repository does not "
        "exist.\nSee 'wharf run --help'.\n"
    )


def test_pull_never_does_not_pull(wharf: RunWharf) -> None:
    daemon = run_daemon()
    daemon.on("POST", "/containers/create", error_response(404, "No such image: busybox:latest"))
    result = wharf(daemon, "run", "--pull", "never", "busybox")
    assert result.exit_code == 125
    assert daemon.calls("POST", "/images/create") == []


def test_bad_pull_value(wharf: RunWharf) -> None:
    result = wharf(None, "run", "--pull", "sometimes", "busybox")
    assert result.exit_code == 125
    assert "invalid pull option: 'sometimes'" in result.stderr


@pytest.mark.parametrize(
    ("message", "code"),
    [
        (
            'failed to create task: exec: "nope": executable file not found in $PATH: unknown',
            127,
        ),
        ("exec /bin/x: no such file or directory", 127),
        ("exec /etc/passwd: permission denied", 126),
        ("cgroup setup failed", 125),
    ],
)
def test_start_errors_map_to_docker_s_exit_codes(wharf: RunWharf, message: str, code: int) -> None:
    daemon = run_daemon(start_error=message)
    result = wharf(daemon, "run", "--rm", "busybox", "nope")
    daemon.join()
    assert result.exit_code == code
    assert result.stderr == f"wharf: Error response from daemon: {message}.\n"


def test_create_conflict_is_125_with_help(wharf: RunWharf) -> None:
    daemon = run_daemon()
    daemon.on(
        "POST",
        "/containers/create",
        error_response(409, 'Conflict. The container name "/web" is already in use'),
    )
    result = wharf(daemon, "run", "--name", "web", "busybox")
    assert result.exit_code == 125
    assert result.stderr.endswith("is already in use.\nSee 'wharf run --help'.\n")


# --- flags to the create body


def run_body(wharf: RunWharf, *args: str, cwd: Path | None = None) -> dict[str, Any]:
    daemon = run_daemon()
    previous = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        result = wharf(daemon, "run", "-d", *args)
    finally:
        os.chdir(previous)
    assert result.exit_code == 0, result.stderr
    return create_body(daemon)


def test_resources_and_limits(wharf: RunWharf) -> None:
    body = run_body(
        wharf,
        "-m",
        "32m",
        "--memory-swap",
        "-1",
        "--cpus",
        "1.5",
        "--cpu-shares",
        "512",
        "--pids-limit",
        "20",
        "--ulimit",
        "nofile=1024:2048",
        "--ulimit",
        "nproc=64",
        "busybox",
    )
    host = body["HostConfig"]
    assert host["Memory"] == 33554432
    assert host["MemorySwap"] == -1
    assert host["NanoCpus"] == 1500000000
    assert host["CpuShares"] == 512
    assert host["PidsLimit"] == 20
    assert host["Ulimits"] == [
        {"Name": "nofile", "Soft": 1024, "Hard": 2048},
        {"Name": "nproc", "Soft": 64, "Hard": 64},
    ]


def test_config_flags(wharf: RunWharf, tmp_path: Path) -> None:
    env_file = tmp_path / "env"
    env_file.write_text("# comment\nFROM_FILE=1\n  SPACED=a b \nUNSET_VAR_XYZ\n")
    body = run_body(
        wharf,
        "-e",
        "A=1",
        "--env-file",
        str(env_file),
        "-w",
        "/work",
        "-u",
        "1000:1000",
        "--entrypoint",
        "/bin/sh",
        "--hostname",
        "box",
        "-l",
        "tier=web",
        "-l",
        "flag",
        "--stop-signal",
        "SIGINT",
        "--stop-timeout",
        "3",
        "--init",
        "--read-only",
        "--privileged",
        "--cap-add",
        "net_admin",
        "--cap-drop",
        "ALL",
        "--add-host",
        "db=10.0.0.2",
        "--add-host",
        "gw:host-gateway",
        "--tmpfs",
        "/run:rw,size=64m",
        "--tmpfs",
        "/cache",
        "--restart",
        "on-failure:3",
        "--log-driver",
        "json-file",
        "--log-opt",
        "max-size=1m",
        "--log-opt",
        "max-file=2",
        "--network",
        "none",
        "busybox",
        "-c",
        "echo hi",
    )
    assert body["Env"] == ["FROM_FILE=1", "SPACED=a b ", "A=1"]
    assert body["WorkingDir"] == "/work"
    assert body["User"] == "1000:1000"
    assert body["Entrypoint"] == ["/bin/sh"]
    assert body["Cmd"] == ["-c", "echo hi"]
    assert body["Hostname"] == "box"
    assert body["Labels"] == {"tier": "web", "flag": ""}
    assert body["StopSignal"] == "SIGINT"
    assert body["StopTimeout"] == 3
    host = body["HostConfig"]
    assert host["Init"] is True
    assert host["ReadonlyRootfs"] is True
    assert host["Privileged"] is True
    assert host["CapAdd"] == ["CAP_NET_ADMIN"]
    assert host["CapDrop"] == ["ALL"]
    assert host["ExtraHosts"] == ["db:10.0.0.2", "gw:host-gateway"]
    assert host["Tmpfs"] == {"/run": "rw,size=64m", "/cache": ""}
    assert host["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert host["LogConfig"] == {
        "Type": "json-file",
        "Config": {"max-size": "1m", "max-file": "2"},
    }
    assert host["NetworkMode"] == "none"
    assert body["NetworkingConfig"] == {"EndpointsConfig": {"none": {}}}


def test_empty_entrypoint_resets_it_and_go_bools_after_the_image_are_arguments(
    wharf: RunWharf,
) -> None:
    body = run_body(wharf, "--entrypoint=", "--init=false", "busybox", "ls", "--rm=false")
    assert body["Entrypoint"] == [""]
    assert body["HostConfig"]["Init"] is False
    assert body["Cmd"] == ["ls", "--rm=false"]


def test_volume_forms(wharf: RunWharf, tmp_path: Path) -> None:
    body = run_body(
        wharf,
        "-v",
        "/data",
        "-v",
        "named:/v",
        "-v",
        "/host/dir:/dst:ro",
        "-v",
        "./rel:/rel",
        "-v",
        "not/abs:/x",
        "busybox",
        cwd=tmp_path,
    )
    assert body["Volumes"] == {"/data": {}}
    assert body["HostConfig"]["Binds"] == [
        "named:/v",
        "/host/dir:/dst:ro",
        f"{tmp_path}/rel:/rel",
        # A relative path not starting with "." is a volume name, as docker reads it; the
        # daemon refuses the name with docker's message.
        "not/abs:/x",
    ]


def test_mount_forms(wharf: RunWharf) -> None:
    body = run_body(
        wharf,
        "--mount",
        "type=bind,source=/src,target=/dst,readonly,bind-propagation=rshared",
        "--mount",
        "type=volume,src=data,dst=/data,volume-nocopy,volume-label=a=b",
        "--mount",
        "type=tmpfs,destination=/t,tmpfs-size=1m,tmpfs-mode=1770",
        "busybox",
    )
    assert body["HostConfig"]["Mounts"] == [
        {
            "Type": "bind",
            "Source": "/src",
            "Target": "/dst",
            "ReadOnly": True,
            "BindOptions": {"Propagation": "rshared"},
        },
        {
            "Type": "volume",
            "Source": "data",
            "Target": "/data",
            "VolumeOptions": {"NoCopy": True, "Labels": {"a": "b"}},
        },
        {
            "Type": "tmpfs",
            "Source": "",
            "Target": "/t",
            "TmpfsOptions": {"SizeBytes": 1048576, "Mode": 0o1770},
        },
    ]


def test_publish_forms(wharf: RunWharf) -> None:
    body = run_body(
        wharf,
        "-p",
        "8080:80",
        "-p",
        "127.0.0.1::53/udp",
        "-p",
        "9000-9001:7000-7001",
        "-p",
        "[::1]:8443:443",
        "-p",
        "5000",
        "--expose",
        "6000-6001/tcp",
        "busybox",
    )
    assert body["ExposedPorts"] == {
        key: {}
        for key in (
            "80/tcp",
            "53/udp",
            "7000/tcp",
            "7001/tcp",
            "443/tcp",
            "5000/tcp",
            "6000/tcp",
            "6001/tcp",
        )
    }
    assert body["HostConfig"]["PortBindings"] == {
        "80/tcp": [{"HostIp": "", "HostPort": "8080"}],
        "53/udp": [{"HostIp": "127.0.0.1", "HostPort": ""}],
        "7000/tcp": [{"HostIp": "", "HostPort": "9000"}],
        "7001/tcp": [{"HostIp": "", "HostPort": "9001"}],
        "443/tcp": [{"HostIp": "::1", "HostPort": "8443"}],
        "5000/tcp": [{"HostIp": "", "HostPort": ""}],
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-p", "garbage"], "wharf: invalid containerPort: garbage."),
        (["-p", "80:99999"], "wharf: invalid containerPort: 99999."),
        (["-p", "1.2.3:80:80"], "wharf: invalid IP address: 1.2.3."),
        (["-p", "80/icmp"], "wharf: invalid proto: icmp."),
        (["-v", "a::b"], "wharf: invalid spec: a::b: empty section between colons."),
        (
            ["--restart", "on-failure:x"],
            "wharf: invalid restart policy format: maximum retry count must be an integer.",
        ),
        (
            ["--rm", "--restart", "always"],
            "wharf: conflicting options: cannot specify both --restart and --rm.",
        ),
        (
            ["--env-file", "/nonexistent/env"],
            "wharf: open /nonexistent/env: no such file or directory.",
        ),
    ],
)
def test_invalid_values_exit_125_with_docker_s_report(
    wharf: RunWharf, args: list[str], message: str
) -> None:
    result = wharf(None, "run", *args, "busybox")
    assert result.exit_code == 125
    assert result.stderr == f"{message}\nSee 'wharf run --help'.\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--memory", "abc"],
            'invalid argument "abc" for "-m, --memory" flag: invalid size: \'abc\'',
        ),
        (["-m", "32x"], 'invalid argument "32x" for "-m, --memory" flag: invalid suffix: \'x\''),
        (
            ["--cpus", "one"],
            'invalid argument "one" for "--cpus" flag: failed to parse one as a rational number',
        ),
        (
            ["--cpus", "0.0000000001"],
            'invalid argument "0.0000000001" for "--cpus" flag: value is too precise',
        ),
        (
            ["--ulimit", "nofile"],
            'invalid argument "nofile" for "--ulimit" flag: invalid ulimit argument: nofile',
        ),
        (
            ["--ulimit", "bogus=1"],
            'invalid argument "bogus=1" for "--ulimit" flag: invalid ulimit type: bogus',
        ),
        (
            ["--mount", "type=bind,src=/x"],
            'invalid argument "type=bind,src=/x" for "--mount" flag: target is required',
        ),
        (
            ["--add-host", "nohost"],
            'invalid argument "nohost" for "--add-host" flag: bad format for add-host: "nohost"',
        ),
        (
            ["-e", "=x"],
            'invalid argument "=x" for "-e, --env" flag: invalid environment variable: =x',
        ),
        (
            ["--pids-limit", "many"],
            'invalid argument "many" for "--pids-limit" flag: strconv.ParseInt: parsing "many": '
            "invalid syntax",
        ),
    ],
)
def test_bad_flag_values_are_flag_errors(wharf: RunWharf, args: list[str], message: str) -> None:
    result = wharf(None, "run", *args, "busybox")
    assert result.exit_code == 125
    assert result.stderr.startswith(message + "\n\nUsage:  wharf run [OPTIONS] IMAGE [COMMAND]")


def test_cidfile_gets_the_id_and_must_not_exist(wharf: RunWharf, tmp_path: Path) -> None:
    cidfile = tmp_path / "cid"
    daemon = run_daemon()
    assert wharf(daemon, "run", "-d", "--cidfile", str(cidfile), "busybox").exit_code == 0
    assert cidfile.read_text() == CID
    result = wharf(run_daemon(), "run", "-d", "--cidfile", str(cidfile), "busybox")
    assert result.exit_code == 125
    assert "container ID file found" in result.stderr


def test_create_prints_the_id_and_records_attach_streams(wharf: RunWharf) -> None:
    daemon = run_daemon()
    result = wharf(daemon, "create", "-i", "-h", "box", "busybox")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == CID + "\n"
    body = create_body(daemon)
    assert body["Hostname"] == "box"
    assert (body["AttachStdin"], body["AttachStdout"], body["OpenStdin"]) == (True, True, True)
    assert [c.path for c in daemon.calls()] == ["/containers/create"]


def test_create_daemon_error_exits_1(wharf: RunWharf) -> None:
    daemon = run_daemon()
    daemon.on("POST", "/containers/create", error_response(400, "invalid mount config"))
    result = wharf(daemon, "container", "create", "busybox")
    assert result.exit_code == 1
    assert result.stderr == "Error response from daemon: invalid mount config\n"


# --- exec, start -a, attach


def exec_daemon(exit_code: int, frames: list[tuple[StreamKind, bytes]]) -> HijackFake:
    return (
        HijackFake()
        .on("GET", "/containers/web/json", json_response({"Id": CID, "State": {"Running": True}}))
        .on("POST", "/containers/web/exec", json_response({"Id": "e1"}, 201))
        .on("GET", "/exec/e1/json", json_response({"ID": "e1", "ExitCode": exit_code}))
        .on_hijack("POST", "/exec/e1/start", frames_server(frames))
    )


def test_exec_streams_and_exits_with_the_exec_code(wharf: RunWharf) -> None:
    daemon = exec_daemon(5, [(StreamKind.STDOUT, b"in there\n")])
    result = wharf(
        daemon, "exec", "-e", "X=1", "-w", "/tmp", "-u", "nobody", "web", "sh", "-c", "x"
    )
    daemon.join()
    assert result.exit_code == 5, result.stderr
    assert result.stdout == "in there\n"
    paths = [c.path for c in daemon.calls()]
    assert paths == [
        "/containers/web/json",
        "/containers/web/exec",
        "/exec/e1/start",
        "/exec/e1/json",
    ]
    body = json.loads(daemon.calls("POST", "/containers/web/exec")[0].body or b"")
    assert body["Cmd"] == ["sh", "-c", "x"]
    assert body["Env"] == ["X=1"]
    assert (body["WorkingDir"], body["User"]) == ("/tmp", "nobody")
    assert (body["AttachStdout"], body["AttachStdin"], body["ConsoleSize"]) == (True, False, None)


def test_exec_detached_starts_without_hijack(wharf: RunWharf) -> None:
    daemon = exec_daemon(0, [])
    daemon.on("POST", "/exec/e1/start", lambda _r: response(200))
    result = wharf(daemon, "exec", "-d", "web", "sleep", "5")
    assert result.exit_code == 0, result.stderr
    start = daemon.calls("POST", "/exec/e1/start")[0]
    assert json.loads(start.body or b"") == {"Detach": True, "Tty": False}


def test_exec_into_a_missing_container(wharf: RunWharf) -> None:
    daemon = HijackFake().on(
        "GET", "/containers/gone/json", error_response(404, "No such container: gone")
    )
    result = wharf(daemon, "exec", "gone", "true")
    assert result.exit_code == 1
    assert result.stderr == "Error response from daemon: No such container: gone\n"


def test_exec_needs_a_command(wharf: RunWharf) -> None:
    result = wharf(None, "exec", "web")
    assert result.exit_code == 1
    assert "'wharf exec' requires at least 2 arguments" in result.stderr


def test_start_attach_follows_run_s_order(wharf: RunWharf) -> None:
    daemon = run_daemon(frames=[(StreamKind.STDOUT, b"again\n")], exit_code=2)
    daemon.on(
        "GET",
        "/containers/web/json",
        json_response({"Id": CID, "Config": {"Tty": False, "OpenStdin": False}, "State": {}}),
    )
    result = wharf(daemon, "start", "-a", "web")
    daemon.join()
    assert result.exit_code == 2
    assert result.stdout == "again\n"
    assert [c.path.rsplit("/", 1)[-1] for c in daemon.calls()] == [
        "json",
        "attach",
        "wait",
        "start",
    ]


def test_attach_refuses_a_stopped_container(wharf: RunWharf) -> None:
    daemon = HijackFake()
    daemon.on("POST", "/containers/web/wait", lambda _r: json_response({"StatusCode": 0}))
    daemon.on(
        "GET", "/containers/web/json", json_response({"Id": CID, "State": {"Running": False}})
    )
    result = wharf(daemon, "attach", "web")
    assert result.exit_code == 1
    assert result.stderr == "cannot attach to a stopped container, start it first\n"


def test_attach_streams_until_exit(wharf: RunWharf) -> None:
    running = {"Id": CID, "State": {"Running": True}, "Config": {"Tty": False, "OpenStdin": True}}
    daemon = HijackFake()
    daemon.on("POST", f"/containers/{CID}/wait", lambda _r: json_response({"StatusCode": 4}))
    daemon.on("POST", "/containers/web/wait", lambda _r: json_response({"StatusCode": 4}))
    daemon.on("GET", "/containers/web/json", lambda _r: json_response(running))
    daemon.on("GET", f"/containers/{CID}/json", lambda _r: json_response(running))
    daemon.on_hijack(
        "POST", f"/containers/{CID}/attach", frames_server([(StreamKind.STDERR, b"boom\n")])
    )
    result = wharf(daemon, "attach", "--no-stdin", "web")
    daemon.join()
    assert result.exit_code == 4
    assert result.stderr == "boom\n"
    attach = daemon.calls("POST", f"/containers/{CID}/attach")[0]
    assert ("stdin", "1") not in attach.query
