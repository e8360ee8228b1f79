"""Container, exec and pull calls of ``EngineClient`` (a mixin, so the CLI keeps one client).

Every method is one Docker Engine API v1.45 call with Docker's paths, query parameters and
bodies; results are the typed models of ``client.models``. Queries are sent in the order Go's
``url.Values.Encode`` would (sorted by key), which keeps recorded requests stable.

Streams:
- ``container_attach`` and ``exec_attach`` hijack the connection (``Upgrade: tcp`` -> 101) and
  return the raw duplex stream; ``client.streams`` frames and pumps it.
- ``container_wait`` returns once the daemon has sent the response head, which Docker's daemon
  does as soon as it has registered the waiter: issue it before ``container_start`` and the
  exit cannot be missed. ``WaitHandle.result()`` then blocks for the body.
- ``container_logs``, ``container_export`` and ``container_get_archive`` stream bytes;
  ``container_stats`` yields one decoded sample per JSON line; ``image_pull`` yields progress.

Imports only the standard library, ``wharf.errdefs`` and ``wharf.client`` (``client.api`` lazily:
it imports this module).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from wharf.client.mixin import JSON_HEADER, ClientMixin, filters_query
from wharf.client.transport import Hijacked, Request, Response, quote_path
from wharf.errdefs import EngineFailure, InvalidArgument

if TYPE_CHECKING:
    from wharf.client.container_models import (
        Change,
        ContainerCreated,
        ContainerInspect,
        ContainerPruneReport,
        ContainerSummary,
        ExecInspect,
        PathStat,
        StatsSample,
        TopResult,
        WaitResult,
    )
    from wharf.client.container_spec import ContainerSpec, ExecSpec, UpdateSpec
    from wharf.client.models import JSONMessage
    from wharf.client.transport import Transport

STAT_HEADER = "X-Docker-Container-Path-Stat"
Filters = Mapping[str, Sequence[str]]


class WaitCondition(enum.Enum):
    NOT_RUNNING = "not-running"
    NEXT_EXIT = "next-exit"
    REMOVED = "removed"


def _sorted(query: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return sorted(query, key=lambda pair: pair[0])


def _body(payload: object) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


class WaitHandle:
    """A wait whose response head has arrived; ``result`` reads the body (blocking)."""

    def __init__(self, response: Response) -> None:
        self._response = response

    def result(self) -> WaitResult:
        from wharf.client.container_results import WaitResult

        with self._response as response:
            data = response.read()
        try:
            return WaitResult.from_wire(json.loads(data))
        except ValueError as exc:
            raise EngineFailure("malformed daemon response to wait: not JSON") from exc

    def close(self) -> None:
        self._response.close()


class ContainersMixin(ClientMixin):
    """The container half of ``EngineClient``; relies on its ``request``/``_json`` plumbing."""

    if TYPE_CHECKING:
        transport: Transport

        @property
        def api_version(self) -> str: ...

        def _headers(self, *extra: tuple[str, str]) -> tuple[tuple[str, str], ...]: ...

    def _post(self, path: str, query: Sequence[tuple[str, str]] = ()) -> None:
        self.request("POST", path, query=_sorted(query)).close()

    def _hijack(self, path: str, query: Sequence[tuple[str, str]], body: bytes | None) -> Hijacked:
        headers = self._headers(JSON_HEADER) if body is not None else self._headers()
        request = Request(
            "POST",
            f"/v{self.api_version}{path}",
            query=tuple(query),
            headers=headers,
            body=body,
        )
        return self.transport.hijack(request)

    # --- lifecycle

    def container_create(
        self, spec: ContainerSpec, *, name: str = "", platform: str = ""
    ) -> ContainerCreated:
        from wharf.client.container_results import ContainerCreated

        query = []
        if name:
            query.append(("name", name))
        if platform:
            query.append(("platform", platform))
        raw = self._post_json("/containers/create", spec.to_wire(), query=_sorted(query))
        return ContainerCreated.from_wire(raw)

    def container_start(self, container: str, *, detach_keys: str = "") -> None:
        query = [("detachKeys", detach_keys)] if detach_keys else []
        self._post(f"/containers/{quote_path(container)}/start", query)

    def container_stop(
        self, container: str, *, timeout: int | None = None, signal: str = ""
    ) -> None:
        self._post(f"/containers/{quote_path(container)}/stop", _stop_query(timeout, signal))

    def container_restart(
        self, container: str, *, timeout: int | None = None, signal: str = ""
    ) -> None:
        self._post(f"/containers/{quote_path(container)}/restart", _stop_query(timeout, signal))

    def container_kill(self, container: str, *, signal: str = "") -> None:
        query = [("signal", signal)] if signal else []
        self._post(f"/containers/{quote_path(container)}/kill", query)

    def container_remove(
        self, container: str, *, force: bool = False, volumes: bool = False, link: bool = False
    ) -> None:
        query = []
        if force:
            query.append(("force", "1"))
        if link:
            query.append(("link", "1"))
        if volumes:
            query.append(("v", "1"))
        self.request("DELETE", f"/containers/{quote_path(container)}", query=query).close()

    def container_pause(self, container: str) -> None:
        self._post(f"/containers/{quote_path(container)}/pause")

    def container_unpause(self, container: str) -> None:
        self._post(f"/containers/{quote_path(container)}/unpause")

    def container_rename(self, container: str, new_name: str) -> None:
        self._post(f"/containers/{quote_path(container)}/rename", [("name", new_name)])

    def container_update(self, container: str, spec: UpdateSpec) -> tuple[str, ...]:
        """New limits and/or restart policy; returns the daemon's warnings."""
        raw = self._post_json(f"/containers/{quote_path(container)}/update", spec.to_wire())
        warnings = raw.get("Warnings") if isinstance(raw, dict) else None
        if not isinstance(warnings, list):
            return ()
        return tuple(str(warning) for warning in warnings)

    def container_resize(self, container: str, *, height: int, width: int) -> None:
        self._post(
            f"/containers/{quote_path(container)}/resize", [("h", str(height)), ("w", str(width))]
        )

    def container_wait(
        self, container: str, condition: WaitCondition = WaitCondition.NOT_RUNNING
    ) -> WaitHandle:
        query = [] if condition is WaitCondition.NOT_RUNNING else [("condition", condition.value)]
        return WaitHandle(
            self.request("POST", f"/containers/{quote_path(container)}/wait", query=query)
        )

    def containers_prune(self, *, filters: Filters | None = None) -> ContainerPruneReport:
        from wharf.client.container_models import ContainerPruneReport

        raw = self._json("POST", "/containers/prune", query=filters_query(filters))
        return ContainerPruneReport.from_wire(raw)

    # --- reading

    def container_list(
        self,
        *,
        all: bool = False,
        limit: int = -1,
        size: bool = False,
        filters: Filters | None = None,
    ) -> list[ContainerSummary]:
        from wharf.client.container_results import ContainerSummary

        query = []
        if all:
            query.append(("all", "1"))
        if limit > 0:
            query.append(("limit", str(limit)))
        if size:
            query.append(("size", "1"))
        query.extend(filters_query(filters))
        raw = self._json("GET", "/containers/json", query=_sorted(query))
        return ContainerSummary.list_from_wire(raw)

    def container_inspect(self, container: str, *, size: bool = False) -> ContainerInspect:
        from wharf.client.container_models import ContainerInspect

        query = [("size", "1")] if size else []
        raw = self._json("GET", f"/containers/{quote_path(container)}/json", query=query)
        return ContainerInspect.from_wire(raw)

    def container_top(self, container: str, ps_args: str = "") -> TopResult:
        from wharf.client.container_models import TopResult

        query = [("ps_args", ps_args)] if ps_args else []
        raw = self._json("GET", f"/containers/{quote_path(container)}/top", query=query)
        return TopResult.from_wire(raw)

    def container_changes(self, container: str) -> list[Change]:
        from wharf.client.container_models import Change

        return Change.list_from_wire(
            self._json("GET", f"/containers/{quote_path(container)}/changes")
        )

    def container_logs(
        self,
        container: str,
        *,
        stdout: bool = True,
        stderr: bool = True,
        follow: bool = False,
        since: str = "",
        until: str = "",
        timestamps: bool = False,
        tail: str = "all",
        details: bool = False,
    ) -> Response:
        """The log stream, multiplexed unless the container has a TTY (see ``streams``)."""
        query = []
        if stdout:
            query.append(("stdout", "1"))
        if stderr:
            query.append(("stderr", "1"))
        if since:
            query.append(("since", since))
        if until:
            query.append(("until", until))
        if timestamps:
            query.append(("timestamps", "1"))
        if details:
            query.append(("details", "1"))
        if follow:
            query.append(("follow", "1"))
        query.append(("tail", tail))
        return self.request(
            "GET", f"/containers/{quote_path(container)}/logs", query=_sorted(query)
        )

    def container_stats(self, container: str, *, stream: bool = True) -> Iterator[StatsSample]:
        """Samples as the daemon sends them; without ``stream`` exactly one (two cycles)."""
        query = [("stream", "1" if stream else "0")]
        response = self.request("GET", f"/containers/{quote_path(container)}/stats", query=query)
        return _stats_samples(response)

    def container_export(self, container: str) -> Iterator[bytes]:
        return self.request("GET", f"/containers/{quote_path(container)}/export").iter_chunks()

    # --- attach

    def container_attach(
        self,
        container: str,
        *,
        stdin: bool = False,
        stdout: bool = True,
        stderr: bool = True,
        logs: bool = False,
        detach_keys: str = "",
    ) -> Hijacked:
        query = [("stream", "1")]
        if stdin:
            query.append(("stdin", "1"))
        if stdout:
            query.append(("stdout", "1"))
        if stderr:
            query.append(("stderr", "1"))
        if logs:
            query.append(("logs", "1"))
        if detach_keys:
            query.append(("detachKeys", detach_keys))
        return self._hijack(f"/containers/{quote_path(container)}/attach", _sorted(query), None)

    # --- exec

    def exec_create(self, container: str, spec: ExecSpec) -> str:
        raw = self._post_json(f"/containers/{quote_path(container)}/exec", spec.to_wire())
        exec_id = raw.get("Id") if isinstance(raw, dict) else None
        if not isinstance(exec_id, str) or not exec_id:
            raise EngineFailure("exec ID empty")
        return exec_id

    def exec_start_detached(self, exec_id: str, *, tty: bool = False) -> None:
        self._post_json(f"/exec/{quote_path(exec_id)}/start", {"Detach": True, "Tty": tty})

    def exec_attach(
        self, exec_id: str, *, tty: bool = False, console_size: tuple[int, int] | None = None
    ) -> Hijacked:
        payload: dict[str, Any] = {"Detach": False, "Tty": tty}
        if console_size is not None:
            payload["ConsoleSize"] = list(console_size)
        return self._hijack(f"/exec/{quote_path(exec_id)}/start", [], _body(payload))

    def exec_resize(self, exec_id: str, *, height: int, width: int) -> None:
        self._post(f"/exec/{quote_path(exec_id)}/resize", [("h", str(height)), ("w", str(width))])

    def exec_inspect(self, exec_id: str) -> ExecInspect:
        from wharf.client.container_models import ExecInspect

        return ExecInspect.from_wire(self._json("GET", f"/exec/{quote_path(exec_id)}/json"))

    # --- files

    def container_stat_path(self, container: str, path: str) -> PathStat:
        from wharf.client.container_models import PathStat

        with self.request(
            "HEAD", f"/containers/{quote_path(container)}/archive", query=[("path", path)]
        ) as response:
            header = response.headers.get(STAT_HEADER)
        if header is None:
            raise EngineFailure(f"the daemon sent no {STAT_HEADER} header for {path}")
        return PathStat.from_header(header)

    def container_get_archive(self, container: str, path: str) -> tuple[PathStat, Iterator[bytes]]:
        """The tar of ``path`` (its last component as the top entry) and the path's stat."""
        from wharf.client.container_models import PathStat

        response = self.request(
            "GET", f"/containers/{quote_path(container)}/archive", query=[("path", path)]
        )
        header = response.headers.get(STAT_HEADER)
        if header is None:
            response.close()
            raise EngineFailure(f"the daemon sent no {STAT_HEADER} header for {path}")
        return PathStat.from_header(header), response.iter_chunks()

    def container_put_archive(
        self,
        container: str,
        path: str,
        chunks: Iterable[bytes],
        *,
        no_overwrite_dir_non_dir: bool = True,
        copy_uid_gid: bool = False,
    ) -> None:
        """Extract the tar ``chunks`` into the directory ``path`` of the container."""
        query = [("path", path)]
        if no_overwrite_dir_non_dir:
            query.append(("noOverwriteDirNonDir", "true"))
        if copy_uid_gid:
            query.append(("copyUIDGID", "true"))
        self.request(
            "PUT",
            f"/containers/{quote_path(container)}/archive",
            query=_sorted(query),
            headers=[("Content-Type", "application/x-tar")],
            body=chunks,
        ).close()

    # --- images made from containers, and pulled for them

    def container_commit(
        self,
        container: str,
        *,
        repo: str = "",
        tag: str = "",
        comment: str = "",
        author: str = "",
        changes: Sequence[str] = (),
        pause: bool = True,
    ) -> str:
        """``POST /commit``; returns the new image's id."""
        query = [
            ("author", author),
            ("comment", comment),
            ("container", container),
            ("repo", repo),
            ("tag", tag),
        ]
        query.extend(("changes", change) for change in changes)
        if not pause:
            query.append(("pause", "0"))
        raw = self._json("POST", "/commit", query=_sorted(query))
        image_id = raw.get("Id") if isinstance(raw, dict) else None
        if not isinstance(image_id, str) or not image_id:
            raise EngineFailure("malformed daemon response to commit: no Id")
        return image_id

    def image_pull(
        self, repo: str, tag: str, *, platform: str = "", registry_auth: str = "e30="
    ) -> Iterator[JSONMessage]:
        """``POST /images/create?fromImage=<repo>&tag=<tag>``: the pull's JSON progress.

        ``registry_auth`` is the ``X-Registry-Auth`` value (base64url JSON; ``e30=`` is ``{}``).
        """
        from wharf.client.api import _json_messages

        if not repo:
            raise InvalidArgument("no image to pull")
        query = [("fromImage", repo), ("tag", tag)]
        if platform:
            query.append(("platform", platform))
        response = self.request(
            "POST",
            "/images/create",
            query=query,
            headers=[("X-Registry-Auth", registry_auth)],
        )
        return _json_messages(response)


def _stop_query(timeout: int | None, signal: str) -> list[tuple[str, str]]:
    query = []
    if signal:
        query.append(("signal", signal))
    if timeout is not None:
        query.append(("t", str(timeout)))
    return query


def _stats_samples(response: Response) -> Iterator[StatsSample]:
    from wharf.client.container_models import StatsSample

    for line in response.iter_lines():
        text = line.strip()
        if not text:
            continue
        try:
            raw = json.loads(text)
        except ValueError as exc:
            response.close()
            raise EngineFailure("malformed stats line from the daemon: not JSON") from exc
        yield StatsSample.from_wire(raw)
