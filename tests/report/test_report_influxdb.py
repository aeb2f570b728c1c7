"""Load and render the seeded incidents from a real InfluxDB."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from pipeline.report.command import report
from pipeline.report.data import load_report
from pipeline.report.models import ReportError
from pipeline.report.render import render_report
from pipeline.settings import InfluxDBSettings
from tests.report.seed import GPU_INCIDENT, GPU_RESOLVED, GPU_STARTED, RACK_INCIDENT, RACK_STARTED

pytestmark = pytest.mark.integration

GPU_FIELDS = ["DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_SM_CLOCK", "DCGM_FI_DEV_GPU_UTIL"]
RACK_FIELDS = ["FlowLitersPerMinute", "SupplyTemperatureCelsius", "ReturnTemperatureCelsius", "PowerWatts"]


def test_gpu_incident_summary(seeded_influxdb: InfluxDBSettings) -> None:
    incident = load_report(seeded_influxdb, GPU_INCIDENT).incident
    assert incident.started_at == GPU_STARTED
    assert incident.ended_at == GPU_RESOLVED
    assert incident.status == "resolved"
    assert incident.severity == "critical"
    assert incident.jobs == ("job-a", "job-b")
    assert [change.update for change in incident.changes] == ["opened", "updated", "resolved"]


def test_gpu_incident_evidence_excludes_decoys(seeded_influxdb: InfluxDBSettings) -> None:
    data = load_report(seeded_influxdb, GPU_INCIDENT)
    assert [anomaly.score for anomaly in data.anomalies] == [85.0, 86.0, 87.0]
    assert {anomaly.node for anomaly in data.anomalies} == {"r000-n01"}
    assert [event.node for event in data.events] == ["r000-n01"]
    assert data.events[0].code == 79


def test_gpu_incident_actions_joined(seeded_influxdb: InfluxDBSettings) -> None:
    actions = load_report(seeded_influxdb, GPU_INCIDENT).actions
    assert [action.kind for action in actions] == ["cap_power", "swap_spare"]
    assert [action.status for action in actions] == ["ok", "failed"]
    assert [action.duration_seconds for action in actions] == [3.0, 2.0]
    assert actions[0].detail == "capped at 500 W"


def test_gpu_incident_signals_merge_raw(seeded_influxdb: InfluxDBSettings) -> None:
    signals = load_report(seeded_influxdb, GPU_INCIDENT).signals
    assert [signal.field for signal in signals] == GPU_FIELDS
    assert {signal.resolution for signal in signals} == {"raw+10s"}
    assert [series.label for series in signals[0].series] == ["GPU 0", "GPU 1"]
    temperatures = signals[0].series[0].values
    assert max(temperatures) > 80.0


def test_gpu_window_follows_option(seeded_influxdb: InfluxDBSettings) -> None:
    data = load_report(seeded_influxdb, GPU_INCIDENT, timedelta(minutes=1))
    assert data.window_start == GPU_STARTED - timedelta(minutes=1)
    assert data.window_end == GPU_RESOLVED + timedelta(minutes=1)
    assert min(data.signals[0].series[0].times) >= data.window_start


def test_rack_incident_signals(seeded_influxdb: InfluxDBSettings) -> None:
    data = load_report(seeded_influxdb, RACK_INCIDENT)
    assert [signal.field for signal in data.signals] == RACK_FIELDS
    assert {signal.resolution for signal in data.signals} == {"10s"}
    assert data.signals[0].series[0].label == "CDU cdu-r001"
    assert min(data.signals[0].series[0].values) == pytest.approx(48.0)


def test_rack_incident_firing_with_dry_run(seeded_influxdb: InfluxDBSettings) -> None:
    data = load_report(seeded_influxdb, RACK_INCIDENT)
    assert data.incident.status == "firing"
    assert data.incident.ended_at is None
    assert data.incident.started_at == RACK_STARTED
    assert [action.status for action in data.actions] == ["dry_run"]
    assert [anomaly.detector for anomaly in data.anomalies] == ["rule.cdu_flow"]


@pytest.mark.parametrize("incident", [GPU_INCIDENT, RACK_INCIDENT], ids=["gpu", "rack"])
def test_rendered_page_self_contained(seeded_influxdb: InfluxDBSettings, incident: str) -> None:
    page = render_report(load_report(seeded_influxdb, incident))
    assert "http" not in page
    assert "<b>hot</b>" not in page
    assert page.count("<svg") == 5
    for heading in ("Timeline", "Evidence: anomalies", "Actions", "Hardware events", "Incident changes"):
        assert f"<h2>{heading}</h2>" in page


def test_gpu_page_escapes_stored_text(seeded_influxdb: InfluxDBSettings) -> None:
    page = render_report(load_report(seeded_influxdb, GPU_INCIDENT))
    assert "&lt;b&gt;hot&lt;/b&gt; &amp; &#x27;quoted&#x27; &quot;text&quot;" in page
    assert "no spare &lt;b&gt;" in page


def test_unknown_incident_names_database(seeded_influxdb: InfluxDBSettings) -> None:
    with pytest.raises(ReportError, match=f"not found in InfluxDB database '{seeded_influxdb.bucket}'"):
        load_report(seeded_influxdb, "inc-does-not-exist")


def test_command_writes_report(seeded_influxdb: InfluxDBSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QIANLIYAN_INFLUXDB__URL", seeded_influxdb.url)
    monkeypatch.setenv("QIANLIYAN_INFLUXDB__BUCKET", seeded_influxdb.bucket)
    monkeypatch.chdir(tmp_path)
    app = typer.Typer()
    app.command()(report)
    result = CliRunner().invoke(app, [GPU_INCIDENT, "--window-minutes", "2"])
    assert result.exit_code == 0, result.output
    written = tmp_path / f"report-{GPU_INCIDENT}.html"
    assert written.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
