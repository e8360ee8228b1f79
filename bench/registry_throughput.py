"""Push and pull throughput of one large layer: wharf's registry vs Debian's docker-registry.

    .venv/bin/python bench/registry_throughput.py [--size-mb 512] [--pulls 3] [--parallel 4]

Starts ``python -m wharf.registry serve`` and, when ``/usr/bin/docker-registry`` (the
reference distribution registry) is installed, that one too, each on 127.0.0.1 with its
own temporary root; pushes a random layer (monolithic PUT, then a chunked PATCH upload),
pulls it back sequentially and in parallel, and prints MB/s per server and the ratio
wharf / docker-registry. Both servers are stopped by PID at the end. Nothing leaves
the loopback interface.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

MB = 1024 * 1024
DOCKER_REGISTRY = "/usr/bin/docker-registry"


@dataclass
class Server:
    name: str
    host: str
    port: int


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError("server did not start")


@contextlib.contextmanager
def started(args: list[str], port: int, log: Path) -> Iterator[None]:
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=out, stdin=subprocess.DEVNULL)
    try:
        wait_listening(port, proc)
        yield
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()


@contextlib.contextmanager
def wharf_registry(work: Path) -> Iterator[Server]:
    port = free_port()
    args = [sys.executable, "-m", "wharf.registry", "serve", "--addr", f"127.0.0.1:{port}"]
    args += ["--root", str(work / "wharf-root")]
    config = work / "wharf.toml"
    config.write_text('[log]\nlevel = "warning"\n')
    args += ["--config", str(config)]
    with started(args, port, work / "wharf.log"):
        yield Server("wharf", "127.0.0.1", port)


@contextlib.contextmanager
def docker_registry(work: Path) -> Iterator[Server]:
    port = free_port()
    config = work / "docker-registry.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: error\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {work / 'docker-root'}\n"
        "  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    with started([DOCKER_REGISTRY, "serve", str(config)], port, work / "docker-registry.log"):
        yield Server("docker-registry", "127.0.0.1", port)


def request(
    server: Server,
    method: str,
    path: str,
    body: object = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, http.client.HTTPMessage]:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=600)
    try:
        chunked = body is not None and not isinstance(body, bytes)
        conn.request(method, path, body=body, headers=headers or {}, encode_chunked=chunked)  # type: ignore[arg-type]
        response = conn.getresponse()
        response.read()
        return response.status, response.headers
    finally:
        conn.close()


def pieces(data: bytes, size: int = MB) -> Iterator[memoryview]:
    view = memoryview(data)
    for start in range(0, len(data), size):
        yield view[start : start + size]


def location_path(location: str) -> str:
    if location.startswith("http"):
        location = "/" + location.split("/", 3)[3]
    return location


def push_monolithic(server: Server, name: str, data: bytes, digest: str) -> None:
    status, headers = request(server, "POST", f"/v2/{name}/blobs/uploads/")
    assert status == 202, status
    path = location_path(headers["Location"])
    sep = "&" if "?" in path else "?"
    status, _ = request(
        server,
        "PUT",
        f"{path}{sep}digest={digest}",
        data,
        {"Content-Type": "application/octet-stream", "Content-Length": str(len(data))},
    )
    assert status == 201, status


def push_chunked(server: Server, name: str, data: bytes, digest: str) -> None:
    status, headers = request(server, "POST", f"/v2/{name}/blobs/uploads/")
    assert status == 202, status
    status, headers = request(
        server,
        "PATCH",
        location_path(headers["Location"]),
        pieces(data),
        {"Content-Type": "application/octet-stream"},
    )
    assert status == 202, status
    path = location_path(headers["Location"])
    sep = "&" if "?" in path else "?"
    status, _ = request(server, "PUT", f"{path}{sep}digest={digest}")
    assert status == 201, status


def pull(server: Server, name: str, digest: str, size: int, verify: bool = False) -> None:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=600)
    try:
        conn.request("GET", f"/v2/{name}/blobs/{digest}")
        response = conn.getresponse()
        assert response.status == 200, response.status
        hasher = hashlib.sha256() if verify else None
        got = 0
        buffer = bytearray(4 * MB)
        while n := response.readinto(buffer):
            got += n
            if hasher is not None:
                hasher.update(memoryview(buffer)[:n])
        assert got == size, (got, size)
        if hasher is not None:
            assert "sha256:" + hasher.hexdigest() == digest
    finally:
        conn.close()


def timed(action: Callable[[], None]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def measure(
    server: Server, data: bytes, digest: str, pulls: int, parallel: int
) -> dict[str, float]:
    size_mb = len(data) / MB
    results = {}
    results["push (monolithic PUT)"] = size_mb / timed(
        lambda: push_monolithic(server, "bench/a", data, digest)
    )
    results["push (chunked PATCH)"] = size_mb / timed(
        lambda: push_chunked(server, "bench/b", data, digest)
    )
    pull(server, "bench/a", digest, len(data), verify=True)
    seconds = min(timed(lambda: pull(server, "bench/a", digest, len(data))) for _ in range(pulls))
    results["pull (one stream)"] = size_mb / seconds

    def parallel_pulls() -> None:
        with ThreadPoolExecutor(parallel) as pool:
            list(pool.map(lambda _i: pull(server, "bench/a", digest, len(data)), range(parallel)))

    results[f"pull ({parallel} streams, total)"] = size_mb * parallel / timed(parallel_pulls)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=512)
    parser.add_argument("--pulls", type=int, default=3)
    parser.add_argument("--parallel", type=int, default=4)
    args = parser.parse_args()
    data = os.urandom(args.size_mb * MB)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    work = Path(tempfile.mkdtemp(prefix="wharf-registry-bench-"))
    table: dict[str, dict[str, float]] = {}
    try:
        with wharf_registry(work) as server:
            table["wharf"] = measure(server, data, digest, args.pulls, args.parallel)
        if os.access(DOCKER_REGISTRY, os.X_OK):
            with docker_registry(work) as server:
                table["docker-registry"] = measure(server, data, digest, args.pulls, args.parallel)
        else:
            print(f"{DOCKER_REGISTRY} not installed: measuring wharf alone")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    names = list(table)
    print(f"layer: {args.size_mb} MB, MB/s (higher is better)")
    header = f"{'operation':<28}" + "".join(f"{n:>18}" for n in names)
    if len(names) == 2:
        header += f"{'wharf / docker-registry':>26}"
    print(header)
    for operation in table["wharf"]:
        row = f"{operation:<28}" + "".join(f"{table[n][operation]:>18.0f}" for n in names)
        if len(names) == 2:
            row += f"{table['wharf'][operation] / table['docker-registry'][operation]:>26.2f}"
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
