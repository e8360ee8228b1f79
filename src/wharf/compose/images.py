"""The images of a project: which name each service runs, and building, pulling and pushing them.

- A service with ``build:`` runs ``image:`` if it names one, else ``<project>-<service>``
  (``naming.built_image_name``); it is built when that image is missing, when ``--build`` (or
  ``pull_policy: build``) asks, never with ``--no-build`` (a missing image then fails).
- A service without ``build:`` runs ``image:``, pulled when missing (``pull_policy: missing``,
  the default), always (``always``), or never (``never``: a missing image fails).
- ``ensure`` returns each service's image ID, which goes into the container's
  ``com.docker.compose.image`` label and makes convergence recreate after a rebuild.

A build goes through ``EngineClient.image_build`` with the context tar written by
``builder.context.send.write_directory_context`` (the same code as ``wharf build``), spooled to
an anonymous temporary file.

Imports the standard library, ``wharf.errdefs``, ``wharf.apitypes.build``,
``wharf.builder.context.send``, ``wharf.client`` and ``wharf.compose``.
"""

from __future__ import annotations

import dataclasses
import enum
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from wharf.compose import naming
from wharf.compose.events import Event, Kind, Reporter, Status
from wharf.errdefs import InvalidArgument, NotFound

if TYPE_CHECKING:
    from wharf.client.api import EngineClient
    from wharf.compose.project import Project, Service

_CHUNK = 1 << 20


class PullPolicy(enum.Enum):
    MISSING = "missing"
    ALWAYS = "always"
    NEVER = "never"
    BUILD = "build"

    @classmethod
    def of(cls, text: str | None) -> PullPolicy:
        value = (text or "missing").lower()
        if value in ("if_not_present", ""):
            value = "missing"
        for policy in cls:
            if policy.value == value:
                return policy
        if value in ("daily", "weekly") or value.startswith("every_"):
            return cls.MISSING
        raise InvalidArgument(f"invalid pull_policy {text!r}")


@dataclass(frozen=True, slots=True)
class ImageOptions:
    build: bool = False  # --build
    no_build: bool = False  # --no-build
    pull: str = ""  # --pull: "", "always", "missing", "never"
    no_cache: bool = False
    quiet: bool = False


def image_name(project: Project, service: Service) -> str:
    if service.build is not None:
        return naming.built_image_name(project.name, service.name, service.image)
    if not service.image:
        raise InvalidArgument(f'service "{service.name}" has neither an image nor a build context')
    return service.image


def image_id(client: EngineClient, name: str) -> str | None:
    try:
        return client.image_inspect(name).id
    except NotFound:
        return None


def pull(client: EngineClient, service: Service, reference: str, reporter: Reporter) -> None:
    from wharf.client.compose_support import pull_reference

    for message in pull_reference(client, reference, platform=service.platform or ""):
        if message.status and not message.id:
            reporter.output(message.status + "\n")
    reporter.event(Event(Kind.IMAGE, reference, Status.PULLED))


def _chunks(spool: BinaryIO) -> Iterator[bytes]:
    while chunk := spool.read(_CHUNK):
        yield chunk


def build(
    client: EngineClient,
    project: Project,
    service: Service,
    *,
    no_cache: bool = False,
    pull: bool = False,
    reporter: Reporter,
) -> str:
    """Build ``service``'s image; returns its ID. A failed build raises ``BuildFailed``."""
    from wharf.apitypes.build import BuildOptions
    from wharf.builder.context.send import write_directory_context

    config = service.build
    assert config is not None
    context = Path(config.context).resolve()
    if not context.is_dir():
        raise InvalidArgument(
            f'service "{service.name}": build context {context} is not a directory'
        )
    dockerfile_text = config.dockerfile or "Dockerfile"
    dockerfile = Path(dockerfile_text)
    if not dockerfile.is_absolute():
        dockerfile = context / dockerfile
    if not dockerfile.is_file():
        raise InvalidArgument(
            f'service "{service.name}": Cannot locate specified Dockerfile: {dockerfile_text}'
        )
    name = image_name(project, service)
    labels = dict(config.labels or {})
    options = BuildOptions(
        tags=(name,),
        dockerfile="Dockerfile",
        build_args=tuple(sorted((config.args or {}).items())),
        target=config.target or "",
        no_cache=no_cache or bool(config.no_cache),
        pull=pull or bool(config.pull),
        labels=tuple(sorted(labels.items())),
        network_mode=config.network or "",
    )
    built = ""
    with tempfile.TemporaryFile("w+b") as spool:
        in_tar = write_directory_context(context, spool, dockerfile.resolve())
        spool.seek(0)
        options = dataclasses.replace(options, dockerfile=in_tar)
        for message in client.image_build(_chunks(spool), options):
            if message.aux_id:
                built = message.aux_id
            if message.stream:
                reporter.output(message.stream)
    reporter.event(Event(Kind.SERVICE, service.name, Status.BUILT))
    return built or (image_id(client, name) or "")


def ensure(
    client: EngineClient,
    project: Project,
    services: Sequence[Service],
    options: ImageOptions,
    reporter: Reporter,
) -> dict[str, str]:
    """Build or pull what ``services`` need; returns service name -> image ID."""
    ids: dict[str, str] = {}
    built: dict[str, str] = {}  # image name -> ID, so two services sharing a build build once
    for service in services:
        name = image_name(project, service)
        policy = PullPolicy.of(options.pull or service.pull_policy)
        current = image_id(client, name)
        if service.build is not None:
            wants_build = options.build or policy is PullPolicy.BUILD or current is None
            if wants_build and not options.no_build:
                if name not in built:
                    built[name] = build(
                        client,
                        project,
                        service,
                        no_cache=options.no_cache,
                        pull=policy is PullPolicy.ALWAYS,
                        reporter=reporter,
                    )
                current = built[name]
            elif current is None:
                raise NotFound(
                    f'image "{name}" of service "{service.name}" is missing and --no-build '
                    "was given"
                )
        elif policy is PullPolicy.ALWAYS or (current is None and policy is not PullPolicy.NEVER):
            pull(client, service, name, reporter)
            current = image_id(client, name)
        if current is None:
            raise NotFound(f"No such image: {name}")
        ids[service.name] = current
    return ids


def push(
    client: EngineClient,
    services: Sequence[Service],
    reporter: Reporter,
    *,
    ignore_failures: bool = False,
) -> None:
    """Push the images of services that build theirs and name them (compose's rule)."""
    from wharf.client.compose_support import push_reference
    from wharf.errdefs import WharfError

    for service in services:
        if service.build is None or not service.image:
            continue
        try:
            for message in push_reference(client, service.image):
                if message.status and not message.id:
                    reporter.output(message.status + "\n")
        except WharfError as exc:
            if not ignore_failures:
                raise
            reporter.warning(f"failed to push {service.image}: {exc}")
            continue
        reporter.event(Event(Kind.IMAGE, service.image, Status.PUSHED))
