"""Load the telemetry around an incident as plot series: GPU, cooling, power or job progress.

Rollup points (tag ``resolution`` such as ``10s``) cover the whole window. Full-rate points
(``resolution=raw``) exist only for entities with a recent anomaly, by default, and are
better where they exist, so each series takes the raw points where they cover the window
and the rollup points elsewhere.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from pipeline.report.models import IncidentSummary, Series, Signal
from pipeline.report.queries import literal, rows_of, time_range
from pipeline.settings import InfluxDBSettings
from pipeline.sinks.influxql import query


@dataclass(frozen=True)
class SignalSpec:
    """One field to plot: where it is, what to call it, and the tag that splits it into series."""

    measurement: str
    field: str
    title: str
    unit: str
    group_by: str
    label: str


GPU_SIGNALS: Final = (
    SignalSpec("gpu", "DCGM_FI_DEV_GPU_TEMP", "GPU temperature", "°C", "gpu", "GPU"),
    SignalSpec("gpu", "DCGM_FI_DEV_POWER_USAGE", "GPU power draw", "W", "gpu", "GPU"),
    SignalSpec("gpu", "DCGM_FI_DEV_SM_CLOCK", "SM clock", "MHz", "gpu", "GPU"),
    SignalSpec("gpu", "DCGM_FI_DEV_GPU_UTIL", "GPU utilisation", "%", "gpu", "GPU"),
)
RACK_SIGNALS: Final = (
    SignalSpec("cooling", "FlowLitersPerMinute", "Coolant flow", "L/min", "cdu", "CDU"),
    SignalSpec("cooling", "SupplyTemperatureCelsius", "Coolant supply temperature", "°C", "cdu", "CDU"),
    SignalSpec("cooling", "ReturnTemperatureCelsius", "Coolant return temperature", "°C", "cdu", "CDU"),
    SignalSpec("power", "PowerWatts", "Rack power draw", "W", "pdu", "PDU"),
)
JOB_SIGNALS: Final = (
    SignalSpec("job_progress", "step_time_seconds", "Step time", "s", "node", "node"),
    SignalSpec("job_progress", "samples_per_second", "Throughput", "samples/s", "node", "node"),
)

RAW: Final = "raw"
_WINDOW_PATTERN: Final = re.compile(r"^(\d+)s$")


def signal_specs(incident: IncidentSummary) -> tuple[SignalSpec, ...]:
    """Return the fields worth plotting for the incident's scope, none for switch and series incidents."""
    if incident.scope in ("gpu", "node"):
        return GPU_SIGNALS
    if incident.scope == "rack":
        return RACK_SIGNALS
    if incident.scope == "job":
        return JOB_SIGNALS
    # TODO: plot DPU port counters for switch incidents once they name their nodes' ports.
    return ()


def load_signals(settings: InfluxDBSettings, incident: IncidentSummary, start: datetime, end: datetime) -> list[Signal]:
    """Return one plot per field of the incident's scope, skipping fields without points."""
    specs = signal_specs(incident)
    place = _place(incident)
    if not specs or place is None:
        return []

    by_measurement: dict[str, list[SignalSpec]] = defaultdict(list)
    for spec in specs:
        by_measurement[spec.measurement].append(spec)

    signals = []
    for measurement, measurement_specs in by_measurement.items():
        columns = []
        for spec in measurement_specs:
            columns += [f'"{spec.field}"', f'"{spec.field}_min"', f'"{spec.field}_max"']
        tag, value = place
        statement = (
            f'SELECT {", ".join(columns)} FROM "{measurement}" WHERE "cluster" = {literal(incident.cluster)} '
            f'AND "{tag}" = {literal(value)} AND {time_range(start, end)} '
            f'GROUP BY "{measurement_specs[0].group_by}", "resolution"'
        )
        rows = rows_of(query(settings, statement))
        for spec in measurement_specs:
            signal = build_signal(spec, rows)
            if signal.series:
                signals.append(signal)
    return signals


def build_signal(spec: SignalSpec, rows: list[dict[str, Any]]) -> Signal:
    """Return the plot of one field from points of any resolution, one series per device."""
    by_device: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        if row.get(spec.field) is None:
            continue
        # Measurements without rollups (job_progress) have no resolution tag: their points are full rate.
        resolution = str(row.get("resolution") or RAW)
        by_device[str(row.get(spec.group_by) or "?")][resolution].append(row)

    series = []
    used: set[str] = set()
    for device in sorted(by_device, key=_natural_key):
        points, resolutions = merge_resolutions(by_device[device])
        used |= resolutions
        series.append(Series(
            label=f"{spec.label} {device}",
            times=tuple(row["time"] for row in points),
            values=tuple(float(row[spec.field]) for row in points),
            lows=tuple(_optional_float(row.get(f"{spec.field}_min")) for row in points),
            highs=tuple(_optional_float(row.get(f"{spec.field}_max")) for row in points),
        ))
    resolution = "+".join(sorted(used, key=lambda name: name != RAW))
    return Signal(spec.measurement, spec.field, spec.title, spec.unit, resolution, tuple(series))


def merge_resolutions(points: dict[str, list[dict[str, Any]]]) -> tuple[list[dict[str, Any]], set[str]]:
    """Return the raw points plus the rollup points of windows that no raw point covers, by time.

    ``points`` maps a resolution (``raw``, ``10s``) to one device's points. When several
    rollup resolutions exist, the finest one is used.
    """
    raw = sorted(points.get(RAW, []), key=lambda row: row["time"])
    rollups = sorted((name for name in points if name != RAW), key=_window_seconds)
    if not rollups:
        return raw, {RAW} if raw else set()
    rollup_name = rollups[0]
    rollup = sorted(points[rollup_name], key=lambda row: row["time"])
    if not raw:
        return rollup, {rollup_name}

    width = timedelta(seconds=_window_seconds(rollup_name))
    first, last = raw[0]["time"], raw[-1]["time"]
    outside = [row for row in rollup if row["time"] + width <= first or row["time"] > last]
    resolutions = {RAW, rollup_name} if outside else {RAW}
    return sorted(raw + outside, key=lambda row: row["time"]), resolutions


def _place(incident: IncidentSummary) -> tuple[str, str] | None:
    if incident.scope in ("gpu", "node"):
        return ("node", incident.node) if incident.node else None
    if incident.scope == "rack":
        return ("rack", incident.rack or incident.entity)
    if incident.scope == "job":
        return ("job", incident.entity)
    return None


def _window_seconds(resolution: str) -> int:
    match = _WINDOW_PATTERN.match(resolution)
    return int(match.group(1)) if match else 0


def _natural_key(name: str) -> tuple[int, str]:
    return (int(name), "") if name.isdigit() else (1 << 30, name)


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)
