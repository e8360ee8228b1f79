"""The OCI runtime layer against real runc: isolation and limits shown by running containers.

Each test extracts the busybox rootfs (support/rootfs.py) into its own tmp dir, renders
config.json with ``render_config`` on the real ``HostFacts``, and plays the monitor's part with
a tiny helper process (``_MINI_MONITOR``): it becomes a child subreaper, runs
``OciRuntime.create_argv`` with the container's stdout/stderr going to a file, and reports the
container's exit status (128+signal when killed, as Docker does). The test drives ``start``,
``state``, ``kill``, ``delete`` through ``OciRuntime`` and checks, after every container, that
no cgroup directory, mount or runtime state is left behind.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from support.rootfs import build_busybox_rootfs
from wharf.errdefs import Conflict, NotFound
from wharf.runtime import cgroups
from wharf.runtime.capabilities import (
    DEFAULT_CAPABILITIES,
    capabilities_from_mask,
    capability_mask,
)
from wharf.runtime.cgroups import CgroupVersion
from wharf.runtime.oci import (
    OciRuntime,
    RuntimeStatus,
    probe_one,
    probe_runtime,
    read_error_log,
)
from wharf.runtime.seccomp import BUILTIN_PROFILE
from wharf.runtime.spec import (
    BindMount,
    ContainerSpec,
    ExecSpec,
    HostFacts,
    Resources,
    TmpfsMount,
    Ulimit,
    render_config,
    render_process,
)

RUNC = shutil.which("runc")
pytestmark = pytest.mark.skipif(os.geteuid() != 0 or RUNC is None, reason="needs root and runc")

# Plays the monitor: subreaper, runs the create argv, waits for the container's init.
_MINI_MONITOR = r"""
import ctypes, json, os, subprocess, sys
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
argv, out, pid_file = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
with open(out, "wb") as f:
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT)
rc = proc.returncode
if rc != 0:
    print(json.dumps({"create_failed": rc}), flush=True)
    sys.exit(0)
pid = int(open(pid_file).read())
print(json.dumps({"created": pid}), flush=True)
while True:
    got, status = os.wait()
    if got == pid:
        break
