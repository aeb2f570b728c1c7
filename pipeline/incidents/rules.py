"""Correlator settings: fault classes, inhibition and escalation rules, and their defaults.

The rules are data so that a deployment can change them without code. The defaults cover
GPU, node, rack, switch and job faults and the usual consequences of each. A failing
cooling loop heats every GPU on it, and a switch failure drops the links of its nodes.
Xid 43, 45, 63 and 94 follow a primary Xid, and the peers of one bad rank time out.
"""

from __future__ import annotations

from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Scope = Literal["gpu", "node", "rack", "switch", "job", "series"]
Domain = Literal["node", "rack", "switch", "job"]

UNCLASSIFIED: Final = "unclassified"


class FaultClassRule(BaseModel):
    """How anomalies of one fault class become an incident.

    Attributes:
        name: Fault class of the incident, for example ``xid_79`` or ``cdu_pump_failure``.
        scope: Scope of the incident: one incident per GPU, node, rack, switch or job.
        aliases: Other ``Anomaly.fault_class`` values that mean this class, such as ``xid_48``
            for ``ecc_uncorrectable``.
        immediate: Whether one anomaly of severity ``critical`` opens the incident at once,
            without waiting for the persistence count.
        persistence_count: Anomalies needed within the persistence window to open the
            incident; None takes the correlator default.
        resolve_after_seconds: Silence after which the incident resolves; None takes the
            correlator default.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=128)
    scope: Scope
    aliases: tuple[str, ...] = ()
    immediate: bool = False
    persistence_count: int | None = Field(default=None, ge=1)
    resolve_after_seconds: float | None = Field(default=None, gt=0)


class InhibitRule(BaseModel):
    """A firing incident of a source class suppresses anomalies of the target classes.

    The suppression applies where source and target share a value of ``domain``: the same
    node, rack, leaf switch or job. Suppressed anomalies count on the source incident.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    source_classes: tuple[str, ...] = Field(min_length=1)
    target_classes: tuple[str, ...] = Field(min_length=1)
    domain: Domain


