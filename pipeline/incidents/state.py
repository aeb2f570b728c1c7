"""State of the correlator, as one pydantic model that dumps to and loads from a JSON-ready dict."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from detectors.anomaly import Anomaly
from pipeline.incidents.models import Incident


class CorrelatorState(BaseModel):
    """Everything the correlator remembers between anomalies.

    Attributes:
        watermark: Latest event time seen; resolution and pruning use it, never the wall clock.
        incidents: Firing incidents by grouping key.
        candidates: Anomalies waiting for the persistence count, by grouping key.
        escalations: Latest anomaly per reporting GPU or node, by escalation rule index and
            domain value (``"0|r003"``).
        offenders: Start times of recent incidents per node, for the repeat-offender record.
    """

    model_config = ConfigDict(extra="forbid")

    watermark: AwareDatetime | None = None
    incidents: dict[str, Incident] = Field(default_factory=dict)
    candidates: dict[str, list[Anomaly]] = Field(default_factory=dict)
    escalations: dict[str, dict[str, Anomaly]] = Field(default_factory=dict)
    offenders: dict[str, list[AwareDatetime]] = Field(default_factory=dict)
