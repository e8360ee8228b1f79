"""Container start latency and memory per idle container: wharf vs Docker (docker.io) and podman.

    .venv/bin/python bench/containers.py [--runs 30] [--warmup 3] [--containers 10]
                                         [--json out.json] [--install-peers]

What it measures, each engine side by side with the same busybox image:

1. ``run --rm --network none busybox true``, end to end through a CLI process (median and
   p90 of --runs, after --warmup unmeasured runs, engines interleaved round by round so that
   drift hits all alike): the ``wharf`` CLI against wharfd; the ``docker`` CLI against wharfd;
   the same ``docker`` CLI against Debian's dockerd (docker.io); ``podman run``; and bare
   ``runc run`` (or ``crun run``, whichever wharfd picked) of a bundle of the same rootfs as
   the floor every engine pays, plus ``python3 -c pass`` as the interpreter's own floor.
2. The Engine API round trip create + start + wait + delete over the unix socket with a
   stdlib HTTP client on one keep-alive connection (no CLI process): wharfd and dockerd.
3. Memory per idle running container: --containers ``busybox sleep 3600`` started detached,
   2 s of rest, then RSS and PSS (``/proc/<pid>/smaps_rollup``) of each container's
   supervisor: wharf's monitor, docker's containerd-shim-runc-v2, podman's conmon. The
   daemons' own RSS (wharfd; dockerd + containerd) is recorded beside it.

Isolation: every daemon is started here, by hand, in one temporary directory (its own data
root, exec root, unix socket, pid file; dockerd with ``--iptables=false --bridge=none`` so it
touches neither the firewall nor the network; its managed containerd under the same exec
root), and stopped by PID at the end. The default sockets (/var/run/docker.sock,
/run/wharf) are never used. Containers are removed, leftover supervisors and their children
killed by PID, mounts under the temporary directory detached, the cgroups made here removed,
and the directory deleted: in ``finally`` blocks and again at exit. Nothing leaves the
machine except, with --install-peers (or WHARF_BENCH_INSTALL=1), ``apt-get install`` of
docker.io and podman when missing; without it a missing peer is skipped with a note.

Host paths written despite that: dockerd creates /run/docker/plugins and podman
/run/containers/networks whatever their roots; both are removed when this run created them
and they are empty.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import ctypes
import http.client
import json
import math
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = (
    REPO / ".venv" / "bin" if (REPO / ".venv" / "bin").is_dir() else Path(sys.executable).parent
)
API = "/v1.41"  # the newest Engine API version docker.io 20.10 speaks; wharfd accepts it too
CLI_TIMEOUT = 120.0
PEER_PACKAGES = {"dockerd": "docker.io", "podman": "podman"}
# podman's default rlimits (RLIMIT_NOFILE 1048576, a large RLIMIT_NPROC) are refused where the
# hard limits are lower and CAP_SYS_RESOURCE is missing ("setrlimit ... operation not
# permitted"); these small ones fit any host, and are used only when the defaults fail.
PODMAN_ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"]
HOST_DIRS_PEERS_CREATE = [
    "/run/docker/plugins",
    "/run/docker",
    "/run/containers/networks",
    "/run/containers",
]


def note(message: str) -> None:
    print(f"note: {message}", flush=True)


# ---------------------------------------------------------------- cleanup


class Janitor:
    """LIFO clean-up actions run once, from ``finally``, atexit or a fatal signal."""

    def __init__(self) -> None:
        self._actions: list[tuple[str, Callable[[], None]]] = []
        self._closed = False

    def push(self, what: str, action: Callable[[], None]) -> None:
        self._actions.append((what, action))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        while self._actions:
            what, action = self._actions.pop()
            try:
                action()
            except Exception as exc:  # one failed step must not stop the rest
                print(f"cleanup: {what}: {exc}", file=sys.stderr, flush=True)


JANITOR = Janitor()


def _fatal_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def guard_run(who: str = "the peers") -> None:
    """Run the janitor at exit and on SIGTERM/SIGHUP; have it remove the host directories
    that ``who`` (the peer daemons) create and that did not exist before."""
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _fatal_signal)
    atexit.register(JANITOR.close)
    existing_host_dirs = {d for d in HOST_DIRS_PEERS_CREATE if os.path.lexists(d)}

    def remove_host_dirs() -> None:
        for d in HOST_DIRS_PEERS_CREATE:
            if d not in existing_host_dirs:
                with contextlib.suppress(OSError):
                    os.rmdir(d)

    JANITOR.push(f"remove empty host dirs {who} created", remove_host_dirs)


def make_work(prefix: str) -> Path:
    """A fresh directory under /tmp (short: socket paths < 108 bytes) whose path marks the
    run's processes; the janitor sweeps them, unmounts below it and removes it."""
    work = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))

    def remove_work() -> None:
        sweep_processes(str(work))
        unmount_under(work)
        shutil.rmtree(work, ignore_errors=True)

    JANITOR.push(f"remove {work}", remove_work)
    return work


