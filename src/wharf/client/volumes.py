"""Volume calls of ``EngineClient`` (a mixin): ``/volumes`` of the Docker Engine API v1.45.

Imports only the standard library and ``wharf.client`` (the shared plumbing from
``client.mixin``; never ``client.api``, which imports this module).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from wharf.client.mixin import ClientMixin, filters_query
from wharf.client.transport import quote_path
from wharf.errdefs import EngineFailure

if TYPE_CHECKING:
    from wharf.client.container_models import Volume, VolumeList, VolumePruneReport

Filters = Mapping[str, Sequence[str]]


class VolumesMixin(ClientMixin):
    """The volume half of ``EngineClient``; relies on its ``request``/``_json`` plumbing."""

    def volume_create(
        self,
        name: str = "",
        *,
        driver: str = "local",
        driver_opts: Mapping[str, str] | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> Volume:
        from wharf.client.container_models import Volume

        payload = {
            "Name": name,
            "Driver": driver,
            "DriverOpts": dict(driver_opts or {}),
            "Labels": dict(labels or {}),
        }
        with self.request(
            "POST",
            "/volumes/create",
            headers=[("Content-Type", "application/json")],
            body=json.dumps(payload, separators=(",", ":")).encode(),
        ) as response:
            data = response.read()
        try:
            return Volume.from_wire(json.loads(data))
        except ValueError as exc:
            raise EngineFailure("malformed daemon response to volume create: not JSON") from exc

    def volume_list(self, *, filters: Filters | None = None) -> VolumeList:
        from wharf.client.container_models import VolumeList

        return VolumeList.from_wire(self._json("GET", "/volumes", query=filters_query(filters)))

    def volume_inspect(self, name: str) -> Volume:
        from wharf.client.container_models import Volume

        return Volume.from_wire(self._json("GET", f"/volumes/{quote_path(name)}"))

    def volume_remove(self, name: str, *, force: bool = False) -> None:
        query = [("force", "1")] if force else []
        self.request("DELETE", f"/volumes/{quote_path(name)}", query=query).close()

    def volumes_prune(self, *, filters: Filters | None = None) -> VolumePruneReport:
        from wharf.client.container_models import VolumePruneReport

        raw = self._json("POST", "/volumes/prune", query=filters_query(filters))
        return VolumePruneReport.from_wire(raw)
