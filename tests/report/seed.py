"""Seed an InfluxDB database with one GPU incident and one rack incident.

Every point comes from the pipeline's own writers: ``to_points`` and ``RollupWindows`` for
telemetry, ``anomaly_point``, ``incident_points`` and ``action_point``, so the report reads
exactly what the worker writes.
"""

from __future__ import annotations

import math
import urllib.request
from datetime import datetime, timedelta, timezone
from typing import Final

from detectors.anomaly import Anomaly
from pipeline.agents.respond import action_point, incident_points
from pipeline.anomalies import anomaly_point
from pipeline.incidents.models import Incident, IncidentUpdate, incident_id, incident_key
from pipeline.policy.models import ActionRequest, ActionResult, action_id
from pipeline.schemas import SCHEMA_VERSION, CoolingTelemetry, GpuSample, GpuTelemetry, HardwareEvent, PowerTelemetry
from pipeline.settings import InfluxDBSettings
from pipeline.sinks.influxql import database_of
from pipeline.sinks.points import PointData, to_points
from pipeline.sinks.rollup import RollupWindows

CLUSTER: Final = "test"
START: Final = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
MARKUP: Final = "<b>hot</b> & 'quoted' \"text\""

GPU_NODE: Final = "r000-n01"
GPU_STARTED: Final = START + timedelta(minutes=2)
GPU_RESOLVED: Final = START + timedelta(minutes=14)
GPU_INCIDENT: Final = incident_id(CLUSTER, incident_key("gpu", GPU_NODE, 0, "gpu_thermal"), GPU_STARTED)

RACK: Final = "r001"
RACK_STARTED: Final = START + timedelta(minutes=5)
RACK_INCIDENT: Final = incident_id(CLUSTER, incident_key("rack", RACK, None, "cdu_pump_failure"), RACK_STARTED)


def write_points(settings: InfluxDBSettings, points: list[PointData]) -> None:
    """Write points as line protocol through the InfluxDB 1.x /write endpoint."""
    body = "\n".join(point.to_line_protocol() for point in points).encode()
    url = f"{settings.url}/write?db={database_of(settings)}&precision=ns"
    with urllib.request.urlopen(urllib.request.Request(url, data=body, method="POST"), timeout=10) as response:
        assert response.status == 204


def telemetry_points() -> list[PointData]:
    """Return GPU, cooling and power rollups over 32 minutes, and raw GPU points where the node was flagged."""
    windows = RollupWindows(window_seconds=10)
    raw: list[PointData] = []
    for second in range(-12 * 60, 20 * 60, 2):
        moment = START + timedelta(seconds=second)
        messages = [_gpu_message(moment, second), _cooling_message(moment, second), _power_message(moment, second)]
        points = [point for message in messages for point in to_points(message)]
        windows.add(points, moment)
        if 60 <= second < 16 * 60:
            raw += [
                PointData(point.measurement, dict(point.tags, resolution="raw"), point.fields, point.time)
                for point in points if point.measurement == "gpu"
            ]
    return windows.close_all().points + raw


def gpu_incident_points() -> list[PointData]:
    """Return the anomalies, incident changes, actions and events of the GPU incident, plus decoys."""
    anomalies = [_gpu_anomaly(GPU_STARTED + timedelta(minutes=minute), 85.0 + minute) for minute in range(3)]
    decoys = [
        _gpu_anomaly(GPU_STARTED, 90.0, node="r000-n02"),
        _gpu_anomaly(START + timedelta(hours=3), 90.0),
    ]
    points = [anomaly_point(anomaly) for anomaly in anomalies + decoys]

    incident = Incident(
        incident_id=GPU_INCIDENT, cluster=CLUSTER, scope="gpu", entity=GPU_NODE, gpu=0, node=GPU_NODE, rack="r000",
        jobs=("job-a", "job-b"), fault_class="gpu_thermal", severity="warning", confidence="medium",
        started_at=GPU_STARTED, updated_at=GPU_STARTED, anomaly_count=1, max_score=85.0, summary=f"GPU 0 at 85 C {MARKUP}",
    )
    updated = incident.model_copy(update={"severity": "critical", "anomaly_count": 3, "max_score": 87.0,
                                          "updated_at": GPU_STARTED + timedelta(minutes=2)})
    resolved = updated.model_copy(update={"status": "resolved", "resolution": "cleared", "resolved_at": GPU_RESOLVED})
    for kind, time, state in (("opened", GPU_STARTED, incident), ("updated", updated.updated_at, updated), ("resolved", GPU_RESOLVED, resolved)):
        points += incident_points(IncidentUpdate(kind=kind, time=time, incident=state))

    cap = _action("cap_power", GPU_INCIDENT, GPU_NODE, GPU_STARTED, attempt=0, reason=f"GPU too hot {MARKUP}")
    swap = _action("swap_spare", GPU_INCIDENT, GPU_NODE, GPU_STARTED + timedelta(minutes=2), attempt=1, reason="still hot")
    points += [
        action_point(cap, CLUSTER),
        action_point(cap, CLUSTER, ActionResult(action_id=cap.action_id, status="ok", detail="capped at 500 W",
                                                 applied_at=cap.issued_at + timedelta(seconds=3))),
        action_point(swap, CLUSTER),
        action_point(swap, CLUSTER, ActionResult(action_id=swap.action_id, status="failed", detail=f"no spare {MARKUP}",
                                                  applied_at=swap.issued_at + timedelta(seconds=2))),
    ]
    points += to_points(_xid(GPU_STARTED + timedelta(minutes=1), GPU_NODE))
    points += to_points(_xid(GPU_STARTED + timedelta(minutes=1), "r000-n02"))
    return points