def add_peer_arguments(
    parser: argparse.ArgumentParser,
    *,
    peers: str = "docker.io and podman",
    docker_cli_help: str = "docker CLI used against both wharfd and dockerd",
) -> None:
    """``--install-peers`` (default from ``WHARF_BENCH_INSTALL=1``) and ``--docker-cli``."""
    parser.add_argument(
        "--install-peers",
        action="store_true",
        default=os.environ.get("WHARF_BENCH_INSTALL") == "1",
        help=f"apt-get install {peers} when missing",
    )
    parser.add_argument("--docker-cli", default=shutil.which("docker"), help=docker_cli_help)


def install_requested_peers(args: argparse.Namespace) -> None:
    """``--install-peers``: install them, then find the docker CLI they brought if none was."""
    if args.install_peers:
        install_peers()
        if args.docker_cli is None:
            args.docker_cli = shutil.which("docker")


def cmdline(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


def all_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def parent_of(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    return int(stat.rpartition(")")[2].split()[1])


def descendants(roots: set[int]) -> list[int]:
    """Every live process below ``roots`` (children before grandchildren)."""
    children: dict[int, list[int]] = {}
    for pid in all_pids():
        children.setdefault(parent_of(pid), []).append(pid)
    found: list[int] = []
    queue = list(roots)
    while queue:
        for child in children.get(queue.pop(0), []):
            found.append(child)
            queue.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def stop_pids(pids: list[int], grace: float = 10.0) -> None:
    """SIGTERM, then SIGKILL whatever is still alive after ``grace`` seconds."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.05)
    for pid in pids:
        if alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def sweep_processes(marker: str) -> None:
    """Kill, by PID, processes whose command line names our temp dir, and their children.

    Supervisors (monitor, shim, conmon) outlive their daemon by design, and the container
    processes are their children; the engines remove them first, this catches what is left.
    """
    own = {p for p in all_pids() if marker in cmdline(p) and p != os.getpid()}
    if not own:
        return
    victims = descendants(own)
    for pid in victims:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    stop_pids(sorted(own), grace=5.0)


def unmount_under(root: Path) -> None:
    prefix = str(root) + "/"
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].encode().decode("unicode_escape")
        if point.startswith(prefix):
            points.append(point)
    libc = ctypes.CDLL(None, use_errno=True)
    for point in sorted(points, key=len, reverse=True):
        libc.umount2(point.encode(), 2)  # MNT_DETACH


def remove_cgroup(name: str) -> None:
    """Remove /sys/fs/cgroup/<controller>/<name> trees, killing any process still in them."""
    base = Path("/sys/fs/cgroup")
    trees = [base / name] if (base / "cgroup.controllers").exists() else []
    if not trees:
        trees = [c / name for c in base.iterdir() if c.is_dir() and (c / name).is_dir()]
    for tree in trees:
        if not tree.is_dir():
            continue
        dirs = sorted((d for d in tree.rglob("*") if d.is_dir()), key=lambda d: -len(d.parts))
        for d in [*dirs, tree]:
            with contextlib.suppress(OSError):
                for pid in (d / "cgroup.procs").read_text().split():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(int(pid), signal.SIGKILL)
        for d in [*dirs, tree]:
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)


# ---------------------------------------------------------------- processes and http


class CommandFailed(RuntimeError):
    def __init__(self, args: list[str], code: int, output: bytes) -> None:
        lines = output.decode(errors="replace").strip().splitlines() or ["(no output)"]
        self.last_line = lines[-1][-300:]
        super().__init__(
            f"{Path(args[0]).name} {' '.join(args[1:])} exited {code}: " + "\n".join(lines[-10:])
        )


def run(
    args: list[str],
    env: dict[str, str] | None = None,
    timeout: float = CLI_TIMEOUT,
    input_: bytes | None = None,
) -> str:
    result = subprocess.run(
        args,
        env=env,
        input=input_,
        stdin=None if input_ is not None else subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise CommandFailed(args, result.returncode, result.stderr or result.stdout)
    return result.stdout.decode(errors="replace")


def timed_run(args: list[str], env: dict[str, str] | None) -> float:
    start = time.perf_counter()
    result = subprocess.run(
        args,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=CLI_TIMEOUT,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise CommandFailed(args, result.returncode, result.stderr)
    return elapsed


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 60.0) -> None:
        super().__init__("localhost", timeout=timeout)
        self._unix_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._unix_path)
        self.sock = sock


def api(
    conn: UnixHTTPConnection, method: str, path: str, body: object = None, expect: int = 200
) -> Any:
    payload = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"} if payload is not None else {}
    conn.request(method, API + path, body=payload, headers=headers)
    response = conn.getresponse()
    data = response.read()
    if response.status != expect:
        raise RuntimeError(f"{method} {path}: {response.status} {data[:300]!r}")
    return json.loads(data) if data and data.lstrip()[:1] in (b"{", b"[") else None


def wait_for_socket(
    path: Path, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60.0
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
            raise RuntimeError(f"exited with {proc.returncode} before serving:\n{tail}")
        if path.exists():
            conn = UnixHTTPConnection(str(path), timeout=2.0)
            try:
                conn.request("GET", "/_ping")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            finally:
                conn.close()
        time.sleep(0.05)
    raise RuntimeError(f"did not serve {path} within {timeout:.0f} s")


def start_daemon(name: str, args: list[str], sock: Path, log: Path, marker: str) -> int:
    """Start a daemon, register its stop (by PID) with the janitor, wait until it serves."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True
        )

    def stop() -> None:
        # The daemon's own helpers (dockerd's managed containerd) go down with it; anything
        # of ours still alive afterwards is swept by PID.
        helpers = [p for p in descendants({proc.pid}) if marker in cmdline(p)]
        stop_pids([proc.pid], grace=30.0)
        proc.wait()
        stop_pids([p for p in helpers if alive(p)], grace=5.0)

    JANITOR.push(f"stop {name} (pid {proc.pid})", stop)
    wait_for_socket(sock, proc, log)
    return proc.pid


# ---------------------------------------------------------------- statistics and machine


@dataclass
class Series:
    samples: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def p90(self) -> float:
        ordered = sorted(self.samples)
        return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]

    def as_json(self, scale: float = 1.0) -> dict[str, Any]:
        return {
            "median": round(self.median * scale, 3),
            "p90": round(self.p90 * scale, 3),
            "n": len(self.samples),
            "samples": [round(s * scale, 3) for s in self.samples],
        }


