"""Load one incident, its evidence, actions, hardware events and signals from InfluxDB.

Every read goes through InfluxQL (``pipeline.sinks.influxql``) and covers the incident
plus ``window`` on either side. The measurements and their tags are those of
docs/influxdb-schema.md.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from typing import Any, Final

from pipeline.report.models import (
    ActionRow,
    AnomalyRow,
    EventRow,
    IncidentChange,
    IncidentSummary,
    ReportData,
    ReportError,
)
from pipeline.report.signals import load_signals
from pipeline.settings import InfluxDBSettings
from pipeline.report.queries import literal, rows_of, time_range
from pipeline.sinks.influxql import database_of, query

logger = logging.getLogger(__name__)

MAX_ANOMALIES: Final = 500
"""Anomalies shown at most, because a noisy detector can report thousands around one incident."""

MAX_EVENTS: Final = 500

INCIDENT_ID_PATTERN: Final = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


def load_report(settings: InfluxDBSettings, incident_id: str, window: timedelta = timedelta(minutes=10)) -> ReportData:
    """Load everything the report of ``incident_id`` shows.

    Raises:
        ReportError: the id is malformed or no ``incident`` point carries it.
        ServiceUnavailableError: InfluxDB could not be reached.
        InfluxQLError: a query failed.
    """
    incident = load_incident(settings, incident_id)
    actions = load_actions(settings, incident_id)

    last_seen = max([incident.ended_at or incident.last_update_at] + [a.completed_at or a.issued_at for a in actions])
    start = incident.started_at - window
    end = last_seen + window
    anomalies = load_anomalies(settings, incident, start, end)
    events = load_events(settings, incident, start, end)
    signals = load_signals(settings, incident, start, end)
    logger.info(
        "report data loaded incident_id=%s anomalies=%d actions=%d events=%d signals=%d",
        incident_id, len(anomalies), len(actions), len(events), len(signals),
    )
    return ReportData(
        incident=incident,
        database=database_of(settings),
        window_start=start,
        window_end=end,
        anomalies=tuple(anomalies[:MAX_ANOMALIES]),
        actions=tuple(actions),
        events=tuple(events),
        signals=tuple(signals),
        anomalies_truncated=len(anomalies) > MAX_ANOMALIES,
    )


def load_incident(settings: InfluxDBSettings, incident_id: str) -> IncidentSummary:
    """Return the incident built from all its ``incident`` points.

    Raises:
        ReportError: the id is malformed or not found in the database.
    """
    if not INCIDENT_ID_PATTERN.match(incident_id):
        raise ReportError(
            f"invalid incident id {incident_id!r}; expected letters, digits, '_', '.', ':' or '-' "
            "as in inc-0123456789abcdef"
        )
    rows = rows_of(query(settings, f'SELECT * FROM "incident" WHERE "incident_id" = {literal(incident_id)}'))
    if not rows:
        raise ReportError(
            f"incident {incident_id!r} not found in InfluxDB database {database_of(settings)!r} at {settings.url}; "
            "check the id, or set QIANLIYAN_INFLUXDB__BUCKET to the database the worker writes to"
        )
    return summarize_incident(incident_id, rows)


def summarize_incident(incident_id: str, rows: list[dict[str, Any]]) -> IncidentSummary:
    """Return the incident that its points describe. ``rows`` are points as column dicts."""
    rows = sorted(rows, key=lambda row: row["time"])
    changes: dict[tuple[datetime, str], IncidentChange] = {}
    jobs: set[str] = set()
    for row in rows:
        if row.get("job"):
            jobs.add(str(row["job"]))
        changes[(row["time"], str(row.get("update")))] = IncidentChange(
            time=row["time"],
            update=str(row.get("update") or "?"),
            status=str(row.get("status") or "?"),
            severity=str(row.get("severity") or "?"),
            anomaly_count=int(row.get("anomaly_count") or 0),
            max_score=float(row.get("max_score") or 0.0),
        )

    latest = rows[-1]
    started_at = rows[0]["time"]
    ended_at = None
    if latest.get("status") == "resolved":
        ended_at = latest["time"]
        duration = latest.get("duration_seconds")
        if duration is not None:
            started_at = min(started_at, ended_at - timedelta(seconds=float(duration)))
    return IncidentSummary(
        incident_id=incident_id,
        cluster=str(latest.get("cluster") or "default"),
        scope=str(latest.get("scope") or "?"),
        fault_class=str(latest.get("fault_class") or "?"),
        entity=str(latest.get("entity") or "?"),
        severity=str(latest.get("severity") or "?"),
        status=str(latest.get("status") or "?"),
        confidence=str(latest.get("confidence") or "?"),
        started_at=started_at,
        last_update_at=latest["time"],
        ended_at=ended_at,
        rack=_optional(latest.get("rack")),
        node=_optional(latest.get("node")),
        gpu=_optional(latest.get("gpu")),
        jobs=tuple(sorted(jobs)),
        summary=str(latest.get("summary") or ""),
        resolution=_optional(latest.get("resolution")),
        anomaly_count=int(latest.get("anomaly_count") or 0),
        suppressed_count=int(latest.get("suppressed_count") or 0),
        max_score=float(latest.get("max_score") or 0.0),
        changes=tuple(changes.values()),
    )


def load_actions(settings: InfluxDBSettings, incident_id: str) -> list[ActionRow]:
    """Return the incident's actions, each request joined with its result, in issue order."""
    rows = rows_of(query(settings, f'SELECT * FROM "action" WHERE "incident_id" = {literal(incident_id)}'))
    return join_actions(rows)


