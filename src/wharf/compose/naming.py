"""Names and labels of what ``wharf compose`` creates: docker compose v2's, so that both tools
(and ``ps --filter label=...``) recognise each other's containers, networks and volumes.

Names::

    container   <project>-<service>-<n>          (or the service's container_name)
    one-off     <project>-<service>-run-<12 hex>  (compose run)
    network     <project>_<key>                   (the model resolves it: NetworkConfig.name)
    volume      <project>_<key>                   (likewise: VolumeConfig.name)
    built image <project>-<service>               (unless the service names its image)

Labels on containers (values are strings, booleans spelled "True"/"False" as compose does)::

    com.docker.compose.project                 project name
    com.docker.compose.service                 service name
    com.docker.compose.container-number        "1", "2", ...
    com.docker.compose.oneoff                  "False" ("True" for compose run)
    com.docker.compose.config-hash             Service.config_hash()
    com.docker.compose.image                   image ID the container was created from
    com.docker.compose.depends_on              "db:service_healthy:false,..."
                                               (name:condition:restart, by name)
    com.docker.compose.project.working_dir     absolute path
    com.docker.compose.project.config_files    absolute paths joined by ","
    com.docker.compose.version                 the compose implementation's version

Networks carry ``com.docker.compose.network=<key>``, volumes ``com.docker.compose.volume=<key>``,
both with the project and version labels.

Pure code: imports only the standard library and ``wharf``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from wharf import __version__

PROJECT = "com.docker.compose.project"
SERVICE = "com.docker.compose.service"
NUMBER = "com.docker.compose.container-number"
ONEOFF = "com.docker.compose.oneoff"
CONFIG_HASH = "com.docker.compose.config-hash"
IMAGE = "com.docker.compose.image"
DEPENDS_ON = "com.docker.compose.depends_on"
WORKING_DIR = "com.docker.compose.project.working_dir"
CONFIG_FILES = "com.docker.compose.project.config_files"
VERSION = "com.docker.compose.version"
NETWORK = "com.docker.compose.network"
VOLUME = "com.docker.compose.volume"
REPLACE = "com.docker.compose.replace"

COMPOSE_VERSION = __version__
"""What ``com.docker.compose.version`` says: the implementation that made the object."""

TRUE = "True"
FALSE = "False"

_NUMBERED = re.compile(r"^(?P<prefix>.+)-(?P<n>[0-9]+)$")


def container_name(project: str, service: str, number: int) -> str:
    return f"{project}-{service}-{number}"


def oneoff_name(project: str, service: str, suffix: str) -> str:
    return f"{project}-{service}-run-{suffix}"


def built_image_name(project: str, service: str, image: str | None) -> str:
    """The image a ``build:`` service runs: its own ``image:``, else ``<project>-<service>``."""
    return image if image else f"{project}-{service}".lower()


def project_filter(project: str, *, oneoff: bool | None = False) -> dict[str, list[str]]:
    """``GET /containers/json`` filters selecting the project's containers (services only by
    default, one-off containers only with ``oneoff=True``, both with ``None``)."""
    labels = [f"{PROJECT}={project}"]
    if oneoff is not None:
        labels.append(f"{ONEOFF}={TRUE if oneoff else FALSE}")
    return {"label": labels}


def service_filter(
    project: str, service: str, *, oneoff: bool | None = False
) -> dict[str, list[str]]:
    filters = project_filter(project, oneoff=oneoff)
    filters["label"].append(f"{SERVICE}={service}")
    return filters


def container_number(labels: Mapping[str, str], name: str = "") -> int:
    """The replica number: from its label, else from a ``-<n>`` name suffix, else 0."""
    text = labels.get(NUMBER, "")
    if text.isdigit():
        return int(text)
    match = _NUMBERED.match(name)
    return int(match.group("n")) if match else 0


def project_labels(project: str, working_dir: str, config_files: Sequence[str]) -> dict[str, str]:
    return {
        PROJECT: project,
        WORKING_DIR: working_dir,
        CONFIG_FILES: ",".join(config_files),
        VERSION: COMPOSE_VERSION,
    }


def network_labels(project: str, key: str, extra: Mapping[str, str]) -> dict[str, str]:
    return {**extra, PROJECT: project, NETWORK: key, VERSION: COMPOSE_VERSION}


def volume_labels(project: str, key: str, extra: Mapping[str, str]) -> dict[str, str]:
    return {**extra, PROJECT: project, VOLUME: key, VERSION: COMPOSE_VERSION}


def depends_on_label(dependencies: Sequence[tuple[str, str, bool]]) -> str:
    """``name:condition:restart`` joined by ",", in the order given (compose sorts by name)."""
    return ",".join(
        f"{name}:{condition}:{'true' if restart else 'false'}"
        for name, condition, restart in sorted(dependencies)
    )


def display_name(name: str, labels: Mapping[str, str]) -> str:
    """The log prefix of a container: ``web-1`` for ``shop-web-1``; a ``container_name`` (or
    any name that is not the default one) is shown whole, as compose shows it."""
    project = labels.get(PROJECT, "")
    default = f"{project}-{labels.get(SERVICE, '')}-{labels.get(NUMBER, '')}"
    return name[len(project) + 1 :] if project and name == default else name
