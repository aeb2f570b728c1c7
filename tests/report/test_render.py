"""Render hand-made report data to HTML, without services."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest

from pipeline.report.models import ReportData
from pipeline.report.plots import format_number, nice_ticks, time_ticks
from pipeline.report.render import format_duration, render_report

SECTIONS = ["Timeline", "Evidence: anomalies", "Actions", "Hardware events", "Incident changes"]


def test_render_has_every_section(report_data: ReportData) -> None:
    page = render_report(report_data)
    for heading in SECTIONS:
        assert f"<h2>{heading}</h2>" in page


def test_render_header_fields(report_data: ReportData) -> None:
    page = render_report(report_data)
    assert "<dt>Fault class</dt><dd>thermal_runaway</dd>" in page
    assert "<dt>Duration</dt><dd>12 min 0 s</dd>" in page
    assert "<dt>End</dt><dd>2026-01-01 12:14:00 UTC</dd>" in page
    assert '<span class="badge critical">critical</span>' in page


def test_render_escapes_text(report_data: ReportData) -> None:
    page = render_report(report_data)
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;quoted&quot;" in page


def test_render_has_no_url(report_data: ReportData) -> None:
    page = render_report(report_data)
    assert "http" not in page
    assert "src=" not in page


def test_render_draws_plots(report_data: ReportData) -> None:
    page = render_report(report_data)
    assert page.count("<svg") == 2
    assert page.count("<polyline") == 4
    assert 'class="incident"' in page


def test_render_action_status_classes(report_data: ReportData) -> None:
    page = render_report(report_data)
    assert '<td class="status-ok">ok</td>' in page
    assert '<td class="status-failed">failed</td>' in page


def test_render_empty_report(report_data: ReportData) -> None:
    empty = dataclasses.replace(report_data, anomalies=(), actions=(), events=(), signals=())
    page = render_report(empty)
    assert "No anomalies in this window." in page
    assert "The policy took no action." in page
    assert "No telemetry stored for a gpu incident" in page
    assert page.count("<svg") == 1


def test_render_firing_incident(report_data: ReportData) -> None:
    firing = dataclasses.replace(report_data.incident, status="firing", ended_at=None, resolution=None)
    page = render_report(dataclasses.replace(report_data, incident=firing))
    assert "<dt>End</dt><dd>still firing</dd>" in page
    assert '<span class="badge firing">firing</span>' in page


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(4.25, "4.2 s"), (42.0, "42 s"), (250.0, "4 min 10 s"), (7380.0, "2 h 3 min")],
    ids=["fraction", "seconds", "minutes", "hours"],
)
def test_format_duration(seconds: float, expected: str) -> None:
    assert format_duration(seconds) == expected


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [(61.2, 88.9, [60.0, 70.0, 80.0, 90.0]), (0.0, 1.0, [0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0])],
    ids=["temperature", "unit"],
)
def test_nice_ticks(low: float, high: float, expected: list[float]) -> None:
    assert nice_ticks(low, high) == pytest.approx(expected)


def test_format_number_thousands() -> None:
    assert format_number(90_000.0) == "90k"
    assert format_number(62.5) == "62.5"


def test_time_ticks_round_minutes() -> None:
    start = datetime(2026, 1, 1, 11, 52, 13, tzinfo=timezone.utc)
    ticks, step = time_ticks(start, start + timedelta(minutes=32))
    assert step == 300
    assert ticks[0] == datetime(2026, 1, 1, 11, 55, tzinfo=timezone.utc)
    assert ticks[-1] == datetime(2026, 1, 1, 12, 20, tzinfo=timezone.utc)


def test_firing_incident_duration_is_a_lower_bound(report_data: ReportData) -> None:
    incident = dataclasses.replace(report_data.incident, ended_at=None, status="firing", last_update_at=report_data.incident.started_at)
    firing = dataclasses.replace(report_data, incident=incident)
    newest = max([row.time for row in firing.anomalies] + [action.completed_at or action.issued_at for action in firing.actions])

    page = render_report(firing)

    expected = format_duration((newest - incident.started_at).total_seconds())
    assert f"<dt>Duration</dt><dd>at least {expected}, still firing</dd>" in page
    assert expected != "0 s"
