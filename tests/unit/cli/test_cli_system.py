"""``version``, ``info`` and ``inspect`` output, against a scripted daemon."""

from __future__ import annotations

import json
import platform

from cli_harness import RunWharf

from wharf import __version__
from wharf.cli.state import CliState
from wharf.client.api import EngineClient
from wharf.client.errors import DaemonUnreachable, UnreachableReason
from wharf.client.fake import FakeTransport, error_response, json_response

VERSION = {
    "Platform": {"Name": "Wharf Engine"},
    "Components": [
        {"Name": "Engine", "Version": "0.1.0", "Details": {}},
        {"Name": "crun", "Version": "1.8.1", "Details": {"GitCommit": "abc", "Cgroup": "v2"}},
    ],
    "Version": "0.1.0",
    "ApiVersion": "1.47",
    "MinAPIVersion": "1.24",
    "GitCommit": "",
    "GoVersion": "python3.11.2",
    "Os": "linux",
    "Arch": "amd64",
    "KernelVersion": "6.1.0",
    "BuildTime": "",
}

INFO = {
    "ID": "b9baa364",
    "Containers": 3,
    "ContainersRunning": 1,
    "ContainersPaused": 0,
    "ContainersStopped": 2,
    "Images": 5,
    "Driver": "overlayfs",
    "DriverStatus": [["Backing Filesystem", "extfs"], ["Supports d_type", "true"]],
    "Plugins": {"Volume": ["local"], "Network": ["bridge", "host"], "Log": ["json-file"]},
    "Debug": False,
    "LoggingDriver": "json-file",
    "CgroupDriver": "cgroupfs",
    "CgroupVersion": "1",
    "KernelVersion": "6.1.0",
    "OperatingSystem": "Debian GNU/Linux 12 (bookworm)",
    "OSType": "linux",
    "Architecture": "x86_64",
    "NCPU": 2,
    "MemTotal": 25275715584,
    "DockerRootDir": "/var/lib/wharf",
    "Name": "vm",
    "Labels": [],
    "ExperimentalBuild": False,
    "ServerVersion": "0.1.0",
    "Runtimes": {"runc": {"path": "runc"}, "crun": {"path": "crun"}},
    "DefaultRuntime": "crun",
    "Swarm": {"LocalNodeState": "inactive"},
    "SecurityOptions": ["name=seccomp,profile=builtin", "name=cgroupns"],
    "RegistryConfig": {"IndexConfigs": {}, "InsecureRegistryCIDRs": ["127.0.0.0/8"]},
    "LiveRestoreEnabled": True,
    "Warnings": ["WARNING: No swap limit support"],
}


def system_daemon(ping_version: str = "1.47") -> FakeTransport:
    transport = FakeTransport(ping_version=ping_version)
    transport.on("GET", "/version", lambda _r: json_response(VERSION))
    transport.on("GET", "/info", lambda _r: json_response(INFO))
    return transport


def test_version_blocks(wharf: RunWharf) -> None:
    result = wharf(system_daemon(), "version")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "Client:",
        f" Version:           {__version__}",
        " API version:       1.45",
        f" Python version:    {platform.python_version()}",
        result.stdout.splitlines()[4],
        "",
        "Server: Wharf Engine",
        " Engine:",
        "  Version:          0.1.0",
        "  API version:      1.47 (minimum version 1.24)",
        "  Go version:       python3.11.2",
        "  OS/Arch:          linux/amd64",
        "  Experimental:     false",
        " crun:",
        "  Version:          1.8.1",
        "  Cgroup:           v2",
        "  GitCommit:        abc",
    ]
    assert result.stdout.splitlines()[4].startswith(" OS/Arch:           linux/")


def test_version_says_when_it_downgraded(wharf: RunWharf) -> None:
    lines = wharf(system_daemon("1.41"), "version").stdout.splitlines()
    assert lines[2] == " API version:       1.41 (downgraded from 1.45)"


def test_version_without_a_daemon_prints_the_client_then_the_error(wharf: RunWharf) -> None:
    def unreachable(_state: CliState) -> EngineClient:
        raise DaemonUnreachable(
            "Cannot connect to the Wharf daemon at unix:///run/wharf/wharf.sock. "
            "Is the wharf daemon running?",
            reason=UnreachableReason.MISSING,
            host="unix:///run/wharf/wharf.sock",
        )

    result = wharf(None, "version", client_factory=unreachable)
    assert result.exit_code == 1
    assert result.stdout.startswith("Client:\n Version:")
    assert "Server:" not in result.stdout
    assert result.stderr == (
        "Cannot connect to the Wharf daemon at unix:///run/wharf/wharf.sock. "
        "Is the wharf daemon running?\n"
    )


def test_version_format(wharf: RunWharf) -> None:
    daemon = system_daemon()
    assert wharf(daemon, "version", "--format", "{{.Server.Version}}").stdout == "0.1.0\n"
    assert wharf(daemon, "version", "-f", "{{.Client.ApiVersion}}").stdout == "1.45\n"
    data = json.loads(wharf(daemon, "version", "--format", "json").stdout)
    assert data["Server"]["ApiVersion"] == "1.47"
    assert data["Client"]["Version"] == __version__


