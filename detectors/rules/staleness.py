"""Stale and frozen series: values that stop changing, and sources that stop sending.

A GPU that fell off the bus reports blank fields, a hung GSP firmware can leave power
frozen at its last value, and a dead node or exporter sends nothing at all. None of these
crosses a threshold, so they are found by watching the series themselves.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from detectors import thresholds
from detectors.anomaly import Anomaly, EntityKind
from detectors.rules.base import Rule, RuleState, gpu_anomaly, rising
from pipeline.schemas import Envelope, GpuSample, GpuTelemetry

# Fields that change from sample to sample on a working GPU: temperatures and power
# carry sensor noise, and the energy counter grows while the GPU draws power.
VARYING_GPU_FIELDS: tuple[str, ...] = (
    "DCGM_FI_DEV_GPU_TEMP",
    "DCGM_FI_DEV_POWER_USAGE",
    "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",
)


class SeriesValue(BaseModel):
    """The last value of one series and since when it has not changed."""

    model_config = ConfigDict(extra="forbid")

    value: float
    unchanged_since: datetime


class FrozenState(RuleState):
    """Per node: last value of each watched series, and the GPUs that have reported."""

    series: dict[str, SeriesValue] = Field(default_factory=dict)
    known_gpus: set[int] = Field(default_factory=set)


class FrozenSeriesRule(Rule[GpuTelemetry, FrozenState]):
    """GPU series that stop changing or stop arriving inside a node's messages.

    - a GPU reported before that is missing from the message, or reports none of the
      watched fields -> warning, fault ``gpu_fell_off_bus`` (Xid 79 blanks the fields).
    - a watched field reported before that is now None -> warning, fault ``gpu_fell_off_bus``.
    - a watched field exactly unchanged for ``frozen_seconds`` or more -> warning, fault
      ``gsp_hang``; the score is the seconds unchanged.

    Args:
        fields: GPU fields expected to change every sample.
        frozen_seconds: Time a value may stay exactly equal before it counts as frozen.
    """

    name = "rule.frozen"
    message_type = GpuTelemetry
    state_type = FrozenState

    def __init__(self, *, fields: tuple[str, ...] = VARYING_GPU_FIELDS, frozen_seconds: float = thresholds.SERIES_FROZEN_SECONDS) -> None:
        self.fields = fields
        self.frozen_seconds = frozen_seconds

    def check(self, message: GpuTelemetry, state: FrozenState) -> list[Anomaly]:
        """Check every GPU of the node, including the GPUs that are missing from the message."""
        anomalies = []
        samples = {sample.gpu: sample for sample in message.gpus}
        for gpu in sorted(state.known_gpus | set(samples)):
            sample = samples.get(gpu)
            reported = sample is not None and any(getattr(sample, field) is not None for field in self.fields)
            if rising(state, f"gpu_stopped:{gpu}", gpu in state.known_gpus and not reported, rearm_after=1):
                anomalies.append(
                    gpu_anomaly(
                        self, message, gpu, score=1.0, threshold=None, severity="warning",
                        evidence={"reported_fields": 0, "in_message": sample is not None}, fault_class="gpu_fell_off_bus",
                        text=f"GPU {gpu} stopped reporting its DCGM fields; check for Xid 79 and cordon the node",
                    )
                )
            if sample is not None and reported:
                state.known_gpus.add(gpu)
                anomalies += self._check_fields(message, state, sample)
        return anomalies

    def _check_fields(self, message: GpuTelemetry, state: FrozenState, sample: GpuSample) -> list[Anomaly]:
        anomalies = []
        for field in self.fields:
            key = f"{sample.gpu}:{field}"
            value = getattr(sample, field)
            previous = state.series.get(key)
            if rising(state, f"field_stopped:{key}", value is None and previous is not None, rearm_after=1):
                anomalies.append(
                    gpu_anomaly(
                        self, message, sample.gpu, score=1.0, threshold=None, severity="warning", evidence={"field": field},
                        fault_class="gpu_fell_off_bus", text=f"GPU {sample.gpu} stopped reporting {field}",
                    )
                )
            if value is None:
                continue

            if previous is None or float(value) != previous.value:
                state.series[key] = SeriesValue(value=float(value), unchanged_since=message.time)
                rising(state, f"frozen:{key}", False, rearm_after=1)
                continue
            seconds = (message.time - previous.unchanged_since).total_seconds()
            if rising(state, f"frozen:{key}", seconds >= self.frozen_seconds, rearm_after=1):
                anomalies.append(
                    gpu_anomaly(
                        self, message, sample.gpu, score=seconds, threshold=self.frozen_seconds, severity="warning",
                        evidence={"field": field, "value": float(value), "unchanged_seconds": seconds}, fault_class="gsp_hang",
                        text=f"GPU {sample.gpu} {field} frozen at {value} for {seconds:.0f} s; the GPU or its exporter may be hung",
                    )
                )
        return anomalies


class SilenceState(RuleState):
    """Per key: where the messages come from and when the last one arrived."""

    entity: str | None = None
    entity_kind: EntityKind | None = None
    rack: str | None = None
    cluster: str = "default"
    last_time: datetime | None = None


class SilenceRule(Rule[Envelope, SilenceState]):
    """A source that stops sending: no message for ``silence_seconds`` or more.

    ``check`` records each message's event time and never returns an anomaly. The worker
    calls ``check_silence`` on a timer, because a silent source sends nothing that could
    trigger a check. The anomaly's time is ``now``; the score is the seconds of silence.

    Args:
        silence_seconds: Seconds without a message before the source counts as stopped.
    """

    name = "rule.silence"
    message_type = Envelope
    state_type = SilenceState

    def __init__(self, *, silence_seconds: float = thresholds.SERIES_SILENCE_SECONDS) -> None:
        self.silence_seconds = silence_seconds

    def check(self, message: Envelope, state: SilenceState) -> list[Anomaly]:
        """Record the message's source and event time."""
        entity, kind = _source_of(message)
        state.entity, state.entity_kind = entity, kind
        state.rack = getattr(message, "rack", None)
        state.cluster = message.cluster
        if state.last_time is None or message.time > state.last_time:
            state.last_time = message.time
        rising(state, "silent", False, rearm_after=1)
        return []

    def check_silence(self, now: datetime, state: SilenceState) -> list[Anomaly]:
        """Return an anomaly when the source has been silent for ``silence_seconds`` at event time ``now``."""
        if state.last_time is None or state.entity is None or state.entity_kind is None:
            return []
        seconds = (now - state.last_time).total_seconds()
        if not rising(state, "silent", seconds >= self.silence_seconds, rearm_after=1):
            return []
        return [
            Anomaly(
                time=now, cluster=state.cluster, entity=state.entity, entity_kind=state.entity_kind, rack=state.rack,
                detector=self.name, score=seconds, threshold=self.silence_seconds, severity="warning",
                evidence={"last_time": state.last_time.isoformat(), "silent_seconds": seconds}, fault_class="source_silent",
                message=f"no message from {state.entity} for {seconds:.0f} s; check the node and its exporter",
            )
        ]


def _source_of(message: Envelope) -> tuple[str, EntityKind]:
    """Return the entity that a message describes: its job, node or rack, in that order."""
    for field, kind in (("job", "job"), ("node", "node"), ("rack", "rack"), ("entity", "series")):
        value = getattr(message, field, None)
        if value is not None:
            return value, kind  # type: ignore[return-value]
    raise ValueError(f"{type(message).__name__} names no job, node, rack or entity; silence cannot be tracked for it")
