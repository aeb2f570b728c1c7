"""Discrete hardware events other than Xid: each kind becomes an anomaly with its fault kind."""

from __future__ import annotations

from typing import Final

from detectors.anomaly import SEVERITY_RANK, Anomaly
from detectors.rules.base import Rule, RuleState, gpu_anomaly, place_anomaly
from pipeline.schemas import HardwareEvent

# Fault kind suspected for each event kind. ``xid`` has its own rule and ``link_up`` ends
# a condition rather than starting one, so neither is listed.
EVENT_FAULT_CLASS: Final[dict[str, str]] = {
    "ecc_sbe": "ecc_sbe_storm",
    "ecc_dbe": "hbm_uncorrectable",
    "row_remap_failure": "hbm_uncorrectable",
    "nvlink_error": "nvlink_fault",
    "pcie_error": "pcie_degradation",
    "link_down": "link_flap",
    "leak": "coolant_leak",
    "pump_failure": "cdu_pump_failure",
    "psu_fault": "psu_failure",
    "gpu_missing": "gpu_fell_off_bus",
}
SEEN_EVENT_IDS_MAX: Final = 64


class EventState(RuleState):
    """Per key: recently seen event ids, to drop repeats of an at-least-once delivery."""

    seen_event_ids: list[str] = []


class HardwareEventRule(Rule[HardwareEvent, EventState]):
    """Turn each hardware event into an anomaly with the event's own severity.

    The source already decided that the event is a fault (a leak sensor tripped, a PSU
    reported a fault), so the rule only names the suspected fault kind and keeps the
    source's message. The score is the severity rank (info 0, warning 1, critical 2).
    """

    name = "rule.hardware_event"
    message_type = HardwareEvent
    state_type = EventState

    def check(self, message: HardwareEvent, state: EventState) -> list[Anomaly]:
        """Convert one event; Xid and link-up events return no anomaly."""
        fault_class = EVENT_FAULT_CLASS.get(message.kind)
        if fault_class is None:
            return []
        if message.event_id is not None:
            if message.event_id in state.seen_event_ids:
                return []
            state.seen_event_ids = (state.seen_event_ids + [message.event_id])[-SEEN_EVENT_IDS_MAX:]

        score = float(SEVERITY_RANK[message.severity])
        evidence = {"kind": message.kind, "source": message.source, "code": message.code}
        text = message.message or f"{message.kind} reported by {message.source}"
        if message.gpu is not None and message.node is not None:
            return [gpu_anomaly(self, message, message.gpu, score=score, threshold=None, severity=message.severity, evidence=evidence, fault_class=fault_class, text=text)]
        entity, kind = (message.node, "node") if message.node is not None else (message.rack, "rack")
        return [
            place_anomaly(
                self, message, entity=entity or "", entity_kind=kind, rack=message.rack, score=score, threshold=None,
                severity=message.severity, evidence=evidence, fault_class=fault_class, text=text[:1024],
            )
        ]