def test_info_server_block(wharf: RunWharf) -> None:
    result = wharf(system_daemon(), "info")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    server = lines[lines.index("Server:") + 1 :]
    assert server == [
        " Containers: 3",
        "  Running: 1",
        "  Paused: 0",
        "  Stopped: 2",
        " Images: 5",
        " Server Version: 0.1.0",
        " Storage Driver: overlayfs",
        "  Backing Filesystem: extfs",
        "  Supports d_type: true",
        " Logging Driver: json-file",
        " Cgroup Driver: cgroupfs",
        " Cgroup Version: 1",
        " Plugins:",
        "  Volume: local",
        "  Network: bridge host",
        "  Log: json-file",
        " Swarm: inactive",
        " Runtimes: crun runc",
        " Default Runtime: crun",
        " Security Options:",
        "  seccomp",
        "   Profile: builtin",
        "  cgroupns",
        " Kernel Version: 6.1.0",
        " Operating System: Debian GNU/Linux 12 (bookworm)",
        " OSType: linux",
        " Architecture: x86_64",
        " CPUs: 2",
        " Total Memory: 23.54GiB",
        " Name: vm",
        " ID: b9baa364",
        " Docker Root Dir: /var/lib/wharf",
        " Debug Mode: false",
        " Experimental: false",
        " Insecure Registries:",
        "  127.0.0.0/8",
        " Live Restore Enabled: true",
        "",
    ]
    assert lines[:4] == ["Client:", f" Version:    {__version__}", " Context:    default",
                         " Debug Mode: false"]  # fmt: skip
    assert result.stderr == "WARNING: No swap limit support\n"


def test_info_format_and_system_info_alias(wharf: RunWharf) -> None:
    daemon = system_daemon()
    assert wharf(daemon, "info", "--format", "{{.ServerVersion}} {{.NCPU}}").stdout == "0.1.0 2\n"
    assert wharf(daemon, "system", "info", "-f", "{{json .Runtimes}}").stdout == (
        '{"runc":{"path":"runc"},"crun":{"path":"crun"}}\n'
    )


def test_info_daemon_error(wharf: RunWharf) -> None:
    daemon = FakeTransport().on("GET", "/info", error_response(500, "database is locked"))
    result = wharf(daemon, "info", "--format", "{{.ID}}")
    assert result.exit_code == 1
    assert result.stderr == "Error response from daemon: database is locked\n"


# --- inspect

IMAGE = {
    "Id": "sha256:" + "a" * 64,
    "RepoTags": ["busybox:latest"],
    "Created": "2024-01-01T00:00:00Z",
    "Comment": "<imported> & more",
    "Config": {"Cmd": ["sh"], "Env": ["PATH=/bin"], "Labels": None},
    "Size": 4261550,
}


def inspect_daemon() -> FakeTransport:
    transport = FakeTransport()
    transport.on("GET", "/images/busybox/json", lambda _r: json_response(IMAGE))
    transport.on(
        "GET", "/images/nope/json", lambda _r: error_response(404, "No such image: nope:latest")
    )
    return transport


def test_image_inspect_prints_a_go_style_json_array(wharf: RunWharf) -> None:
    result = wharf(inspect_daemon(), "image", "inspect", "busybox")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith('[\n    {\n        "Id": "sha256:aaaa')
    assert '"Comment": "\\u003cimported\\u003e \\u0026 more"' in result.stdout
    assert json.loads(result.stdout) == [IMAGE]
    assert result.stdout.endswith("\n    }\n]\n")


def test_image_inspect_partial_failure(wharf: RunWharf) -> None:
    result = wharf(inspect_daemon(), "image", "inspect", "nope", "busybox")
    assert result.exit_code == 1
    assert json.loads(result.stdout) == [IMAGE]
    assert result.stderr == "Error response from daemon: No such image: nope:latest\n"
    nothing = wharf(inspect_daemon(), "image", "inspect", "nope")
    assert nothing.stdout == "[]\n"


def test_inspect_format(wharf: RunWharf) -> None:
    daemon = inspect_daemon()
    result = wharf(daemon, "inspect", "-f", "{{.Id}} {{json .Config}}", "busybox", "busybox")
    line = "sha256:" + "a" * 64 + ' {"Cmd":["sh"],"Env":["PATH=/bin"],"Labels":null}'
    assert result.stdout == f"{line}\n{line}\n"
    tags = wharf(daemon, "inspect", "--format", "{{range .RepoTags}}{{.}} {{end}}", "busybox")
    assert tags.stdout == "busybox:latest \n"
    assert wharf(daemon, "inspect", "--format", "json", "busybox").stdout.startswith("[\n    {")


def test_inspect_unknown_object(wharf: RunWharf) -> None:
    result = wharf(inspect_daemon(), "inspect", "nope")
    assert result.exit_code == 1
    assert result.stdout == "[]\n"
    assert result.stderr == "Error: No such object: nope\n"


def test_inspect_bad_template(wharf: RunWharf) -> None:
    result = wharf(None, "inspect", "--format", "{{.Id", "busybox")
    assert result.exit_code == 1
    assert result.stderr.startswith("template parsing error:")
