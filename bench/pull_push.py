"""Push and pull of an image with one 200 MiB incompressible layer: wharf vs docker, podman, skopeo.

    .venv/bin/python bench/pull_push.py [--runs 3] [--warmup 1] [--size-mb 200] [--json out.json]

The image is one layer holding one file of ``os.urandom`` bytes, made with ``wharf import`` in a
private wharfd and handed to the peers with ``wharf save`` (``docker load``, ``podman load``,
``skopeo copy docker-archive: oci:``). Debian's reference registry (``/usr/bin/docker-registry``)
serves on 127.0.0.1:<free port>. Each tool in turn, round by round (--warmup rounds first, not
counted; the report gives the median of --runs):

- push: ``<tool> push 127.0.0.1:P/bench/<tool>-<round>:latest`` to a registry started afresh on
  an empty storage directory (same port), so no blob is "already exists" and no cross-repository
  mount can succeed: every client uploads the whole layer, compressing it first if it does so;
- pull: the tool removes every local copy (``rmi`` of all its tags; skopeo writes to a new
  OCI layout directory) and pulls back what it pushed, so it really downloads.

skopeo pushes from the OCI layout it pulled in the previous round, so after the warm-up it
pushes the layer as that layout holds it (gzip, as it pushed it), without compressing again.

Isolation as in containers.py: wharfd and dockerd run with their own roots and sockets in one
temporary directory, podman with its own --root/--runroot/--tmpdir, each registry with its own
storage; all are stopped by PID and the directory removed, in ``finally`` and at exit. Nothing
leaves 127.0.0.1. Host paths written anyway: dockerd creates /run/docker/plugins; skopeo (as
root) keeps its blob-info cache in /var/lib/containers/cache; those are removed when this run
created them.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import containers as c  # the sibling bench: daemons, cleanup by PID, the machine line

MIB = 1024 * 1024
DOCKER_REGISTRY = "/usr/bin/docker-registry"
SKOPEO_CACHE = "/var/lib/containers/cache/blob-info-cache-v1.boltdb"
HOST_PATHS = [*c.HOST_DIRS_PEERS_CREATE, SKOPEO_CACHE, "/var/lib/containers/cache"]
MANIFEST_ACCEPT = ", ".join(
    [
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)


# ---------------------------------------------------------------- registry


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Registry:
    """Debian's docker-registry on a fixed loopback port, restarted on empty storage."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.storage: Path | None = None
        self.count = 0

    def start(self) -> None:
        self.count += 1
        self.storage = self.work / f"registry-{self.count}"
        config = self.work / "registry.yml"
        config.write_text(
            "version: 0.1\n"
            "log:\n  level: error\n  accesslog:\n    disabled: true\n"
            f"storage:\n  filesystem:\n    rootdirectory: {self.storage}\n"
            f"http:\n  addr: {self.host}\n"
        )
        with open(self.work / "registry.log", "ab") as out:
            self.proc = subprocess.Popen(
                [DOCKER_REGISTRY, "serve", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,
            )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"docker-registry exited {self.proc.returncode}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"http://{self.host}/v2/", timeout=1) as response,
            ):
                if response.status == 200:
                    return
            time.sleep(0.05)
        raise RuntimeError("docker-registry did not serve within 15 s")

    def stop(self) -> None:
        if self.proc is not None:
            c.stop_pids([self.proc.pid], grace=10.0)
            self.proc.wait()
            self.proc = None
        if self.storage is not None:
            shutil.rmtree(self.storage, ignore_errors=True)
            self.storage = None

    def layer(self, repo: str) -> tuple[str, int]:
        """(media type, size) of the first layer of repo:latest, as the registry holds it."""
        request = urllib.request.Request(
            f"http://{self.host}/v2/{repo}/manifests/latest", headers={"Accept": MANIFEST_ACCEPT}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            manifest = json.load(response)
        layer = manifest["layers"][0]
        return str(layer["mediaType"]), int(layer["size"])


# ---------------------------------------------------------------- tools


@dataclass
class Tool:
    """One client: how to push the current local image to ``ref``, and pull ``ref`` back."""

    name: str
    version: str
    push: Callable[[str], float]
    pull: Callable[[str], float]
    push_s: list[float] = field(default_factory=list)
    pull_s: list[float] = field(default_factory=list)
    layer: tuple[str, int] = ("", 0)


def timed(argv: list[str], env: dict[str, str] | None) -> float:
    return c.timed_run(argv, env)


def engine_tool(
    name: str, version: str, cli: list[str], env: dict[str, str], local: str, tls: list[str]
) -> Tool:
    """wharf, docker and podman share one shape: tag, push, remove the image, pull."""
    state = {"local": local}

    def push(ref: str) -> float:
        c.run([*cli, "tag", state["local"], ref], env=env)
        return timed([*cli, "push", *tls, ref], env)

    def pull(ref: str) -> float:
        # By ID and forced: a pulled image is also named by repo@digest, and an rmi by tag
        # would leave the layer in the store for the pull to skip.
        image_id = c.run([*cli, "image", "inspect", "--format", "{{.Id}}", ref], env=env)
        c.run([*cli, "rmi", "-f", image_id.strip()], env=env)
        left = c.run([*cli, "images", "-q"], env=env).split()
        if left:
            raise RuntimeError(f"{name}: images left after rmi, the pull would not download")
        elapsed = timed([*cli, "pull", *tls, ref], env)
        state["local"] = ref
        return elapsed

    return Tool(name, version, push, pull)


def skopeo_tool(work: Path, archive: Path, env: dict[str, str]) -> Tool:
    skopeo = shutil.which("skopeo") or "skopeo"
    layouts = [work / "oci-0"]  # the last one is what the next push sends
    c.run([skopeo, "copy", f"docker-archive:{archive}", f"oci:{layouts[-1]}:big"], env=env)

    def push(ref: str) -> float:
        return timed(
            [
                skopeo,
                "copy",
                "--dest-tls-verify=false",
                f"oci:{layouts[-1]}:big",
                f"docker://{ref}",
            ],
            env,
        )

    def pull(ref: str) -> float:
        target = work / f"oci-{len(layouts)}"
        elapsed = timed(
            [skopeo, "copy", "--src-tls-verify=false", f"docker://{ref}", f"oci:{target}:big"],
            env,
        )
        shutil.rmtree(layouts[-1], ignore_errors=True)
        layouts.append(target)
        return elapsed

    version = c.version_of([skopeo, "--version"]).removeprefix("skopeo version ")
    return Tool("skopeo (OCI layout)", version, push, pull)


def make_layer(path: Path, size: int) -> None:
    with tarfile.open(path, "w") as tar:
        info = tarfile.TarInfo("random.bin")
        info.size = size
        info.mode = 0o644
        info.mtime = int(time.time())
        chunk = 8 * MIB

        class Random:
            left = size

            def read(self, n: int = -1) -> bytes:
                n = min(self.left, chunk if n < 0 else n)
                self.left -= n
                return os.urandom(n)

        tar.addfile(info, Random())


def start_wharf(work: Path, size: int) -> tuple[Tool, Path]:
    root = work / "wharf"
    root.mkdir()
    sock = root / "wharf.sock"
    c.start_daemon(
        "wharfd",
        [
            str(c.VENV_BIN / "wharfd"),
            "-H",
            f"unix://{sock}",
            "--data-root",
            str(root / "data"),
            "--exec-root",
            str(root / "exec"),
            "--log-level",
            "warn",
        ],
        sock,
        root / "wharfd.log",
        str(work),
    )
    env = c.base_env({"WHARF_HOST": f"unix://{sock}", "WHARF_NO_AUTOSTART": "1"}, root)
    wharf = str(c.VENV_BIN / "wharf")
    layer = work / "layer.tar"
    make_layer(layer, size)
    c.run([wharf, "import", str(layer), "bench/big:latest"], env=env, timeout=300)
    layer.unlink()
    archive = work / "image.tar"
    c.run([wharf, "save", "bench/big:latest", "-o", str(archive)], env=env, timeout=300)
    conn = c.UnixHTTPConnection(str(sock))
    try:
        version = c.api(conn, "GET", "/version").get("Version")
    finally:
        conn.close()
    return engine_tool("wharf", str(version), [wharf], env, "bench/big:latest", []), archive


def start_docker(work: Path, archive: Path) -> Tool | None:
    dockerd, docker = shutil.which("dockerd"), shutil.which("docker")
    if not dockerd or not docker:
        c.note("docker.io (dockerd) or the docker CLI not installed: skipped")
        return None
    root = work / "docker"
    root.mkdir()
    sock = root / "docker.sock"
    config = root / "daemon.json"
    config.write_text(json.dumps({"deprecated-key-path": str(root / "key.json")}))
    cgroup = f"{work.name}-docker"
    c.JANITOR.push("remove docker cgroups", lambda: c.remove_cgroup(cgroup))
    # 127.0.0.0/8 is an insecure registry for dockerd by default: plain HTTP, no flag needed.
    c.start_daemon(
        "dockerd",
        c.dockerd_argv(dockerd, root, sock, config, cgroup),
        sock,
        root / "dockerd.log",
        str(work),
    )
    env = c.base_env(
        {"DOCKER_HOST": f"unix://{sock}", "DOCKER_CONFIG": str(root / "docker-config")}, root
    )
    c.run([docker, "load", "-i", str(archive)], env=env, timeout=300)
    conn = c.UnixHTTPConnection(str(sock))
    try:
        version = c.api(conn, "GET", "/version").get("Version")
    finally:
        conn.close()
    return engine_tool("docker.io", f"dockerd {version}", [docker], env, "bench/big:latest", [])


def start_podman(work: Path, archive: Path) -> Tool | None:
    podman = shutil.which("podman")
    if not podman:
        c.note("podman not installed: skipped")
        return None
    root = work / "podman"
    (root / "tmp").mkdir(parents=True)
    cli = [
        podman,
        "--root",
        str(root / "storage"),
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
    env = c.base_env({"TMPDIR": str(root / "tmp")}, root)
    out = c.run([*cli, "load", "-i", str(archive)], env=env, timeout=300)
    local = out.strip().splitlines()[-1].split(":", 1)[1].strip()  # "Loaded image: <name>"
    version = c.version_of([podman, "--version"]).removeprefix("podman version ")
    return engine_tool("podman", version, cli, env, local, ["--tls-verify=false"])


# ---------------------------------------------------------------- measure and report


def measure(tools: list[Tool], registry: Registry, runs: int, warmup: int) -> None:
    for round_ in range(warmup + runs):
        for tool in tools:
            repo = f"bench/{tool.name.split()[0].replace('.', '')}-{round_}"
            ref = f"{registry.host}/{repo}:latest"
            registry.start()
            try:
                pushed = tool.push(ref)
                tool.layer = registry.layer(repo)
                pulled = tool.pull(ref)
            finally:
                registry.stop()
            if round_ >= warmup:
                tool.push_s.append(pushed)
                tool.pull_s.append(pulled)
            c.note(f"round {round_}: {tool.name} push {pushed:.2f} s, pull {pulled:.2f} s")


def report(tools: list[Tool], size: int, runs: int, m: dict[str, Any]) -> None:
    print()
    print(
        f"machine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM, "
        f"kernel {m['kernel']}, {m['os']}, load {m['load_average'][0]:.2f} at start"
    )
    print("versions: " + "; ".join(f"{t.name} {t.version}" for t in tools))
    print(
        f"layer: {size / MIB:.0f} MiB of os.urandom in one tar; seconds are the median of "
        f"N={runs}; MiB/s = layer MiB / s; x = tool / wharf (time)"
    )
    header = (
        f"{'tool':<22}{'push s':>8}{'MiB/s':>8}{'x':>7}{'pull s':>9}{'MiB/s':>8}{'x':>7}"
        f"  {'layer as pushed'}"
    )
    print(header)
    print("-" * len(header))
    base = next((t for t in tools if t.name == "wharf"), None)
    for t in tools:
        push, pull = statistics.median(t.push_s), statistics.median(t.pull_s)
        xp = push / statistics.median(base.push_s) if base else 0.0
        xl = pull / statistics.median(base.pull_s) if base else 0.0
        family = "docker" if "docker" in t.layer[0] else "oci"
        suffix = t.layer[0].rsplit(".", 1)[-1].split("+")[-1]
        media = f"{family} {'tar' if suffix == 'tar' else suffix}"
        print(
            f"{t.name:<22}{push:>8.2f}{size / MIB / push:>8.0f}{xp:>6.2f}x"
            f"{pull:>9.2f}{size / MIB / pull:>8.0f}{xl:>6.2f}x"
            f"  {media}, {t.layer[1] / MIB:.1f} MiB"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="measured rounds")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured rounds first")
    parser.add_argument("--size-mb", type=int, default=200, help="layer size, MiB")
    parser.add_argument("--json", type=Path, help="also write the samples here as JSON")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("pull_push.py needs root (it starts wharfd and dockerd)", file=sys.stderr)
        return 2
    if not os.access(DOCKER_REGISTRY, os.X_OK):
        print(f"{DOCKER_REGISTRY} is needed (apt-get install docker-registry)", file=sys.stderr)
        return 2
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, c._fatal_signal)
    atexit.register(c.JANITOR.close)
    existing = {p for p in HOST_PATHS if os.path.lexists(p)}

    def remove_host_paths() -> None:
        for p in HOST_PATHS:
            if p not in existing:
                with contextlib.suppress(OSError):
                    if os.path.isdir(p):
                        os.rmdir(p)  # only when empty
                    else:
                        os.unlink(p)

    c.JANITOR.push("remove host paths the peers created", remove_host_paths)
    work = Path(tempfile.mkdtemp(prefix="wpp-", dir="/tmp"))  # short: socket paths <108

    def remove_work() -> None:
        c.sweep_processes(str(work))
        c.unmount_under(work)
        shutil.rmtree(work, ignore_errors=True)

    c.JANITOR.push(f"remove {work}", remove_work)
    m = c.machine()
    size = args.size_mb * MIB
    registry = Registry(work)
    c.JANITOR.push("stop docker-registry", registry.stop)
    try:
        started = time.monotonic()
        wharf, archive = start_wharf(work, size)
        tools = [wharf]
        for start in (start_docker, start_podman):
            try:
                tool = start(work, archive)
            except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
                c.note(f"{start.__name__.removeprefix('start_')}: could not start: {exc}")
                continue
            if tool is not None:
                tools.append(tool)
        if shutil.which("skopeo"):
            tools.append(skopeo_tool(work, archive, c.base_env({"TMPDIR": str(work)}, work)))
        else:
            c.note("skopeo not installed: skipped")
        archive.unlink()
        registry_version = c.version_of([DOCKER_REGISTRY, "--version"]).split()[-1]
        c.note(f"registry: docker-registry {registry_version} on {registry.host}")
        measure(tools, registry, args.runs, args.warmup)
        seconds = time.monotonic() - started
    finally:
        c.JANITOR.close()
    report(tools, size, args.runs, m)
    print(f"total {seconds:.0f} s")
    if args.json:
        out = {
            "machine": m,
            "size": size,
            "runs": args.runs,
            "warmup": args.warmup,
            "tools": {
                t.name: {
                    "version": t.version,
                    "push_s": [round(s, 3) for s in t.push_s],
                    "pull_s": [round(s, 3) for s in t.pull_s],
                    "layer_media_type": t.layer[0],
                    "layer_size": t.layer[1],
                }
                for t in tools
            },
        }
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
