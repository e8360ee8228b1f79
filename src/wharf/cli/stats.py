"""``stats``: containers' CPU, memory, network, block I/O and PIDs, computed as the docker CLI
computes them from the stats documents.

Per sample (Linux daemon):
- CPU % = (cpu delta / system delta) x online CPUs x 100, deltas taken against
  ``precpu_stats``; 0 unless both deltas are positive; online CPUs falls back to the length of
  ``percpu_usage``.
- MEM USAGE = ``usage`` minus ``total_inactive_file`` (cgroup v1) or ``inactive_file`` (v2) when
  smaller than usage; MEM % = usage / ``limit`` x 100 (0 without a limit).
- NET I/O = rx and tx summed over interfaces; BLOCK I/O = ``io_service_bytes_recursive`` summed
  by the first letter of ``op`` (r/R read, w/W write).
- Shown as ``%.2f%%``, ``BytesSize / BytesSize`` (MiB), ``HumanSize(3) / HumanSize(3)`` (MB).

Without ``--no-stream`` each container's samples stream in on a thread of their own and the
table is redrawn every 500 ms after clearing the screen (``ESC[2J ESC[H``), as docker does.
Without names the running containers (``-a``: all) are listed once at the start.

Imports click, the standard library, ``wharf.client`` and ``wharf.cli``.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import click

from wharf.cli.command import BIN, CliError, docker_command, out
from wharf.cli.formatting import bytes_size, human_size
from wharf.cli.formatting import truncate_id as truncate
from wharf.cli.state import state
from wharf.cli.tables import TABLE, render_rows
from wharf.cli.templates import Row, TemplateError
from wharf.client.container_models import StatsSample
from wharf.client.errors import DaemonError
from wharf.errdefs import WharfError

STATS_TITLES = {
    "Container": "CONTAINER",
    "ID": "CONTAINER ID",
    "Name": "NAME",
    "CPUPerc": "CPU %",
    "MemUsage": "MEM USAGE / LIMIT",
    "MemPerc": "MEM %",
    "NetIO": "NET I/O",
    "BlockIO": "BLOCK I/O",
    "PIDs": "PIDS",
}
DEFAULT_STATS_TABLE = (
    "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}"
    "\t{{.BlockIO}}\t{{.PIDs}}"
)
CLEAR_SCREEN = "\x1b[2J\x1b[H"
_REDRAW = 0.5


@dataclass(frozen=True, slots=True)
class StatsEntry:
    """One container's figures, as docker's ``StatsEntry``."""

    container: str
    name: str
    id: str
    cpu_percentage: float
    memory: float
    memory_limit: float
    memory_percentage: float
    network_rx: float
    network_tx: float
    block_read: float
    block_write: float
    pids: int
    valid: bool = True


def cpu_percent(sample: StatsSample) -> float:
    cpu_delta = float(sample.cpu_total) - float(sample.precpu_total)
    system_delta = float(sample.system_usage) - float(sample.presystem_usage)
    online = float(sample.online_cpus) or float(sample.percpu_count)
    if system_delta > 0.0 and cpu_delta > 0.0:
        return cpu_delta / system_delta * online * 100.0
    return 0.0


def memory_usage(sample: StatsSample) -> float:
    stats = dict(sample.memory_stats)
    inactive = stats.get("total_inactive_file")
    if inactive is not None and inactive < sample.memory_usage:
        return float(sample.memory_usage - inactive)
    inactive = stats.get("inactive_file", 0)
    if inactive < sample.memory_usage:
        return float(sample.memory_usage - inactive)
    return float(sample.memory_usage)


def block_io(sample: StatsSample) -> tuple[int, int]:
    read = write = 0
    for op, value in sample.blkio:
        if op[:1] in ("r", "R"):
            read += value
        elif op[:1] in ("w", "W"):
            write += value
    return read, write


def entry_for(container: str, sample: StatsSample) -> StatsEntry:
    memory = memory_usage(sample)
    limit = float(sample.memory_limit)
    read, write = block_io(sample)
    return StatsEntry(
        container=container,
        name=sample.name,
        id=sample.id,
        cpu_percentage=cpu_percent(sample),
        memory=memory,
        memory_limit=limit,
        memory_percentage=memory / limit * 100.0 if limit else 0.0,
        network_rx=float(sum(rx for _, rx, _ in sample.networks)),
        network_tx=float(sum(tx for _, _, tx in sample.networks)),
        block_read=float(read),
        block_write=float(write),
        pids=sample.pids,
    )


def invalid_entry(container: str) -> StatsEntry:
    return StatsEntry(container, "", "", 0, 0, 0, 0, 0, 0, 0, 0, 0, valid=False)


def stats_row(entry: StatsEntry, *, trunc: bool) -> Row:
    name = entry.name[1:] if len(entry.name) > 1 else "--"
    ident = truncate(entry.id) if trunc else entry.id
    if not entry.valid:
        return Row(
            Container=entry.container,
            ID=ident,
            Name=name,
            CPUPerc="--",
            MemUsage="-- / --",
            MemPerc="--",
            NetIO="--",
            BlockIO="--",
            PIDs="--",
        )
    return Row(
        Container=entry.container,
        ID=ident,
        Name=name,
        CPUPerc=f"{entry.cpu_percentage:.2f}%",
        MemUsage=f"{bytes_size(entry.memory)} / {bytes_size(entry.memory_limit)}",
        MemPerc=f"{entry.memory_percentage:.2f}%",
        NetIO=f"{human_size(entry.network_rx, 3)} / {human_size(entry.network_tx, 3)}",
        BlockIO=f"{human_size(entry.block_read, 3)} / {human_size(entry.block_write, 3)}",
        PIDs=str(entry.pids),
    )


def render_stats(format_source: str, entries: Iterable[StatsEntry], *, trunc: bool) -> str:
    source = format_source or TABLE
    if source == TABLE:
        source = DEFAULT_STATS_TABLE
    try:
        return render_rows(
            source, [stats_row(entry, trunc=trunc) for entry in entries], STATS_TITLES
        )
    except TemplateError as exc:
        raise CliError(str(exc)) from exc


class _Collector(threading.Thread):
    """Keeps the latest figures of one container from its stats stream."""

    def __init__(self, container: str, samples: Iterator[StatsSample]) -> None:
        super().__init__(name=f"wharf-stats-{container}", daemon=True)
        self.container = container
        self._samples = samples
        self.latest = invalid_entry(container)
        self.error: str = ""
        self.first = threading.Event()

    def run(self) -> None:
        try:
            for sample in self._samples:
                self.latest = entry_for(self.container, sample)
                self.first.set()
        except DaemonError as exc:
            self.error = f"Error response from daemon: {exc.message}"
        except WharfError as exc:
            self.error = exc.message
        finally:
            self.first.set()


@docker_command(
    usage="[OPTIONS] [CONTAINER...]",
    help="Display a live stream of container(s) resource usage statistics",
    aliases=(f"{BIN} container stats", f"{BIN} stats"),
    min_args=0,
    max_args=None,
)
@click.option(
    "-a", "--all", "show_all", is_flag=True, help="Show all containers (default shows just running)"
)
@click.option(
    "--format",
    "format_source",
    default="",
    metavar="string",
    help="Format output using a custom template:\n"
    "'table':            Print output in table format with column headers (default)\n"
    "'table TEMPLATE':   Print output in table format using the given Go template\n"
    "'json':             Print in JSON format\n"
    "'TEMPLATE':         Print output using the given Go template.",
)
@click.option(
    "--no-stream", is_flag=True, help="Disable streaming stats and only pull the first result"
)
@click.option("--no-trunc", is_flag=True, help="Do not truncate output")
def stats_command(
    args: tuple[str, ...], show_all: bool, format_source: str, no_stream: bool, no_trunc: bool
) -> None:
    client = state().client()
    names = list(args)
    if not names:
        names = [truncate(c.id) for c in client.container_list(all=show_all)]
    trunc = not no_trunc
    if no_stream:
        entries = []
        errors = []
        for name in names:
            try:
                sample = next(iter(client.container_stats(name, stream=False)), None)
            except DaemonError as exc:
                errors.append(f"Error response from daemon: {exc.message}")
                continue
            entries.append(entry_for(name, sample) if sample else invalid_entry(name))
        if errors and args:
            raise CliError("\n".join(errors))
        out(render_stats(format_source, entries, trunc=trunc), nl=False)
        return
    collectors = []
    errors = []
    for name in names:
        try:
            collector = _Collector(name, client.container_stats(name, stream=True))
        except DaemonError as exc:
            errors.append(f"Error response from daemon: {exc.message}")
            continue
        collector.start()
        collectors.append(collector)
    if errors and args:
        raise CliError("\n".join(errors))
    for collector in collectors:
        collector.first.wait(2.0)
    while True:
        frame = render_stats(format_source, [c.latest for c in collectors], trunc=trunc)
        out(CLEAR_SCREEN + frame, nl=False)
        sys.stdout.flush()
        if args and collectors and all(not c.is_alive() for c in collectors):
            failures = [c.error for c in collectors if c.error]
            if failures:
                raise CliError("\n".join(failures))
            return
        time.sleep(_REDRAW)
