"""Task stability: ETTR, badput breakdown, step times, and incidents and actions per job."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.models.dashboard import Dashboard

from dashboards.board import finish
from dashboards.influxql import InfluxQLAnnotationTarget, InfluxQLTarget, matches, quote, select
from dashboards.panels import (
    FULL_WIDTH,
    HALF_WIDTH,
    annotation,
    bar_gauge_panel,
    datasource_variable,
    stat_panel,
    state_timeline_panel,
    table_panel,
    tag_variable,
    timeseries_panel,
)

UID = "qianliyan-stability"

JOB_FILTER = (matches("cluster", "cluster"), matches("job", "job"))

# Badput fields of job_accounting, each with the name its series gets.
BADPUT_FIELDS = (
    ("badput_detection_seconds", "detection"),
    ("badput_isolation_seconds", "isolation"),
    ("badput_restart_seconds", "restart"),
    ("badput_replayed_seconds", "replayed steps"),
    ("badput_checkpoint_seconds", "checkpoint stalls"),
    ("badput_slow_step_seconds", "slow steps"),
    ("badput_paused_seconds", "paused"),
)

# ETTR colors: below 0.9 a job loses more than a tenth of its time.
ETTR_STEPS = ((None, "red"), (0.8, "orange"), (0.9, "yellow"), (0.95, "green"))


def build() -> Dashboard:
    """Build the task stability board."""
    board = (
        dashboard.Dashboard("qianliyan: task stability")
        .uid(UID)
        .description("Effective training time ratio (ETTR), where the lost time went, and the incidents and actions of each job.")
        .tags(["qianliyan", "jobs"])
        .time("now-6h", "now")
        .refresh("1m")
        .with_variable(datasource_variable())
        .with_variable(tag_variable("cluster", "Cluster", "job_progress", "cluster"))
        .with_variable(tag_variable("job", "Job", "job_progress", "job", [matches("cluster", "cluster")]))
        .annotation(annotation("Incidents", "red", _incident_annotation()))
        .annotation(annotation("Actions", "blue", _action_annotation()))
    )
    board = _ettr(board)
    board = _progress(board)
    board = _incidents_and_actions(board)
    return finish(board)


def _ettr(board: dashboard.Dashboard) -> dashboard.Dashboard:
    ettr_last = select('last("ettr")', "job_accounting", JOB_FILTER, group_by=["job"], by_time=False)
    ettr_series = select('last("ettr")', "job_accounting", JOB_FILTER, group_by=["job"], fill="previous")
    badput_columns = ", ".join(f'last({quote(field)}) AS "{name}"' for field, name in BADPUT_FIELDS)
    per_job = select(badput_columns, "job_accounting", JOB_FILTER, group_by=["job"], by_time=False)
    sums = ", ".join(f'sum("{name}") AS "{name}"' for _, name in BADPUT_FIELDS)
    badput_total = f"SELECT {sums} FROM ({per_job})"
    badput_series = select(badput_columns, "job_accounting", JOB_FILTER, group_by=["job"], fill="previous")
    return (
        board.with_row(dashboard.Row("Effective training time"))
        .with_panel(stat_panel(
            "ETTR",
            "Effective training time ratio of each job since it started: productive time over elapsed time (measurement job_accounting).",
            [InfluxQLTarget("A", ettr_last, alias="$tag_job")],
            "percentunit",
            span=HALF_WIDTH,
            height=6,
            steps=ETTR_STEPS,
            decimals=1,
        ))
        .with_panel(bar_gauge_panel(
            "Badput breakdown",
            "Time each kind of loss cost the selected jobs since they started, summed over jobs (measurement job_accounting).",
            [InfluxQLTarget("A", badput_total)],
            "s",
            height=6,
            steps=((None, "orange"),),
        ))
        .with_panel(timeseries_panel(
            "ETTR over time",
            "Cumulative ETTR of each job (measurement job_accounting, ettr).",
            [InfluxQLTarget("A", ettr_series, alias="$tag_job")],
            "percentunit",
            minimum=0,
            maximum=1,
        ))
        .with_panel(timeseries_panel(
            "Badput over time",
            "Cumulative lost time of each job by kind of loss (measurement job_accounting).",
            [InfluxQLTarget("A", badput_series, alias="$tag_job $col")],
            "s",
            stacked=True,
        ))
    )


def _progress(board: dashboard.Dashboard) -> dashboard.Dashboard:
    step_time = select('mean("step_time_seconds")', "job_progress", JOB_FILTER, group_by=["job", "node"])
    throughput = (
        'SELECT sum("node_samples") FROM ('
        + select('mean("samples_per_second") AS "node_samples"', "job_progress", JOB_FILTER, group_by=["job", "node"], fill=None)
        + ') WHERE $timeFilter GROUP BY time($__interval), "job" fill(null)'
    )
    step = select('max("step")', "job_progress", JOB_FILTER, group_by=["job"], fill="previous")
    return (
        board.with_row(dashboard.Row("Progress"))
        .with_panel(timeseries_panel(
            "Step time by node",
            "Mean step time reported by each node of the job; a node far above its peers slows the whole job (measurement job_progress).",
            [InfluxQLTarget("A", step_time, alias="$tag_job $tag_node")],
            "s",
            minimum=0,
        ))
        .with_panel(timeseries_panel(
            "Training throughput",
            "Samples per second of each job: the sum over its nodes of their mean throughput (measurement job_progress).",
            [InfluxQLTarget("A", throughput, alias="$tag_job")],
            "short",
            minimum=0,
        ))
        .with_panel(timeseries_panel(
            "Training step",
            "Highest step reached by each job; flat stretches are hangs or restarts (measurement job_progress).",
            [InfluxQLTarget("A", step, alias="$tag_job")],
            "none",
            span=FULL_WIDTH,
        ))
    )


def _incidents_and_actions(board: dashboard.Dashboard) -> dashboard.Dashboard:
    open_incidents = select('max("open")', "incident", JOB_FILTER, group_by=["job"], fill="previous")
    # Count request points only, so that each action counts once and not again with its result.
    issued = (*JOB_FILTER, '"status" =~ /^(issued|dry_run)$/')
    actions = select('count("action_id")', "action", issued, group_by=["job", "kind"], fill="0")
    incident_rows = select(
        '"incident_id", "update", "status", "fault_class", "scope", "severity", "entity", "anomaly_count", "summary"',
        "incident",
        JOB_FILTER,
        by_time=False,
        tail="ORDER BY time DESC LIMIT 200",
    )
    action_rows = select(
        '"action_id", "kind", "status", "target", "incident_id", "reason", "detail", "duration_seconds"',
        "action",
        JOB_FILTER,
        by_time=False,
        tail="ORDER BY time DESC LIMIT 200",
    )
    return (
        board.with_row(dashboard.Row("Incidents and actions"))
        .with_panel(state_timeline_panel(
            "Open incidents per job",
            "Whether each job had an open incident (measurement incident, field open).",
            [InfluxQLTarget("A", open_incidents, alias="$tag_job")],
            {"1": ("incident open", "red"), "0": ("no incident", "green")},
            span=FULL_WIDTH,
            height=6,
        ))
        .with_panel(timeseries_panel(
            "Actions per job",
            "Actions issued on each job per interval, by kind (measurement action).",
            [InfluxQLTarget("A", actions, alias="$tag_job $tag_kind")],
            "short",
            span=FULL_WIDTH,
            stacked=True,
        ))
        .with_panel(table_panel(
            "Incidents",
            "State changes of the incidents of the selected jobs, newest first (measurement incident).",
            [InfluxQLTarget("A", incident_rows, result_format="table")],
        ))
        .with_panel(table_panel(
            "Actions",
            "State changes of the actions on the selected jobs, newest first (measurement action).",
            [InfluxQLTarget("A", action_rows, result_format="table")],
        ))
    )


def _incident_annotation() -> InfluxQLAnnotationTarget:
    query = select('"summary", "fault_class", "update"', "incident", JOB_FILTER, by_time=False)
    return InfluxQLAnnotationTarget(query, text_column="summary", tags_column="fault_class,update")


def _action_annotation() -> InfluxQLAnnotationTarget:
    query = select('"reason", "kind", "status"', "action", JOB_FILTER, by_time=False)
    return InfluxQLAnnotationTarget(query, text_column="reason", tags_column="kind,status")
