"""Builders of validated telemetry messages for rule tests, at a time offset in seconds."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from pipeline.schemas import CoolingTelemetry, DpuTelemetry, GpuTelemetry, HardwareEvent, PowerTelemetry

START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def at(seconds: float) -> str:
    return (START + timedelta(seconds=seconds)).isoformat()


def gpu_telemetry(seconds: float = 0.0, gpus: list[dict[str, Any]] | None = None, **gpu_fields: Any) -> GpuTelemetry:
    """Return a node message with one GPU (index 0) carrying ``gpu_fields``, or the given GPU list."""
    samples = gpus if gpus is not None else [{"gpu": 0, **gpu_fields}]
    return GpuTelemetry.model_validate(
        {"schema_version": 1, "time": at(seconds), "cluster": "test", "rack": "r000", "node": "r000-n00", "gpus": samples}
    )


def cooling_telemetry(seconds: float = 0.0, **fields: Any) -> CoolingTelemetry:
    values = {
        "SupplyTemperatureCelsius": 32.0,
        "ReturnTemperatureCelsius": 42.0,
        "FlowLitersPerMinute": 100.0,
        "SupplyPressurekPa": 300.0,
        "ReturnPressurekPa": 180.0,
        "PumpHealth": "OK",
        "LeakDetectorState": "OK",
    }
    values.update(fields)
    return CoolingTelemetry.model_validate({"schema_version": 1, "time": at(seconds), "rack": "r000", "cdu": "r000-cdu0", **values})


def dpu_telemetry(seconds: float = 0.0, **port_fields: Any) -> DpuTelemetry:
    port = {"port": 0, "link_state": "up", **port_fields}
    return DpuTelemetry.model_validate(
        {"schema_version": 1, "time": at(seconds), "rack": "r000", "node": "r000-n00", "dpu": "r000-n00-dpu0", "ports": [port]}
    )


def power_telemetry(seconds: float = 0.0, watts: float = 50_000.0, cap: float | None = 60_000.0, psu_health: str = "OK") -> PowerTelemetry:
    return PowerTelemetry.model_validate(
        {
            "schema_version": 1, "time": at(seconds), "rack": "r000", "pdu": "r000-pdu0", "PowerWatts": watts, "PowerLimitWatts": cap,
            "power_supplies": [{"psu": "psu0", "health": psu_health}],
        }
    )


def xid_event(code: int, seconds: float = 0.0, gpu: int | None = 0, event_id: str | None = None) -> HardwareEvent:
    return HardwareEvent.model_validate(
        {
            "schema_version": 1, "time": at(seconds), "kind": "xid", "severity": "critical", "rack": "r000", "node": "r000-n00",
            "gpu": gpu, "code": code, "event_id": event_id, "source": "kernel_log",
        }
    )
