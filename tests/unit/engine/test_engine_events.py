"""Engine services publish through the ``publish`` seam they are given (here a real bus)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from wharf.apitypes.filters import Filters
from wharf.engine.volumes import VolumeService
from wharf.events.bus import EventBus
from wharf.events.model import EventType
from wharf.metadata.db import MetadataDB
from wharf.metadata.volumes import VolumeRecords
from wharf.volumes.local import LocalVolumes


@pytest.fixture
def db(tmp_path: Path) -> Iterator[MetadataDB]:
    database = MetadataDB(tmp_path / "metadata.db")
    yield database
    database.close()


def test_volume_service_tells_creation_and_removal_once(db: MetadataDB, tmp_path: Path) -> None:
    bus = EventBus()
    service = VolumeService(
        VolumeRecords(db), LocalVolumes(tmp_path / "volumes"), publish=bus.publish
    )
    service.create_volume("data")
    service.create_volume("data")  # already there: nothing happened, nothing told
    anonymous = service.create_volume().name
    service.remove_volume("data")
    service.prune_volumes(filters=Filters())
    told = [(e.type, e.action, e.actor_id, dict(e.attributes)) for e in bus.recent()]
    assert told == [
        (EventType.VOLUME, "create", "data", {"driver": "local"}),
        (EventType.VOLUME, "create", anonymous, {"driver": "local"}),
        (EventType.VOLUME, "destroy", "data", {"driver": "local"}),
        (EventType.VOLUME, "destroy", anonymous, {"driver": "local"}),
    ]