def machine() -> dict[str, Any]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    cgroup = "v2" if Path("/sys/fs/cgroup/cgroup.controllers").exists() else "v1 (hybrid)"
    os_name = ""
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip('"')
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "ram_gib": round(mem_kb / 1024 / 1024, 1),
        "os": os_name,
        "cgroup": cgroup,
        # Other work on the machine skews every column alike; recorded so that it shows.
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def version_of(args: list[str]) -> str:
    try:
        out = run(args, timeout=20)
    except (OSError, RuntimeError, subprocess.TimeoutExpired):
        return "?"
    return out.strip().splitlines()[0] if out.strip() else "?"


def smaps_kb(pid: int) -> tuple[int, int]:
    rss = pss = 0
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Rss:"):
            rss = int(line.split()[1])
        elif line.startswith("Pss:"):
            pss = int(line.split()[1])
    return rss, pss


def rss_kb(pids: list[int]) -> int:
    return sum(smaps_kb(p)[0] for p in pids if alive(p))


# ---------------------------------------------------------------- engines


@dataclass
class Engine:
    """One way of running ``run --rm ...``: a CLI argv prefix and its environment."""

    name: str
    cli: list[str]
    env: dict[str, str]
    run_flags: list[str] = field(default_factory=list)
    socket: Path | None = None
    daemon_pids: Callable[[], list[int]] = lambda: []
    supervisor: Callable[[str], bool] | None = None
    supervisor_name: str = ""

    def run_args(self, *rest: str) -> list[str]:
        return [*self.cli, "run", *self.run_flags, *rest]


