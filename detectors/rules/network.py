"""DPU port rules: PFC pause storms and link flaps, from mlx5 ethtool counters."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import Field

from detectors import thresholds
from detectors.anomaly import Anomaly, EvidenceValue, Severity
from detectors.rules.base import CounterSample, Rule, RuleState, counter_increase, place_anomaly, rising
from pipeline.schemas import DpuPort, DpuTelemetry

STORM_COUNTERS: dict[str, Severity] = {
    "tx_pause_storm_warning_events": "warning",
    "tx_pause_storm_error_events": "critical",
}


class DpuState(RuleState):
    """Per node: previous counters and recent link flap times, per port."""

    previous: dict[str, dict[str, CounterSample]] = Field(default_factory=dict)
    flap_times: dict[str, list[datetime]] = Field(default_factory=dict)


class DpuPortRule(Rule[DpuTelemetry, DpuState]):
    """PFC pause storms and link flaps on each DPU port of a node.

    - ``tx_pause_storm_warning_events`` grows -> warning; ``tx_pause_storm_error_events``
      grows -> critical (the NIC stopped sending pause frames). Fault ``pfc_pause_storm``.
    - transmitted pause time ``tx_prio3_pause_duration`` (microseconds) covers
      ``pause_fraction_warn`` of the interval or more -> warning, fault ``pfc_pause_storm``.
      The score is that share.
    - ``link_down_events_phy`` grows -> warning, fault ``link_flap``; ``flaps_critical`` or
      more flaps within ``flap_window_seconds`` -> critical (evict the node after about two
      flaps in five minutes, as ByteRobust does). The score is the flap count in the window.
    - ``link_state`` down -> warning, fault ``link_flap``.
    """

    name = "rule.dpu"
    message_type = DpuTelemetry
    state_type = DpuState

    def __init__(
        self,
        *,
        pause_fraction_warn: float = thresholds.PFC_PAUSE_FRACTION_WARN,
        flaps_critical: int = thresholds.LINK_FLAPS_CRITICAL,
        flap_window_seconds: float = thresholds.LINK_FLAP_WINDOW_SECONDS,
    ) -> None:
        self.pause_fraction_warn = pause_fraction_warn
        self.flaps_critical = flaps_critical
        self.flap_window_seconds = flap_window_seconds

    def check(self, message: DpuTelemetry, state: DpuState) -> list[Anomaly]:
        """Check every port of the node's DPU."""
        anomalies = []
        for port in message.ports:
            increases = self._increases(message, state, port)
            anomalies += self._check_storms(message, state, port, increases)
            anomalies += self._check_flaps(message, state, port, increases)
        return anomalies

    def _increases(self, message: DpuTelemetry, state: DpuState, port: DpuPort) -> dict[str, tuple[int, float]]:
        previous = state.previous.setdefault(str(port.port), {})
        increases = {}
        for field in (*STORM_COUNTERS, "tx_prio3_pause_duration", "link_down_events_phy"):
            value = getattr(port, field)
            if value is None:
                continue
            before = previous.get(field)
            increase = counter_increase(before, value)
            previous[field] = CounterSample(time=message.time, value=value)
            if before is not None and increase is not None:
                increases[field] = (increase, (message.time - before.time).total_seconds())
        return increases

    def _check_storms(self, message: DpuTelemetry, state: DpuState, port: DpuPort, increases: dict[str, tuple[int, float]]) -> list[Anomaly]:
        anomalies = []
        for field, severity in STORM_COUNTERS.items():
            increase = increases.get(field, (0, 0.0))[0]
            if rising(state, f"{field}:{port.port}", increase > 0):
                anomalies.append(
                    self._anomaly(
                        message, port, float(increase), 0.0, severity, {field: increase}, "pfc_pause_storm",
                        f"{increase} new {field} on port {port.port}; isolate the storming NIC or reroute",
                    )
                )

        paused_us, seconds = increases.get("tx_prio3_pause_duration", (0, 0.0))
        share = min(paused_us / (seconds * 1e6), 1.0) if seconds > 0 else 0.0
        if rising(state, f"pause_share:{port.port}", share >= self.pause_fraction_warn):
            anomalies.append(
                self._anomaly(
                    message, port, share, self.pause_fraction_warn, "warning",
                    {"tx_prio3_pause_duration_us": paused_us, "pause_share": share}, "pfc_pause_storm",
                    f"port {port.port} sent PFC pause for {share:.0%} of the last interval",
                )
            )
        return anomalies

    def _check_flaps(self, message: DpuTelemetry, state: DpuState, port: DpuPort, increases: dict[str, tuple[int, float]]) -> list[Anomaly]:
        anomalies = []
        flaps = increases.get("link_down_events_phy", (0, 0.0))[0]
        times = state.flap_times.setdefault(str(port.port), [])
        cutoff = message.time - timedelta(seconds=self.flap_window_seconds)
        times[:] = [moment for moment in times if moment > cutoff] + [message.time] * flaps
        if flaps > 0:
            severity: Severity = "critical" if len(times) >= self.flaps_critical else "warning"
            anomalies.append(
                self._anomaly(
                    message, port, float(len(times)), float(self.flaps_critical), severity,
                    {"link_down_events_phy": flaps, "flaps_in_window": len(times), "window_seconds": self.flap_window_seconds},
                    "link_flap", f"port {port.port} link went down {len(times)} times in {self.flap_window_seconds:g} s",
                )
            )
        if rising(state, f"link_down:{port.port}", port.link_state == "down"):
            anomalies.append(
                self._anomaly(message, port, 1.0, None, "warning", {"link_state": port.link_state}, "link_flap", f"port {port.port} link is down")
            )
        return anomalies

    def _anomaly(
        self, message: DpuTelemetry, port: DpuPort, score: float, threshold: float | None, severity: Severity,
        evidence: dict[str, EvidenceValue], fault_class: str, text: str,
    ) -> Anomaly:
        return place_anomaly(
            self, message, entity=message.node, entity_kind="node", rack=message.rack, score=score, threshold=threshold,
            severity=severity, evidence={"dpu": message.dpu, "port": port.port, **evidence}, fault_class=fault_class, text=text,
        )
