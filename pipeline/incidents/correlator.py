"""The correlator: groups anomalies into incidents, inhibits consequences and resolves silent incidents.

Input is one :class:`detectors.anomaly.Anomaly` at a time, output is a list of
:class:`IncidentUpdate`. Time is event time only: the latest anomaly time seen (or the time
given to :meth:`Correlator.tick`) drives persistence windows and resolution, so a replay of
the same anomalies gives the same incidents with the same ids.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from detectors.anomaly import SEVERITY_RANK, Anomaly
from pipeline.incidents.cluster_map import ClusterMap
from pipeline.incidents.location import Location, Place, domain_values, incident_location, locate, place_of
from pipeline.incidents.models import Confidence, Incident, IncidentUpdate, incident_id, incident_key
from pipeline.incidents.rules import UNCLASSIFIED, CorrelatorSettings, EscalationRule, FaultClassRule
from pipeline.incidents.state import CorrelatorState

logger = logging.getLogger(__name__)

_SCOPE_OF_KIND = {"gpu": "gpu", "node": "node", "rack": "rack", "job": "job", "series": "series"}


class Correlator:
    """Turn a stream of anomalies into incidents at GPU, node, rack, switch or job scope.

    An incident opens after ``persistence_count`` anomalies of one class on one entity
    within the persistence window, or at once for a critical anomaly of an ``immediate``
    class. Later anomalies with the same grouping key deduplicate into it. A firing
    incident suppresses the anomalies its inhibit rules name in the same node, rack, switch
    or job, and supersedes incidents and candidates of those classes that are already
    there. An incident resolves after ``resolve_after_seconds`` without anomalies, its own
    or suppressed ones.

    Args:
        cluster_map: Rack, switch and jobs of every node.
        settings: Fault classes, rules and durations; the defaults when None.
    """

    def __init__(self, cluster_map: ClusterMap, settings: CorrelatorSettings | None = None) -> None:
        self.cluster_map = cluster_map
        self.settings = settings or CorrelatorSettings()
        self._class_rules = self.settings.class_rules()
        self._state = CorrelatorState()

    @property
    def firing(self) -> list[Incident]:
        """Return the firing incidents, sorted by grouping key."""
        return [self._state.incidents[key] for key in sorted(self._state.incidents)]

    def snapshot(self) -> dict[str, Any]:
        """Return the whole state as a JSON-ready dict, for a Faust table or a file."""
        return self._state.model_dump(mode="json")

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Replace the state with one that :meth:`snapshot` returned.

        Raises:
            pydantic.ValidationError: the snapshot does not match the state model.
        """
        self._state = CorrelatorState.model_validate(snapshot)

    def process(self, anomaly: Anomaly) -> list[IncidentUpdate]:
        """Correlate one anomaly and return the incidents it opened, updated or resolved.

        Incidents that fell silent before the anomaly's event time resolve first.
        """
        updates = self.tick(anomaly.time)
        rule = self._classify(anomaly)
        location = locate(anomaly, self.cluster_map)
        place = place_of(anomaly, location, rule.scope, self.cluster_map)
        key = incident_key(place.scope, place.entity, place.location.gpu, rule.name)

        inhibitor = self._inhibitor(rule.name, location, exclude_key=key)
        if inhibitor is not None:
            self._suppress(inhibitor, anomaly)
            return updates

        if key in self._state.incidents:
            updates.extend(self._merge(key, anomaly, location))
            return updates

        escalated = self._escalate(rule.name, anomaly, location)
        if escalated:
            updates.extend(escalated)
            return updates

        updates.extend(self._persist(key, rule, anomaly, place))
        return updates

    def tick(self, now: datetime) -> list[IncidentUpdate]:
        """Advance event time to ``now``: resolve silent incidents and forget expired candidates."""
        state = self._state
        if state.watermark is None or now > state.watermark:
            state.watermark = now
        watermark = state.watermark

        updates: list[IncidentUpdate] = []
        for key in sorted(state.incidents):
            incident = state.incidents[key]
            resolve_at = incident.updated_at + timedelta(seconds=self._resolve_after(incident))
            if resolve_at <= watermark:
                updates.append(self._resolve(key, resolve_at, "cleared", None))

        self._prune(watermark)
        return updates

    def _classify(self, anomaly: Anomaly) -> FaultClassRule:
        name = anomaly.fault_class or UNCLASSIFIED
        rule = self._class_rules.get(name)
        if rule is not None:
            return rule
        # An unknown class keeps its name, so that a policy rule can still match it.
        return FaultClassRule(name=name, scope=_SCOPE_OF_KIND[anomaly.entity_kind])  # type: ignore[arg-type]

    def _resolve_after(self, incident: Incident) -> float:
        rule = self._class_rules.get(incident.fault_class)
        if rule is not None and rule.resolve_after_seconds is not None:
            return rule.resolve_after_seconds
        if incident.detectors and all(_is_rule(name) for name in incident.detectors):
            # A rule stays silent while its condition lasts, so silence is weak evidence of recovery.
            return self.settings.rule_resolve_after_seconds
        return self.settings.resolve_after_seconds

    def _persistence_count(self, rule: FaultClassRule) -> int:
        return rule.persistence_count if rule.persistence_count is not None else self.settings.persistence_count

    def _inhibitor(self, fault_class: str, location: Location, exclude_key: str) -> Incident | None:
        for rule in self.settings.inhibit_rules:
            if fault_class not in rule.target_classes:
                continue
            targets = domain_values(location, rule.domain)
            if not targets:
                continue
            for key in sorted(self._state.incidents):
                incident = self._state.incidents[key]
                if key == exclude_key or incident.fault_class not in rule.source_classes:
                    continue
                if targets & domain_values(incident_location(incident), rule.domain):
                    return incident
        return None

    def _inhibits(self, source_class: str, source_location: Location, target_class: str, target_location: Location) -> bool:
        for rule in self.settings.inhibit_rules:
            if source_class in rule.source_classes and target_class in rule.target_classes:
                if domain_values(source_location, rule.domain) & domain_values(target_location, rule.domain):
                    return True
        return False

    def _suppress(self, incident: Incident, anomaly: Anomaly) -> None:
        updated = incident.model_copy(
            update={"suppressed_count": incident.suppressed_count + 1, "updated_at": max(incident.updated_at, anomaly.time)}
        )
        self._state.incidents[incident.key] = updated
        logger.debug(
            "anomaly suppressed incident_id=%s fault_class=%s entity=%s detector=%s",
            incident.incident_id,
            anomaly.fault_class,
            anomaly.entity,
            anomaly.detector,
        )

    def _merge(self, key: str, anomaly: Anomaly, location: Location) -> list[IncidentUpdate]:
        incident = self._state.incidents[key]
        severity = max(incident.severity, anomaly.severity, key=SEVERITY_RANK.__getitem__)
        detectors = tuple(sorted({*incident.detectors, anomaly.detector}))
        members = _add_member(incident.members, location)
        changes: dict[str, Any] = {
            "anomaly_count": incident.anomaly_count + 1,
            "updated_at": max(incident.updated_at, anomaly.time),
            "severity": severity,
            "confidence": _confidence(severity, detectors),
            "detectors": detectors,
            "members": members,
            "suspects": self._suspects(incident.scope, incident.entity, members),
        }
        if anomaly.score > incident.max_score:
            changes.update(max_score=anomaly.score, evidence=dict(anomaly.evidence), summary=anomaly.message)
        updated = incident.model_copy(update=changes)
        self._state.incidents[key] = updated

        watched = ("severity", "confidence", "detectors", "suspects")
        if all(getattr(updated, name) == getattr(incident, name) for name in watched):
            return []
        logger.info(
            "incident updated incident_id=%s severity=%s confidence=%s detectors=%s suspects=%s",
            updated.incident_id,
            updated.severity,
            updated.confidence,
            ",".join(updated.detectors),
            ",".join(updated.suspects),
        )
        return [IncidentUpdate(kind="updated", time=anomaly.time, incident=updated)]

    def _persist(self, key: str, rule: FaultClassRule, anomaly: Anomaly, place: Place) -> list[IncidentUpdate]:
        window_start = anomaly.time - timedelta(seconds=self.settings.persistence_window_seconds)
        pending = [item for item in self._state.candidates.get(key, []) if item.time >= window_start]
        pending.append(anomaly)
        pending.sort(key=lambda item: item.time)

        # Rule detectors report a condition once, when it starts, after their own threshold
        # and persistence checks, so one rule anomaly is enough to open an incident.
        immediate = (rule.immediate and anomaly.severity == "critical") or _is_rule(anomaly.detector)
        if anomaly.severity == "info":
            # Informational anomalies add to incidents that others opened, but open none.
            self._state.candidates[key] = pending
            return []
        if not immediate and len(pending) < self._persistence_count(rule):
            self._state.candidates[key] = pending
            return []

        self._state.candidates.pop(key, None)
        return self._open(self._build(key, place, rule.name, pending))

    def _escalate(self, fault_class: str, anomaly: Anomaly, location: Location) -> list[IncidentUpdate]:
        member = location.member or anomaly.entity
        for index, rule in enumerate(self.settings.escalation_rules):
            if fault_class not in rule.source_classes:
                continue
            for value in sorted(domain_values(location, rule.domain)):
                bucket_key = f"{index}|{value}"
                bucket = self._state.escalations.setdefault(bucket_key, {})
                bucket[member] = anomaly
                _drop_before(bucket, anomaly.time - timedelta(seconds=rule.window_seconds))
                if len(bucket) >= rule.min_entities:
                    del self._state.escalations[bucket_key]
                    return self._open_escalation(rule, value, list(bucket.values()))
        return []

    def _open_escalation(self, rule: EscalationRule, value: str, anomalies: list[Anomaly]) -> list[IncidentUpdate]:
        if rule.domain == "rack":
            jobs = self.cluster_map.jobs_of_nodes(self.cluster_map.nodes_of_rack(value))
            location = Location(None, None, value, None, jobs)
        elif rule.domain == "switch":
            jobs = self.cluster_map.jobs_of_nodes(self.cluster_map.nodes_of_switch(value))
            location = Location(None, None, None, value, jobs)
        else:
            location = Location(None, None, None, None, (value,))
        key = incident_key(rule.domain, value, None, rule.target_class)
        if key in self._state.incidents:
            return []

        anomalies.sort(key=lambda item: item.time)
        members = tuple(sorted({member for item in anomalies if (member := locate(item, self.cluster_map).member)}))
        incident = self._build(key, Place(rule.domain, value, location), rule.target_class, anomalies)
        incident = incident.model_copy(update={"members": members})
        return self._open(incident)

    def _build(self, key: str, place: Place, fault_class: str, anomalies: list[Anomaly]) -> Incident:
        first = anomalies[0]
        strongest = max(anomalies, key=lambda item: item.score)
        severity = max((item.severity for item in anomalies), key=SEVERITY_RANK.__getitem__)
        detectors = tuple(sorted({item.detector for item in anomalies}))
        members: tuple[str, ...] = ()
        for item in anomalies:
            members = _add_member(members, locate(item, self.cluster_map))
        location = place.location
        return Incident(
            incident_id=incident_id(first.cluster, key, first.time),
            cluster=first.cluster,
            scope=place.scope,
            entity=place.entity,
            gpu=location.gpu if place.scope == "gpu" else None,
            node=location.node,
            rack=location.rack,
            switch=location.switch,
            jobs=location.jobs,
            fault_class=fault_class,
            severity=severity,
            confidence=_confidence(severity, detectors),
            started_at=first.time,
            updated_at=max(item.time for item in anomalies),
            anomaly_count=len(anomalies),
            detectors=detectors,
            members=members,
            suspects=self._suspects(place.scope, place.entity, members),
            max_score=strongest.score,
            evidence=dict(strongest.evidence),
            summary=strongest.message,
        )

    def _open(self, incident: Incident) -> list[IncidentUpdate]:
        updates, superseded_count = self._supersede(incident)
        absorbed = superseded_count + self._absorb_candidates(incident)
        incident = incident.model_copy(update={"suppressed_count": incident.suppressed_count + absorbed})
        incident = self._record_offender(incident)
        self._state.incidents[incident.key] = incident
        logger.info(
            "incident opened incident_id=%s scope=%s entity=%s gpu=%s fault_class=%s severity=%s anomaly_count=%d",
            incident.incident_id,
            incident.scope,
            incident.entity,
            incident.gpu,
            incident.fault_class,
            incident.severity,
            incident.anomaly_count,
        )
        updates.append(IncidentUpdate(kind="opened", time=incident.updated_at, incident=incident))
        return updates

    def _supersede(self, source: Incident) -> tuple[list[IncidentUpdate], int]:
        source_location = incident_location(source)
        updates: list[IncidentUpdate] = []
        absorbed = 0
        for key in sorted(self._state.incidents):
            target = self._state.incidents[key]
            if not self._inhibits(source.fault_class, source_location, target.fault_class, incident_location(target)):
                continue
            absorbed += target.anomaly_count + target.suppressed_count
            self._forget_offender(target)
            updates.append(self._resolve(key, source.updated_at, "inhibited", source.incident_id))
        return updates, absorbed

    def _absorb_candidates(self, source: Incident) -> int:
        source_location = incident_location(source)
        absorbed = 0
        for key in sorted(self._state.candidates):
            pending = self._state.candidates[key]
            target_class = self._classify(pending[0]).name
            if self._inhibits(source.fault_class, source_location, target_class, locate(pending[0], self.cluster_map)):
                absorbed += len(pending)
                del self._state.candidates[key]
        return absorbed

    def _resolve(self, key: str, time: datetime, resolution: str, inhibited_by: str | None) -> IncidentUpdate:
        incident = self._state.incidents.pop(key)
        resolved = incident.model_copy(
            update={"status": "resolved", "resolution": resolution, "resolved_at": time, "inhibited_by": inhibited_by}
        )
        logger.info(
            "incident resolved incident_id=%s fault_class=%s entity=%s resolution=%s inhibited_by=%s",
            resolved.incident_id,
            resolved.fault_class,
            resolved.entity,
            resolution,
            inhibited_by,
        )
        return IncidentUpdate(kind="resolved", time=time, incident=resolved)

    def _record_offender(self, incident: Incident) -> Incident:
        if incident.node is None:
            return incident
        history = self._state.offenders.setdefault(incident.node, [])
        history.append(incident.started_at)
        history.sort()
        count = len(history)
        return incident.model_copy(update={"offender_count": count, "repeat_offender": count >= self.settings.repeat_offender_threshold})

    def _forget_offender(self, incident: Incident) -> None:
        # A superseded incident was a consequence, so it does not count against its node.
        history = self._state.offenders.get(incident.node or "", [])
        if incident.started_at in history:
            history.remove(incident.started_at)

    def _suspects(self, scope: str, entity: str, members: Iterable[str]) -> tuple[str, ...]:
        if scope != "job":
            return ()
        reporting = {member.split("/")[0] for member in members}
        missing = sorted(set(self.cluster_map.nodes_of_job(entity)) - reporting)
        if 1 <= len(missing) <= self.settings.max_suspects and len(reporting) > len(missing):
            return tuple(missing)
        return ()

    def _prune(self, watermark: datetime) -> None:
        state = self._state
        window_start = watermark - timedelta(seconds=self.settings.persistence_window_seconds)
        for key in list(state.candidates):
            recent = [item for item in state.candidates[key] if item.time >= window_start]
            if recent:
                state.candidates[key] = recent
            else:
                del state.candidates[key]

        for bucket_key in list(state.escalations):
            rule = self.settings.escalation_rules[int(bucket_key.split("|", 1)[0])]
            bucket = state.escalations[bucket_key]
            _drop_before(bucket, watermark - timedelta(seconds=rule.window_seconds))
            if not bucket:
                del state.escalations[bucket_key]

        offender_start = watermark - timedelta(seconds=self.settings.repeat_offender_window_seconds)
        for node in list(state.offenders):
            kept_times = [time for time in state.offenders[node] if time >= offender_start]
            if kept_times:
                state.offenders[node] = kept_times
            else:
                del state.offenders[node]


def _is_rule(detector: str) -> bool:
    return detector.startswith("rule.")


def _confidence(severity: str, detectors: tuple[str, ...]) -> Confidence:
    if severity == "critical" or len(detectors) >= 2:
        return "high"
    if severity == "warning":
        return "medium"
    return "low"


def _add_member(members: tuple[str, ...], location: Location) -> tuple[str, ...]:
    member = location.member
    if member is None or member in members:
        return members
    return tuple(sorted((*members, member)))


def _drop_before(bucket: dict[str, Anomaly], start: datetime) -> None:
    for member in [member for member, item in bucket.items() if item.time < start]:
        del bucket[member]