@dataclass
class Bench:
    work: Path
    marker: str
    docker_cli: str | None
    marker_name: str = ""
    notes: list[str] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    engines: dict[str, Engine] = field(default_factory=dict)
    floors: dict[str, list[str]] = field(default_factory=dict)
    archive: Path | None = None
    runtime: str = "runc"

    def skip(self, message: str) -> None:
        self.notes.append(message)
        note(message)


def base_env(extra: dict[str, str], home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DOCKER_", "WHARF_", "CONTAINER_", "CONTAINERS_"))
    }
    env.update(extra)
    env["HOME"] = str(home)  # CLIs keep their config under $HOME: not the user's
    return env


def setup_wharf(bench: Bench) -> None:
    root = bench.work / "wharf"
    root.mkdir()
    sock = root / "wharf.sock"
    wharfd = str(VENV_BIN / "wharfd")
    pid = start_daemon(
        "wharfd",
        [
            wharfd,
            "-H",
            f"unix://{sock}",
            "--data-root",
            str(root / "data"),
            "--exec-root",
            str(root / "exec"),
            "--log-level",
            "warn",
            # Our own device and nftables names, so nothing of a host's wharfd is touched.
            "--network-prefix",
            "wb" + os.urandom(3).hex(),
        ],
        sock,
        root / "wharfd.log",
        bench.marker,
    )
    env = base_env({"WHARF_HOST": f"unix://{sock}", "WHARF_NO_AUTOSTART": "1"}, root)
    run(
        [str(REPO / "scripts" / "base-images"), "--busybox-only"],
        env={**env, "WHARF_CLI": str(VENV_BIN / "wharf")},
        timeout=300,
    )
    bench.archive = root / "busybox.tar"
    run([str(VENV_BIN / "wharf"), "save", "busybox", "-o", str(bench.archive)], env=env)
    conn = UnixHTTPConnection(str(sock))
    try:
        info = api(conn, "GET", "/info")
        version = api(conn, "GET", "/version")
    finally:
        conn.close()
    bench.runtime = str(info.get("DefaultRuntime") or "runc")
    bench.versions["wharf"] = f"{version.get('Version')} (runtime {bench.runtime})"
    exec_root = str(root / "exec")
    bench.engines["wharf"] = Engine(
        "wharf",
        [str(VENV_BIN / "wharf")],
        env,
        socket=sock,
        daemon_pids=lambda: [pid],
        supervisor=lambda c: "monitor.py" in c and exec_root in c,
        supervisor_name="monitor (python3 -I -S)",
    )
    if bench.docker_cli:
        docker_env = base_env(
            {"DOCKER_HOST": f"unix://{sock}", "DOCKER_CONFIG": str(root / "docker-config")}, root
        )
        bench.engines["wharfd (docker CLI)"] = Engine(
            "wharfd (docker CLI)",
            [bench.docker_cli],
            docker_env,
            socket=None,
        )


