"""What a container's network costs: ``run --rm`` on the default bridge against
``--network none``, and the throughput of a published port, wharf beside docker.io and podman.

    .venv/bin/python bench/network.py [--runs 20] [--warmup 3] [--mib 64] [--fetches 5]
                                      [--json out.json] [--no-peers]

1. **added cost**: ``run --rm busybox true`` on the default network and with
   ``--network none``, end to end through each engine's CLI, engines and modes interleaved
   round by round; the difference of the medians is what the network adds to a start.
2. **published port**: a busybox ``httpd`` serving a --mib MiB file, published on
   ``127.0.0.1:<free port>``; the file is fetched --fetches times with urllib from this
   process and the best MiB/s reported. wharf forwards with nftables DNAT in the kernel;
   dockerd here has ``--iptables=false``, so its ``docker-proxy`` copies every byte in user
   space (its behaviour wherever iptables is off); podman uses netavark's rules.

Isolation, as bench/containers.py (whose helpers this reuses): every daemon is started here
in one temporary directory and stopped by PID; wharfd gets its own network prefix (its
bridge, veths and nftables table carry it, and it removes them when it stops with no
container running). dockerd runs with ``--iptables=false --ip-forward=false
--ip-masq=false`` and its ``docker0`` on a private /24 (``--bip``); the bench deletes
``docker0`` at the end if it was not there before. podman keeps its network config in the
temporary directory; netavark removes its bridge and rules when the last container goes, but
leaves its empty NETAVARK chains in iptables-nft's ``ip nat``/``ip filter`` tables: the
bench deletes those tables when they were not there before. Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import containers as common  # bench/containers.py: daemons, janitor, statistics

DOCKER_BIP = "10.213.77.1/24"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_quietly(argv: list[str]) -> None:
    subprocess.run(argv, capture_output=True, check=False)


def _nft_tables() -> set[str]:
    done = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, check=False)
    return set(done.stdout.splitlines())


def remove_netavark_leftovers(before: set[str]) -> None:
    """netavark (podman) leaves its empty NETAVARK chains, and the iptables-nft tables it
    made for them, behind; delete such tables that were not there before the bench."""
    for line in sorted(_nft_tables() - before):
        family_table = line.removeprefix("table ").split()
        listing = subprocess.run(
            ["nft", "list", "table", *family_table], capture_output=True, text=True, check=False
        ).stdout
        if "NETAVARK" in listing:
            _run_quietly(["nft", "delete", "table", *family_table])


def setup_wharf(bench: common.Bench) -> None:
    # bench/containers.py starts wharfd with the environment of this process.
    os.environ["WHARF_NETWORK_PREFIX"] = "wb" + secrets.token_hex(2)
    try:
        common.setup_wharf(bench)
    finally:
        del os.environ["WHARF_NETWORK_PREFIX"]
    bench.engines.pop("wharfd (docker CLI)", None)


def setup_docker(bench: common.Bench) -> None:
    """dockerd with its default bridge on a private subnet and no firewall changes."""
    dockerd = shutil.which("dockerd")
    if not dockerd or not bench.docker_cli:
        bench.skip("docker.io (dockerd and the docker CLI) not installed: skipped")
        return
    had_docker0 = os.path.exists("/sys/class/net/docker0")
    root = bench.work / "docker"
    root.mkdir()
    sock = root / "docker.sock"
    config = root / "daemon.json"
    config.write_text(json.dumps({"deprecated-key-path": str(root / "key.json")}))
    cgroup = f"{bench.marker_name}-docker"
    common.JANITOR.push("remove docker cgroups", lambda: common.remove_cgroup(cgroup))
    if not had_docker0:
        common.JANITOR.push(
            "delete docker0",
            lambda: subprocess.run(
                ["ip", "link", "del", "docker0"], capture_output=True, check=False
            ),
        )
    argv = [
        a if a != "--bridge=none" else f"--bip={DOCKER_BIP}"
        for a in common.dockerd_argv(dockerd, root, sock, config, cgroup)
    ]
    pid = common.start_daemon("dockerd", argv, sock, root / "dockerd.log", bench.marker)
    env = common.base_env(
        {"DOCKER_HOST": f"unix://{sock}", "DOCKER_CONFIG": str(root / "docker-config")}, root
    )
    assert bench.archive is not None
    common.run([bench.docker_cli, "load", "-i", str(bench.archive)], env=env)
    bench.versions["docker.io"] = common.version_of([dockerd, "--version"])

    def remove_all() -> None:
        out = subprocess.run(
            [bench.docker_cli or "docker", "ps", "-aq"], env=env, capture_output=True, text=True
        ).stdout.split()
        if out:
            subprocess.run(
                [bench.docker_cli or "docker", "rm", "-f", *out], env=env, capture_output=True
            )

    common.JANITOR.push("docker rm -f everything", remove_all)
    bench.engines["docker.io"] = common.Engine(
        "docker.io", [bench.docker_cli], env, socket=sock, daemon_pids=lambda: [pid]
    )


def measure_added_cost(
    bench: common.Bench, runs: int, warmup: int
) -> dict[str, dict[str, common.Series]]:
    results: dict[str, dict[str, common.Series]] = {
        name: {"none": common.Series(), "bridge": common.Series()} for name in bench.engines
    }
    for round_ in range(warmup + runs):
        for name, engine in bench.engines.items():
            for mode, flags in (("none", ["--network", "none"]), ("bridge", [])):
                elapsed = common.timed_run(
                    engine.run_args("--rm", *flags, "busybox", "true"), engine.env
                )
                if round_ >= warmup:
                    results[name][mode].samples.append(elapsed)
    return results


def _fetch(url: str, timeout: float = 60.0) -> int:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        total = 0
        while chunk := response.read(1 << 20):
            total += len(chunk)
        return total


def measure_port(engine: common.Engine, mib: int, fetches: int) -> dict[str, Any]:
    port = free_port()
    name = f"bench-http-{secrets.token_hex(3)}"
    script = (
        f"mkdir /www && dd if=/dev/zero of=/www/big bs=1M count={mib} 2>/dev/null"
        " && echo ready > /www/ready && httpd -f -p 80 -h /www"
    )
    common.run(
        [
            *engine.cli,
            "run",
            *engine.run_flags,
            "-d",
            "--name",
            name,
            "-p",
            f"127.0.0.1:{port}:80",
            "busybox",
            "sh",
            "-c",
            script,
        ],
        env=engine.env,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                _fetch(f"http://127.0.0.1:{port}/ready", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        speeds = []
        for _ in range(fetches):
            start = time.perf_counter()
            size = _fetch(f"http://127.0.0.1:{port}/big")
            speeds.append(size / (1 << 20) / (time.perf_counter() - start))
        return {"best_mib_s": round(max(speeds), 1), "samples": [round(s, 1) for s in speeds]}
    finally:
        with contextlib.suppress(common.CommandFailed, subprocess.TimeoutExpired):
            common.run([*engine.cli, "rm", "-f", name], env=engine.env)


def report(bench: common.Bench, results: dict[str, Any]) -> None:
    print()
    print("run --rm busybox true (ms, median / p90)")
    header = f"{'engine':<12} {'--network none':>16} {'default bridge':>16} {'added':>8}"
    print(header)
    print("-" * len(header))
    for name, modes in results["latency"].items():
        none, bridge = modes["none"], modes["bridge"]
        added = (bridge.median - none.median) * 1000
        print(
            f"{name:<12} {none.median * 1000:>8.1f} / {none.p90 * 1000:<6.1f}"
            f" {bridge.median * 1000:>8.1f} / {bridge.p90 * 1000:<6.1f} {added:>7.1f}"
        )
    print()
    print(f"published port 127.0.0.1 -> container, {results['mib']} MiB file (best MiB/s)")
    for name, port in results["ports"].items():
        print(f"{name:<12} {port.get('best_mib_s', port.get('error', '?'))}")
    print()
    for name, version in bench.versions.items():
        print(f"{name}: {version}")
    print(f"machine: {json.dumps(results['machine'])}")
    for message in bench.notes:
        print(f"note: {message}")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="measured runs per engine and mode")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured runs first")
    parser.add_argument("--mib", type=int, default=64, help="size of the file fetched")
    parser.add_argument("--fetches", type=int, default=5, help="fetches per engine")
    parser.add_argument("--json", type=Path, help="also write the results here as JSON")
    parser.add_argument("--no-peers", action="store_true", help="measure wharf alone")
    parser.add_argument("--docker-cli", default=shutil.which("docker"))
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("network.py needs root (it starts container engines)", file=sys.stderr)
        return 2
    common.guard_run()
    tables = _nft_tables()
    common.JANITOR.push("remove netavark's tables", lambda: remove_netavark_leftovers(tables))
    work = common.make_work("wnb-")
    bench = common.Bench(
        work=work, marker=str(work), docker_cli=args.docker_cli, marker_name=work.name
    )
    results: dict[str, Any] = {"machine": common.machine(), "mib": args.mib}
    try:
        setup_wharf(bench)
        if not args.no_peers:
            for setup in (setup_docker, common.setup_podman):
                try:
                    setup(bench)
                except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
                    bench.skip(f"{setup.__name__}: could not start: {exc}")
        common.note(f"measuring {', '.join(bench.engines)}")
        results["latency"] = measure_added_cost(bench, args.runs, args.warmup)
        results["ports"] = {}
        for name, engine in bench.engines.items():
            try:
                results["ports"][name] = measure_port(engine, args.mib, args.fetches)
            except (common.CommandFailed, OSError, subprocess.TimeoutExpired) as exc:
                results["ports"][name] = {"error": str(exc).splitlines()[-1][:200]}
    finally:
        common.JANITOR.close()
    report(bench, results)
    if args.json:
        out = {
            **{k: v for k, v in results.items() if k != "latency"},
            "latency_ms": {
                name: {mode: series.as_json(1000) for mode, series in modes.items()}
                for name, modes in results["latency"].items()
            },
            "versions": bench.versions,
            "notes": bench.notes,
        }
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
