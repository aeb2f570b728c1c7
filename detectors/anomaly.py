"""The anomaly record that every detector returns and the worker publishes on ``anomalies``.

The model follows the conventions of the input messages in ``pipeline.schemas``: frozen,
strict about unknown fields, finite floats only, event time in UTC. A GPU is named the way
``FaultTruth`` names it: ``entity`` is the GPU's node and ``gpu`` its index, so that
anomalies and ground truth match without a lookup table.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from pipeline.schemas import SCHEMA_VERSION, EntityId

EntityKind = Literal["gpu", "node", "rack", "job", "series"]
Severity = Literal["info", "warning", "critical"]
EvidenceValue = str | int | float | bool | None
DetectorName = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[a-z0-9_.:-]+$")]

SEVERITY_RANK: Final[dict[str, int]] = {"info": 0, "warning": 1, "critical": 2}


class Anomaly(BaseModel):
    """One detection: what is anomalous, where, when, how strongly and why.

    Attributes:
        time: Event time of the sample that triggered the detection, in UTC.
        entity: Node of a GPU, or the node, rack, job or series itself.
        entity_kind: What ``entity`` names; ``gpu`` needs ``gpu`` set.
        gpu: GPU index within the node, only for ``entity_kind == "gpu"``.
        rack: Rack of the entity when the message names it, for correlation by place.
        detector: Detector name, for example ``rule.pcie_replay`` or ``stats.robust_z``.
        score: Anomaly score; higher means more anomalous. Rules report the observed value
            in the unit of their limit (replays per minute, watts, a fraction of a baseline).
        threshold: The limit that ``score`` crossed, in the same unit, or None when the
            detector reports a state (a leak detector in Critical) rather than a number.
        severity: ``info``, ``warning`` (DCGM WARN) or ``critical`` (DCGM FAIL).
        evidence: Observed values behind the detection, flat and JSON-ready.
        fault_class: Fault kind the detector suspects, named as in the emulator's fault
            catalog (``gpu_fell_off_bus``, ``pcie_degradation``); None when it cannot tell.
        message: One line for people: what was seen and what to check.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    schema_version: int = SCHEMA_VERSION
    time: AwareDatetime
    cluster: EntityId = "default"
    entity: EntityId
    entity_kind: EntityKind
    gpu: int | None = Field(default=None, ge=0, le=63)
    rack: EntityId | None = None
    detector: DetectorName
    score: float
    threshold: float | None = None
    severity: Severity
    evidence: dict[str, EvidenceValue] = Field(default_factory=dict)
    fault_class: str | None = Field(default=None, max_length=128)
    message: str = Field(default="", max_length=1024)

    @field_validator("time")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(timezone.utc)

    @model_validator(mode="after")
    def _check_gpu(self) -> Anomaly:
        if self.entity_kind == "gpu" and self.gpu is None:
            raise ValueError(f"an anomaly of entity_kind 'gpu' needs the GPU index in 'gpu' (entity {self.entity!r})")
        if self.entity_kind != "gpu" and self.gpu is not None:
            raise ValueError(f"'gpu' is set to {self.gpu} but entity_kind is {self.entity_kind!r}; use entity_kind 'gpu'")
        return self

    @property
    def key(self) -> str:
        """Return the Kafka key: the entity, so that one entity's anomalies stay in order."""
        return self.entity