def dockerd_argv(dockerd: str, root: Path, sock: Path, config: Path, cgroup: str) -> list[str]:
    """A private dockerd under ``root`` that touches no firewall, bridge or host cgroup."""
    return [
        dockerd,
        "--config-file",
        str(config),
        "--data-root",
        str(root / "data"),
        "--exec-root",
        str(root / "exec"),
        "-H",
        f"unix://{sock}",
        "--pidfile",
        str(root / "dockerd.pid"),
        "--iptables=false",
        "--ip6tables=false",
        "--bridge=none",
        "--ip-forward=false",
        "--ip-masq=false",
        "--cgroup-parent",
        f"/{cgroup}",
        "--log-level",
        "error",
    ]


def setup_docker(bench: Bench) -> None:
    dockerd = shutil.which("dockerd")
    if not dockerd:
        bench.skip("docker.io (dockerd) not installed: skipped (--install-peers installs it)")
        return
    if not bench.docker_cli:
        bench.skip("no docker CLI on PATH: docker.io skipped")
        return
    root = bench.work / "docker"
    root.mkdir()
    sock = root / "docker.sock"
    config = root / "daemon.json"
    # Without it dockerd 20.10 writes its trust key to /etc/docker/key.json.
    config.write_text(json.dumps({"deprecated-key-path": str(root / "key.json")}))
    cgroup = f"{bench.marker_name}-docker"
    JANITOR.push("remove docker cgroups", lambda: remove_cgroup(cgroup))
    exec_root = root / "exec"
    pid = start_daemon(
        "dockerd",
        dockerd_argv(dockerd, root, sock, config, cgroup),
        sock,
        root / "dockerd.log",
        bench.marker,
    )
    env = base_env(
        {"DOCKER_HOST": f"unix://{sock}", "DOCKER_CONFIG": str(root / "docker-config")}, root
    )
    assert bench.archive is not None
    run([bench.docker_cli, "load", "-i", str(bench.archive)], env=env)
    conn = UnixHTTPConnection(str(sock))
    try:
        version = api(conn, "GET", "/version")
    finally:
        conn.close()
    bench.versions["docker.io"] = f"dockerd {version.get('Version')}"
    marker = str(exec_root)
    bench.engines["docker.io"] = Engine(
        "docker.io",
        [bench.docker_cli],
        env,
        socket=sock,
        daemon_pids=lambda: [
            pid,
            *[
                p
                for p in descendants({pid})
                if marker in cmdline(p) and "containerd-shim" not in cmdline(p)
            ],
        ],
        supervisor=lambda c: "containerd-shim" in c and marker in c,
        supervisor_name="containerd-shim-runc-v2",
    )


def setup_podman(bench: Bench) -> None:
    podman = shutil.which("podman")
    if not podman:
        bench.skip("podman not installed: skipped (--install-peers installs it)")
        return
    root = bench.work / "podman"
    root.mkdir()
    storage = root / "storage"
    base = [
        podman,
        "--root",
        str(storage),
        "--runroot",
        str(root / "run"),
        "--tmpdir",
        str(root / "tmp"),
        "--network-config-dir",
        str(root / "net"),
        "--cgroup-manager",
        "cgroupfs",
        "--events-backend",
        "file",
        "--storage-driver",
        "overlay",
    ]
    env = base_env({}, root)
    cgroup = f"{bench.marker_name}-podman"
    JANITOR.push("remove podman cgroups", lambda: remove_cgroup(cgroup))

    def remove_all() -> None:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            run([*base, "rm", "--all", "--force", "--time", "0"], env=env)

    JANITOR.push("podman rm --all", remove_all)
    assert bench.archive is not None
    run([*base, "load", "-i", str(bench.archive)], env=env)
    tried = []
    for global_flags, run_flags in (
        ([], []),
        (["--runtime", "runc"], []),
        ([], PODMAN_ULIMITS),
        (["--runtime", "runc"], PODMAN_ULIMITS),
    ):
        flags = [*run_flags, "--cgroup-parent", f"/{cgroup}"]
        engine = Engine(
            "podman",
            [*base, *global_flags],
            env,
            run_flags=flags,
            supervisor=lambda c: "conmon" in c.split(" ", 1)[0] and str(storage) in c,
            supervisor_name="conmon",
        )
        try:
            timed_run(engine.run_args("--rm", "--network", "none", "busybox", "true"), env)
        except CommandFailed as exc:
            tried.append(f"{' '.join(global_flags + run_flags) or 'defaults'}: {exc.last_line}")
            continue
        if tried:
            bench.skip(
                "podman needed " + (" ".join(global_flags + run_flags)) + " here; "
                "with less it failed: " + " | ".join(tried)
            )
        bench.engines["podman"] = engine
        bench.versions["podman"] = version_of([podman, "--version"]) + (
            f" (runtime {global_flags[1]})" if global_flags else ""
        )
        return
    bench.skip("podman could not run a container here: " + " | ".join(tried))


