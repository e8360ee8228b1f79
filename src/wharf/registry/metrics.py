"""Counters and the one-line-per-request access log.

Layer L3. Imports: stdlib, ``aiohttp`` (its access-logger hook only).

Counters are plain integers owned by one event loop (no locking needed; worker threads do
not touch them). ``/metrics`` renders them in the Prometheus text format. Each request is
logged once, when its response is done, on the ``wharf.registry.access`` logger::

    127.0.0.1 alice "GET /v2/alpine/blobs/sha256:... HTTP/1.1" 200 3401613 0.042s "skopeo/1.9"
"""

from __future__ import annotations

import collections
import logging
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

ACCESS_LOG = logging.getLogger("wharf.registry.access")
PRINCIPAL_KEY = web.RequestKey("wharf.registry.principal", str)


@dataclass
class Metrics:
    requests: collections.Counter[tuple[str, int]] = field(default_factory=collections.Counter)
    bytes_sent: int = 0
    bytes_received: int = 0
    blobs_committed: int = 0
    manifests_put: int = 0
    gc_runs: int = 0
    gc_blobs_deleted: int = 0
    gc_bytes_freed: int = 0
    uploads_in_flight: int = 0

    def observe(self, method: str, status: int, sent: int) -> None:
        self.requests[(method, status)] += 1
        self.bytes_sent += sent

    def render(self) -> str:
        lines = [
            "# TYPE wharf_registry_requests_total counter",
            *(
                f'wharf_registry_requests_total{{method="{m}",code="{s}"}} {n}'
                for (m, s), n in sorted(self.requests.items())
            ),
        ]
        for name, value, kind in (
            ("bytes_sent_total", self.bytes_sent, "counter"),
            ("bytes_received_total", self.bytes_received, "counter"),
            ("blobs_committed_total", self.blobs_committed, "counter"),
            ("manifests_put_total", self.manifests_put, "counter"),
            ("gc_runs_total", self.gc_runs, "counter"),
            ("gc_blobs_deleted_total", self.gc_blobs_deleted, "counter"),
            ("gc_bytes_freed_total", self.gc_bytes_freed, "counter"),
            ("uploads_in_flight", self.uploads_in_flight, "gauge"),
        ):
            lines.append(f"# TYPE wharf_registry_{name} {kind}")
            lines.append(f"wharf_registry_{name} {value}")
        return "\n".join(lines) + "\n"


METRICS_KEY = web.AppKey("wharf.registry.metrics", Metrics)


class AccessLogger(AbstractAccessLogger):
    """aiohttp's per-request hook: one log line and the request counters."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        sent = getattr(response, "bytes_sent", None)
        if sent is None:
            sent = response.body_length
        try:
            metrics = request.app.get(METRICS_KEY) if isinstance(request, web.Request) else None
        except AssertionError:
            # A request aiohttp refused before routing (say, TLS bytes on a plain port)
            # has no app; it is still logged.
            metrics = None
        if metrics is not None:
            metrics.observe(request.method, response.status, sent)
        if not self.logger.isEnabledFor(logging.INFO):
            return
        principal = request.get(PRINCIPAL_KEY, "-")
        self.logger.info(
            '%s %s "%s %s HTTP/%d.%d" %d %d %.3fs "%s"',
            request.remote or "-",
            principal,
            request.method,
            request.path_qs,
            request.version.major,
            request.version.minor,
            response.status,
            sent,
            time,
            request.headers.get("User-Agent", "-"),
        )

    @property
    def enabled(self) -> bool:
        return True  # the counters need every request, whatever the log level
