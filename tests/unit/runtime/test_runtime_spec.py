"""render_config: Docker's defaults in config.json, and what each ContainerSpec field changes."""

from __future__ import annotations

import json
import os
import resource
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from wharf.errdefs import InvalidArgument, Unavailable
from wharf.runtime.capabilities import DEFAULT_CAPABILITIES, capabilities_from_mask
from wharf.runtime.cgroups import CgroupLayout, CgroupVersion
from wharf.runtime.devices import HostDevice
from wharf.runtime.seccomp import BUILTIN_PROFILE
from wharf.runtime.spec import (
    MASKED_PATHS,
    READONLY_PATHS,
    BindMount,
    ContainerSpec,
    ExecSpec,
    HostFacts,
    NetworkMode,
    Resources,
    TmpfsMount,
    Ulimit,
    build_config,
    build_process,
    merge_tmpfs_options,
    render_config,
    render_process,
)

SANDBOX_CAPS = capabilities_from_mask(0x000001FFFEFFFFFF)  # all but CAP_SYS_RESOURCE
HOST = HostFacts(
    cgroup_version=CgroupVersion.V1,
    bounding_capabilities=SANDBOX_CAPS,
    devices=(
        HostDevice("/dev/null", "c", 1, 3, 0o666, 0, 0),
        HostDevice("/dev/sda", "b", 8, 0, 0o660, 0, 6),
    ),
    rlimits=(("nofile", 20000, 20000), ("nproc", -1, -1), ("core", 0, -1)),
    seccomp_profile=BUILTIN_PROFILE,
    arch="amd64",
    kernel=(6, 1),
    ncpu=2,
    init_path=Path("/usr/bin/tini-static"),
)
SPEC = ContainerSpec(
    id="c0ffee",
    rootfs=Path("/var/lib/wharf/snapshots/1/merged"),
    args=("sh", "-c", "echo hi"),
    env=("PATH=/usr/bin:/bin", "HOSTNAME=c0ffee"),
    cwd="/",
    uid=0,
    gid=0,
    additional_gids=(),
    terminal=False,
    hostname="c0ffee",
)


def config(spec: ContainerSpec = SPEC, host: HostFacts = HOST, **changes: Any) -> dict[str, Any]:
    return build_config(replace(spec, **changes), host)


def mount(cfg: dict[str, Any], destination: str) -> dict[str, Any]:
    found = [m for m in cfg["mounts"] if m["destination"] == destination]
    assert len(found) == 1, [m["destination"] for m in cfg["mounts"]]
    return found[0]


def test_render_is_the_json_of_build() -> None:
    raw = render_config(SPEC, HOST)
    assert json.loads(raw) == config()
    assert b"\n" not in raw


