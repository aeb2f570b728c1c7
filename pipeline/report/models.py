"""Records of one incident report: the incident, its evidence, actions, events and signals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pipeline.errors import QianliyanError


class ReportError(QianliyanError):
    """A report that cannot be built, for example because the incident id is not in InfluxDB."""


@dataclass(frozen=True)
class IncidentChange:
    """One ``incident`` point: what changed and the state after the change."""

    time: datetime
    update: str
    status: str
    severity: str
    anomaly_count: int
    max_score: float


@dataclass(frozen=True)
class IncidentSummary:
    """The incident as its latest ``incident`` point describes it.

    Attributes:
        started_at: Resolution time minus ``duration_seconds`` once resolved, else the time
            of the first point. Rules that need persistence open an incident after its
            first anomaly, so before the resolution this can be later than the first anomaly.
        ended_at: Time of the resolved point, None while the incident is firing.
        last_update_at: Time of the latest point.
    """

    incident_id: str
    cluster: str
    scope: str
    fault_class: str
    entity: str
    severity: str
    status: str
    confidence: str
    started_at: datetime
    last_update_at: datetime
    ended_at: datetime | None = None
    rack: str | None = None
    node: str | None = None
    gpu: str | None = None
    jobs: tuple[str, ...] = ()
    summary: str = ""
    resolution: str | None = None
    anomaly_count: int = 0
    suppressed_count: int = 0
    max_score: float = 0.0
    changes: tuple[IncidentChange, ...] = ()

    @property
    def duration_seconds(self) -> float:
        """Seconds from the start to the resolution, or to the latest update while firing."""
        end = self.ended_at or self.last_update_at
        return max((end - self.started_at).total_seconds(), 0.0)


@dataclass(frozen=True)
class AnomalyRow:
    """One ``anomaly`` point in the report window."""

    time: datetime
    detector: str
    severity: str
    score: float
    message: str
    node: str | None = None
    gpu: str | None = None
    signal: str | None = None
    threshold: float | None = None
    value: float | None = None


@dataclass(frozen=True)
class ActionRow:
    """One action of the incident: its request point joined with its result point, if any.

    ``status`` is the result's status (ok, rejected, failed) once it arrived, else the
    request's status (issued, dry_run).
    """

    action_id: str
    issued_at: datetime
    kind: str
    target: str
    status: str
    reason: str = ""
    detail: str = ""
    attempt: int = 0
    completed_at: datetime | None = None
    duration_seconds: float | None = None


@dataclass(frozen=True)
class EventRow:
    """One ``hardware_event`` point of the incident's node or rack."""

    time: datetime
    kind: str
    severity: str
    message: str
    node: str | None = None
    gpu: str | None = None
    code: int | None = None


@dataclass(frozen=True)
class Series:
    """One line of a plot, for example one GPU's temperature.

    ``lows`` and ``highs`` are the window minimum and maximum of rollup points (None for
    full-rate points), drawn as a band around the line.
    """

    label: str
    times: tuple[datetime, ...]
    values: tuple[float, ...]
    lows: tuple[float | None, ...] = ()
    highs: tuple[float | None, ...] = ()


@dataclass(frozen=True)
class Signal:
    """One plot: a field of a measurement, one series per device.

    ``resolution`` names what the series hold: ``raw``, a rollup such as ``10s``, or both
    (``raw+10s``) where full-rate points cover only part of the window.
    """

    measurement: str
    field: str
    title: str
    unit: str
    resolution: str
    series: tuple[Series, ...] = ()


@dataclass(frozen=True)
class ReportData:
    """Everything one incident report shows, with the window that the queries covered.

    ``anomalies_truncated`` is True when the window held more anomalies than the report loads.
    """

    incident: IncidentSummary
    database: str
    window_start: datetime
    window_end: datetime
    anomalies: tuple[AnomalyRow, ...] = ()
    actions: tuple[ActionRow, ...] = ()
    events: tuple[EventRow, ...] = ()
    signals: tuple[Signal, ...] = ()
    anomalies_truncated: bool = False
