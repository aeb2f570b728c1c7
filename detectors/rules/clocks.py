"""Clock event (throttle) reasons and throttle time counters of each GPU."""

from __future__ import annotations

from pydantic import Field

from detectors import thresholds
from detectors.anomaly import Anomaly, Severity
from detectors.rules.base import CounterSample, Rule, RuleState, counter_increase, gpu_anomaly, rising
from pipeline.schemas import GpuTelemetry

VIOLATION_COUNTERS: dict[str, str] = {
    "DCGM_FI_DEV_POWER_VIOLATION": "rack_power_cap",
    "DCGM_FI_DEV_THERMAL_VIOLATION": "gpu_thermal",
}


class ClockState(RuleState):
    """Per node: the previous throttle time counters of each GPU."""

    previous: dict[str, dict[str, CounterSample]] = Field(default_factory=dict)


class ClockEventRule(Rule[GpuTelemetry, ClockState]):
    """Throttle reasons in ``DCGM_FI_DEV_CLOCKS_EVENT_REASONS`` and growing violation counters.

    Reason bits (names as dcgm-exporter exports them): ``power_cap`` (0x4) is reported as
    info, because a job at its power cap is normal. ``hw_slowdown`` (0x8), ``sw_thermal``
    (0x20), ``hw_thermal`` (0x40) and ``hw_power_brake`` (0x80) are warnings, because they
    cut clocks, the hardware ones by half or more. Idle, clock-setting, sync-boost and
    display reasons are ignored. Score 1.0 and threshold None for a reason bit.

    Violation counters (``DCGM_FI_DEV_POWER_VIOLATION``, ``DCGM_FI_DEV_THERMAL_VIOLATION``,
    in ns): any increase warns, as the DCGM health watch does for thermal and power
    violation time. The score is the throttled share of the interval, the threshold 0.

    Args:
        reasons: Reason name to bit mask; default from ``thresholds.CLOCK_EVENT_BITS``.
    """

    name = "rule.clocks"
    message_type = GpuTelemetry
    state_type = ClockState

    def __init__(self, *, reasons: dict[str, int] | None = None) -> None:
        self.reasons = reasons

    def check(self, message: GpuTelemetry, state: ClockState) -> list[Anomaly]:
        """Check reason bits and violation counters of every GPU of the node."""
        reasons = self.reasons if self.reasons is not None else thresholds.CLOCK_EVENT_BITS
        anomalies = []
        for sample in message.gpus:
            bits = sample.DCGM_FI_DEV_CLOCKS_EVENT_REASONS
            if bits is not None:
                for reason, mask in reasons.items():
                    if rising(state, f"clock:{reason}:{sample.gpu}", bool(bits & mask)):
                        severity: Severity = thresholds.CLOCK_EVENT_SEVERITY.get(reason, "warning")  # type: ignore[assignment]
                        anomalies.append(
                            gpu_anomaly(
                                self, message, sample.gpu, score=1.0, threshold=None, severity=severity,
                                evidence={"clock_event": reason, "DCGM_FI_DEV_CLOCKS_EVENT_REASONS": bits},
                                fault_class=thresholds.CLOCK_EVENT_FAULT_CLASS.get(reason), text=f"clocks reduced: {reason}",
                            )
                        )
            anomalies += self._check_violations(message, state, sample.gpu, sample)
        return anomalies

    def _check_violations(self, message: GpuTelemetry, state: ClockState, gpu: int, sample: object) -> list[Anomaly]:
        previous = state.previous.setdefault(str(gpu), {})
        anomalies = []
        for field, fault_class in VIOLATION_COUNTERS.items():
            value = getattr(sample, field)
            if value is None:
                continue
            before = previous.get(field)
            increase = counter_increase(before, value)
            previous[field] = CounterSample(time=message.time, value=value)
            growing = before is not None and increase is not None and increase > 0
            if not rising(state, f"violation:{field}:{gpu}", growing):
                continue
            seconds = (message.time - before.time).total_seconds() if before is not None else 0.0
            share = min(increase / (seconds * 1e9), 1.0) if seconds > 0 and increase is not None else 1.0
            anomalies.append(
                gpu_anomaly(
                    self, message, gpu, score=share, threshold=0.0, severity="warning",
                    evidence={field: value, "throttled_ns": increase, "throttled_share": share}, fault_class=fault_class,
                    text=f"GPU throttled for {share:.0%} of the last interval ({field})",
                )
            )
        return anomalies
