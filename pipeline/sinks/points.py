"""Convert validated messages into InfluxDB points.

A point's identity is its measurement, tag set and timestamp, so writing the same message
twice overwrites the first point instead of adding a second one. That makes the
at-least-once delivery of the worker safe to replay.

Measurements and their tags:

============== ========================================= =====================================
measurement    tags                                      fields
============== ========================================= =====================================
gpu            cluster, rack, node, gpu, uuid            DCGM_FI_* of :class:`GpuSample`
cooling        cluster, rack, cdu                        Redfish CoolingUnit properties
dpu            cluster, rack, node, dpu, port            mlx5 counters, link_state, link_up
power          cluster, rack, pdu                        PowerWatts, PowerLimitWatts, ...
power_supply   cluster, rack, pdu, psu                   health, PowerOutputWatts, ...
hardware_event cluster, rack, node, gpu, kind, severity  code, message, source, event_id
job_progress   cluster, job, node                        rank, step, step_time_seconds, ...
generic        cluster, source, entity                   the message's named values
job_accounting cluster, job                              ettr, elapsed and productive seconds,
                                                         badput_<kind>_seconds, state, step
============== ========================================= =====================================
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from influxdb_client import Point, WritePrecision

from pipeline.schemas import (
    CoolingTelemetry,
    DpuTelemetry,
    Envelope,
    GenericTelemetry,
    GpuTelemetry,
    HardwareEvent,
    JobGoodput,
    JobProgress,
    PowerTelemetry,
)

_ENVELOPE_FIELDS = frozenset(Envelope.model_fields)

# Periodic telemetry that the worker rolls up into windows; everything else is stored as sent.
ROLLUP_MEASUREMENTS: Final = frozenset({"gpu", "cooling", "dpu", "power", "power_supply", "generic"})


@dataclass(frozen=True)
class PointData:
    """One InfluxDB point before it becomes line protocol: easy to aggregate and test."""

    measurement: str
    tags: dict[str, str]
    fields: dict[str, Any]
    time: datetime

    def to_point(self) -> Point:
        """Return the influxdb-client point, with nanosecond precision."""
        point = Point(self.measurement)
        for key, value in self.tags.items():
            point.tag(key, value)
        for key, value in self.fields.items():
            point.field(key, value)
        return point.time(self.time, WritePrecision.NS)

    def to_line_protocol(self) -> str:
        """Return the point as one line of InfluxDB line protocol."""
        return str(self.to_point().to_line_protocol())


def to_points(message: Envelope) -> list[PointData]:
    """Return the InfluxDB points of one validated message."""
    if isinstance(message, GpuTelemetry):
        return _gpu_points(message)
    if isinstance(message, CoolingTelemetry):
        return [_point("cooling", message.time, _tags(message, "rack", "cdu"), _fields(message, skip={"rack", "cdu"}))]
    if isinstance(message, DpuTelemetry):
        return _dpu_points(message)
    if isinstance(message, PowerTelemetry):
        return _power_points(message)
    if isinstance(message, HardwareEvent):
        return [_event_point(message)]
    if isinstance(message, JobProgress):
        fields = _fields(message, skip={"job", "node"})
        return [_point("job_progress", message.time, _tags(message, "job", "node"), fields)]
    if isinstance(message, JobGoodput):
        return [_job_accounting_point(message)]
    if isinstance(message, GenericTelemetry):
        fields = {name: value for name, value in message.values.items() if value is not None}
        return [_point("generic", message.time, _tags(message, "source", "entity"), fields)] if fields else []
    raise TypeError(f"no InfluxDB mapping for {type(message).__name__}")


def _gpu_points(message: GpuTelemetry) -> list[PointData]:
    points = []
    for sample in message.gpus:
        tags = _tags(message, "rack", "node")
        tags["gpu"] = str(sample.gpu)
        if sample.uuid:
            tags["uuid"] = sample.uuid
        fields = _fields(sample, skip={"gpu", "uuid"})
        if fields:
            points.append(_point("gpu", message.time, tags, fields))
    return points


def _dpu_points(message: DpuTelemetry) -> list[PointData]:
    points = []
    for port in message.ports:
        tags = _tags(message, "rack", "node", "dpu")
        tags["port"] = str(port.port)
        fields = _fields(port, skip={"port"})
        fields["link_up"] = 1 if port.link_state == "up" else 0
        points.append(_point("dpu", message.time, tags, fields))
    return points


def _power_points(message: PowerTelemetry) -> list[PointData]:
    rack_tags = _tags(message, "rack", "pdu")
    points = [_point("power", message.time, rack_tags, _fields(message, skip={"rack", "pdu", "power_supplies"}))]
    for supply in message.power_supplies:
        tags = dict(rack_tags, psu=supply.psu)
        points.append(_point("power_supply", message.time, tags, _fields(supply, skip={"psu"})))
    return points


def _event_point(message: HardwareEvent) -> PointData:
    tags = _tags(message, "rack", "node", "kind", "severity")
    if message.gpu is not None:
        tags["gpu"] = str(message.gpu)
    fields: dict[str, Any] = {"message": message.message, "source": message.source}
    if message.code is not None:
        fields["code"] = message.code
    if message.event_id is not None:
        fields["event_id"] = message.event_id
    return _point("hardware_event", message.time, tags, fields)


def _job_accounting_point(message: JobGoodput) -> PointData:
    fields: dict[str, Any] = {
        "ettr": float(message.ettr),
        "elapsed_seconds": float(message.elapsed_seconds),
        "productive_seconds": float(message.productive_seconds),
        "state": message.state,
        "step": message.step,
        "checkpoint_step": message.checkpoint_step,
        "nodes": message.nodes,
        "interruptions": message.interruptions,
    }
    for kind in ("detection", "isolation", "restart", "replayed", "checkpoint", "slow_step", "paused"):
        fields[f"badput_{kind}_seconds"] = float(getattr(message, f"{kind}_seconds"))
    return _point("job_accounting", message.time, _tags(message, "job"), fields)


def _tags(message: Envelope, *names: str) -> dict[str, str]:
    tags = {"cluster": message.cluster}
    for name in names:
        value = getattr(message, name)
        if value is not None:
            tags[name] = str(value)
    return tags


def _fields(record: Any, skip: Iterable[str]) -> dict[str, Any]:
    excluded = _ENVELOPE_FIELDS | set(skip)
    return {
        name: value
        for name, value in record.model_dump(exclude_none=True).items()
        if name not in excluded
    }


def _point(measurement: str, time: datetime, tags: dict[str, str], fields: dict[str, Any]) -> PointData:
    return PointData(measurement, tags, fields, time)