def rack_incident_points() -> list[PointData]:
    """Return the anomaly, the firing incident and a dry-run action of the rack incident."""
    anomaly = Anomaly(
        time=RACK_STARTED, cluster=CLUSTER, entity=RACK, entity_kind="rack", rack=RACK, detector="rule.cdu_flow",
        score=0.4, threshold=0.7, severity="critical", fault_class="cdu_pump_failure",
        evidence={"field": "FlowLitersPerMinute", "value": 48.0}, message="coolant flow at 40 % of its baseline",
    )
    incident = Incident(
        incident_id=RACK_INCIDENT, cluster=CLUSTER, scope="rack", entity=RACK, rack=RACK, fault_class="cdu_pump_failure",
        severity="critical", confidence="high", started_at=RACK_STARTED, updated_at=RACK_STARTED, anomaly_count=1,
        max_score=0.4, summary=anomaly.message,
    )
    isolate = _action("isolate_rack", RACK_INCIDENT, RACK, RACK_STARTED, attempt=0, reason="pump failed", dry_run=True)
    points = [anomaly_point(anomaly), action_point(isolate, CLUSTER)]
    points += incident_points(IncidentUpdate(kind="opened", time=RACK_STARTED, incident=incident))
    return points


def _gpu_message(moment: datetime, second: int) -> GpuTelemetry:
    heat = min(max(second - 120, 0) / 20, 25.0) if second < 14 * 60 else 0.0
    samples = [
        GpuSample(
            gpu=gpu,
            DCGM_FI_DEV_GPU_TEMP=60.0 + gpu + 2 * math.sin(second / 60) + (heat if gpu == 0 else 0.0),
            DCGM_FI_DEV_POWER_USAGE=650.0 - (150.0 if gpu == 0 and heat > 10 else 0.0),
            DCGM_FI_DEV_SM_CLOCK=1980.0 - (600.0 if gpu == 0 and heat > 15 else 0.0),
            DCGM_FI_DEV_GPU_UTIL=97.0,
        )
        for gpu in range(2)
    ]
    return GpuTelemetry(schema_version=SCHEMA_VERSION, time=moment, cluster=CLUSTER, rack="r000", node=GPU_NODE, gpus=samples)


def _cooling_message(moment: datetime, second: int) -> CoolingTelemetry:
    flow = 120.0 if second < 5 * 60 else 48.0
    return CoolingTelemetry(
        schema_version=SCHEMA_VERSION, time=moment, cluster=CLUSTER, rack=RACK, cdu=f"cdu-{RACK}", FlowLitersPerMinute=flow,
        SupplyTemperatureCelsius=30.0, ReturnTemperatureCelsius=40.0 + (120.0 - flow) / 8,
    )


def _power_message(moment: datetime, second: int) -> PowerTelemetry:
    return PowerTelemetry(
        schema_version=SCHEMA_VERSION, time=moment, cluster=CLUSTER, rack=RACK, pdu=f"pdu-{RACK}",
        PowerWatts=90_000.0 + 500 * math.sin(second / 90),
    )


def _gpu_anomaly(time: datetime, score: float, node: str = GPU_NODE) -> Anomaly:
    return Anomaly(
        time=time, cluster=CLUSTER, entity=node, entity_kind="gpu", gpu=0, rack="r000", detector="rule.gpu_temp",
        score=score, threshold=83.0, severity="critical", fault_class="gpu_thermal",
        evidence={"field": "DCGM_FI_DEV_GPU_TEMP", "value": score}, message=f"GPU 0 at {score:.0f} C {MARKUP}",
    )


def _action(kind: str, incident: str, target: str, issued_at: datetime, attempt: int, reason: str, dry_run: bool = False) -> ActionRequest:
    return ActionRequest(
        action_id=action_id(incident, kind, target, attempt), kind=kind, target=target, incident_id=incident,  # type: ignore[arg-type]
        fault_class="gpu_thermal", attempt=attempt, issued_at=issued_at, reason=reason, dry_run=dry_run,
    )


def _xid(time: datetime, node: str) -> HardwareEvent:
    return HardwareEvent(
        schema_version=SCHEMA_VERSION, time=time, cluster=CLUSTER, kind="xid", severity="critical", rack="r000",
        node=node, gpu=0, code=79, message=f"GPU has fallen off the bus {MARKUP}", source="dcgm",
    )
