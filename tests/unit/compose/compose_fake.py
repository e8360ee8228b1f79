"""A small stateful daemon behind ``client.fake.FakeTransport``: enough of the Engine API for the
compose runtime (containers, networks, volumes, images, logs, wait) to run against it in
memory, with every request recorded.

Imported by name (``from compose_fake import FakeEngine``). Containers never run anything:
``start`` marks them running (or exited with ``exit_codes[name]`` when one is set), ``health``
scripts what ``State.Health.Status`` says on each inspect, ``logs`` what their log holds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from wharf.client.api import EngineClient
from wharf.client.fake import (
    FakeTransport,
    RecordedRequest,
    error_response,
    json_response,
    response,
)
from wharf.client.streams import StreamKind, encode_frame
from wharf.client.transport import Request, Response

IMAGE_ID = "sha256:" + "b" * 64


@dataclass
class FakeContainer:
    id: str
    name: str
    body: dict[str, Any]
    state: str = "created"
    exit_code: int = 0
    networks: dict[str, dict[str, Any]] = field(default_factory=dict)
    archives: list[tuple[str, bytes]] = field(default_factory=list)

    @property
    def labels(self) -> dict[str, str]:
        labels = self.body.get("Labels") or {}
        assert isinstance(labels, dict)
        return labels


@dataclass
class FakeEngine:
    transport: FakeTransport = field(default_factory=FakeTransport)
    containers: dict[str, FakeContainer] = field(default_factory=dict)
    networks: dict[str, dict[str, Any]] = field(default_factory=dict)
    volumes: dict[str, dict[str, Any]] = field(default_factory=dict)
    images: dict[str, str] = field(default_factory=lambda: {"busybox": IMAGE_ID})
    exit_codes: dict[str, int] = field(default_factory=dict)  # container name -> code at start
    health: dict[str, list[str]] = field(default_factory=dict)  # name -> statuses, last sticks
    logs: dict[str, list[tuple[StreamKind, bytes]]] = field(default_factory=dict)
    pulls: list[str] = field(default_factory=list)
    builds: list[dict[str, str]] = field(default_factory=list)
    fail_create: dict[str, str] = field(default_factory=dict)  # name -> daemon error message
    _counter: int = 0

    def __post_init__(self) -> None:
        self.transport.send = self._send  # type: ignore[method-assign]
        self.images = {_tagged(name): image_id for name, image_id in self.images.items()}

    def client(self) -> EngineClient:
        return EngineClient(self.transport)

    # --- helpers for tests

    def by_name(self, name: str) -> FakeContainer:
        for container in self.containers.values():
            if container.name == name:
                return container
        raise KeyError(name)

    def names(self) -> list[str]:
        return sorted(c.name for c in self.containers.values())

    def calls(self, method: str, pattern: str) -> list[RecordedRequest]:
        regex = re.compile(pattern)
        return [r for r in self.transport.calls() if r.method == method and regex.fullmatch(r.path)]

    # --- dispatch

    def _send(self, request: Request) -> Response:
        recorded = self.transport._record(request)  # the fake's own recorder
        if recorded.path == "/_ping":
            return self.transport._ping(recorded)
        for method, pattern, handler in self._routes():
            if method != recorded.method:
                continue
            match = re.fullmatch(pattern, recorded.path)
            if match:
                return handler(recorded, *match.groups())
        return error_response(404, f"fake: {recorded.method} {recorded.path} is not routed")

    def _routes(self) -> list[tuple[str, str, Callable[..., Response]]]:
        return [
            ("GET", r"/containers/json", self._list),
            ("POST", r"/containers/create", self._create),
            ("GET", r"/containers/([^/]+)/json", self._inspect),
            ("POST", r"/containers/([^/]+)/start", self._start),
            ("POST", r"/containers/([^/]+)/stop", self._stop),
            ("POST", r"/containers/([^/]+)/restart", self._restart),
            ("POST", r"/containers/([^/]+)/kill", self._stop),
            ("POST", r"/containers/([^/]+)/pause", self._pause),
            ("POST", r"/containers/([^/]+)/unpause", self._unpause),
            ("POST", r"/containers/([^/]+)/wait", self._wait),
            ("GET", r"/containers/([^/]+)/logs", self._logs),
            ("PUT", r"/containers/([^/]+)/archive", self._archive),
            ("DELETE", r"/containers/([^/]+)", self._remove),
            ("POST", r"/networks/create", self._network_create),
            ("GET", r"/networks", self._network_list),
            ("POST", r"/networks/([^/]+)/connect", self._network_connect),
            ("GET", r"/networks/([^/]+)", self._network_inspect),
            ("DELETE", r"/networks/([^/]+)", self._network_remove),
            ("POST", r"/volumes/create", self._volume_create),
            ("GET", r"/volumes", self._volume_list),
            ("GET", r"/volumes/([^/]+)", self._volume_inspect),
            ("DELETE", r"/volumes/([^/]+)", self._volume_remove),
            ("GET", r"/images/(.+)/json", self._image_inspect),
            ("POST", r"/images/create", self._pull),
            ("POST", r"/build", self._build),
        ]

    def _find(self, ref: str) -> FakeContainer | None:
        for container in self.containers.values():
            if ref in (container.id, container.name) or container.id.startswith(ref):
                return container
        return None

    def _missing(self, ref: str) -> Response:
        return error_response(404, f"No such container: {ref}")

    # --- containers

    def _list(self, request: RecordedRequest) -> Response:
        filters = json.loads(request.param("filters") or "{}")
        wanted = list(filters.get("label", {}))
        show_all = request.param("all") == "1"
        rows = []
        for c in self.containers.values():
            if not show_all and c.state != "running":
                continue
            if not all(_label_matches(c.labels, f) for f in wanted):
                continue
            rows.append(
                {
                    "Id": c.id,
                    "Names": [f"/{c.name}"],
                    "Image": c.body.get("Image", ""),
                    "ImageID": IMAGE_ID,
                    "Command": " ".join(c.body.get("Cmd") or []),
                    "Created": 1_700_000_000,
                    "State": c.state,
                    "Status": "Up 3 seconds" if c.state == "running" else "Exited (0) 1 second ago",
                    "Labels": c.labels,
                    "Ports": [],
                    "Mounts": [],
                    "NetworkSettings": {"Networks": {n: {} for n in c.networks}},
                }
            )
        return json_response(rows)

    def _create(self, request: RecordedRequest) -> Response:
        body = json.loads(request.body or b"{}")
        name = request.param("name") or f"auto{self._counter}"
        if name in self.fail_create:
            return error_response(500, self.fail_create[name])
        if any(c.name == name for c in self.containers.values()):
            return error_response(409, f'Conflict. The container name "/{name}" is already in use')
        if _tagged(body.get("Image", "")) not in self.images:
            return error_response(404, f"No such image: {body.get('Image')}")
        self._counter += 1
        cid = f"{self._counter:064x}"
        container = FakeContainer(cid, name, body)
        mode = body.get("HostConfig", {}).get("NetworkMode", "")
        for network, endpoint in (
            (body.get("NetworkingConfig") or {}).get("EndpointsConfig", {}).items()
        ):
            container.networks[network] = endpoint
        if mode and mode not in container.networks and ":" not in mode:
            container.networks[mode] = {}
        self.containers[cid] = container
        return json_response({"Id": cid, "Warnings": []}, 201)

    def _inspect(self, request: RecordedRequest, ref: str) -> Response:
        c = self._find(ref)
        if c is None:
            return self._missing(ref)
        state: dict[str, Any] = {
            "Status": c.state,
            "Running": c.state == "running",
            "Paused": c.state == "paused",
            "Restarting": False,
            "ExitCode": c.exit_code,
        }
        script = self.health.get(c.name)
        if script:
            status = script.pop(0) if len(script) > 1 else script[0]
            state["Health"] = {"Status": status, "FailingStreak": 0, "Log": []}
        document = {
            "Id": c.id,
            "Name": f"/{c.name}",
            "Image": IMAGE_ID,
            "State": state,
            "Config": {**c.body, "Tty": bool(c.body.get("Tty"))},
            "HostConfig": c.body.get("HostConfig", {}),
            "NetworkSettings": {"Ports": {}, "Networks": c.networks},
        }
        return json_response(document)

    def _start(self, request: RecordedRequest, ref: str) -> Response:
        c = self._find(ref)
        if c is None:
            return self._missing(ref)
        if c.name in self.exit_codes:
            c.state, c.exit_code = "exited", self.exit_codes[c.name]
        else:
            c.state = "running"
        return response(204)

    def _stop(self, request: RecordedRequest, ref: str) -> Response:
        c = self._find(ref)
        if c is None:
            return self._missing(ref)
        if c.state == "running":
            c.state, c.exit_code = "exited", 137
        return response(204)

    def _restart(self, request: RecordedRequest, ref: str) -> Response:
        c = self._find(ref)
        if c is None:
            return self._missing(ref)
        c.state = "running"
        return response(204)

    def _pause(self, request: RecordedRequest, ref: str) -> Response:
        c = self._find(ref)
        if c is None:
            return self._missing(ref)
        c.state = "paused"
        return response(204)

    def _unpause(self, request: RecordedRequest, ref: str) -> Response:
        c = self._find(ref)
        if c is None:
            return self._missing(ref)
        c.state = "running"
        return response(204)

    def _wait(self, request: RecordedRequest, ref: str) -> Response:
        c = self._find(ref)
        if c is None:
            return self._missing(ref)
        if c.state == "running":
            c.state = "exited"
        return json_response({"StatusCode": c.exit_code, "Error": None})

    def _logs(self, request: RecordedRequest, ref: str) -> Response:
        c = self._find(ref)
        if c is None:
            return self._missing(ref)
        frames = self.logs.get(c.name, [])
        tail = request.param("tail")
        if tail not in (None, "all"):
            frames = frames[len(frames) - int(tail or 0) :] if int(tail or 0) else []
        if c.body.get("Tty"):
            data = [payload for _, payload in frames]
        else:
            data = [encode_frame(kind, payload) for kind, payload in frames]
        return response(200, headers={"Content-Type": "application/octet-stream"}, chunks=data)

    def _archive(self, request: RecordedRequest, ref: str) -> Response:
        c = self._find(ref)
        if c is None:
            return self._missing(ref)
        c.archives.append((request.param("path") or "", request.body or b""))
        return response(200)

    def _remove(self, request: RecordedRequest, ref: str) -> Response:
        c = self._find(ref)
        if c is None:
            return self._missing(ref)
        if c.state == "running" and request.param("force") != "1":
            return error_response(409, "cannot remove a running container")
        del self.containers[c.id]
        return response(204)

    # --- networks

    def _network_create(self, request: RecordedRequest) -> Response:
        body = json.loads(request.body or b"{}")
        name = body["Name"]
        if name in self.networks:
            return error_response(409, f"network with name {name} already exists")
        self.networks[name] = {**body, "Id": f"net-{name}"}
        return json_response({"Id": f"net-{name}", "Warning": ""}, 201)

    def _network_wire(self, name: str) -> dict[str, Any]:
        body = self.networks[name]
        return {
            "Name": name,
            "Id": body["Id"],
            "Driver": body.get("Driver", "bridge"),
            "Labels": body.get("Labels", {}),
            "Containers": {},
        }

    def _network_list(self, request: RecordedRequest) -> Response:
        filters = json.loads(request.param("filters") or "{}")
        wanted = list(filters.get("label", {}))
        found = [
            self._network_wire(name)
            for name, body in self.networks.items()
            if all(_label_matches(body.get("Labels", {}), f) for f in wanted)
        ]
        return json_response(found)

    def _network_key(self, ref: str) -> str | None:
        for name, body in self.networks.items():
            if ref in (name, body["Id"]):
                return name
        return None

    def _network_inspect(self, request: RecordedRequest, ref: str) -> Response:
        name = self._network_key(ref)
        if name is None:
            return error_response(404, f"network {ref} not found")
        return json_response(self._network_wire(name))

    def _network_remove(self, request: RecordedRequest, ref: str) -> Response:
        name = self._network_key(ref)
        if name is None:
            return error_response(404, f"network {ref} not found")
        del self.networks[name]
        return response(204)

    def _network_connect(self, request: RecordedRequest, ref: str) -> Response:
        body = json.loads(request.body or b"{}")
        c = self._find(body["Container"])
        name = self._network_key(ref)
        if c is None or name is None:
            return error_response(404, "not found")
        c.networks[name] = body.get("EndpointConfig", {})
        return response(200)

    # --- volumes

    def _volume_wire(self, name: str) -> dict[str, Any]:
        body = self.volumes[name]
        return {"Name": name, "Driver": body.get("Driver", "local"), "Labels": body.get("Labels")}

    def _volume_create(self, request: RecordedRequest) -> Response:
        body = json.loads(request.body or b"{}")
        self.volumes[body["Name"]] = body
        return json_response(self._volume_wire(body["Name"]), 201)

    def _volume_list(self, request: RecordedRequest) -> Response:
        filters = json.loads(request.param("filters") or "{}")
        wanted = list(filters.get("label", {}))
        found = [
            self._volume_wire(name)
            for name, body in self.volumes.items()
            if all(_label_matches(body.get("Labels") or {}, f) for f in wanted)
        ]
        return json_response({"Volumes": found, "Warnings": []})

    def _volume_inspect(self, request: RecordedRequest, name: str) -> Response:
        if name not in self.volumes:
            return error_response(404, f"get {name}: no such volume")
        return json_response(self._volume_wire(name))

    def _volume_remove(self, request: RecordedRequest, name: str) -> Response:
        if name not in self.volumes:
            return error_response(404, f"get {name}: no such volume")
        del self.volumes[name]
        return response(204)

    # --- images

    def _image_inspect(self, request: RecordedRequest, name: str) -> Response:
        key = _tagged(name)
        if key not in self.images:
            return error_response(404, f"No such image: {name}")
        return json_response({"Id": self.images[key], "RepoTags": [key], "Size": 10})

    def _pull(self, request: RecordedRequest) -> Response:
        image = request.param("fromImage") or ""
        self.pulls.append(f"{image}:{request.param('tag')}")
        short = image.removeprefix("docker.io/library/")
        self.images[_tagged(f"{short}:{request.param('tag')}")] = (
            "sha256:" + f"{len(self.pulls):064x}"
        )
        lines = [{"status": f"Pulling from {short}", "id": "latest"}, {"status": "Done"}]
        return response(
            200,
            headers={"Content-Type": "application/json"},
            chunks=[json.dumps(line).encode() + b"\r\n" for line in lines],
        )

    def _build(self, request: RecordedRequest) -> Response:
        tags = request.params("t")
        self.builds.append({"t": ",".join(tags), "dockerfile": request.param("dockerfile") or ""})
        image_id = "sha256:" + f"{len(self.builds) + 100:064x}"
        for tag in tags:
            self.images[_tagged(tag)] = image_id
        lines = [{"stream": "Step 1/1 : FROM busybox\n"}, {"aux": {"ID": image_id}}]
        return response(
            200,
            headers={"Content-Type": "application/json"},
            chunks=[json.dumps(line).encode() + b"\r\n" for line in lines],
        )


def _tagged(name: str) -> str:
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


def _label_matches(labels: dict[str, str], wanted: str) -> bool:
    key, sep, value = wanted.partition("=")
    if key not in labels:
        return False
    return not sep or labels[key] == value