def setup_floors(bench: Bench) -> None:
    runtime = shutil.which(bench.runtime)
    if runtime and bench.archive is not None:
        bundle = bench.work / "bundle"
        rootfs = bundle / "rootfs"
        rootfs.mkdir(parents=True)
        with tarfile.open(bench.archive) as outer:
            manifest = json.load(outer.extractfile("manifest.json"))  # type: ignore[arg-type]
            for layer in manifest[0]["Layers"]:
                with tarfile.open(fileobj=outer.extractfile(layer), mode="r:*") as inner:
                    if hasattr(tarfile, "tar_filter"):
                        inner.extractall(rootfs, filter="tar")
                    else:
                        inner.extractall(rootfs)
        run([runtime, "spec", "--bundle", str(bundle)])
        spec = json.loads((bundle / "config.json").read_text())
        spec["process"]["terminal"] = False
        spec["process"]["args"] = ["true"]
        spec["linux"]["cgroupsPath"] = f"/{bench.marker_name}-floor"
        (bundle / "config.json").write_text(json.dumps(spec))
        cgroup = f"{bench.marker_name}-floor"
        JANITOR.push("remove runtime floor cgroups", lambda: remove_cgroup(cgroup))
        state = bench.work / "runtime-state"

        def delete_floor() -> None:
            if state.exists():
                subprocess.run(
                    [runtime, "--root", str(state), "delete", "--force", "floor"],
                    capture_output=True,
                    timeout=30,
                    check=False,
                )

        JANITOR.push("delete the floor container", delete_floor)
        bench.floors[f"{bench.runtime} run (floor)"] = [
            runtime,
            "--root",
            str(state),
            "run",
            "--bundle",
            str(bundle),
            "floor",
        ]
        bench.versions[bench.runtime] = version_of([runtime, "--version"])
    # /usr/bin first: a pyenv shim on PATH would time a shell script.
    python3 = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable
    bench.floors["python3 -c pass"] = [python3, "-c", "pass"]


# ---------------------------------------------------------------- measurements


def measure_latency(bench: Bench, runs: int, warmup: int) -> dict[str, Series]:
    commands: dict[str, tuple[list[str], dict[str, str] | None]] = {}
    for name, engine in bench.engines.items():
        commands[name] = (
            engine.run_args("--rm", "--network", "none", "busybox", "true"),
            engine.env,
        )
    for name, argv in bench.floors.items():
        commands[name] = (argv, None)
    results = {name: Series() for name in commands}
    for round_ in range(warmup + runs):
        for name, (argv, env) in commands.items():
            elapsed = timed_run(argv, env)
            if round_ >= warmup:
                results[name].samples.append(elapsed)
    return results


CREATE_BODY = {
    "Image": "busybox",
    "Cmd": ["true"],
    "HostConfig": {"NetworkMode": "none"},
    "AttachStdin": False,
    "AttachStdout": False,
    "AttachStderr": False,
    "Tty": False,
}
"""``POST /containers/create`` of a busybox ``true`` with no network and nothing attached."""


