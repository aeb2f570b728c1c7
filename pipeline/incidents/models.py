"""Incident records that the correlator keeps and publishes, and the updates it returns."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from detectors.anomaly import EvidenceValue, Severity
from pipeline.incidents.rules import Scope

Confidence = Literal["low", "medium", "high"]
IncidentStatus = Literal["firing", "resolved"]
Resolution = Literal["cleared", "inhibited"]
UpdateKind = Literal["opened", "updated", "resolved"]


class Incident(BaseModel):
    """One fault at one scope, built from the anomalies that point at it.

    Attributes:
        incident_id: Stable id: a hash of cluster, scope, entity, GPU, fault class and the
            event time of the first anomaly, so a replay of the same anomalies gives the same id.
        scope: ``gpu``, ``node``, ``rack``, ``switch``, ``job`` or ``series``.
        entity: The node of a GPU or node incident, or the rack, switch, job or series.
        gpu: GPU index for a GPU incident.
        node: Node of a GPU or node incident.
        rack: Rack of the incident where it has one.
        switch: Leaf switch of a node or switch incident where the cluster map has one.
        jobs: Jobs the incident touches, sorted.
        fault_class: Fault class from the correlator settings.
        severity: Highest severity of its anomalies.
        confidence: ``high`` for a critical anomaly or two detectors that agree, ``medium``
            for a warning, ``low`` otherwise.
        status: ``firing`` or ``resolved``.
        resolution: Why a resolved incident ended: its signals ``cleared``, or a wider
            incident ``inhibited`` it as a consequence.
        started_at: Event time of the first anomaly.
        updated_at: Event time of the latest anomaly, its own or a suppressed consequence.
        resolved_at: Event time at which the incident resolved.
        anomaly_count: Anomalies of the incident itself.
        suppressed_count: Consequences inhibited by this incident, superseded incidents included.
        detectors: Detectors that reported it, sorted.
        members: GPUs (``node/gpu``) or nodes that reported it, sorted.
        suspects: Nodes of a job hang that did not report it while every other node did.
        max_score: Highest anomaly score.
        evidence: Evidence of the anomaly with the highest score.
        summary: Message of the anomaly with the highest score.
        repeat_offender: Whether the node reached the repeat-offender threshold.
        offender_count: Incidents on the node within the repeat-offender window, this one included.
        inhibited_by: Id of the incident that superseded this one.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    incident_id: str
    cluster: str = "default"
    scope: Scope
    entity: str
    gpu: int | None = None
    node: str | None = None
    rack: str | None = None
    switch: str | None = None
    jobs: tuple[str, ...] = ()
    fault_class: str
    severity: Severity
    confidence: Confidence
    status: IncidentStatus = "firing"
    resolution: Resolution | None = None
    started_at: AwareDatetime
    updated_at: AwareDatetime
    resolved_at: AwareDatetime | None = None
    anomaly_count: int = Field(ge=1)
    suppressed_count: int = Field(default=0, ge=0)
    detectors: tuple[str, ...] = ()
    members: tuple[str, ...] = ()
    suspects: tuple[str, ...] = ()
    max_score: float = 0.0
    evidence: dict[str, EvidenceValue] = Field(default_factory=dict)
    summary: str = ""
    repeat_offender: bool = False
    offender_count: int = Field(default=0, ge=0)
    inhibited_by: str | None = None

    @property
    def key(self) -> str:
        """Return the grouping key: anomalies with this key deduplicate into this incident."""
        return incident_key(self.scope, self.entity, self.gpu, self.fault_class)


class IncidentUpdate(BaseModel):
    """A change of one incident: ``opened``, ``updated`` (severity, detectors or suspects) or ``resolved``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: UpdateKind
    time: AwareDatetime
    incident: Incident


def incident_key(scope: str, entity: str, gpu: int | None, fault_class: str) -> str:
    """Return the grouping key of an incident."""
    gpu_part = "" if gpu is None else str(gpu)
    return f"{scope}|{entity}|{gpu_part}|{fault_class}"


def incident_id(cluster: str, key: str, started_at: datetime) -> str:
    """Return the stable id of an incident from its key and the event time of its first anomaly."""
    digest = hashlib.sha256(f"{cluster}|{key}|{started_at.isoformat()}".encode()).hexdigest()
    return f"inc-{digest[:16]}"