code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
print(json.dumps({"exit": code}), flush=True)
"""


@pytest.fixture(scope="module")
def host() -> HostFacts:
    return HostFacts.detect()


@pytest.fixture(scope="module")
def busybox_tar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_busybox_rootfs(tmp_path_factory.mktemp("bbtar") / "busybox.tar")


class Lab:
    """One test's containers: a private runc state root, bundles under tmp, leak checks."""

    def __init__(self, base: Path, tar: Path, host: HostFacts) -> None:
        self.base = base
        self.tar = tar
        self.host = host
        self.runtime = OciRuntime("runc", str(RUNC), base / "state")
        self.ids: list[str] = []
        self.monitors: dict[str, subprocess.Popen[str]] = {}
        self.cgroup_paths: list[str] = []

    def spec(self, name: str, *args: str, **changes: object) -> ContainerSpec:
        bundle = self.base / name
        rootfs = bundle / "rootfs"
        rootfs.mkdir(parents=True)
        with tarfile.open(self.tar) as tar:
            tar.extractall(rootfs)
        container_id = f"wharf-test-{os.getpid()}-{name}"
        spec = ContainerSpec(
            id=container_id,
            rootfs=rootfs,
            args=args,
            env=("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",),
            cwd="/",
            uid=0,
            gid=0,
            additional_gids=(),
            terminal=False,
            hostname=f"h-{name}",
        )
        return replace(spec, **changes)  # type: ignore[arg-type]

    def create(self, spec: ContainerSpec, host: HostFacts | None = None) -> Path:
        """Write the bundle and create the container; returns the output file."""
        bundle = spec.rootfs.parent
        (bundle / "config.json").write_bytes(render_config(spec, host or self.host))
        out = bundle / "output"
        pid_file = bundle / "pid"
        argv = self.runtime.create_argv(
            spec.id, bundle, pid_file, None, log_file=bundle / "runtime.log"
        )
        self.ids.append(spec.id)
        self.cgroup_paths.append(spec.cgroups_path or f"/wharf/{spec.id}")
        monitor = self.spawn(argv, out, pid_file)
        self.monitors[spec.id] = monitor
        return out

    def spawn(self, argv: list[str], out: Path, pid_file: Path) -> subprocess.Popen[str]:
        """Run a create or detached-exec argv under a mini monitor, as the real one would."""
        monitor = subprocess.Popen(
            [sys.executable, "-I", "-c", _MINI_MONITOR, json.dumps(argv), str(out), str(pid_file)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert monitor.stdout is not None
        first = json.loads(monitor.stdout.readline())
        assert "created" in first, (first, out.read_text(errors="replace"))
        return monitor

    def run(self, spec: ContainerSpec, host: HostFacts | None = None) -> tuple[int, str]:
        """Create, start, wait (state polled until stopped); returns (exit code, output)."""
        out = self.create(spec, host)
        self.runtime.start(spec.id)
        code = self.wait(spec.id)
        return code, out.read_text(errors="replace")

    def wait(self, container_id: str, timeout: float = 20) -> int:
        deadline = time.monotonic() + timeout
        while self.runtime.state(container_id).status is not RuntimeStatus.STOPPED:
            assert time.monotonic() < deadline, f"{container_id} still running"
            time.sleep(0.01)
        return self.exit_status(self.monitors[container_id])

    @staticmethod
    def exit_status(monitor: subprocess.Popen[str]) -> int:
        assert monitor.stdout is not None
        line = monitor.stdout.readline()
        monitor.wait(timeout=5)
        monitor.stdout.close()
        return int(json.loads(line)["exit"])

    def wait_for_output(self, out: Path, text: str, timeout: float = 10) -> str:
        deadline = time.monotonic() + timeout
        while text not in (content := out.read_text(errors="replace")):
            assert time.monotonic() < deadline, f"{text!r} never came: {content!r}"
            time.sleep(0.01)
        return content

    def dirs(self, spec: ContainerSpec) -> cgroups.CgroupDirs:
        return cgroups.locate(spec.cgroups_path or f"/wharf/{spec.id}")

    def close(self) -> None:
        for container_id in self.ids:
            if self.runtime.exists(container_id):
                self.runtime.delete(container_id, force=True)
        for monitor in self.monitors.values():
            if monitor.poll() is None:
                monitor.kill()
            monitor.wait(timeout=5)
            if monitor.stdout is not None and not monitor.stdout.closed:
                monitor.stdout.close()
        assert self.runtime.list_ids() == [], "runtime state left behind"
        for path in self.cgroup_paths:
            assert cgroups.leftovers(cgroups.locate(path)) == [], f"cgroup {path} left behind"
        mountinfo = Path("/proc/self/mountinfo").read_text()
        assert str(self.base) not in mountinfo, "mount left behind"


@pytest.fixture
def lab(tmp_path: Path, busybox_tar: Path, host: HostFacts) -> Iterator[Lab]:
    lab = Lab(tmp_path, busybox_tar, host)
    try:
        yield lab
    finally:
        lab.close()


def test_pid1_is_the_command_and_only_its_processes_are_visible(lab: Lab) -> None:
    spec = lab.spec("pid", "sh", "-c", "echo pid=$$; hostname; ps -o pid,comm; exit 0")
    code, out = lab.run(spec)
    lines = out.splitlines()
    assert code == 0, out
    assert lines[0] == "pid=1"
    assert lines[1] == "h-pid" != os.uname().nodename
    assert lines[2].split() == ["PID", "COMMAND"]
    processes = [line.split() for line in lines[3:]]
    assert [p[1] for p in processes] == ["sh", "ps"], out  # none of the host's
    assert processes[0][0] == "1"


def test_exit_code_and_docker_defaults_inside(lab: Lab, host: HostFacts) -> None:
    script = (
        "grep CapEff /proc/self/status; grep NoNewPrivs /proc/self/status; "
        "wc -c < /proc/timer_list; ls /proc/acpi | wc -l; "
        "echo 1 > /proc/sys/kernel/domainname 2>/dev/null || echo procsys-ro; "
        "ls /sys/fs/cgroup >/dev/null && echo cg-ok; exit 3"
    )
    code, out = lab.run(lab.spec("defaults", "sh", "-c", script))
    assert code == 3, out
    eff = int(out.split("CapEff:")[1].split()[0], 16)
    expected = set(DEFAULT_CAPABILITIES) & set(host.bounding_capabilities)
    assert set(capabilities_from_mask(eff)) == expected
    assert "NoNewPrivs:\t1" in out
    assert "\n0\n0\n" in out  # masked: a file bound to /dev/null, a dir to an empty tmpfs
    assert "procsys-ro" in out
    assert "cg-ok" in out


def test_readonly_rootfs_refuses_writes_but_tmpfs_works(lab: Lab) -> None:
    spec = lab.spec(
        "ro",
        "sh",
        "-c",
        "touch /x; echo rc=$?; touch /tmp/y; echo tmp=$?; grep ' /tmp ' /proc/mounts",
        readonly_rootfs=True,
        tmpfs=(TmpfsMount("/tmp", ("size=1m",)),),
    )
    _, out = lab.run(spec)
    assert "Read-only file system" in out
    assert "rc=1" in out
    assert "tmp=0" in out
    assert "size=1024k" in out and "noexec" in out
    assert not (spec.rootfs / "x").exists()


def test_memory_limit_gets_the_allocator_oom_killed(lab: Lab) -> None:
    # tail keeps a line without newline in memory: /dev/zero never ends one, so PID 1 itself
    # grows past 32 MB and is killed by the kernel (SIGKILL: 137).
    spec = lab.spec("oom", "tail", "/dev/zero", resources=Resources(memory=32 << 20))
    out = lab.create(spec)
    lab.runtime.start(spec.id)
    code = lab.wait(spec.id)
    dirs = lab.dirs(spec)
    assert code == 137, out.read_text()
    assert cgroups.oom_killed(dirs)  # read before delete, as the monitor must
    stats = cgroups.read_stats(dirs)
    assert stats.memory_limit == 32 << 20
    assert stats.memory_max_usage >= 30 << 20
    lab.runtime.delete(spec.id)
    assert cgroups.leftovers(dirs) == []


def test_no_oom_without_limit_pressure(lab: Lab) -> None:
    spec = lab.spec(
        "nooom",
        "sh",
        "-c",
        "head -c 4m /dev/zero | tail | wc -c",
        resources=Resources(memory=64 << 20),
    )
    out = lab.create(spec)
    lab.runtime.start(spec.id)
    assert lab.wait(spec.id) == 0
    assert out.read_text().strip() == str(4 << 20)
    assert not cgroups.oom_killed(lab.dirs(spec))


def test_pids_limit_stops_a_fork_bomb_and_the_container_survives(lab: Lab) -> None:
    # The bomb runs in a subshell, which dies at the first failed fork; PID 1 carries on.
    script = "(for i in $(seq 1 60); do sleep 30 & done); echo forked; exec sleep 30"
    spec = lab.spec("pids", "sh", "-c", script, resources=Resources(pids_limit=20))
    out = lab.create(spec)
    lab.runtime.start(spec.id)
    content = lab.wait_for_output(out, "forked")
    assert "can't fork" in content or "Resource temporarily unavailable" in content
    stats = cgroups.read_stats(lab.dirs(spec))
    assert stats.pids_limit == 20
    assert 10 < stats.pids_current <= 20
    assert 10 < len(lab.runtime.ps(spec.id)) <= 20
    pids_dir = lab.dirs(spec).controller("pids") or lab.dirs(spec).unified
    assert pids_dir is not None
    assert int((pids_dir / "pids.events").read_text().split()[1]) > 0  # forks refused
    assert lab.runtime.state(spec.id).status is RuntimeStatus.RUNNING
    lab.runtime.kill(spec.id, signal.SIGKILL, all_processes=True)
    assert lab.wait(spec.id) == 137


def test_dropping_mknod_makes_mknod_fail(lab: Lab) -> None:
    allowed = lab.spec("mknod-ok", "sh", "-c", "mknod /tmp/x c 1 3 && echo made")
    code, out = lab.run(allowed)
    assert code == 0 and "made" in out, out
    dropped = lab.spec("mknod-no", "sh", "-c", "mknod /tmp/x c 1 3", cap_drop=("MKNOD",))
    code, out = lab.run(dropped)
    assert code != 0
    assert "Operation not permitted" in out


def test_non_root_user_cannot_write_root_owned_files(lab: Lab) -> None:
    spec = lab.spec(
        "user",
        "sh",
        "-c",
        "id; grep CapEff /proc/self/status; echo x >> /etc/passwd",
        uid=1000,
        gid=1000,
        additional_gids=(2000,),
    )
    code, out = lab.run(spec)
    assert code != 0
    assert "uid=1000 gid=1000 groups=1000,2000" in out
    assert "CapEff:\t0000000000000000" in out
    assert "Permission denied" in out
    assert (spec.rootfs / "etc/passwd").read_text().count("\n") == 2


def test_seccomp_default_profile_blocks_what_it_should(lab: Lab, host: HostFacts) -> None:
    # swapoff is denied by every Docker-style profile, even with CAP_SYS_ADMIN.
    script = "swapoff /nonexistent; echo rc=$?"
    _, out = lab.run(lab.spec("sc-on", "sh", "-c", script, cap_add=("SYS_ADMIN",)))
    assert "Operation not permitted" in out, out
    _, out = lab.run(lab.spec("sc-off", "sh", "-c", script, cap_add=("SYS_ADMIN",), seccomp=False))
    assert "Operation not permitted" not in out, out
    assert "rc=" in out


def test_builtin_profile_keeps_namespaces_to_cap_sys_admin(lab: Lab, host: HostFacts) -> None:
    docker_like = replace(host, seccomp_profile=BUILTIN_PROFILE)
    code, out = lab.run(lab.spec("unshare", "unshare", "-U", "true"), docker_like)
    assert code != 0
    assert "Operation not permitted" in out, out
    code, out = lab.run(lab.spec("fine", "sh", "-c", "echo ok | cat"), docker_like)
    assert (code, out) == (0, "ok\n")


def test_privileged_gets_everything_the_daemon_has(lab: Lab, host: HostFacts) -> None:
    script = (
        "grep CapEff /proc/self/status; mount -o remount,rw /sys && echo sys-rw; "
        "cat /proc/kcore > /dev/null 2>&1; ls /dev | wc -l"
    )
    code, out = lab.run(lab.spec("priv", "sh", "-c", script, privileged=True))
    assert code == 0, out
    eff = int(out.split("CapEff:")[1].split()[0], 16)
    assert eff == capability_mask(host.bounding_capabilities)
    assert "sys-rw" in out
    assert int(out.split()[-1]) >= len(host.devices) // 2


def test_init_reaper_is_pid_1(lab: Lab, host: HostFacts) -> None:
    if host.init_path is None:
        pytest.skip("no static init binary on this host")
    code, out = lab.run(lab.spec("init", "sh", "-c", "ps -o pid,args; exit 5", init=True))
    assert code == 5, out
    assert "1 /sbin/docker-init -- sh -c" in out


def test_binds_ulimits_env_and_etc_files(lab: Lab, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "in.txt").write_text("from host\n")
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n10.0.0.9 peer\n")
    spec = lab.spec(
        "binds",
        "sh",
        "-c",
        "cat /data/in.txt; echo out > /data/out.txt; touch /ro/x 2>&1; "
        "ulimit -n; ulimit -Hn; grep peer /etc/hosts; echo $FOO; pwd",
        binds=(BindMount(shared, "/data"), BindMount(shared, "/ro", read_only=True)),
        ulimits=(Ulimit("nofile", 1024, 2048),),
        etc_files={"/etc/hosts": hosts},
        env=("PATH=/bin", "FOO=bar"),
        cwd="/tmp",
    )
    code, out = lab.run(spec)
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0] == "from host"
    assert "Read-only file system" in lines[1]
    assert lines[2:] == ["1024", "2048", "10.0.0.9 peer", "bar", "/tmp"]
    assert (shared / "out.txt").read_text() == "out\n"


def test_runtime_controls_a_running_container(lab: Lab, host: HostFacts) -> None:
    spec = lab.spec(
        "ctl", "sh", "-c", "trap 'exit 7' TERM; echo up; while :; do sleep 1 & wait $!; done"
    )
    out = lab.create(spec)
    state = lab.runtime.state(spec.id)
    assert state.status is RuntimeStatus.CREATED and state.pid > 0
    lab.runtime.start(spec.id)
    lab.wait_for_output(out, "up")
    assert lab.runtime.state(spec.id).status is RuntimeStatus.RUNNING
    assert state.pid in lab.runtime.ps(spec.id)

    lab.runtime.pause(spec.id)
    assert lab.runtime.state(spec.id).status is RuntimeStatus.PAUSED
    lab.runtime.resume(spec.id)
    assert lab.runtime.state(spec.id).status is RuntimeStatus.RUNNING

    lab.runtime.update(spec.id, Resources(memory=64 << 20, pids_limit=50))
    stats = cgroups.read_stats(lab.dirs(spec))
    assert (stats.memory_limit, stats.pids_limit) == (64 << 20, 50)

    process = spec.rootfs.parent / "exec.json"
    exec_spec = ExecSpec(
        args=("sh", "-c", "echo exec-$$; id -u"), env=spec.env, cwd="/", uid=0, gid=0
    )
    process.write_bytes(render_process(exec_spec, spec, host))
    exec_out = spec.rootfs.parent / "exec.out"
    exec_pid = spec.rootfs.parent / "exec.pid"
    # A detached exec is reparented to the nearest subreaper: the monitor must reap it, or
    # the container's stop waits until the host's init does.
    argv = lab.runtime.exec_argv(spec.id, process, exec_pid, None)
    assert lab.exit_status(lab.spawn(argv, exec_out, exec_pid)) == 0
    assert exec_out.read_text().splitlines()[1] == "0"
    assert exec_out.read_text().startswith("exec-")

    lab.runtime.kill(spec.id, signal.SIGTERM)
    assert lab.wait(spec.id) == 7
    with pytest.raises(Conflict, match="not running"):
        lab.runtime.kill(spec.id, signal.SIGKILL)
    with pytest.raises(Conflict, match="cannot start"):
        lab.runtime.start(spec.id)
    lab.runtime.delete(spec.id)
    with pytest.raises(NotFound):
        lab.runtime.state(spec.id)
    with pytest.raises(NotFound):
        lab.runtime.start(spec.id)


def test_runtime_errors_come_back_as_one_line(lab: Lab) -> None:
    spec = lab.spec("bad", "/no/such/binary")
    bundle = spec.rootfs.parent
    (bundle / "config.json").write_bytes(render_config(spec, lab.host))
    lab.ids.append(spec.id)
    lab.cgroup_paths.append(f"/wharf/{spec.id}")
    argv = lab.runtime.create_argv(
        spec.id, bundle, bundle / "pid", None, log_file=bundle / "runtime.log"
    )
    proc = subprocess.run(argv, capture_output=True, stdin=subprocess.DEVNULL)
    message = read_error_log(bundle / "runtime.log")
    assert proc.returncode != 0
    assert "/no/such/binary" in message and "no such file or directory" in message
    assert "\n" not in message


def test_probe_picks_a_runtime_that_really_works(tmp_path: Path, host: HostFacts) -> None:
    started = time.monotonic()
    name = probe_runtime(("crun", "runc"), workdir=tmp_path, host=host)
    first = time.monotonic() - started
    cache = json.loads((tmp_path / "runtime-probe.json").read_text())
    layout = cgroups.host_layout()
    if layout.version is CgroupVersion.V1 and layout.unified is not None and shutil.which("crun"):
        # This machine: crun 1.8.1 refuses the hybrid layout, runc works.
        assert name == "runc"
        assert cache["crun"]["works"] is False
        assert "hybrid" in cache["crun"]["reason"]
    assert cache[name]["works"] is True
    started = time.monotonic()
    assert probe_runtime(("crun", "runc"), workdir=tmp_path, host=host) == name
    assert time.monotonic() - started < first / 2
    assert probe_one("no-such-runtime", workdir=tmp_path).reason == "not installed"
    assert [p.name for p in tmp_path.iterdir()] == ["runtime-probe.json"]
