"""Turn InfluxDB rows into report records, without services."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from pipeline.report.data import join_actions, load_incident, summarize_incident
from pipeline.report.models import ReportError
from pipeline.report.queries import from_nanoseconds, literal, rows_of, to_nanoseconds
from pipeline.report.signals import SignalSpec, build_signal, merge_resolutions
from pipeline.settings import InfluxDBSettings

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def incident_row(seconds: float, update: str, status: str, job: str | None = None, **fields: Any) -> dict[str, Any]:
    row = {"time": at(seconds), "update": update, "status": status, "scope": "gpu", "severity": "warning", "job": job}
    row.update(fields)
    return row


def test_summary_start_from_duration() -> None:
    rows = [
        incident_row(60, "opened", "firing"),
        incident_row(600, "resolved", "resolved", duration_seconds=590.0),
    ]
    summary = summarize_incident("inc-1", rows)
    assert summary.started_at == at(10)
    assert summary.ended_at == at(600)
    assert summary.duration_seconds == 590.0


def test_summary_merges_job_points() -> None:
    rows = [incident_row(60, "opened", "firing", job="job-b"), incident_row(60, "opened", "firing", job="job-a")]
    summary = summarize_incident("inc-1", rows)
    assert summary.jobs == ("job-a", "job-b")
    assert len(summary.changes) == 1
    assert summary.ended_at is None


def test_join_actions_pairs_result() -> None:
    rows = [
        {"time": at(0), "action_id": "a1", "status": "issued", "kind": "warn", "target": "n1", "reason": "why"},
        {"time": at(3), "action_id": "a1", "status": "ok", "kind": "warn", "target": "n1", "detail": "done", "duration_seconds": 3.0},
        {"time": at(1), "action_id": "a2", "status": "dry_run", "kind": "page", "target": "n1"},
    ]
    actions = join_actions(rows)
    assert [action.action_id for action in actions] == ["a1", "a2"]
    assert actions[0].status == "ok"
    assert actions[0].reason == "why"
    assert actions[0].completed_at == at(3)
    assert actions[1].status == "dry_run"
    assert actions[1].duration_seconds is None


def test_join_actions_keeps_orphan_result() -> None:
    actions = join_actions([{"time": at(5), "action_id": "a9", "status": "failed", "kind": "swap_spare", "target": "n2"}])
    assert [action.status for action in actions] == ["failed"]


@pytest.mark.parametrize("incident_id", ["inc' OR 1=1", "", "inc 1"], ids=["quote", "empty", "space"])
def test_load_incident_rejects_bad_id(incident_id: str) -> None:
    settings = InfluxDBSettings(url="http://127.0.0.1:9")
    with pytest.raises(ReportError, match="invalid incident id"):
        load_incident(settings, incident_id)


def test_literal_escapes_quote() -> None:
    assert literal("a'b\\c") == "'a\\'b\\\\c'"


def test_nanoseconds_round_trip() -> None:
    moment = datetime(2026, 1, 1, 12, 0, 5, 123456, tzinfo=timezone.utc)
    assert from_nanoseconds(to_nanoseconds(moment)) == moment


def test_rows_of_adds_group_tags() -> None:
    series = [{"name": "gpu", "tags": {"gpu": "3"}, "columns": ["time", "v"], "values": [[to_nanoseconds(T0), 1.5]]}]
    assert rows_of(series) == [{"gpu": "3", "time": T0, "v": 1.5}]


def points(resolution: str, seconds: list[int]) -> list[dict[str, Any]]:
    return [{"time": at(second), "resolution": resolution, "gpu": "0", "F": float(second)} for second in seconds]


def test_merge_prefers_raw_inside_coverage() -> None:
    merged, used = merge_resolutions({"10s": points("10s", [0, 10, 20, 30, 40]), "raw": points("raw", [12, 14, 16, 18, 20, 22])})
    assert [row["time"] for row in merged] == [at(s) for s in (0, 12, 14, 16, 18, 20, 22, 30, 40)]
    assert used == {"raw", "10s"}


def test_merge_uses_rollup_alone() -> None:
    merged, used = merge_resolutions({"10s": points("10s", [0, 10])})
    assert len(merged) == 2
    assert used == {"10s"}


def test_merge_picks_finest_rollup() -> None:
    merged, used = merge_resolutions({"60s": points("60s", [0]), "10s": points("10s", [0, 10])})
    assert used == {"10s"}
    assert len(merged) == 2


def test_build_signal_orders_gpus_numerically() -> None:
    rows = [dict(row, gpu=gpu) for gpu in ("10", "2") for row in points("10s", [0])]
    signal = build_signal(SignalSpec("gpu", "F", "F", "u", "gpu", "GPU"), rows)
    assert [series.label for series in signal.series] == ["GPU 2", "GPU 10"]
    assert signal.resolution == "10s"
