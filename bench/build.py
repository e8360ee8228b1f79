"""Image builds, cold and cached: wharf vs Docker (classic builder, BuildKit) and podman (buildah).

    .venv/bin/python bench/build.py [--runs 5] [--warmup 1] [--files 2000] [--context-mb 20]
                                    [--json out.json] [--install-peers] [--docker-cli PATH]
                                    [--keep-logs DIR]

One realistic small Dockerfile (written below, ``DOCKERFILE``) is built by each engine in turn
from the same context directory, with the same busybox base image loaded into each (made by
scripts/base-images in a private wharfd, handed over with ``wharf save`` / ``docker load`` /
``podman load``). Two stages: the first writes a 10 MiB file of random bytes in a RUN; the
second has ENV, LABEL and WORKDIR lines, COPYs the whole source tree (--files small files,
--context-mb MiB in all), two more RUNs, a COPY --from of the first stage and, last, a COPY of
one small file (``late.txt``). Three phases, in this order, each with --warmup unmeasured
rounds and then --runs measured ones. The engines take turns in every round, and who starts
rotates, so that drift on the machine hits all alike; ``sync`` runs before every build, untimed,
so that no engine pays for the writeback of the one before:

1. cold: ``build --no-cache``; every step runs;
2. cached: the same build again with nothing changed; every step should come from the cache;
3. touched: ``late.txt`` gets new content before every build (unique per engine and round), so
   only its COPY and the steps after it (metadata only) run again.

The time is that of the CLI process, end to end (context upload included). The engines:

- ``wharf build`` against wharfd;
- ``docker build`` with ``DOCKER_BUILDKIT=0`` against wharfd (the same daemon work without
  the wharf CLI's start-up);
- ``docker build`` with ``DOCKER_BUILDKIT=0`` against Debian's dockerd (the classic builder);
- ``docker build`` with BuildKit against the same dockerd, only when the docker CLI has a
  working buildx plugin (never fetched here): skipped with a note otherwise;
- ``podman build --layers`` (buildah inside podman).

Every RUN step runs with ``--network none``, so nothing leaves the machine and no bridge is
made. "hits" counts the steps each engine reported as taken from its cache (``Using cache``,
BuildKit's ``CACHED``): the cached phase shows that caching really happened.

Isolation and clean-up are containers.py's, imported from it (the daemons with their own roots
and sockets in one /tmp/wbb-* directory, stopped by PID; podman with its own roots; mounts
detached, cgroups removed, the directory deleted in ``finally`` and at exit). --keep-logs DIR
copies the daemons' logs there first, with each engine's last build output per phase.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import containers as c  # the sibling bench: daemons, peers, cleanup by PID, statistics

BUILD_TIMEOUT = 600.0
TAG = "bench/app:latest"
PHASES = ("cold", "cached", "touched")
MIB = 1024 * 1024

DOCKERFILE = """\
FROM busybox AS assets
WORKDIR /assets
COPY config/ ./config/
RUN dd if=/dev/urandom of=blob.bin bs=65536 count=160 2>/dev/null \\
    && sha256sum blob.bin > blob.sha256

FROM busybox
ENV APP_HOME=/app \\
    APP_ENV=production \\
    PATH=/app/bin:$PATH
LABEL org.opencontainers.image.title="wharf-bench" \\
      org.opencontainers.image.version="1.0"
WORKDIR /app
COPY src/ /app/src/
RUN mkdir -p /app/bin && find /app/src -type f | wc -l > /app/files.txt \\
    && printf '#!/bin/sh\\necho app\\n' > /app/bin/app && chmod +x /app/bin/app