def join_actions(rows: list[dict[str, Any]]) -> list[ActionRow]:
    """Join request points (issued, dry_run) with result points (ok, rejected, failed) by action id."""
    requests: dict[str, dict[str, Any]] = {}
    results: dict[str, dict[str, Any]] = {}
    for row in sorted(rows, key=lambda row: row["time"]):
        target = requests if row.get("status") in ("issued", "dry_run") else results
        target.setdefault(str(row.get("action_id")), row)

    actions = []
    for action_id, request in requests.items():
        result = results.get(action_id)
        duration = None if result is None or result.get("duration_seconds") is None else float(result["duration_seconds"])
        actions.append(ActionRow(
            action_id=action_id,
            issued_at=request["time"],
            kind=str(request.get("kind") or "?"),
            target=str(request.get("target") or "?"),
            status=str((result or request).get("status")),
            reason=str(request.get("reason") or ""),
            detail=str(result.get("detail") or "") if result else "",
            attempt=int(request.get("attempt") or 0),
            completed_at=result["time"] if result else None,
            duration_seconds=duration,
        ))
    for action_id, result in results.items():
        if action_id not in requests:
            # NOTE: a result without its request point means the request write was lost, so show what is known.
            actions.append(ActionRow(
                action_id=action_id, issued_at=result["time"], kind=str(result.get("kind") or "?"),
                target=str(result.get("target") or "?"), status=str(result.get("status")),
                detail=str(result.get("detail") or ""), completed_at=result["time"],
            ))
    return sorted(actions, key=lambda action: action.issued_at)


def load_anomalies(settings: InfluxDBSettings, incident: IncidentSummary, start: datetime, end: datetime) -> list[AnomalyRow]:
    """Return the anomalies of the incident's place between ``start`` and ``end``, oldest first.

    At most ``MAX_ANOMALIES + 1`` come back, so the caller can tell that the list was cut.
    """
    statement = (
        f'SELECT * FROM "anomaly" WHERE {_place_filter(incident)} AND {time_range(start, end)} '
        f"ORDER BY time LIMIT {MAX_ANOMALIES + 1}"
    )
    anomalies = []
    for row in rows_of(query(settings, statement)):
        anomalies.append(AnomalyRow(
            time=row["time"],
            detector=str(row.get("detector") or "?"),
            severity=str(row.get("severity") or "?"),
            score=float(row.get("score") or 0.0),
            message=str(row.get("message") or ""),
            node=_optional(row.get("node")),
            gpu=_optional(row.get("gpu")),
            signal=_optional(row.get("signal")),
            threshold=_optional_float(row.get("threshold")),
            value=_optional_float(row.get("value")),
        ))
    return anomalies


def load_events(settings: InfluxDBSettings, incident: IncidentSummary, start: datetime, end: datetime) -> list[EventRow]:
    """Return the hardware events of the incident's node (GPU and node scope) or rack, oldest first."""
    if incident.node and incident.scope in ("gpu", "node"):
        place = f'"node" = {literal(incident.node)}'
    elif incident.rack:
        place = f'"rack" = {literal(incident.rack)}'
    else:
        return []
    statement = (
        f'SELECT * FROM "hardware_event" WHERE "cluster" = {literal(incident.cluster)} AND {place} '
        f"AND {time_range(start, end)} ORDER BY time LIMIT {MAX_EVENTS}"
    )
    events = []
    for row in rows_of(query(settings, statement)):
        code = row.get("code")
        events.append(EventRow(
            time=row["time"],
            kind=str(row.get("kind") or "?"),
            severity=str(row.get("severity") or "?"),
            message=str(row.get("message") or ""),
            node=_optional(row.get("node")),
            gpu=_optional(row.get("gpu")),
            code=None if code is None else int(code),
        ))
    return events


def _place_filter(incident: IncidentSummary) -> str:
    """Return the InfluxQL condition that selects anomalies of the incident's place."""
    cluster = f'"cluster" = {literal(incident.cluster)}'
    if incident.scope in ("gpu", "node") and incident.node:
        return f'{cluster} AND "node" = {literal(incident.node)}'
    if incident.scope == "job":
        return f'{cluster} AND "job" = {literal(incident.entity)}'
    if incident.rack:
        return f'{cluster} AND "rack" = {literal(incident.rack)}'
    # Series and switch anomalies carry no tag that names their entity, so the fault class has to do.
    return f'{cluster} AND "fault_class" = {literal(incident.fault_class)}'


def _optional(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)
