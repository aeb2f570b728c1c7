"""Cluster resource view: GPU heat, power and utilisation by rack and node, cooling loops, rack power against cap."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.models.dashboard import Dashboard

from dashboards.board import finish
from dashboards.influxql import InfluxQLTarget, matches, quote, select
from dashboards.panels import (
    FULL_WIDTH,
    THIRD_WIDTH,
    datasource_variable,
    health_states,
    heatmap_panel,
    state_timeline_panel,
    tag_variable,
    timeseries_panel,
)

UID = "qianliyan-cluster"

RACK_FILTER = (matches("cluster", "cluster"), matches("rack", "rack"))

# DCGM field, panel name, unit (Grafana unit id) and heat color scheme of each GPU heatmap.
GPU_HEAT = (
    ("DCGM_FI_DEV_GPU_TEMP", "GPU temperature", "celsius", "Oranges"),
    ("DCGM_FI_DEV_POWER_USAGE", "GPU power", "watt", "Reds"),
    ("DCGM_FI_DEV_GPU_UTIL", "GPU utilisation", "percent", "Blues"),
)


def build() -> Dashboard:
    """Build the cluster resource board."""
    board = (
        dashboard.Dashboard("qianliyan: cluster resources")
        .uid(UID)
        .description("Heat, power and utilisation of every rack and node, the cooling loops, and rack power against its cap.")
        .tags(["qianliyan", "cluster"])
        .time("now-1h", "now")
        .refresh("30s")
        .with_variable(datasource_variable())
        .with_variable(tag_variable("cluster", "Cluster", "gpu", "cluster"))
        .with_variable(tag_variable("rack", "Rack", "gpu", "rack", [matches("cluster", "cluster")]))
    )
    board = _gpu_heatmaps(board, "rack")
    board = _gpu_heatmaps(board, "node")
    board = _cooling(board)
    board = _power(board)
    return finish(board)


def _gpu_heatmaps(board: dashboard.Dashboard, level: str) -> dashboard.Dashboard:
    board = board.with_row(dashboard.Row(f"GPUs by {level}"))
    for field, name, unit, scheme in GPU_HEAT:
        query = select(f"mean({quote(field)})", "gpu", RACK_FILTER, group_by=[level])
        board = board.with_panel(
            heatmap_panel(
                f"{name} by {level}",
                f"Mean {field} over the GPUs of each {level}, per interval (measurement gpu).",
                InfluxQLTarget("A", query, alias=f"$tag_{level}"),
                unit,
                span=THIRD_WIDTH,
                height=8 if level == "rack" else 12,
                scheme=scheme,
            )
        )
    return board


def _cooling(board: dashboard.Dashboard) -> dashboard.Dashboard:
    temperatures = select(
        'mean("SupplyTemperatureCelsius") AS "supply", mean("ReturnTemperatureCelsius") AS "return"',
        "cooling",
        RACK_FILTER,
        group_by=["rack", "cdu"],
    )
    flow = select('mean("FlowLitersPerMinute")', "cooling", RACK_FILTER, group_by=["rack", "cdu"])
    heat = select('mean("HeatRemovedkW")', "cooling", RACK_FILTER, group_by=["rack", "cdu"])
    pump_speed = select('mean("PumpSpeedPercent")', "cooling", RACK_FILTER, group_by=["rack", "cdu"])
    pump_health = select('last("PumpHealth")', "cooling", RACK_FILTER, group_by=["rack", "cdu"], fill="previous")
    leak = select('last("LeakDetectorState")', "cooling", RACK_FILTER, group_by=["rack", "cdu"], fill="previous")
    return (
        board.with_row(dashboard.Row("Cooling loops"))
        .with_panel(timeseries_panel(
            "Coolant supply and return temperature",
            "Mean supply and return temperature of each CDU (measurement cooling).",
            [InfluxQLTarget("A", temperatures, alias="$tag_cdu $col")],
            "celsius",
        ))
        .with_panel(timeseries_panel(
            "Coolant flow",
            "Mean coolant flow of each CDU (measurement cooling, FlowLitersPerMinute).",
            [InfluxQLTarget("A", flow, alias="$tag_cdu")],
            "flowlpm",
            minimum=0,
        ))
        .with_panel(timeseries_panel(
            "Heat removed",
            "Mean heat removed by each CDU's loop (measurement cooling, HeatRemovedkW).",
            [InfluxQLTarget("A", heat, alias="$tag_cdu")],
            "kwatt",
            minimum=0,
        ))
        .with_panel(timeseries_panel(
            "Pump speed",
            "Mean pump speed of each CDU (measurement cooling, PumpSpeedPercent).",
            [InfluxQLTarget("A", pump_speed, alias="$tag_cdu")],
            "percent",
            minimum=0,
            maximum=100,
        ))
        .with_panel(state_timeline_panel(
            "Pump health and leak detectors",
            "Redfish pump health and leak detector state of each CDU (measurement cooling).",
            [
                InfluxQLTarget("A", pump_health, alias="$tag_cdu pump"),
                InfluxQLTarget("B", leak, alias="$tag_cdu leak detector"),
            ],
            health_states(),
            span=FULL_WIDTH,
        ))
    )


def _power(board: dashboard.Dashboard) -> dashboard.Dashboard:
    rack_power = select(
        'mean("PowerWatts") AS "power", mean("PowerLimitWatts") AS "cap"', "power", RACK_FILTER, group_by=["rack"]
    )
    share_of_cap = select('mean("PowerWatts") / mean("PowerLimitWatts") AS "share"', "power", RACK_FILTER, group_by=["rack"])
    cluster_power = (
        'SELECT sum("rack_power") FROM ('
        + select('mean("PowerWatts") AS "rack_power"', "power", RACK_FILTER, group_by=["rack"], fill=None)
        + ") WHERE $timeFilter GROUP BY time($__interval) fill(null)"
    )
    return (
        board.with_row(dashboard.Row("Power"))
        .with_panel(timeseries_panel(
            "Rack power against cap",
            "Mean power of each rack's PDU and the rack's power cap (measurement power). A rack without a cap has no cap line.",
            [InfluxQLTarget("A", rack_power, alias="$tag_rack $col")],
            "watt",
            minimum=0,
        ))
        .with_panel(timeseries_panel(
            "Rack power as share of cap",
            "PowerWatts divided by PowerLimitWatts per rack; 1.0 means the rack draws its full cap.",
            [InfluxQLTarget("A", share_of_cap, alias="$tag_rack")],
            "percentunit",
            minimum=0,
        ))
        .with_panel(timeseries_panel(
            "Cluster power",
            "Sum over the selected racks of each rack's mean PDU power (measurement power).",
            [InfluxQLTarget("A", cluster_power, alias="cluster power")],
            "watt",
            span=FULL_WIDTH,
            minimum=0,
        ))
    )
