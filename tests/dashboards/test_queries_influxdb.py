"""Run every board query against a real InfluxDB holding one sample of every documented measurement.

The InfluxDB comes from ``scripts/services.sh up`` (InfluxDB 1.8) or from
the port in ``QIANLIYAN_INFLUXDB_PORT``. When it does not respond the tests skip, unless
``QIANLIYAN_REQUIRE_SERVICES=1`` is set: then they fail.
"""

from __future__ import annotations

import os
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from dashboards.queries import BoardQuery, board_queries
from pipeline import schemas
from pipeline.settings import InfluxDBSettings
from pipeline.sinks import influxql
from pipeline.sinks.points import to_points
from tests.dashboards.schema_doc import read_schema
from tests.dashboards.test_schema_doc import full_message

pytestmark = pytest.mark.integration

INFLUXDB_URL = f"http://127.0.0.1:{os.environ.get('QIANLIYAN_INFLUXDB_PORT', '8086')}"
SAMPLES = 6
SAMPLE_SECONDS = 10

# Tag values of the sample data, and the template variable values that select them.
TAG_VALUES = {
    "cluster": "test", "rack": "r000", "node": "r000-n00", "gpu": "0", "job": "job-1", "app_id": "qianliyan",
    "worker": "host-1:100", "detector": "zscore", "scope": "node", "signal": "DCGM_FI_DEV_GPU_TEMP",
    "severity": "critical", "fault_class": "xid_79", "kind": "cordon_node", "status": "issued", "target": "r000-n00",
}
VARIABLES = {name: TAG_VALUES[name] for name in ("cluster", "rack", "node", "gpu", "job", "app_id")}
# Measurements that the test writes through pipeline/sinks/points.py; the others come from the document.
FROM_MESSAGES = {"gpu", "cooling", "dpu", "power", "power_supply", "hardware_event", "job_progress", "generic"}


def influxdb_up() -> bool:
    """Return whether InfluxDB responds to /ping."""
    try:
        with urllib.request.urlopen(f"{INFLUXDB_URL}/ping", timeout=2):
            return True
    except (urllib.error.URLError, OSError):
        return False


def written_lines(start: datetime) -> list[str]:
    """Return line protocol of SAMPLES samples of every measurement, 10 s apart, counters rising."""
    lines: list[str] = []
    schema = read_schema()
    for index in range(SAMPLES):
        moment = start + timedelta(seconds=SAMPLE_SECONDS * index)
        for message in pipeline_messages(moment, index):
            lines.extend(point.to_line_protocol() for point in to_points(message))
        for name, measurement in schema.items():
            if name not in FROM_MESSAGES:
                lines.append(documented_line(name, measurement.tags, measurement.field_types, moment, index))
    return lines


def pipeline_messages(moment: datetime, index: int) -> list[schemas.Envelope]:
    """Return one message of each input schema at ``moment``, with every field set."""
    envelope = {"time": moment, "cluster": TAG_VALUES["cluster"]}
    counter = {"DCGM_FI_DEV_POWER_VIOLATION": 1_000_000 * index, "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL": index}
    gpu = full_message(schemas.GpuSample, gpu=0, uuid="GPU-0", **counter)
    port = full_message(schemas.DpuPort, port=0, rx_bytes_phy=10_000 * index)
    supply = full_message(schemas.PowerSupply, psu="psu0")
    node = {"rack": TAG_VALUES["rack"], "node": TAG_VALUES["node"]}
    return [
        full_message(schemas.GpuTelemetry, **envelope, **node, gpus=[gpu.model_dump()]),
        full_message(schemas.CoolingTelemetry, **envelope, rack=TAG_VALUES["rack"], cdu="cdu0"),
        full_message(schemas.DpuTelemetry, **envelope, **node, dpu="dpu0", ports=[port.model_dump()]),
        full_message(schemas.PowerTelemetry, **envelope, rack=TAG_VALUES["rack"], pdu="pdu0", power_supplies=[supply.model_dump()]),
        full_message(schemas.HardwareEvent, **envelope, **node, kind="xid", severity="critical", gpu=0, code=79),
        full_message(schemas.JobProgress, **envelope, job=TAG_VALUES["job"], node=TAG_VALUES["node"], rank=0, step=index + 1, step_time_seconds=1.0),
    ]


def documented_line(name: str, tags: set[str], field_types: dict[str, str], moment: datetime, index: int) -> str:
    """Return one line of a measurement from its documented tags and field types, numbers rising with ``index``."""
    tag_text = ",".join(f"{tag}={TAG_VALUES[tag]}" for tag in sorted(tags))
    values = []
    for field, kind in sorted(field_types.items()):
        if kind == "string":
            values.append(f'{field}="{field}-{index}"')
        elif kind == "integer":
            values.append(f"{field}={index + 1}i")
        else:
            values.append(f"{field}={0.5 + index}")
    nanoseconds = int(moment.timestamp()) * 1_000_000_000
    return f"{name},{tag_text} {','.join(values)} {nanoseconds}"


def write_lines(database: str, lines: list[str]) -> None:
    """Write line protocol to one InfluxDB 1.x database."""
    request = urllib.request.Request(
        f"{INFLUXDB_URL}/write?db={database}&precision=ns", data="\n".join(lines).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 204


@pytest.fixture(scope="module")
def sample_database() -> Iterator[InfluxDBSettings]:
    """Create a database with sample data of every measurement; drop it afterwards."""
    if not influxdb_up():
        reason = f"InfluxDB is not answering at {INFLUXDB_URL}/ping"
        if os.environ.get("QIANLIYAN_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{reason}, and QIANLIYAN_REQUIRE_SERVICES=1 forbids skipping; run 'scripts/services.sh up'")
        pytest.skip(f"{reason}; run 'scripts/services.sh up' to start it")
    settings = InfluxDBSettings(url=INFLUXDB_URL, bucket=f"test_dashboards_{uuid.uuid4().hex[:10]}")
    influxql.query(settings, f'CREATE DATABASE "{settings.bucket}"', method="POST")
    try:
        start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=5)
        write_lines(settings.bucket, written_lines(start))
        yield settings
    finally:
        influxql.query(settings, f'DROP DATABASE "{settings.bucket}"', method="POST")


QUERIES = board_queries(VARIABLES, time_filter="time >= now() - 1h", interval=f"{SAMPLE_SECONDS}s")


@pytest.mark.parametrize("query", QUERIES, ids=lambda query: f"{query.board_uid}:{query.kind}:{query.title}:{query.ref_id}")
def test_board_query_returns_data(query: BoardQuery, sample_database: InfluxDBSettings) -> None:
    started = time.monotonic()
    series = influxql.query(sample_database, query.query)
    assert series, f"no data for: {query.query}"
    assert time.monotonic() - started < 10
