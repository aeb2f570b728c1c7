"""Rack power rules: power at or over the cap, and power supply health."""

from __future__ import annotations

from detectors import thresholds
from detectors.anomaly import SEVERITY_RANK, Anomaly
from detectors.rules.base import Rule, RuleState, place_anomaly, rising
from pipeline.schemas import PowerTelemetry


class PowerRule(Rule[PowerTelemetry, RuleState]):
    """Rack power against its cap, and the health of each power supply (Redfish Power schemas).

    - ``PowerWatts`` >= ``cap_fraction_warn`` x ``PowerLimitWatts`` -> warning, fault
      ``rack_power_cap``; the score is the power in watts and ``threshold`` the limit.
      Racks without a cap are not checked.
    - a power supply with ``health`` Warning or Critical -> same severity, fault ``psu_failure``.

    NOTE: input voltage is not checked, because no voltage band applies to every site.
    """

    name = "rule.power"
    message_type = PowerTelemetry

    def __init__(self, *, cap_fraction_warn: float = thresholds.RACK_POWER_CAP_FRACTION_WARN) -> None:
        self.cap_fraction_warn = cap_fraction_warn

    def check(self, message: PowerTelemetry, state: RuleState) -> list[Anomaly]:
        """Check the rack's power against its cap and each power supply's health."""
        anomalies = []
        cap = message.PowerLimitWatts
        limit = None if cap is None else cap * self.cap_fraction_warn
        if rising(state, "over_cap", limit is not None and message.PowerWatts >= limit):
            anomalies.append(
                place_anomaly(
                    self, message, entity=message.rack, entity_kind="rack", rack=message.rack, score=message.PowerWatts,
                    threshold=limit, severity="warning",
                    evidence={"pdu": message.pdu, "PowerWatts": message.PowerWatts, "PowerLimitWatts": cap}, fault_class="rack_power_cap",
                    text=f"rack power {message.PowerWatts:.0f} W at or over its cap of {cap:.0f} W; cap GPU power or stagger checkpoints",
                )
            )

        for supply in message.power_supplies:
            for level in ("Warning", "Critical"):
                if rising(state, f"psu:{supply.psu}:{level}", supply.health == level):
                    severity = "critical" if level == "Critical" else "warning"
                    anomalies.append(
                        place_anomaly(
                            self, message, entity=message.rack, entity_kind="rack", rack=message.rack,
                            score=float(SEVERITY_RANK[severity]), threshold=1.0, severity=severity,
                            evidence={"pdu": message.pdu, "psu": supply.psu, "health": supply.health, "InputVoltageVolts": supply.InputVoltageVolts},
                            fault_class="psu_failure", text=f"power supply {supply.psu} health {supply.health}; swap it at the next checkpoint",
                        )
                    )
        return anomalies
