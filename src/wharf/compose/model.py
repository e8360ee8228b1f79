"""The compose file model, in one import: ``load_project`` and the types it returns.

Imports: ``wharf.compose.{errors,loader,project}`` (re-exported; the work is done there).

Layering inside the package (imports point down)::

    model ─▶ loader ─▶ convert ─▶ project ─▶ render, consistency ─▶ syntax, yamlfile, errors
                   └─▶ canonical ─▶ values; merge, schema, interpolate, envfile
                                    ─▶ syntax, yamlfile, errors

Usage::

    project = load_project(find_compose_files(Path.cwd()), project_name=None)
    for name in project.dependency_order():
        service = project.services[name]
        ... service.config_hash(), service.replicas() ...
"""

from __future__ import annotations

from wharf.compose.errors import ComposeError
from wharf.compose.loader import find_compose_files, load_project, normalize_project_name
from wharf.compose.project import (
    BindOptions,
    BuildConfig,
    Dependency,
    DependencyCondition,
    Deploy,
    FileObject,
    Healthcheck,
    ImageOptions,
    Ipam,
    IpamPool,
    Logging,
    NetworkConfig,
    PortConfig,
    PortProtocol,
    Project,
    Resources,
    ResourceSpec,
    RestartPolicy,
    Service,
    ServiceFileRef,
    ServiceNetwork,
    ServiceVolume,
    TmpfsOptions,
    Ulimit,
    VolumeConfig,
    VolumeOptions,
    VolumeType,
)

__all__ = [
    "BindOptions",
    "BuildConfig",
    "ComposeError",
    "Dependency",
    "DependencyCondition",
    "Deploy",
    "FileObject",
    "Healthcheck",
    "ImageOptions",
    "Ipam",
    "IpamPool",
    "Logging",
    "NetworkConfig",
    "PortConfig",
    "PortProtocol",
    "Project",
    "ResourceSpec",
    "Resources",
    "RestartPolicy",
    "Service",
    "ServiceFileRef",
    "ServiceNetwork",
    "ServiceVolume",
    "TmpfsOptions",
    "Ulimit",
    "VolumeConfig",
    "VolumeOptions",
    "VolumeType",
    "find_compose_files",
    "load_project",
    "normalize_project_name",
]