def measure_api(engine: Engine, runs: int, warmup: int) -> Series:
    assert engine.socket is not None
    conn = UnixHTTPConnection(str(engine.socket))
    series = Series()
    try:
        for i in range(warmup + runs):
            start = time.perf_counter()
            cid = api(conn, "POST", "/containers/create", CREATE_BODY, expect=201)["Id"]
            try:
                api(conn, "POST", f"/containers/{cid}/start", expect=204)
                status = api(conn, "POST", f"/containers/{cid}/wait")["StatusCode"]
            finally:
                api(conn, "DELETE", f"/containers/{cid}?force=1", expect=204)
            elapsed = time.perf_counter() - start
            if status != 0:
                raise RuntimeError(f"{engine.name}: container exited {status}")
            if i >= warmup:
                series.samples.append(elapsed)
    finally:
        conn.close()
    return series


def measure_memory(bench: Bench, engine: Engine, count: int) -> dict[str, Any]:
    assert engine.supervisor is not None
    ids: list[str] = []

    def remove() -> None:
        if ids:
            run([*engine.cli, "rm", "-f", *ids], env=engine.env)
            ids.clear()

    JANITOR.push(f"remove {engine.name} idle containers", remove)
    try:
        for _ in range(count):
            out = run(
                engine.run_args("-d", "--network", "none", "busybox", "sleep", "3600"),
                env=engine.env,
            )
            ids.append(out.strip().splitlines()[-1])
        time.sleep(2.0)
        pids = [p for p in all_pids() if engine.supervisor(cmdline(p))]
        samples = [smaps_kb(p) for p in pids]
        daemon = rss_kb(engine.daemon_pids())
    finally:
        remove()
    if len(pids) != count:
        bench.skip(
            f"{engine.name}: found {len(pids)} {engine.supervisor_name} processes "
            f"for {count} containers"
        )
    rss = [s[0] for s in samples]
    pss = [s[1] for s in samples]
    return {
        "supervisor": engine.supervisor_name,
        "processes": len(pids),
        "containers": count,
        "rss_kb_median": statistics.median(rss) if rss else None,
        "pss_kb_median": statistics.median(pss) if pss else None,
        "rss_kb_per_container": round(sum(rss) / count) if rss else None,
        "pss_kb_per_container": round(sum(pss) / count) if pss else None,
        "rss_kb": rss,
        "pss_kb": pss,
        "daemon_rss_kb": daemon or None,
    }


# ---------------------------------------------------------------- report


def ratio(value: float | None, base: float | None) -> str:
    if value is None or base is None or base == 0:
        return "-"
    return f"{value / base:.2f}x"