class EscalationRule(BaseModel):
    """Anomalies of the source classes on many entities of one domain open a domain-wide incident.

    For example thermal anomalies on four GPUs of one rack within a minute point at the
    rack's cooling loop, not at four cold plates.

    Attributes:
        source_classes: Classes whose anomalies count.
        target_class: Class of the incident opened for the whole domain; its scope must
            match ``domain``.
        domain: ``rack``, ``switch`` or ``job``.
        min_entities: Distinct GPUs or nodes (by the anomaly's entity) needed within the window.
        window_seconds: Window in event time.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    source_classes: tuple[str, ...] = Field(min_length=1)
    target_class: str
    domain: Literal["rack", "switch", "job"]
    min_entities: int = Field(ge=2)
    window_seconds: float = Field(gt=0)


def _xids(*codes: int) -> tuple[str, ...]:
    return tuple(f"xid_{code}" for code in codes)


DEFAULT_CLASSES: Final[tuple[FaultClassRule, ...]] = (
    # GPU faults.
    FaultClassRule(name="xid_79", scope="gpu", aliases=("gpu_fell_off_bus",), immediate=True),
    FaultClassRule(name="ecc_uncorrectable", scope="gpu", aliases=(*_xids(48, 64, 95, 140), "hbm_ecc_uncorrectable", "hbm_uncorrectable", "gpu_sram_uncorrectable", "ecc_dbe", "row_remap_failure"), immediate=True),
    FaultClassRule(name="ecc_correctable_storm", scope="gpu", aliases=("xid_92", "ecc_sbe_storm", "row_remap_creep")),
    FaultClassRule(name="nvlink_fault", scope="gpu", aliases=(*_xids(74, 136, *range(144, 151)), "nvlink_down"), immediate=True),
    FaultClassRule(name="pcie_degradation", scope="gpu", aliases=("pcie_replay", "pcie_link_downgrade")),
    # Xid 46, 62 and 109 stop the GPU (the emulator's gpu_hard_fault): drain, reset and swap like a GSP hang.
    FaultClassRule(name="gsp_hang", scope="gpu", aliases=(*_xids(46, 61, 62, 119, 120, 158), "gpu_hard_fault"), immediate=True),
    FaultClassRule(name="xid_app_error", scope="gpu", aliases=(*_xids(13, 31, 109), "software_crash"), immediate=True),
    FaultClassRule(name="xid_secondary", scope="gpu", aliases=_xids(43, 45, 63, 94)),
    FaultClassRule(name="gpu_thermal", scope="gpu", aliases=("thermal_throttle", "thermal_violation")),
    # Node faults.
    FaultClassRule(name="psu_failure", scope="node", aliases=("psu_fault", "node_power_loss"), immediate=True),
    FaultClassRule(name="host_fault", scope="node", immediate=True),
    FaultClassRule(name="link_flap", scope="node", aliases=("nic_link_flap", "link_down")),
    FaultClassRule(name="pfc_storm", scope="node", aliases=("pfc_pause_storm", "congestion")),
    FaultClassRule(name="straggler", scope="node", aliases=("fail_slow",)),
    # Rack and cooling-loop faults.
    FaultClassRule(name="cdu_pump_failure", scope="rack", aliases=("cooling_flow_loss", "flow_loss"), immediate=True),
    FaultClassRule(name="coolant_leak", scope="rack", aliases=("leak",), immediate=True),
    # Supply pressure below its baseline: a leak or a failing pump; the leak sensor decides.
    FaultClassRule(name="coolant_pressure_low", scope="rack"),
    FaultClassRule(name="cooling_degraded", scope="rack"),
    FaultClassRule(name="facility_water_warm", scope="rack", aliases=("supply_temperature_high", "dew_point_risk")),
    FaultClassRule(name="rack_power_over_cap", scope="rack", aliases=("power_over_cap", "rack_power_cap")),
    # Switch and job faults.
    FaultClassRule(name="switch_failure", scope="switch", immediate=True),
    FaultClassRule(name="job_hang", scope="job", aliases=("peer_timeout", "nccl_timeout", "software_hang")),
    FaultClassRule(name="silent_data_corruption", scope="job", aliases=("sdc", "loss_spike")),
)

_NODE_PRIMARY: Final = ("xid_79", "ecc_uncorrectable", "nvlink_fault", "gsp_hang", "psu_failure", "host_fault")
_COOLING: Final = ("cdu_pump_failure", "coolant_leak", "cooling_degraded", "facility_water_warm")

DEFAULT_INHIBIT_RULES: Final[tuple[InhibitRule, ...]] = (
    # A failing cooling loop heats and throttles every GPU on it and slows its nodes.
    # The cooling policy caps the rack's power, so the power-cap clock events that follow are expected.
    InhibitRule(source_classes=_COOLING, target_classes=("gpu_thermal", "straggler", "rack_power_over_cap"), domain="rack"),
    # A pump failure lowers the loop's pressure too; that is not a second fault.
    InhibitRule(source_classes=("cdu_pump_failure",), target_classes=("coolant_pressure_low",), domain="rack"),
    # A switch failure drops the links of its nodes and stalls their collectives.
    InhibitRule(source_classes=("switch_failure",), target_classes=("link_flap", "pfc_storm", "job_hang"), domain="switch"),
    # Xid 43, 45, 63 and 94 follow the primary Xid of the same node.
    InhibitRule(source_classes=(*_NODE_PRIMARY, "xid_app_error"), target_classes=("xid_secondary",), domain="node"),
    # A node that lost power loses its GPUs and links as well.
    InhibitRule(source_classes=("psu_failure",), target_classes=("xid_79", "link_flap", "gpu_thermal"), domain="node"),
    # The peers of one bad rank time out: the rank's incident covers the whole job's hang.
    InhibitRule(source_classes=(*_NODE_PRIMARY, "link_flap", "switch_failure"), target_classes=("job_hang",), domain="job"),
)

DEFAULT_ESCALATION_RULES: Final[tuple[EscalationRule, ...]] = (
    EscalationRule(source_classes=("gpu_thermal",), target_class="cooling_degraded", domain="rack", min_entities=4, window_seconds=60.0),
    EscalationRule(source_classes=("link_flap",), target_class="switch_failure", domain="switch", min_entities=2, window_seconds=30.0),
)


class CorrelatorSettings(BaseModel):
    """Settings of the correlator; every duration is in seconds of event time.

    Attributes:
        persistence_count: Anomalies of one class on one entity needed to open an incident.
        persistence_window_seconds: Window within which those anomalies must fall.
        resolve_after_seconds: Silence after which a firing incident resolves.
        rule_resolve_after_seconds: Silence after which an incident that only rule
            detectors reported resolves. Rules report a condition once when it starts, so
            their silence is weak evidence of recovery.
        repeat_offender_window_seconds: How long a node's incidents count toward its record.
        repeat_offender_threshold: Incidents on one node within the window that mark it a
            repeat offender, the new incident included.
        max_suspects: Most nodes named as suspects of a job hang: the job's nodes that did
            not report the hang while all others did.
        classes: Fault classes; an anomaly with an unknown or missing ``fault_class``
            becomes class ``unclassified`` at the scope of its own entity.
        inhibit_rules: Which incidents suppress which anomalies.
        escalation_rules: Which spread of anomalies opens a domain-wide incident.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    persistence_count: int = Field(default=3, ge=1)
    persistence_window_seconds: float = Field(default=30.0, gt=0)
    resolve_after_seconds: float = Field(default=120.0, gt=0)
    rule_resolve_after_seconds: float = Field(default=1800.0, gt=0)
    repeat_offender_window_seconds: float = Field(default=7 * 24 * 3600.0, gt=0)
    repeat_offender_threshold: int = Field(default=2, ge=2)
    max_suspects: int = Field(default=2, ge=1)
    classes: tuple[FaultClassRule, ...] = DEFAULT_CLASSES
    inhibit_rules: tuple[InhibitRule, ...] = DEFAULT_INHIBIT_RULES
    escalation_rules: tuple[EscalationRule, ...] = DEFAULT_ESCALATION_RULES

    @model_validator(mode="after")
    def _check_names(self) -> CorrelatorSettings:
        names: dict[str, str] = {}
        for rule in self.classes:
            for name in (rule.name, *rule.aliases):
                if name in names:
                    raise ValueError(f"fault class name {name!r} appears twice (in {names[name]!r} and {rule.name!r}); each name and alias must be unique")
                names[name] = rule.name

        known = {rule.name for rule in self.classes}
        referenced = [name for rule in self.inhibit_rules for name in (*rule.source_classes, *rule.target_classes)]
        referenced += [name for rule in self.escalation_rules for name in (*rule.source_classes, rule.target_class)]
        unknown = sorted(set(referenced) - known)
        if unknown:
            raise ValueError(f"inhibit or escalation rules name unknown fault classes {unknown}; define them in 'classes'")

        scope_of = {rule.name: rule.scope for rule in self.classes}
        for escalation in self.escalation_rules:
            if scope_of[escalation.target_class] != escalation.domain:
                raise ValueError(
                    f"escalation target {escalation.target_class!r} has scope {scope_of[escalation.target_class]!r} "
                    f"but the rule's domain is {escalation.domain!r}; they must match"
                )
        return self

    def class_rules(self) -> dict[str, FaultClassRule]:
        """Return every fault class by its name and by each of its aliases."""
        lookup: dict[str, FaultClassRule] = {}
        for rule in self.classes:
            lookup[rule.name] = rule
            for alias in rule.aliases:
                lookup[alias] = rule
        return lookup