COPY --from=assets /assets/ /app/assets/
RUN cd /app/assets && sha256sum -c blob.sha256 > /dev/null && du -s /app > /app/size.txt
COPY late.txt /app/late.txt
EXPOSE 8080
CMD ["app"]
"""


# ---------------------------------------------------------------- the context


@dataclass(frozen=True, slots=True)
class Context:
    path: Path
    files: int
    bytes: int

    @property
    def late(self) -> Path:
        return self.path / "late.txt"


def make_context(root: Path, files: int, total: int) -> Context:
    """--files text files (hex of seeded random bytes: compresses about 2:1, like source)."""
    rng = random.Random(20261127)
    (root / "config").mkdir(parents=True)
    (root / "config" / "app.conf").write_text("listen = 8080\nworkers = 4\n")
    (root / "Dockerfile").write_text(DOCKERFILE)
    (root / "late.txt").write_text("version 0\n")
    per_dir = 50
    mean = total // max(1, files)
    written = 0
    for i in range(files):
        directory = root / "src" / f"pkg{i // per_dir:03d}"
        if i % per_dir == 0:
            directory.mkdir(parents=True)
        size = rng.randint(mean // 5, 2 * mean - mean // 5)
        text = rng.randbytes(size // 2 + 1).hex()[:size]
        (directory / f"mod{i:05d}.py").write_text(text)
        written += size
    return Context(root, files, written)


# ---------------------------------------------------------------- engines


@dataclass
class BuildEngine:
    """One way of building: argv before the per-phase flags, its env, its cache-hit marker."""

    name: str
    argv: list[str]
    env: dict[str, str]
    runner: c.Engine
    hit_marker: str = "Using cache"
    last_output: dict[str, str] = field(default_factory=dict)
    times: dict[str, c.Series] = field(default_factory=dict)
    hits: dict[str, list[int]] = field(default_factory=dict)
    steps: int = 0

    def command(self, context: Path, *, no_cache: bool) -> list[str]:
        flags = ["--no-cache"] if no_cache else []
        return [*self.argv, *flags, "-t", TAG, str(context)]


def timed_build(engine: BuildEngine, argv: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run(
        argv,
        env=engine.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=BUILD_TIMEOUT,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise c.CommandFailed(argv, result.returncode, result.stdout)
    return elapsed, result.stdout.decode(errors="replace")


def build_engines(bench: c.Bench) -> list[BuildEngine]:
    """Turn containers.py's run engines into build engines, and probe BuildKit."""
    engines: list[BuildEngine] = []
    network = ["--network", "none"]
    classic = {"DOCKER_BUILDKIT": "0"}
    for name, engine in bench.engines.items():
        if name == "wharf":
            engines.append(BuildEngine(name, [*engine.cli, "build", *network], engine.env, engine))
        elif name == "wharfd (docker CLI)":
            engines.append(
                BuildEngine(
                    "wharfd (docker classic)",
                    [*engine.cli, "build", *network],
                    {**engine.env, **classic},
                    engine,
                )
            )
        elif name == "docker.io":
            engines.append(
                BuildEngine(
                    "docker.io (classic)",
                    [*engine.cli, "build", *network],
                    {**engine.env, **classic},
                    engine,
                )
            )
            buildx = subprocess.run(
                [*engine.cli, "buildx", "version"],
                env=engine.env,
                capture_output=True,
                timeout=30,
                check=False,
            )
            if buildx.returncode == 0:
                bench.versions["buildx"] = buildx.stdout.decode().strip()
                engines.append(
                    BuildEngine(
                        "docker.io (BuildKit)",
                        [*engine.cli, "build", "--progress", "plain", *network],
                        {**engine.env, "DOCKER_BUILDKIT": "1"},
                        engine,
                        hit_marker="CACHED",
                    )
                )
            else:
                bench.skip(
                    "docker.io (BuildKit): the docker CLI has no working buildx plugin "
                    "(not installed from the network here): skipped"
                )
        elif name == "podman":
            # run_flags holds what podman needed to run here (maybe --ulimit) and its
            # --cgroup-parent. buildah puts a RUN container in the --cgroup-parent itself, not
            # below it, and runc's devices.deny write fails in a cgroup with children (those
            # of podman run): so a leaf of its own below the same parent.
            flags = list(engine.run_flags)
            if "--cgroup-parent" in flags:
                at = flags.index("--cgroup-parent") + 1
                flags[at] = flags[at] + "/build"
            tmp = bench.work / "podman" / "tmp"
            tmp.mkdir(parents=True, exist_ok=True)
            engines.append(
                BuildEngine(
                    name,
                    [*engine.cli, "build", "--layers", *flags, *network],
                    {**engine.env, "TMPDIR": str(tmp)},
                    engine,
                )
            )
    return engines


# ---------------------------------------------------------------- measure


def measure(engines: list[BuildEngine], context: Context, runs: int, warmup: int) -> None:
    for phase in PHASES:
        for engine in engines:
            engine.times[phase] = c.Series()
            engine.hits[phase] = []
        for round_ in range(warmup + runs):
            # The first engine would always follow the same one: rotate who starts.
            start = round_ % len(engines)
            for engine in engines[start:] + engines[:start]:
                if phase == "touched":
                    context.late.write_text(f"version {engine.name} {round_}\n")
                argv = engine.command(context.path, no_cache=phase == "cold")
                # Dirty pages the previous build left are flushed untimed, so no engine pays
                # for another's writeback.
                os.sync()
                elapsed, output = timed_build(engine, argv)
                hits = output.count(engine.hit_marker)
                engine.last_output[phase] = output
                if phase == "cold":
                    engine.steps = max(engine.steps, output.count("Step ") or output.count("STEP "))
                if round_ >= warmup:
                    engine.times[phase].samples.append(elapsed)
                    engine.hits[phase].append(hits)
                tag = "warm-up" if round_ < warmup else f"run {round_ - warmup + 1}"
                c.note(f"{phase} {tag}: {engine.name} {elapsed:.2f} s, {hits} cache hits")
                if round_ == warmup + runs - 1 and phase == PHASES[-1]:
                    verify(engine, context)


def verify(engine: BuildEngine, context: Context) -> None:
    """The image just built holds what the Dockerfile makes: the file count and late.txt.

    Called right after the engine's build: wharf and the docker CLI share wharfd's tag.
    """
    out = c.run(
        engine.runner.run_args(
            "--rm", "--network", "none", TAG, "sh", "-c", "cat /app/files.txt /app/late.txt"
        ),
        env=engine.runner.env,
    )
    expected = f"{context.files}\n{context.late.read_text()}"
    if out != expected:
        raise RuntimeError(f"{engine.name}: the built image holds {out!r}, not {expected!r}")