def test_docker_defaults() -> None:
    cfg = config()
    assert cfg["ociVersion"] == "1.0.2-dev"
    assert cfg["root"] == {"path": "/var/lib/wharf/snapshots/1/merged", "readonly": False}
    assert cfg["hostname"] == "c0ffee" and "domainname" not in cfg
    process = cfg["process"]
    assert process["args"] == ["sh", "-c", "echo hi"]
    assert process["user"] == {"uid": 0, "gid": 0, "additionalGids": [0]}
    assert process["noNewPrivileges"] is True
    assert "rlimits" not in process and "oomScoreAdj" not in process
    caps = process["capabilities"]
    assert caps["bounding"] == caps["effective"] == caps["permitted"] == list(DEFAULT_CAPABILITIES)
    assert "inheritable" not in caps
    linux = cfg["linux"]
    assert [ns["type"] for ns in linux["namespaces"]] == ["mount", "network", "uts", "pid", "ipc"]
    assert linux["cgroupsPath"] == "/wharf/c0ffee"
    assert linux["maskedPaths"] == list(MASKED_PATHS)
    assert "/sys/devices/virtual/powercap" in linux["maskedPaths"]
    assert linux["readonlyPaths"] == list(READONLY_PATHS)
    assert "devices" not in linux
    assert linux["resources"] == {
        "devices": [
            {"allow": False, "access": "rwm"},
            {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
            {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
            {"allow": True, "type": "c", "major": 1, "minor": 9, "access": "rwm"},
            {"allow": True, "type": "c", "major": 1, "minor": 8, "access": "rwm"},
            {"allow": True, "type": "c", "major": 5, "minor": 0, "access": "rwm"},
            {"allow": True, "type": "c", "major": 5, "minor": 1, "access": "rwm"},
            {"allow": False, "type": "c", "major": 10, "minor": 229, "access": "rwm"},
        ]
    }
    assert linux["sysctl"] == {
        "net.ipv4.ping_group_range": "0 2147483647",
        "net.ipv4.ip_unprivileged_port_start": "0",
    }
    seccomp = linux["seccomp"]
    assert seccomp["defaultAction"] == "SCMP_ACT_ERRNO"
    assert seccomp["architectures"][0] == "SCMP_ARCH_X86_64"


def test_default_mounts() -> None:
    cfg = config()
    assert [m["destination"] for m in cfg["mounts"]] == [
        "/proc",
        "/dev",
        "/dev/pts",
        "/sys",
        "/sys/fs/cgroup",
        "/dev/mqueue",
        "/dev/shm",
    ]
    assert mount(cfg, "/proc")["type"] == "proc"
    assert mount(cfg, "/dev")["options"] == ["nosuid", "strictatime", "mode=755", "size=65536k"]
    assert "newinstance" in mount(cfg, "/dev/pts")["options"]
    assert mount(cfg, "/sys")["options"][0] == "ro"
    assert mount(cfg, "/sys/fs/cgroup")["options"][0] == "ro"
    assert mount(cfg, "/dev/shm")["options"][-1] == f"size={64 << 20}"
    assert "size=1048576" in mount(config(shm_size=1 << 20), "/dev/shm")["options"]


def test_cgroup_namespace_on_v2_only() -> None:
    v2 = config(host=replace(HOST, cgroup_version=CgroupVersion.V2))
    assert v2["linux"]["namespaces"][-1] == {"type": "cgroup"}
    assert {"type": "cgroup"} not in config()["linux"]["namespaces"]


def test_network_modes() -> None:
    host_net = config(network=NetworkMode.HOST)
    assert "network" not in [ns["type"] for ns in host_net["linux"]["namespaces"]]
    assert "sysctl" not in host_net["linux"]
    joined = config(network=NetworkMode.PATH, netns_path="/run/wharf/netns/c0ffee")
    assert {"type": "network", "path": "/run/wharf/netns/c0ffee"} in joined["linux"]["namespaces"]
    assert "net.ipv4.ip_unprivileged_port_start" in joined["linux"]["sysctl"]
    with pytest.raises(InvalidArgument, match="namespace path"):
        config(network=NetworkMode.PATH)


def test_non_root_user_keeps_capabilities_in_the_bounding_set_only() -> None:
    process = config(uid=1000, gid=1000, additional_gids=(10, 1000))["process"]
    assert process["user"] == {"uid": 1000, "gid": 1000, "additionalGids": [1000, 10]}
    assert process["capabilities"]["bounding"] == list(DEFAULT_CAPABILITIES)
    assert process["capabilities"]["effective"] == process["capabilities"]["permitted"] == []


def test_cap_add_and_drop_reach_seccomp_too() -> None:
    cfg = config(cap_add=("SYS_ADMIN",), cap_drop=("MKNOD",))
    caps = cfg["process"]["capabilities"]["bounding"]
    assert "CAP_SYS_ADMIN" in caps and "CAP_MKNOD" not in caps
    allowed = {
        n
        for r in cfg["linux"]["seccomp"]["syscalls"]
        if r["action"] == "SCMP_ACT_ALLOW"
        for n in r["names"]
    }
    assert "unshare" in allowed
    with pytest.raises(InvalidArgument, match="CAP_SYS_RESOURCE"):
        config(cap_add=("SYS_RESOURCE",))


def test_privileged() -> None:
    cfg = config(privileged=True)
    caps = cfg["process"]["capabilities"]
    assert caps["bounding"] == caps["effective"] == list(SANDBOX_CAPS)
    assert "CAP_SYS_RESOURCE" not in caps["bounding"]
    linux = cfg["linux"]
    assert "maskedPaths" not in linux and "readonlyPaths" not in linux
    assert "seccomp" not in linux
    assert linux["resources"]["devices"] == [{"allow": True, "access": "rwm"}]
    assert linux["devices"][1] == {
        "path": "/dev/sda",
        "type": "b",
        "major": 8,
        "minor": 0,
        "fileMode": 0o660,
        "uid": 0,
        "gid": 6,
    }
    assert mount(cfg, "/sys")["options"][0] == "rw"
    assert mount(cfg, "/sys/fs/cgroup")["options"][0] == "rw"
    assert mount(config(privileged=True, readonly_rootfs=True), "/sys")["options"][0] == "rw"


def test_seccomp_off_and_custom_profile() -> None:
    assert "seccomp" not in config(seccomp=False)["linux"]
    custom = '{"defaultAction": "SCMP_ACT_LOG", "syscalls": []}'
    assert config(seccomp_profile=custom)["linux"]["seccomp"] == {
        "defaultAction": "SCMP_ACT_LOG",
        "syscalls": [],
    }
    assert "seccomp" not in config(seccomp_profile="{}")["linux"]
    with pytest.raises(InvalidArgument, match="invalid seccomp profile"):
        config(seccomp_profile="[")


def test_readonly_rootfs_and_etc_files() -> None:
    files = {"/etc/hosts": Path("/var/lib/wharf/containers/c0ffee/hosts")}
    cfg = config(etc_files=files)
    assert mount(cfg, "/etc/hosts") == {
        "destination": "/etc/hosts",
        "type": "bind",
        "source": "/var/lib/wharf/containers/c0ffee/hosts",
        "options": ["rbind", "rprivate"],
    }
    ro = config(etc_files=files, readonly_rootfs=True)
    assert ro["root"]["readonly"] is True
    assert mount(ro, "/etc/hosts")["options"] == ["rbind", "ro", "rprivate"]
    assert "ro" not in mount(ro, "/dev/shm")["options"]
    user_hosts = config(etc_files=files, binds=(BindMount(Path("/mine"), "/etc/hosts"),))
    assert mount(user_hosts, "/etc/hosts")["source"] == "/mine"


def test_binds() -> None:
    cfg = config(
        binds=(
            BindMount(Path("/srv/data"), "/data"),
            BindMount(Path("/srv/conf"), "/data/conf", read_only=True, propagation="rslave"),
            BindMount(Path("/srv/one"), "/one", recursive=False),
        )
    )
    assert mount(cfg, "/data")["options"] == ["rbind", "rprivate"]
    assert mount(cfg, "/data/conf")["options"] == ["rbind", "ro", "rslave"]
    assert mount(cfg, "/one")["options"] == ["bind", "rprivate"]
    destinations = [m["destination"] for m in cfg["mounts"]]
    assert destinations.index("/data") < destinations.index("/data/conf")
    assert cfg["linux"]["rootfsPropagation"] == "rslave"
    shared = config(binds=(BindMount(Path("/s"), "/s", propagation="rshared"),))
    assert shared["linux"]["rootfsPropagation"] == "shared"
    assert "rootfsPropagation" not in config()["linux"]


@pytest.mark.parametrize(
    ("bind", "message"),
    [
        (BindMount(Path("/a"), "relative"), "mount path must be absolute"),
        (BindMount(Path("/a"), "/"), "destination can't be '/'"),
        (BindMount(Path("/a"), "/x/.."), "destination can't be '/'"),
        (BindMount(Path("rel"), "/x"), "'rel' mount path must be absolute"),
        (BindMount(Path("/a"), "/x", propagation="sideways"), "invalid propagation mode"),
    ],
)
def test_bad_binds(bind: BindMount, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        config(binds=(bind,))


def test_user_mounts_replace_defaults() -> None:
    cfg = config(tmpfs=(TmpfsMount("/dev/shm", ("size=1m",)),))
    assert mount(cfg, "/dev/shm")["options"] == ["noexec", "nosuid", "nodev", "rprivate", "size=1m"]
    dev = config(binds=(BindMount(Path("/hostdev"), "/dev"),))
    assert not [m for m in dev["mounts"] if m["destination"].startswith("/dev/")]
    assert mount(dev, "/dev")["type"] == "bind"


def test_tmpfs_option_merging() -> None:
    assert merge_tmpfs_options(("noexec", "nosuid", "nodev", "rprivate", "exec", "size=1m")) == [
        "nosuid",
        "nodev",
        "rprivate",
        "exec",
        "size=1m",
    ]
    assert merge_tmpfs_options(("size=1m", "mode=700", "size=2m", "shared")) == [
        "mode=700",
        "size=2m",
        "shared",
    ]
    with pytest.raises(InvalidArgument, match="Invalid tmpfs option"):
        merge_tmpfs_options(("bogus=1",))
    with pytest.raises(InvalidArgument, match="Invalid tmpfs option"):
        config(tmpfs=(TmpfsMount("/run", ("nonsense",)),))


def test_resources() -> None:
    res = Resources(
        memory=32 << 20, nano_cpus=1_500_000_000, cpu_shares=1, pids_limit=20, cpuset_cpus="0-1"
    )
    out = config(resources=res)["linux"]["resources"]
    assert out["memory"] == {"limit": 32 << 20, "swap": 64 << 20}  # Docker: swap = 2 x memory
    assert out["cpu"] == {"shares": 2, "quota": 150_000, "period": 100_000, "cpus": "0-1"}
    assert out["pids"] == {"limit": 20}
    no_swap = config(resources=res, host=replace(HOST, swap_limit=False))["linux"]["resources"]
    assert no_swap["memory"] == {"limit": 32 << 20}
    unlimited = config(resources=Resources(memory=32 << 20, memory_swap=-1, pids_limit=0))
    assert unlimited["linux"]["resources"]["memory"]["swap"] == -1
    assert unlimited["linux"]["resources"]["pids"] == {"limit": -1}


@pytest.mark.parametrize(
    ("res", "message"),
    [
        (Resources(memory=4 << 20), "Minimum memory limit allowed is 6MB"),
        (Resources(memory=64 << 20, memory_swap=32 << 20), "memoryswap limit should be larger"),
        (Resources(memory_swap=64 << 20), "always set the Memory limit"),
        (Resources(nano_cpus=3_000_000_000), "Range of CPUs is from 0.01 to 2.00"),
        (Resources(nano_cpus=1_000), "Range of CPUs"),
        (Resources(cpuset_cpus="0-3"), "Requested CPUs are not available"),
        (Resources(cpuset_cpus="1-a"), "Invalid value 1-a for cpuset cpus"),
        (Resources(cpuset_cpus="3-1"), "Invalid value"),
    ],
)
def test_bad_resources(res: Resources, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        config(resources=res)


def test_ulimits_are_bounded_by_the_daemon() -> None:
    process = config(ulimits=(Ulimit("nofile", 1024, 2048), Ulimit("nproc", -1, -1)))["process"]
    assert process["rlimits"] == [
        {"type": "RLIMIT_NOFILE", "hard": 2048, "soft": 1024},
        {"type": "RLIMIT_NPROC", "hard": 2**64 - 1, "soft": 2**64 - 1},
    ]
    with pytest.raises(InvalidArgument, match=r"ulimit nofile: hard limit 30000 .* 20000"):
        config(ulimits=(Ulimit("nofile", 1024, 30000),))
    with pytest.raises(InvalidArgument, match="hard limit unlimited"):
        config(ulimits=(Ulimit("nofile", 1024, -1),))
    allowed = replace(HOST, can_raise_rlimits=True)
    assert config(ulimits=(Ulimit("nofile", 1024, 30000),), host=allowed)["process"]["rlimits"]
    with pytest.raises(InvalidArgument, match="soft limit must be less than or equal"):
        config(ulimits=(Ulimit("core", 10, 5),))
    with pytest.raises(InvalidArgument, match="invalid ulimit type: files"):
        config(ulimits=(Ulimit("files", 1, 1),))


def test_sysctls() -> None:
    cfg = config(sysctls={"net.ipv4.ip_unprivileged_port_start": "1024", "kernel.shmmax": "1"})
    assert cfg["linux"]["sysctl"]["net.ipv4.ip_unprivileged_port_start"] == "1024"
    assert cfg["linux"]["sysctl"]["kernel.shmmax"] == "1"
    with pytest.raises(InvalidArgument, match="not allowed in host network namespace"):
        config(network=NetworkMode.HOST, sysctls={"net.core.somaxconn": "1"})
    with pytest.raises(InvalidArgument, match=r"sysctl 'kernel.panic' is not allowed"):
        config(sysctls={"kernel.panic": "1"})


def test_init() -> None:
    cfg = config(init=True)
    assert cfg["process"]["args"] == ["/sbin/docker-init", "--", "sh", "-c", "echo hi"]
    assert mount(cfg, "/sbin/docker-init") == {
        "destination": "/sbin/docker-init",
        "type": "bind",
        "source": "/usr/bin/tini-static",
        "options": ["bind", "ro"],
    }
    own = config(init=True, init_path=Path("/opt/my-init"))
    assert mount(own, "/sbin/docker-init")["source"] == "/opt/my-init"
    with pytest.raises(Unavailable, match="install tini"):
        config(init=True, host=replace(HOST, init_path=None))


def test_misc_fields() -> None:
    cfg = config(
        oom_score_adj=500,
        domainname="example.org",
        annotations={"org.wharf.name": "web"},
        terminal=True,
        console_size=(24, 80),
        cgroups_path="/custom/path",
        no_new_privileges=False,
    )
    assert cfg["process"]["oomScoreAdj"] == 500
    assert cfg["process"]["consoleSize"] == {"height": 24, "width": 80}
    assert cfg["process"]["terminal"] is True
    assert cfg["process"]["noNewPrivileges"] is False
    assert cfg["domainname"] == "example.org"
    assert cfg["annotations"] == {"org.wharf.name": "web"}
    assert cfg["linux"]["cgroupsPath"] == "/custom/path"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"args": ()}, "No command specified"),
        ({"cwd": "tmp"}, "needs to be an absolute path"),
        ({"id": "../evil"}, "invalid container id"),
        ({"rootfs": Path("relative")}, "absolute path"),
        ({"uid": -1}, "range 0-2147483647"),
        ({"oom_score_adj": 1001}, r"range for oom score adj is \[-1000, 1000\]"),
        ({"shm_size": 0}, "SHM size"),
        ({"etc_files": {"etc/hosts": Path("/x")}}, "must be absolute"),
    ],
)
def test_invalid_specs(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        config(**changes)


def test_exec_process() -> None:
    container = replace(SPEC, cap_drop=("MKNOD",), ulimits=(Ulimit("nofile", 100, 200),))
    plain = ExecSpec(args=("ls",), env=("A=1",), cwd="/tmp", uid=0, gid=0)
    process = build_process(plain, container, HOST)
    assert process["args"] == ["ls"] and process["cwd"] == "/tmp"
    assert "CAP_MKNOD" not in process["capabilities"]["bounding"]
    assert process["rlimits"][0]["type"] == "RLIMIT_NOFILE"
    assert json.loads(render_process(plain, container, HOST)) == process
    privileged = build_process(replace(plain, privileged=True), container, HOST)
    assert privileged["capabilities"]["effective"] == list(SANDBOX_CAPS)
    user = build_process(
        replace(plain, uid=1000, gid=1000, terminal=True, console_size=(5, 6)), container, HOST
    )
    assert user["capabilities"]["effective"] == []
    assert user["consoleSize"] == {"height": 5, "width": 6}
    with pytest.raises(InvalidArgument):
        build_process(replace(plain, args=()), container, HOST)


def test_host_facts_detect_describes_this_host() -> None:
    facts = HostFacts.detect()
    assert facts.cgroup_version is CgroupLayout.detect().version
    with open("/proc/self/status") as f:
        bnd = next(line for line in f if line.startswith("CapBnd:")).split()[1]
    assert facts.bounding_capabilities == capabilities_from_mask(int(bnd, 16))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert ("nofile", soft, -1 if hard == resource.RLIM_INFINITY else hard) in facts.rlimits
    assert facts.ncpu == len(os.sched_getaffinity(0))
    assert all(d.path.startswith("/dev/") and d.type in "cb" for d in facts.devices)
    assert "/dev/console" not in [d.path for d in facts.devices]
    assert facts.seccomp_profile is not None
    # The rendered default config is valid for this host.
    json.loads(render_config(SPEC, replace(facts, init_path=None)))