def cell(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def report(bench: Bench, results: dict[str, Any], runs: int) -> None:
    latency: dict[str, Series] = results["latency"]
    api_rt: dict[str, Series] = results["api"]
    memory: dict[str, dict[str, Any]] = results["memory"]
    m = results["machine"]
    print()
    print(
        f"machine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM, "
        f"kernel {m['kernel']}, {m['os']}, cgroup {m['cgroup']}, "
        f"load {m['load_average'][0]:.2f} at start"
    )
    print("versions: " + "; ".join(f"{k} {v}" for k, v in bench.versions.items()))
    print(
        f"run = `run --rm --network none busybox true` through the CLI, ms, N={runs}; "
        "api = create+start+wait+delete over the socket, ms; memory = per idle container's "
        "supervisor, MiB (median of the processes); x = engine / wharf"
    )
    header = (
        f"{'engine':<22}{'run med':>9}{'p90':>8}{'x':>7}{'api med':>10}{'p90':>8}"
        f"{'x':>7}  {'supervisor':<26}{'RSS':>6}{'PSS':>6}{'x RSS':>7}{'x PSS':>7}"
    )
    print(header)
    print("-" * len(header))
    base_run = latency["wharf"].median if "wharf" in latency else None
    base_api = api_rt["wharf"].median if "wharf" in api_rt else None
    base_mem = memory.get("wharf", {})
    memory_row = {"wharf": "wharf", "docker.io": "docker.io", "podman": "podman"}
    for name in latency:
        lat = latency[name]
        ap = api_rt.get(name)
        mem = memory.get(memory_row.get(name, ""), {})
        rss = mem.get("rss_kb_median")
        pss = mem.get("pss_kb_median")
        print(
            f"{name:<22}{lat.median * 1000:>9.0f}{lat.p90 * 1000:>8.0f}"
            f"{ratio(lat.median, base_run):>7}"
            f"{cell(ap.median * 1000 if ap else None, '.0f'):>10}"
            f"{cell(ap.p90 * 1000 if ap else None, '.0f'):>8}"
            f"{ratio(ap.median if ap else None, base_api):>7}  "
            f"{mem.get('supervisor', '-'):<26}"
            f"{cell(rss / 1024 if rss else None, '.1f'):>6}"
            f"{cell(pss / 1024 if pss else None, '.2f'):>6}"
            f"{ratio(rss, base_mem.get('rss_kb_median')):>7}"
            f"{ratio(pss, base_mem.get('pss_kb_median')):>7}"
        )
    daemons = [
        f"{n} {v['daemon_rss_kb'] / 1024:.0f}" for n, v in memory.items() if v.get("daemon_rss_kb")
    ]
    if daemons:
        print(
            "daemon RSS (MiB) with the idle containers running: "
            + ", ".join(daemons)
            + " (podman has no daemon)"
        )
    for message in bench.notes:
        print(f"note: {message}")


# ---------------------------------------------------------------- main


def install_peers() -> None:
    missing = [pkg for binary, pkg in PEER_PACKAGES.items() if not shutil.which(binary)]
    if not missing:
        return
    note(f"installing {' '.join(missing)} with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        subprocess.run(
            ["apt-get", "install", "-y", *missing],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=900,
        )
    except subprocess.CalledProcessError:
        subprocess.run(
            ["apt-get", "update"], env=env, check=False, stdout=subprocess.DEVNULL, timeout=600
        )
        subprocess.run(
            ["apt-get", "install", "-y", *missing],
            env=env,
            check=False,
            stdout=subprocess.DEVNULL,
            timeout=900,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="measured runs per engine")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured runs first")
    parser.add_argument("--containers", type=int, default=10, help="idle containers per engine")
    parser.add_argument("--json", type=Path, help="also write the results here as JSON")
    add_peer_arguments(parser)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("containers.py needs root (it starts container engines)", file=sys.stderr)
        return 2
    install_requested_peers(args)
    guard_run()
    work = make_work("wcb-")
    bench = Bench(work=work, marker=str(work), docker_cli=args.docker_cli, marker_name=work.name)
    if args.docker_cli:
        bench.versions["docker CLI"] = version_of([args.docker_cli, "--version"])
    results: dict[str, Any] = {"machine": machine(), "runs": args.runs, "warmup": args.warmup}
    results["machine"]["rlimit_nofile"] = list(resource.getrlimit(resource.RLIMIT_NOFILE))
    try:
        started = time.monotonic()
        setup_wharf(bench)
        for setup in (setup_docker, setup_podman):
            try:
                setup(bench)
            except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
                bench.skip(f"{setup.__name__.removeprefix('setup_')}: could not start: {exc}")
        setup_floors(bench)
        print(f"measuring {', '.join([*bench.engines, *bench.floors])}", flush=True)
        results["latency"] = measure_latency(bench, args.runs, args.warmup)
        note("API round trips")
        results["api"] = {}
        for name, engine in bench.engines.items():
            if engine.socket is not None:
                results["api"][name] = measure_api(engine, args.runs, args.warmup)
        note(f"memory of {args.containers} idle containers per engine")
        results["memory"] = {}
        for name, engine in bench.engines.items():
            if engine.supervisor is not None:
                results["memory"][name] = measure_memory(bench, engine, args.containers)
        results["seconds"] = round(time.monotonic() - started, 1)
    finally:
        JANITOR.close()
    report(bench, results, args.runs)
    if args.json:
        out = {
            **{k: v for k, v in results.items() if k not in ("latency", "api")},
            "latency_ms": {k: v.as_json(1000) for k, v in results["latency"].items()},
            "api_ms": {k: v.as_json(1000) for k, v in results["api"].items()},
            "versions": bench.versions,
            "notes": bench.notes,
        }
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
