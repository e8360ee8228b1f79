"""Attached ``wharf compose up`` (no ``-d``): converge, then print every container's output,
prefixed, until they all exit, as docker compose does.

- ``Attaching to web-1, db-1`` first; then log lines as they come (containers this ``up``
  started are shown from their first line, containers that were already running from now on);
  ``web-1 exited with code 0`` when one stops;
- ``--abort-on-container-exit`` (implied by ``--exit-code-from``): the first exit prints
  ``Aborting on container exit...``, stops the others and returns that container's code (or
  the named service's);
- Ctrl-C prints ``Gracefully stopping... (press Ctrl+C again to force)`` and stops the
  services' containers (a second Ctrl-C kills them); exit code 130.

Imports click, the standard library, ``wharf.cli`` and ``wharf.compose``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wharf.cli.command import err, out
from wharf.cli.compose_output import LogPrinter
from wharf.compose.logs import Exited, LogLine, LogOptions, ReadFailed

if TYPE_CHECKING:
    from wharf.compose.runtime import ComposeRuntime
    from wharf.compose.up import UpOptions

INTERRUPTED = 130


def _stop(rt: ComposeRuntime, services: tuple[str, ...], timeout: int | None) -> None:
    try:
        rt.stop(services, timeout=timeout)
    except KeyboardInterrupt:
        rt.kill(services)


def attached_up(
    rt: ComposeRuntime,
    options: UpOptions,
    *,
    abort: bool,
    exit_code_from: str,
    color: bool,
    prefix: bool,
) -> int:
    running_before = {c.id for c in rt.containers(options.services, all=False)}
    containers = rt.up(options)
    services = tuple(dict.fromkeys(c.service for c in containers))
    sources = [c.display_name for c in containers]
    out("Attaching to " + ", ".join(sources))
    printer = LogPrinter(sources, color=color, prefix=prefix)
    tails = {c.id: ("0" if c.id in running_before else "all") for c in containers}
    stream = rt.logs(
        containers=containers,
        options=LogOptions(follow=True),
        report_exits=True,
        tails=tails,
    ).start()
    code = 0
    aborted = False
    try:
        for item in stream.lines():
            if isinstance(item, LogLine):
                printer.line(item)
            elif isinstance(item, Exited):
                printer.notice(item.source, f"exited with code {item.exit_code}")
                if exit_code_from and item.service == exit_code_from:
                    code = item.exit_code
                if abort:
                    if not exit_code_from:
                        code = item.exit_code
                    aborted = True
                    break
            elif isinstance(item, ReadFailed):
                err(f"{item.source}: {item.message}")
    except KeyboardInterrupt:
        stream.close()
        err("Gracefully stopping... (press Ctrl+C again to force)")
        _stop(rt, services, options.timeout)
        return INTERRUPTED
    finally:
        stream.close()
    if aborted:
        out("Aborting on container exit...")
        _stop(rt, services, options.timeout)
        if exit_code_from:
            code = _service_exit_code(rt, exit_code_from, code)
    return code


def _service_exit_code(rt: ComposeRuntime, service: str, fallback: int) -> int:
    """The exit code of ``service``'s first container once everything is stopped."""
    for container in rt.containers([service], all=True):
        inspected = rt.client.container_inspect(container.id)
        return inspected.state.exit_code
    return fallback
