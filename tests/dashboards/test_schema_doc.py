"""Tests that the boards query only what docs/influxdb-schema.md lists, and that the document matches the writer."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from pydantic import BaseModel

from dashboards.queries import BoardQuery, board_queries
from pipeline import schemas
from pipeline.sinks.points import to_points
from tests.dashboards.schema_doc import Measurement, read_schema, references

SCHEMA = read_schema()
QUERIES = board_queries()

# Measurements that pipeline/sinks/points.py writes from the input topics.
FROM_MESSAGES = {"gpu", "cooling", "dpu", "power", "power_supply", "hardware_event", "job_progress", "generic"}
# Measurements that the worker stores as rollups, with the extra tag "resolution".
ROLLED_UP = {"gpu", "cooling", "dpu", "power", "power_supply", "generic"}
OTHER_WRITERS = {"anomaly", "pipeline_stats", "incident", "action", "job_accounting"}
PLANNED: set[str] = set()


def query_id(query: BoardQuery) -> str:
    """Return a readable test id of one board query."""
    return f"{query.board_uid}:{query.kind}:{query.title}:{query.ref_id}"


def test_schema_lists_every_measurement() -> None:
    assert set(SCHEMA) == FROM_MESSAGES | OTHER_WRITERS | PLANNED


def test_schema_marks_planned() -> None:
    assert {name for name, measurement in SCHEMA.items() if measurement.planned} == PLANNED


@pytest.mark.parametrize("name", sorted(FROM_MESSAGES | OTHER_WRITERS | PLANNED))
def test_schema_measurement_has_tags(name: str) -> None:
    assert SCHEMA[name].tags


@pytest.mark.parametrize("query", QUERIES, ids=query_id)
def test_query_measurements_documented(query: BoardQuery) -> None:
    found = references(query.template)
    assert found.measurements
    assert found.measurements <= set(SCHEMA)


@pytest.mark.parametrize("query", QUERIES, ids=query_id)
def test_query_identifiers_documented(query: BoardQuery) -> None:
    found = references(query.template)
    known: set[str] = set()
    for name in found.measurements:
        known |= SCHEMA[name].tags | SCHEMA[name].fields
    assert found.identifiers - known == set()


@pytest.mark.parametrize("query", QUERIES, ids=query_id)
def test_query_functions_take_fields(query: BoardQuery) -> None:
    found = references(query.template)
    fields: set[str] = set()
    for name in found.measurements:
        fields |= SCHEMA[name].fields
    assert found.function_arguments - fields == set()


def test_boards_use_every_measurement() -> None:
    used = set().union(*(references(query.template).measurements for query in QUERIES))
    assert set(SCHEMA) - used == {"generic"}


def full_message(model: type[BaseModel], **fields: Any) -> Any:
    """Return a message of ``model`` with every optional field set, so every field reaches the point."""
    envelope = {"schema_version": 1, "time": datetime(2026, 1, 1, tzinfo=timezone.utc), "cluster": "c"}
    values: dict[str, Any] = {name: value for name, value in envelope.items() if name in model.model_fields}
    values.update(fields)
    for name, info in model.model_fields.items():
        if name in values:
            continue
        text = repr(info.annotation)
        if "Literal['OK'" in text:
            values[name] = "OK"
        elif "Literal['up'" in text:
            values[name] = "up"
        elif "int" in text:
            values[name] = 1
        elif "float" in text:
            values[name] = 1.0
        elif "str" in text:
            values[name] = "x"
    return model.model_validate(values)


def written_points() -> dict[str, tuple[set[str], set[str]]]:
    """Return the tags and fields that the writer produces, by measurement, for full messages."""
    gpu = full_message(schemas.GpuSample, gpu=0, uuid="GPU-0")
    port = full_message(schemas.DpuPort, port=0)
    supply = full_message(schemas.PowerSupply, psu="psu0")
    messages = [
        full_message(schemas.GpuTelemetry, rack="r", node="n", gpus=[gpu.model_dump()]),
        full_message(schemas.CoolingTelemetry, rack="r", cdu="cdu"),
        full_message(schemas.DpuTelemetry, rack="r", node="n", dpu="d", ports=[port.model_dump()]),
        full_message(schemas.PowerTelemetry, rack="r", pdu="p", power_supplies=[supply.model_dump()]),
        full_message(schemas.HardwareEvent, kind="xid", severity="critical", rack="r", node="n", gpu=0, code=79),
        full_message(schemas.JobProgress, job="j", node="n", rank=0, step=1, step_time_seconds=1.0),
    ]
    written: dict[str, tuple[set[str], set[str]]] = {}
    for message in messages:
        for point in to_points(message):
            name, tags, fields = parse_line(point.to_line_protocol())
            known_tags, known_fields = written.setdefault(name, (set(), set()))
            known_tags.update(tags)
            known_fields.update(fields)
    return written


def parse_line(line: str) -> tuple[str, set[str], set[str]]:
    """Return the measurement, tag keys and field keys of one line of line protocol without escaped spaces."""
    series, field_text, _ = line.split(" ")
    name, *tag_pairs = series.split(",")
    tags = {pair.split("=", 1)[0] for pair in tag_pairs}
    fields = {pair.split("=", 1)[0] for pair in field_text.split(",")}
    return name, tags, fields


WRITTEN = written_points()


@pytest.mark.parametrize("name", sorted(FROM_MESSAGES - {"generic"}))
def test_schema_fields_match_writer(name: str) -> None:
    assert SCHEMA[name].fields == WRITTEN[name][1]


@pytest.mark.parametrize("name", sorted(FROM_MESSAGES - {"generic"}))
def test_schema_tags_match_writer(name: str) -> None:
    rollup_tags = {"resolution"} if name in ROLLED_UP else set()
    assert SCHEMA[name].tags == WRITTEN[name][0] | rollup_tags


def test_references_skip_aliases() -> None:
    found = references('SELECT sum("v") FROM (SELECT mean("x") AS "v" FROM "m" WHERE "t" =~ /^$t$/) WHERE $timeFilter')
    assert found.measurements == {"m"}
    assert found.identifiers == {"x", "t"}
    assert found.function_arguments == {"x"}


def test_read_schema_parses_sections(tmp_path: Any) -> None:
    doc = tmp_path / "schema.md"
    doc.write_text("# x\n\n## Measurements\n\n### m\n\n**Planned.** text\n\nTags: `a`, `b`\n\n| field | type |\n| --- | --- |\n| `f` | float |\n")
    parsed = read_schema(doc)
    assert parsed == {"m": Measurement("m", planned=True, tags={"a", "b"}, fields={"f"})}


def test_schema_matches_anomaly_writer() -> None:
    from detectors.anomaly import Anomaly
    from pipeline.anomalies import anomaly_point

    anomaly = Anomaly(
        time=datetime(2026, 1, 1, tzinfo=timezone.utc), cluster="c", entity="r000-n00", entity_kind="gpu", gpu=3, rack="r000",
        detector="gpu_temperature", score=4.2, threshold=3.0, severity="warning",
        evidence={"field": "DCGM_FI_DEV_GPU_TEMP", "value": 91.0, "job": "job-1"}, fault_class="thermal", message="hot",
    )
    point = anomaly_point(anomaly)
    assert point.measurement == "anomaly"
    assert set(point.tags) == SCHEMA["anomaly"].tags
    assert set(point.fields) == SCHEMA["anomaly"].fields


def test_schema_matches_pipeline_stats_writer() -> None:
    from pipeline.metrics import PipelineMetrics

    point = PipelineMetrics().to_point("qianliyan")
    assert point.measurement == "pipeline_stats"
    assert set(point.tags) == SCHEMA["pipeline_stats"].tags
    assert set(point.fields) <= SCHEMA["pipeline_stats"].fields
    # The document lists detection_latency_seconds before the worker writes it.
    assert SCHEMA["pipeline_stats"].fields - set(point.fields) <= {"detection_latency_seconds"}
