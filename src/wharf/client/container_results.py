"""The container results the hot commands need: create, wait, and ``ps`` rows.

``run`` creates and waits, ``ps`` lists: they import these five types alone instead of all of
``client.container_models`` (each frozen dataclass costs start-up time), which re-exports them.
They are ``typing.NamedTuple``s, cheaper still to define: immutable, compared and hashed by
value, built with the same arguments as the dataclasses they replace.

Imports only the standard library, ``wharf.errdefs`` and ``client.wire``.
"""

from __future__ import annotations

from typing import NamedTuple

from wharf.client.wire import Fields as _Fields
from wharf.client.wire import as_list as _as_list
from wharf.errdefs import EngineFailure


class ContainerCreated(NamedTuple):
    """``POST /containers/create``: the new container's full id and the daemon's warnings."""

    id: str
    warnings: tuple[str, ...] = ()

    @classmethod
    def from_wire(cls, raw: object) -> ContainerCreated:
        f = _Fields(raw, "container create response")
        created = cls(id=f.text("Id"), warnings=f.texts("Warnings"))
        if not created.id:
            raise EngineFailure("malformed daemon response: container create returned no Id")
        return created


class PortSummary(NamedTuple):
    """One entry of a container summary's ``Ports``; ``public_port`` 0 when not published."""

    ip: str
    private_port: int
    public_port: int
    type: str


class MountSummary(NamedTuple):
    """What ``ps`` shows of a mount: a volume's name, else its source; and its driver."""

    name: str
    source: str
    driver: str


class ContainerSummary(NamedTuple):
    """One row of ``GET /containers/json``; ``status`` is the daemon's "Up 3 seconds" text."""

    id: str
    names: tuple[str, ...]
    image: str
    image_id: str
    command: str
    created: int
    state: str
    status: str
    ports: tuple[PortSummary, ...]
    labels: tuple[tuple[str, str], ...]
    size_rw: int
    size_root_fs: int
    mounts: tuple[MountSummary, ...]
    networks: tuple[str, ...]

    @classmethod
    def from_wire(cls, raw: object) -> ContainerSummary:
        f = _Fields(raw, "container summary")
        return cls(
            id=f.text("Id"),
            names=f.texts("Names"),
            image=f.text("Image"),
            image_id=f.text("ImageID"),
            command=f.text("Command"),
            created=f.num("Created"),
            state=f.text("State"),
            status=f.text("Status"),
            ports=tuple(
                PortSummary(
                    ip=p.text("IP"),
                    private_port=p.num("PrivatePort"),
                    public_port=p.num("PublicPort"),
                    type=p.text("Type"),
                )
                for p in f.objs("Ports")
            ),
            labels=f.str_map("Labels"),
            size_rw=f.num("SizeRw"),
            size_root_fs=f.num("SizeRootFs"),
            mounts=tuple(
                MountSummary(m.text("Name"), m.text("Source"), m.text("Driver"))
                for m in f.objs("Mounts")
            ),
            networks=f.obj("NetworkSettings").keys_of("Networks"),
        )

    @classmethod
    def list_from_wire(cls, raw: object) -> list[ContainerSummary]:
        return [cls.from_wire(item) for item in _as_list(raw, "container list")]


class WaitResult(NamedTuple):
    """The body of ``POST /containers/{id}/wait``, sent when the condition is met."""

    status_code: int
    error: str = ""

    @classmethod
    def from_wire(cls, raw: object) -> WaitResult:
        f = _Fields(raw, "wait response")
        return cls(status_code=f.num("StatusCode"), error=f.obj("Error").text("Message"))
