"""Pipeline performance: throughput, consumer lag, dead-letter counts, write, store and detection latency."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.models.dashboard import Dashboard

from dashboards.board import finish
from dashboards.influxql import INTERVAL, TIME_FILTER, InfluxQLTarget, counter_rate, matches, select
from dashboards.panels import (
    FULL_WIDTH,
    THIRD_WIDTH,
    datasource_variable,
    stat_panel,
    tag_variable,
    timeseries_panel,
)

UID = "qianliyan-pipeline"

WORKER_FILTER = (matches("app_id", "app_id"),)

# Detection latency colors: the pipeline aims to decide within seconds of a sample.
LATENCY_STEPS = ((None, "green"), (5.0, "yellow"), (30.0, "red"))
LAG_STEPS = ((None, "green"), (10_000.0, "yellow"), (100_000.0, "red"))


def build() -> Dashboard:
    """Build the pipeline performance board."""
    board = (
        dashboard.Dashboard("qianliyan: pipeline performance")
        .uid(UID)
        .description("Throughput, consumer lag, dead-lettered messages, and InfluxDB write, store and detection latency of the workers.")
        .tags(["qianliyan", "pipeline"])
        .time("now-1h", "now")
        .refresh("30s")
        .with_variable(datasource_variable())
        .with_variable(tag_variable("app_id", "Application", "pipeline_stats", "app_id"))
    )
    board = _summary(board)
    board = _flow(board)
    board = _latency(board)
    board = _detections(board)
    return finish(board)


def _over_workers(aggregate: str, inner_expression: str) -> str:
    """Return a query that combines a per-worker expression over the workers with ``aggregate`` (sum, max)."""
    inner = select(f'{inner_expression} AS "value"', "pipeline_stats", WORKER_FILTER, group_by=["worker"], fill=None)
    return f'SELECT {aggregate}("value") FROM ({inner}) WHERE {TIME_FILTER} GROUP BY time({INTERVAL}) fill(null)'


def _range_total(field: str) -> str:
    """Return a query of a counter's increase over the time range, summed over workers."""
    inner = select(f'non_negative_difference(max("{field}")) AS "increase"', "pipeline_stats", WORKER_FILTER, group_by=["worker"], fill=None)
    return f'SELECT sum("increase") FROM ({inner})'


def _summary(board: dashboard.Dashboard) -> dashboard.Dashboard:
    return (
        board.with_row(dashboard.Row("Summary"))
        .with_panel(stat_panel(
            "Throughput",
            "Kafka messages per second handled by all workers (pipeline_stats, messages_processed).",
            [InfluxQLTarget("A", _over_workers("sum", counter_rate("messages_processed")))],
            "cps",
        ))
        .with_panel(stat_panel(
            "Consumer lag",
            "Largest partition lag over all workers (pipeline_stats, consumer_lag).",
            [InfluxQLTarget("A", _over_workers("max", 'last("consumer_lag")'))],
            "short",
            steps=LAG_STEPS,
        ))
        .with_panel(stat_panel(
            "Dead-lettered in range",
            "Messages sent to the dead-letter topic during the time range (pipeline_stats, messages_deadlettered).",
            [InfluxQLTarget("A", _range_total("messages_deadlettered"))],
            "short",
            steps=((None, "green"), (1.0, "orange")),
        ))
        .with_panel(stat_panel(
            "Detection latency",
            "Mean time from a sample's event time to the anomaly it caused (pipeline_stats, detection_latency_seconds).",
            [InfluxQLTarget("A", select('last("detection_latency_seconds")', "pipeline_stats", WORKER_FILTER))],
            "s",
            steps=LATENCY_STEPS,
        ))
    )


def _flow(board: dashboard.Dashboard) -> dashboard.Dashboard:
    def per_worker(expression: str) -> str:
        return select(expression, "pipeline_stats", WORKER_FILTER, group_by=["worker"])

    return (
        board.with_row(dashboard.Row("Throughput and lag"))
        .with_panel(timeseries_panel(
            "Throughput by worker",
            "Kafka messages per second handled by each worker; a worker near zero has lost its partitions or stalls.",
            [InfluxQLTarget("A", per_worker(counter_rate("messages_processed")), alias="$tag_worker")],
            "cps",
            minimum=0,
            stacked=True,
        ))
        .with_panel(timeseries_panel(
            "Points written",
            "Points per second that InfluxDB accepted from all workers (pipeline_stats, points_written).",
            [InfluxQLTarget("A", _over_workers("sum", counter_rate("points_written")), alias="points")],
            "cps",
            minimum=0,
        ))
        .with_panel(timeseries_panel(
            "Consumer lag by worker",
            "Largest partition lag of each worker: high watermark minus the last handled offset (pipeline_stats, consumer_lag).",
            [InfluxQLTarget("A", per_worker('last("consumer_lag")'), alias="$tag_worker")],
            "short",
            minimum=0,
        ))
        .with_panel(timeseries_panel(
            "Dead-lettered messages by worker",
            "Messages per second that each worker sent to the dead-letter topic (pipeline_stats, messages_deadlettered).",
            [InfluxQLTarget("A", per_worker(counter_rate("messages_deadlettered")), alias="$tag_worker")],
            "cps",
            minimum=0,
        ))
    )


def _latency(board: dashboard.Dashboard) -> dashboard.Dashboard:
    def latency(field: str) -> str:
        return select(f'last("{field}")', "pipeline_stats", WORKER_FILTER, group_by=["worker"])

    return (
        board.with_row(dashboard.Row("Latency"))
        .with_panel(timeseries_panel(
            "InfluxDB write latency by worker",
            "Mean duration of successful InfluxDB writes of each worker since it started (pipeline_stats, write_latency_seconds).",
            [InfluxQLTarget("A", latency("write_latency_seconds"), alias="$tag_worker")],
            "s",
            span=THIRD_WIDTH,
            minimum=0,
        ))
        .with_panel(timeseries_panel(
            "Store latency by worker",
            "Mean time from a message's event time to its points being stored, per worker since it started (pipeline_stats, store_latency_seconds).",
            [InfluxQLTarget("A", latency("store_latency_seconds"), alias="$tag_worker")],
            "s",
            span=THIRD_WIDTH,
            minimum=0,
        ))
        .with_panel(timeseries_panel(
            "Detection latency by worker",
            "Mean time from a sample's event time to its anomaly, per worker since it started (pipeline_stats, detection_latency_seconds).",
            [InfluxQLTarget("A", latency("detection_latency_seconds"), alias="$tag_worker")],
            "s",
            span=THIRD_WIDTH,
            minimum=0,
        ))
    )


def _detections(board: dashboard.Dashboard) -> dashboard.Dashboard:
    anomalies = select('count("score")', "anomaly", (), group_by=["detector"], fill="0")
    return board.with_row(dashboard.Row("Detector output")).with_panel(timeseries_panel(
        "Anomalies by detector",
        "Anomalies reported per interval by each detector (measurement anomaly).",
        [InfluxQLTarget("A", anomalies, alias="$tag_detector")],
        "short",
        span=FULL_WIDTH,
        minimum=0,
        stacked=True,
    ))
