"""Coolant distribution unit (CDU) rules: leak and pump state, temperatures, flow and pressure."""

from __future__ import annotations

from detectors import thresholds
from detectors.anomaly import SEVERITY_RANK, Anomaly, EvidenceValue, Severity
from detectors.rules.base import Rule, RuleState, place_anomaly, rising
from pipeline.schemas import CoolingTelemetry

HEALTH_SEVERITY: dict[str, Severity] = {"Warning": "warning", "Critical": "critical"}


class CoolingState(RuleState):
    """Per rack: healthy baselines of coolant flow and supply pressure."""

    flow_baseline: float | None = None
    pressure_baseline: float | None = None
    healthy_samples: int = 0


class CoolingRule(Rule[CoolingTelemetry, CoolingState]):
    """Leak detector, pump health, supply temperature, temperature rise, flow and pressure of one CDU.

    - ``LeakDetectorState`` Warning or Critical (Redfish LeakDetector) -> same severity,
      fault ``coolant_leak``.
    - ``PumpHealth`` Warning or Critical -> same severity, fault ``cdu_pump_failure``.
    - supply temperature > ``supply_max_celsius`` -> warning, fault ``facility_water_warm``.
    - return - supply > ``delta_t_max_celsius`` -> warning, fault ``cdu_pump_failure``.
    - flow below its healthy baseline by ``flow_drop_warn`` (``flow_drop_critical``) or
      more -> warning (critical), fault ``cdu_pump_failure``. The score is the drop as a
      fraction of the baseline.
    - supply pressure below its baseline by ``pressure_drop_warn`` or more -> warning,
      fault ``coolant_pressure_low``: a leak or a failing pump, which the leak sensor and
      the flow tell apart.

    The flow and pressure baselines are exponentially weighted means that learn only from
    samples with no flow or pressure condition, so a failing pump does not become the new
    normal. They are trusted after ``baseline_warmup`` samples.
    """

    name = "rule.cooling"
    message_type = CoolingTelemetry
    state_type = CoolingState

    def __init__(
        self,
        *,
        supply_max_celsius: float = thresholds.COOLANT_SUPPLY_MAX_CELSIUS,
        delta_t_max_celsius: float = thresholds.COOLANT_DELTA_T_MAX_CELSIUS,
        flow_drop_warn: float = thresholds.COOLANT_FLOW_DROP_WARN,
        flow_drop_critical: float = thresholds.COOLANT_FLOW_DROP_CRITICAL,
        pressure_drop_warn: float = thresholds.COOLANT_PRESSURE_DROP_WARN,
        baseline_alpha: float = thresholds.COOLANT_BASELINE_ALPHA,
        baseline_warmup: int = thresholds.COOLANT_BASELINE_WARMUP,
    ) -> None:
        self.supply_max_celsius = supply_max_celsius
        self.delta_t_max_celsius = delta_t_max_celsius
        self.flow_drop_warn = flow_drop_warn
        self.flow_drop_critical = flow_drop_critical
        self.pressure_drop_warn = pressure_drop_warn
        self.baseline_alpha = baseline_alpha
        self.baseline_warmup = baseline_warmup

    def check(self, message: CoolingTelemetry, state: CoolingState) -> list[Anomaly]:
        """Apply every cooling condition to one CDU sample."""
        anomalies = self._check_states(message, state)
        anomalies += self._check_temperatures(message, state)

        flow_drop = _drop(message.FlowLitersPerMinute, state.flow_baseline)
        pressure_drop = _drop(message.SupplyPressurekPa, state.pressure_baseline)
        ready = state.healthy_samples >= self.baseline_warmup
        if ready:
            anomalies += self._check_drops(message, state, flow_drop, pressure_drop)

        healthy = (flow_drop is None or flow_drop < self.flow_drop_warn) and (pressure_drop is None or pressure_drop < self.pressure_drop_warn)
        if healthy or not ready:
            self._learn_baselines(message, state)
        return anomalies

    def _check_states(self, message: CoolingTelemetry, state: CoolingState) -> list[Anomaly]:
        anomalies = []
        for field, value, fault_class, text in (
            ("LeakDetectorState", message.LeakDetectorState, "coolant_leak", "coolant leak detected: checkpoint now, isolate the rack and page on-site staff"),
            ("PumpHealth", message.PumpHealth, "cdu_pump_failure", "CDU pump unhealthy: cap power on the rack and trigger a checkpoint"),
        ):
            for level, severity in HEALTH_SEVERITY.items():
                if rising(state, f"{field}:{level}", value == level):
                    anomalies.append(self._anomaly(message, float(SEVERITY_RANK[severity]), 1.0, severity, {field: value}, fault_class, text))
        return anomalies

    def _check_temperatures(self, message: CoolingTelemetry, state: CoolingState) -> list[Anomaly]:
        anomalies = []
        supply, returned = message.SupplyTemperatureCelsius, message.ReturnTemperatureCelsius
        if rising(state, "supply_temperature", supply is not None and supply > self.supply_max_celsius):
            anomalies.append(
                self._anomaly(
                    message, float(supply or 0), self.supply_max_celsius, "warning", {"SupplyTemperatureCelsius": supply},
                    "facility_water_warm", f"coolant supply at {supply} C, above {self.supply_max_celsius} C; cap power and open a facility ticket",
                )
            )
        delta = None if supply is None or returned is None else round(returned - supply, 6)
        if rising(state, "delta_t", delta is not None and delta > self.delta_t_max_celsius):
            anomalies.append(
                self._anomaly(
                    message, float(delta or 0), self.delta_t_max_celsius, "warning",
                    {"SupplyTemperatureCelsius": supply, "ReturnTemperatureCelsius": returned, "delta_t_celsius": delta},
                    "cdu_pump_failure", f"coolant temperature rise {delta} C, above {self.delta_t_max_celsius} C; check flow and pumps",
                )
            )
        return anomalies

    def _check_drops(self, message: CoolingTelemetry, state: CoolingState, flow_drop: float | None, pressure_drop: float | None) -> list[Anomaly]:
        anomalies = []
        for level, limit, severity in (("warning", self.flow_drop_warn, "warning"), ("critical", self.flow_drop_critical, "critical")):
            if rising(state, f"flow_drop:{level}", flow_drop is not None and flow_drop >= limit):
                anomalies.append(
                    self._anomaly(
                        message, float(flow_drop or 0), limit, severity,  # type: ignore[arg-type]
                        {"FlowLitersPerMinute": message.FlowLitersPerMinute, "flow_baseline": state.flow_baseline, "flow_drop": flow_drop},
                        "cdu_pump_failure", f"coolant flow {flow_drop:.0%} below its baseline; cap power on the rack and trigger a checkpoint",
                    )
                )
        if rising(state, "pressure_drop", pressure_drop is not None and pressure_drop >= self.pressure_drop_warn):
            anomalies.append(
                self._anomaly(
                    message, float(pressure_drop or 0), self.pressure_drop_warn, "warning",
                    {"SupplyPressurekPa": message.SupplyPressurekPa, "pressure_baseline": state.pressure_baseline, "pressure_drop": pressure_drop},
                    "coolant_pressure_low", f"coolant supply pressure {pressure_drop:.0%} below its baseline; check pumps and look for a leak",
                )
            )
        return anomalies

    def _learn_baselines(self, message: CoolingTelemetry, state: CoolingState) -> None:
        if message.FlowLitersPerMinute is not None:
            state.flow_baseline = _ewma(state.flow_baseline, message.FlowLitersPerMinute, self.baseline_alpha, state.healthy_samples, self.baseline_warmup)
        if message.SupplyPressurekPa is not None:
            state.pressure_baseline = _ewma(state.pressure_baseline, message.SupplyPressurekPa, self.baseline_alpha, state.healthy_samples, self.baseline_warmup)
        state.healthy_samples += 1

    def _anomaly(
        self, message: CoolingTelemetry, score: float, threshold: float, severity: Severity,
        evidence: dict[str, EvidenceValue], fault_class: str, text: str,
    ) -> Anomaly:
        return place_anomaly(
            self, message, entity=message.rack, entity_kind="rack", rack=message.rack, score=score, threshold=threshold,
            severity=severity, evidence={"cdu": message.cdu, **evidence}, fault_class=fault_class, text=text,
        )


def _drop(value: float | None, baseline: float | None) -> float | None:
    """Return how far ``value`` fell below ``baseline`` as a fraction of it (negative when above)."""
    if value is None or baseline is None or baseline <= 0:
        return None
    return round(1.0 - value / baseline, 9)


def _ewma(mean: float | None, value: float, alpha: float, count: int, warmup: int) -> float:
    """Average the first ``warmup`` values equally, then weight new values by ``alpha``."""
    if mean is None:
        return value
    weight = max(alpha, 1.0 / (count + 1)) if count < warmup else alpha
    return mean + weight * (value - mean)
