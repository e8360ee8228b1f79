"""Engine API round-trip latency over the unix socket: wharfd vs Debian's dockerd (docker.io).

    .venv/bin/python bench/api.py [--runs 200] [--lifecycle-runs 30] [--containers 1000]
                                  [--ps-runs 30] [--inspect-runs 200] [--warmup 5]
                                  [--json out.json] [--install-peers] [--docker-cli PATH]

What it measures, each daemon with the same busybox image, through a stdlib HTTP client on
one keep-alive connection per daemon (no CLI process, no JSON decoding of the answers: the
time is the daemon's and the socket's):

1. ``GET /_ping`` and ``GET /version`` (--runs each);
2. a container's life: ``POST /containers/create`` (busybox ``true``, network none),
   ``start``, ``wait``, ``DELETE ?force=1`` (--lifecycle-runs);
3. with --containers containers created and not started (created is what ``ps -a`` and
   ``inspect`` need): ``GET /containers/json?all=1`` (--ps-runs) and
   ``GET /containers/{id}/json`` of a random one of them (--inspect-runs). Creating and
   deleting those containers is timed too (mean per container).

Every series is reported as median and p90 after --warmup unmeasured calls; the daemons take
turns call by call (round by round for the lifecycle), so drift on the machine hits both
alike. ``x`` = dockerd / wharfd.

Isolation and clean-up are containers.py's, imported from it: each daemon is started here in
a temporary directory with its own roots and socket (wharfd with a network prefix of its own,
``wb<random>``, so its bridge and nftables names collide with nothing; dockerd touching no
firewall or bridge), stopped by PID at the end, leftovers swept, the directory deleted.
Without --install-peers a missing dockerd is skipped with a note.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import containers as c  # the sibling bench: daemons, peers, cleanup by PID, statistics

CREATE_BODY = c.CREATE_BODY


class Client:
    """One keep-alive connection to one daemon."""

    def __init__(self, name: str, socket_path: Path) -> None:
        self.name = name
        self.conn = c.UnixHTTPConnection(str(socket_path), timeout=120.0)

    def call(self, method: str, path: str, body: object = None, expect: int = 200) -> bytes:
        """One request, its answer read whole (not decoded)."""
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        full = path if path == "/_ping" else c.API + path
        self.conn.request(method, full, body=payload, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        if response.status != expect:
            raise RuntimeError(f"{self.name}: {method} {path}: {response.status} {data[:300]!r}")
        return data

    def timed(self, method: str, path: str, body: object = None, expect: int = 200) -> float:
        start = time.perf_counter()
        self.call(method, path, body, expect)
        return time.perf_counter() - start

    def create(self) -> str:
        data = self.call("POST", "/containers/create", CREATE_BODY, expect=201)
        return str(json.loads(data)["Id"])

    def lifecycle(self) -> float:
        start = time.perf_counter()
        cid = self.create()
        try:
            self.call("POST", f"/containers/{cid}/start", expect=204)
            status = json.loads(self.call("POST", f"/containers/{cid}/wait"))["StatusCode"]
        finally:
            self.call("DELETE", f"/containers/{cid}?force=1", expect=204)
        elapsed = time.perf_counter() - start
        if status != 0:
            raise RuntimeError(f"{self.name}: busybox true exited {status}")
        return elapsed

    def close(self) -> None:
        self.conn.close()


def interleaved(
    clients: list[Client], measure: Callable[[Client], float], runs: int, warmup: int
) -> dict[str, c.Series]:
    """``measure`` for every client in turn, ``warmup + runs`` rounds, the first not counted."""
    series = {client.name: c.Series() for client in clients}
    for round_ in range(warmup + runs):
        for client in clients:
            elapsed = measure(client)
            if round_ >= warmup:
                series[client.name].samples.append(elapsed)
    return series


def fill(client: Client, count: int) -> tuple[list[str], float]:
    """Create ``count`` containers (not started); their IDs and the mean create time."""
    ids = []
    start = time.perf_counter()
    for _ in range(count):
        ids.append(client.create())
    return ids, (time.perf_counter() - start) / max(count, 1)


def empty(client: Client, ids: list[str]) -> float:
    """Delete ``ids``; the mean delete time."""
    start = time.perf_counter()
    for cid in ids:
        client.call("DELETE", f"/containers/{cid}?force=1", expect=204)
    return (time.perf_counter() - start) / max(len(ids), 1)


def measure(clients: list[Client], args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    c.note(f"GET /_ping and GET /version, {args.runs} each")
    results["ping"] = interleaved(
        clients, lambda cl: cl.timed("GET", "/_ping"), args.runs, args.warmup
    )
    results["version"] = interleaved(
        clients, lambda cl: cl.timed("GET", "/version"), args.runs, args.warmup
    )
    c.note(f"create+start+wait+delete, {args.lifecycle_runs} each")
    results["lifecycle"] = interleaved(
        clients, Client.lifecycle, args.lifecycle_runs, min(args.warmup, 3)
    )
    filled: dict[str, list[str]] = {}
    results["create_each"] = {}
    results["delete_each"] = {}
    try:
        for client in clients:
            c.note(f"{client.name}: creating {args.containers} containers")
            ids, mean = fill(client, args.containers)
            filled[client.name] = ids
            results["create_each"][client.name] = mean
        c.note(f"ps ({args.ps_runs}) and inspect ({args.inspect_runs}) with them")
        listed = {
            client.name: len(json.loads(client.call("GET", "/containers/json?all=1")))
            for client in clients
        }
        for name, count in listed.items():
            if count != args.containers:
                raise RuntimeError(f"{name}: ps lists {count} containers, not {args.containers}")
        results["ps"] = interleaved(
            clients,
            lambda cl: cl.timed("GET", "/containers/json?all=1"),
            args.ps_runs,
            args.warmup,
        )
        results["inspect"] = interleaved(
            clients,
            lambda cl: cl.timed("GET", f"/containers/{random.choice(filled[cl.name])}/json"),
            args.inspect_runs,
            args.warmup,
        )
    finally:
        for client in clients:
            if client.name in filled:
                results["delete_each"][client.name] = empty(client, filled.pop(client.name))
    return results


ROWS = (
    ("ping", "GET /_ping"),
    ("version", "GET /version"),
    ("lifecycle", "create+start+wait+delete"),
    ("ps", "ps: GET /containers/json?all=1"),
    ("inspect", "inspect: GET /containers/{id}/json"),
)


def report(
    results: dict[str, dict[str, Any]],
    names: list[str],
    machine: dict[str, Any],
    versions: dict[str, str],
    args: argparse.Namespace,
    notes: list[str],
) -> None:
    print()
    print(
        f"machine: {machine['cpu']}, {machine['cores']} cores, {machine['ram_gib']} GiB RAM, "
        f"kernel {machine['kernel']}, {machine['os']}, load {machine['load_average'][0]:.2f} "
        "at start"
    )
    print("versions: " + "; ".join(f"{k} {v}" for k, v in versions.items()))
    print(
        f"ms; median and p90; ps and inspect with {args.containers} created containers; "
        "x = dockerd / wharfd (median)"
    )
    base = names[0]
    header = f"{'call':<38}" + "".join(f"{name + ' med':>16}{'p90':>9}" for name in names)
    header += f"{'x':>8}" if len(names) > 1 else ""
    print(header)
    print("-" * len(header))
    for key, label in ROWS:
        series = results[key]
        line = f"{label:<38}"
        for name in names:
            line += f"{series[name].median * 1000:>16.2f}{series[name].p90 * 1000:>9.2f}"
        if len(names) > 1:
            line += f"{c.ratio(series[names[1]].median, series[base].median):>8}"
        print(line)
    for key, label in (("create_each", "create, mean of"), ("delete_each", "delete, mean of")):
        line = f"{label + f' {args.containers}':<38}"
        for name in names:
            value = results[key].get(name)
            line += f"{c.cell(value * 1000 if value else None, '.2f'):>16}{'':>9}"
        if len(names) > 1:
            line += f"{c.ratio(results[key].get(names[1]), results[key].get(base)):>8}"
        print(line)
    for message in notes:
        print(f"note: {message}")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="measured /_ping and /version")
    parser.add_argument("--lifecycle-runs", type=int, default=30, help="measured lifecycles")
    parser.add_argument("--containers", type=int, default=1000, help="created for ps/inspect")
    parser.add_argument("--ps-runs", type=int, default=30, help="measured ps calls")
    parser.add_argument("--inspect-runs", type=int, default=200, help="measured inspects")
    parser.add_argument("--warmup", type=int, default=5, help="unmeasured calls first")
    parser.add_argument("--json", type=Path, help="also write the results here as JSON")
    c.add_peer_arguments(
        parser,
        peers="docker.io",
        docker_cli_help="docker CLI, used only to load busybox into dockerd",
    )
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("api.py needs root (it starts container engines)", file=sys.stderr)
        return 2
    if args.install_peers and not shutil.which("dockerd"):
        c.install_peers()
    c.guard_run("dockerd")
    work = c.make_work("wab-")
    bench = c.Bench(work=work, marker=str(work), docker_cli=args.docker_cli, marker_name=work.name)
    machine = c.machine()
    clients: list[Client] = []
    try:
        started = time.monotonic()
        # setup_wharf gives wharfd its own network prefix (wb<random>) on the command line.
        c.setup_wharf(bench)
        try:
            c.setup_docker(bench)
        except (RuntimeError, OSError) as exc:
            bench.skip(f"docker: could not start: {exc}")
        for name in ("wharf", "docker.io"):
            engine = bench.engines.get(name)
            if engine is not None and engine.socket is not None:
                clients.append(Client("wharfd" if name == "wharf" else "dockerd", engine.socket))
        results = measure(clients, args)
        seconds = round(time.monotonic() - started, 1)
    finally:
        for client in clients:
            client.close()
        c.JANITOR.close()
    names = [client.name for client in clients]
    report(results, names, machine, bench.versions, args, bench.notes)
    print(f"took {seconds} s")
    if args.json:
        out = {
            "machine": machine,
            "versions": bench.versions,
            "notes": bench.notes,
            "containers": args.containers,
            "seconds": seconds,
            "ms": {
                key: {name: series.as_json(1000) for name, series in results[key].items()}
                for key, _ in ROWS
            },
            "create_each_ms": {k: round(v * 1000, 3) for k, v in results["create_each"].items()},
            "delete_each_ms": {k: round(v * 1000, 3) for k, v in results["delete_each"].items()},
        }
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
