from datetime import datetime, timezone

from pipeline.agents.respond import _one_change_per_instant, incident_points
from pipeline.incidents.models import Incident, IncidentUpdate

AT = datetime(2026, 1, 1, tzinfo=timezone.utc)


def update(kind: str, count: int, incident_id: str = "inc-1") -> IncidentUpdate:
    incident = Incident(
        incident_id=incident_id, scope="rack", entity="r000", rack="r000", fault_class="cdu_pump_failure",
        severity="critical", confidence="high", started_at=AT, updated_at=AT, anomaly_count=count,
    )
    return IncidentUpdate(kind=kind, time=AT, incident=incident)


def test_same_instant_changes_merged() -> None:
    merged = _one_change_per_instant([update("opened", 1), update("updated", 2)])

    assert len(merged) == 1
    assert merged[0].kind == "opened"
    assert merged[0].incident.anomaly_count == 2


def test_other_incidents_kept_apart() -> None:
    merged = _one_change_per_instant([update("opened", 1), update("opened", 1, incident_id="inc-2")])

    assert [item.incident.incident_id for item in merged] == ["inc-1", "inc-2"]


def test_incident_point_tags() -> None:
    point = incident_points(update("opened", 1))[0]

    assert point.tags["scope"] == "rack"
    assert point.tags["status"] == "firing"
    assert point.fields["update"] == "opened"
