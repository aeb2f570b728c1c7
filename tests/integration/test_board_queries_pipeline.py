"""Every board query after an emulated run with faults through the real pipeline.

The emulator publishes a CDU pump failure and a GPU that falls off the bus, the worker
detects, correlates and acts, the emulated controller applies the actions, and then each
panel query of every board runs against what the worker wrote. A query that returns no
series reads a measurement, tag or field that the pipeline does not write.
"""

from __future__ import annotations

import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from dashboards.queries import board_queries
from emulators.faults.scenario import load_scenario
from emulators.run import run_emulation
from emulators.topology import load_topology
from pipeline.settings import Settings
from pipeline.sinks import influxql
from tests.integration.conftest import PROJECT_ROOT, wait_for

pytestmark = pytest.mark.integration

START = datetime(2026, 1, 5, tzinfo=timezone.utc)
SAMPLES = 240
TOPOLOGY = PROJECT_ROOT / "emulators" / "topologies" / "small.yaml"
# Panels whose data needs something this run does not produce.
NOT_IN_THIS_RUN = {
    "generic": "replayed data sets only",
}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The shared test settings, with the topology file that names switches and spares."""
    settings.topology_file = TOPOLOGY
    return settings


def test_every_panel_returns_data(settings: Settings, worker: subprocess.Popen[bytes], tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    scenario_path = tmp_path / "faults.yaml"
    scenario_path.write_text(yaml.safe_dump({"faults": [
        {"kind": "cdu_pump_failure", "rack": "r000", "start": 60, "duration": 120},
        {"kind": "gpu_fell_off_bus", "node": "r001-n01", "gpu": 3, "start": 90},
    ]}))

    run_emulation(
        settings.kafka, load_topology(TOPOLOGY), seed=11, samples=SAMPLES, start=START,
        scenario=load_scenario(scenario_path), controller=True, speed=10.0,
    )
    wait_for(
        lambda: influxql.count(settings.influxdb, "action", "action_id", "\"status\" = 'ok'") > 0,
        timeout_seconds=120, what="an applied action", worker=worker, log=log,
    )
    wait_for(
        lambda: influxql.count(settings.influxdb, "pipeline_stats", "messages_processed") > 0,
        timeout_seconds=60, what="pipeline_stats", worker=worker, log=log,
    )

    # The pump failure is one rack-scope incident; the GPUs it heats open none of their own.
    # The incident agent writes on its own schedule, so wait for its point too.
    def opened_on_rack() -> list[tuple[str, str, int]]:
        series = influxql.query(
            settings.influxdb, 'SELECT "incident_id" FROM "incident" WHERE "rack" = \'r000\' AND "update" = \'opened\' GROUP BY "scope", "fault_class"'
        )
        return [(item["tags"]["scope"], item["tags"]["fault_class"], len(item["values"])) for item in series]

    wait_for(lambda: bool(opened_on_rack()), timeout_seconds=60, what="the rack incident", worker=worker, log=log)
    assert opened_on_rack() == [("rack", "cdu_pump_failure", 1)]

    end = START + timedelta(seconds=SAMPLES + 60)
    time_filter = f"time >= '{START.isoformat().replace('+00:00', 'Z')}' AND time <= '{end.isoformat().replace('+00:00', 'Z')}'"
    values = {"cluster": "default", "rack": "r001", "node": "r001-n01", "gpu": "3", "job": "job-0001", "app_id": settings.app_id}
    # The worker stamps pipeline_stats with the wall clock, everything else with event time.
    wall_queries = board_queries(values, time_filter="time >= now() - 15m")
    empty = []
    checked = 0
    for index, query in enumerate(board_queries(values, time_filter=time_filter)):
        if query.kind != "panel" or any(measurement in query.query for measurement in NOT_IN_THIS_RUN):
            continue
        if '"pipeline_stats"' in query.query:
            query = wall_queries[index]
        checked += 1
        if not influxql.query(settings.influxdb, query.query):
            empty.append(f"{query.board_uid} / {query.title} / {query.ref_id}: {query.query}")

    assert checked > 30
    assert empty == [], "panels without data:\n" + "\n".join(empty)