# ---------------------------------------------------------------- report


def report(
    bench: c.Bench, engines: list[BuildEngine], context: Context, runs: int, m: dict[str, Any]
) -> None:
    print()
    print(
        f"machine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM, "
        f"kernel {m['kernel']}, {m['os']}, cgroup {m['cgroup']}, "
        f"load {m['load_average'][0]:.2f} at start"
    )
    print("versions: " + "; ".join(f"{k} {v}" for k, v in bench.versions.items()))
    print(
        f"context: {context.files} files, {context.bytes / MIB:.1f} MiB; seconds, N={runs}; "
        "best = fastest run; x = engine / wharf (median); hits = steps from the cache (median)"
    )
    header = f"{'engine':<26}" + "".join(
        f"{phase + ' med':>12}{'p90':>7}{'best':>7}{'x':>7}{'hits':>5}" for phase in PHASES
    )
    print(header)
    print("-" * len(header))
    base = next((e for e in engines if e.name == "wharf"), None)
    for engine in engines:
        row = f"{engine.name:<26}"
        for phase in PHASES:
            series = engine.times[phase]
            hits = sorted(engine.hits[phase])[len(engine.hits[phase]) // 2]
            base_median = base.times[phase].median if base else None
            row += (
                f"{series.median:>12.2f}{series.p90:>7.2f}{min(series.samples):>7.2f}"
                f"{c.ratio(series.median, base_median):>7}{hits:>5}"
            )
        print(row)
    for message in bench.notes:
        print(f"note: {message}")


def results_json(
    bench: c.Bench,
    engines: list[BuildEngine],
    context: Context,
    args: argparse.Namespace,
    seconds: float,
    m: dict[str, Any],
) -> dict[str, Any]:
    return {
        "machine": m,
        "runs": args.runs,
        "warmup": args.warmup,
        "context": {"files": context.files, "bytes": context.bytes},
        "dockerfile": DOCKERFILE,
        "seconds": round(seconds, 1),
        "versions": bench.versions,
        "notes": bench.notes,
        "engines": {
            e.name: {
                "argv": [Path(e.argv[0]).name, *e.argv[1:]],
                "steps": e.steps,
                **{f"{p}_s": e.times[p].as_json() for p in PHASES},
                **{f"{p}_hits": e.hits[p] for p in PHASES},
            }
            for e in engines
        },
    }


# ---------------------------------------------------------------- main


def keep_logs(work: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for log in (work / "wharf" / "wharfd.log", work / "docker" / "dockerd.log"):
        if log.exists():
            shutil.copy(log, target / log.name)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="measured builds per engine and phase")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured builds first, per phase")
    parser.add_argument("--files", type=int, default=2000, help="files in the copied tree")
    parser.add_argument("--context-mb", type=int, default=20, help="MiB in the copied tree")
    parser.add_argument("--json", type=Path, help="also write the results here as JSON")
    parser.add_argument("--keep-logs", type=Path, help="copy the daemons' logs here at the end")
    c.add_peer_arguments(parser)
    args = parser.parse_args()
    if args.runs < 1 or args.warmup < 0 or args.files < 1:
        parser.error("--runs and --files must be at least 1, --warmup at least 0")
    if os.geteuid() != 0:
        print("build.py needs root (it starts container engines)", file=sys.stderr)
        return 2
    c.install_requested_peers(args)
    c.guard_run()
    work = c.make_work("wbb-")
    if args.keep_logs:
        args.keep_logs = target = args.keep_logs.resolve()
        target.mkdir(parents=True, exist_ok=True)
        c.JANITOR.push(f"keep logs in {target}", lambda: keep_logs(work, target))
    bench = c.Bench(work=work, marker=str(work), docker_cli=args.docker_cli, marker_name=work.name)
    if args.docker_cli:
        bench.versions["docker CLI"] = c.version_of([args.docker_cli, "--version"])
    m = c.machine()
    m["rlimit_nofile"] = list(resource.getrlimit(resource.RLIMIT_NOFILE))
    try:
        started = time.monotonic()
        context = make_context(work / "context", args.files, args.context_mb * MIB)
        c.setup_wharf(bench)
        for setup in (c.setup_docker, c.setup_podman):
            try:
                setup(bench)
            except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
                bench.skip(f"{setup.__name__.removeprefix('setup_')}: could not start: {exc}")
        engines = build_engines(bench)
        c.note(f"building with {', '.join(e.name for e in engines)}")
        measure(engines, context, args.runs, args.warmup)
        if args.keep_logs:
            for engine in engines:
                for phase, output in engine.last_output.items():
                    slug = "".join(ch if ch.isalnum() else "-" for ch in engine.name)
                    (args.keep_logs / f"{slug}-{phase}.txt").write_text(output)
        seconds = time.monotonic() - started
    finally:
        c.JANITOR.close()
    report(bench, engines, context, args.runs, m)
    print(f"total {seconds:.0f} s")
    if args.json:
        out = results_json(bench, engines, context, args, seconds, m)
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
