from datetime import datetime, timedelta, timezone
from typing import Any

from pipeline.agents.store_telemetry import TelemetryStore
from pipeline.schemas import GpuTelemetry
from pipeline.settings import StorageSettings
from tests.factories import gpu_message

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def store(raw_storage: str) -> TelemetryStore:
    unused: Any = None
    return TelemetryStore(unused, unused, "", 1024, storage=StorageSettings(raw_storage=raw_storage))


def message(node: str = "r000-n00", rack: str = "r000") -> GpuTelemetry:
    return GpuTelemetry.model_validate(gpu_message(node=node, rack=rack, time=NOW.isoformat()))


def test_flagged_stores_node_under_incident() -> None:
    assert store("flagged")._store_raw(message(), {"r000-n00"})


def test_flagged_stores_rack_under_incident() -> None:
    assert store("flagged")._store_raw(message(node="r000-n03"), {"r000"})


def test_flagged_skips_healthy_entity() -> None:
    assert not store("flagged")._store_raw(message(), {"r001-n00", "r001"})


def test_flagged_keeps_recent_anomaly() -> None:
    flagged = store("flagged")
    flagged._flag("r000-n00", None, NOW - timedelta(seconds=60))

    assert flagged._store_raw(message(), set())
    assert not flagged._store_raw(message(node="r000-n01"), set())


def test_all_and_none_modes() -> None:
    assert store("all")._store_raw(message(), set())
    assert not store("none")._store_raw(message(), {"r000-n00"})
