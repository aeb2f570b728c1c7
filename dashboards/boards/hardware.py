"""Hardware drill-down of one node: GPUs, cooling, DPU and network, power, and its events."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.models.dashboard import Dashboard

from dashboards.board import finish
from dashboards.influxql import InfluxQLTarget, counter_rate, matches, quote, select
from dashboards.panels import (
    FULL_WIDTH,
    THIRD_WIDTH,
    datasource_variable,
    health_states,
    state_timeline_panel,
    table_panel,
    tag_variable,
    timeseries_panel,
)

UID = "qianliyan-hardware"

RACK_FILTER = (matches("cluster", "cluster"), matches("rack", "rack"))
NODE_FILTER = (*RACK_FILTER, matches("node", "node"))
GPU_FILTER = (*NODE_FILTER, matches("gpu", "gpu"))

# Nanoseconds of throttling per second, as a fraction of the time.
NS_PER_SECOND_TO_RATIO = 1e-9
# Microseconds of PFC pause per second, as a fraction of the time.
US_PER_SECOND_TO_RATIO = 1e-6
BITS_PER_BYTE = 8


def build() -> Dashboard:
    """Build the hardware drill-down board."""
    board = (
        dashboard.Dashboard("qianliyan: hardware drill-down")
        .uid(UID)
        .description("One node in detail: its GPUs, its rack's cooling loop, its DPU ports, its rack's power, and its events.")
        .tags(["qianliyan", "hardware"])
        .time("now-1h", "now")
        .refresh("30s")
        .with_variable(datasource_variable())
        .with_variable(tag_variable("cluster", "Cluster", "gpu", "cluster"))
        .with_variable(tag_variable("rack", "Rack", "gpu", "rack", [matches("cluster", "cluster")], multi=False))
        .with_variable(tag_variable("node", "Node", "gpu", "node", list(RACK_FILTER), multi=False))
        .with_variable(tag_variable("gpu", "GPU", "gpu", "gpu", list(NODE_FILTER), numeric=True))
    )
    board = _gpus(board)
    board = _gpu_errors(board)
    board = _cooling(board)
    board = _network(board)
    board = _power(board)
    board = _events(board)
    return finish(board)


def _gpu_mean(fields: dict[str, str]) -> str:
    columns = ", ".join(f"mean({quote(field)}) AS {quote(name)}" for field, name in fields.items())
    return select(columns, "gpu", GPU_FILTER, group_by=["gpu"])


def _gpus(board: dashboard.Dashboard) -> dashboard.Dashboard:
    temperature = _gpu_mean({"DCGM_FI_DEV_GPU_TEMP": "gpu", "DCGM_FI_DEV_MEMORY_TEMP": "memory"})
    power = _gpu_mean({"DCGM_FI_DEV_POWER_USAGE": "power", "DCGM_FI_DEV_ENFORCED_POWER_LIMIT": "limit"})
    utilisation = _gpu_mean({"DCGM_FI_DEV_GPU_UTIL": "gpu", "DCGM_FI_DEV_MEM_COPY_UTIL": "memory copy"})
    activity = _gpu_mean({"DCGM_FI_PROF_GR_ENGINE_ACTIVE": "graphics engine", "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE": "tensor pipes"})
    clocks = _gpu_mean({"DCGM_FI_DEV_SM_CLOCK": "SM", "DCGM_FI_DEV_MEM_CLOCK": "memory"})
    memory = _gpu_mean({"DCGM_FI_DEV_FB_USED": "used", "DCGM_FI_DEV_FB_FREE": "free"})
    throttling = select(
        f'{counter_rate("DCGM_FI_DEV_POWER_VIOLATION", NS_PER_SECOND_TO_RATIO)} AS "power", '
        f'{counter_rate("DCGM_FI_DEV_THERMAL_VIOLATION", NS_PER_SECOND_TO_RATIO)} AS "thermal"',
        "gpu",
        GPU_FILTER,
        group_by=["gpu"],
    )
    return (
        board.with_row(dashboard.Row("GPUs"))
        .with_panel(timeseries_panel(
            "GPU and memory temperature",
            "Mean DCGM_FI_DEV_GPU_TEMP and DCGM_FI_DEV_MEMORY_TEMP of each selected GPU (measurement gpu).",
            [InfluxQLTarget("A", temperature, alias="GPU $tag_gpu $col")],
            "celsius",
            span=THIRD_WIDTH,
        ))
        .with_panel(timeseries_panel(
            "GPU power and limit",
            "Mean power draw and enforced power limit of each selected GPU (measurement gpu).",
            [InfluxQLTarget("A", power, alias="GPU $tag_gpu $col")],
            "watt",
            span=THIRD_WIDTH,
            minimum=0,
        ))
        .with_panel(timeseries_panel(
            "GPU utilisation",
            "Mean GPU and memory copy utilisation (measurement gpu).",
            [InfluxQLTarget("A", utilisation, alias="GPU $tag_gpu $col")],
            "percent",
            span=THIRD_WIDTH,
            minimum=0,
            maximum=100,
        ))
        .with_panel(timeseries_panel(
            "Engine activity",
            "Share of time the graphics engine and the tensor pipes are active (measurement gpu, DCGM profiling fields).",
            [InfluxQLTarget("A", activity, alias="GPU $tag_gpu $col")],
            "percentunit",
            span=THIRD_WIDTH,
            minimum=0,
            maximum=1,
        ))
        .with_panel(timeseries_panel(
            "Clocks",
            "Mean SM and memory clocks (measurement gpu).",
            [InfluxQLTarget("A", clocks, alias="GPU $tag_gpu $col")],
            "rotmhz",
            span=THIRD_WIDTH,
        ))
        .with_panel(timeseries_panel(
            "Framebuffer memory",
            "Mean framebuffer memory used and free (measurement gpu).",
            [InfluxQLTarget("A", memory, alias="GPU $tag_gpu $col")],
            "mbytes",
            span=THIRD_WIDTH,
            minimum=0,
        ))
        .with_panel(timeseries_panel(
            "Throttling",
            "Share of time each GPU was throttled by power or temperature, from the violation counters (ns per s).",
            [InfluxQLTarget("A", throttling, alias="GPU $tag_gpu $col")],
            "percentunit",
            span=FULL_WIDTH,
            minimum=0,
        ))
    )


def _gpu_errors(board: dashboard.Dashboard) -> dashboard.Dashboard:
    ecc = select(
        'max("DCGM_FI_DEV_ECC_SBE_VOL_TOTAL") AS "single-bit", max("DCGM_FI_DEV_ECC_DBE_VOL_TOTAL") AS "double-bit", '
        'max("DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS") AS "remapped correctable", '
        'max("DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS") AS "remapped uncorrectable"',
        "gpu",
        GPU_FILTER,
        group_by=["gpu"],
    )
    links = select(
        f'{counter_rate("DCGM_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL")} AS "NVLink CRC", '
        f'{counter_rate("DCGM_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL")} AS "NVLink replay", '
        f'{counter_rate("DCGM_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL")} AS "NVLink recovery", '
        f'{counter_rate("DCGM_FI_DEV_PCIE_REPLAY_COUNTER")} AS "PCIe replay"',
        "gpu",
        GPU_FILTER,
        group_by=["gpu"],
    )
    xid = select('max("DCGM_FI_DEV_XID_ERRORS")', "gpu", GPU_FILTER, group_by=["gpu"], fill="previous")
    return (
        board.with_row(dashboard.Row("GPU errors"))
        .with_panel(timeseries_panel(
            "ECC errors and remapped rows",
            "Volatile ECC error counts and remapped rows of each selected GPU (measurement gpu).",
            [InfluxQLTarget("A", ecc, alias="GPU $tag_gpu $col")],
            "short",
            span=THIRD_WIDTH,
        ))
        .with_panel(timeseries_panel(
            "NVLink and PCIe errors",
            "Error rates from the NVLink and PCIe replay counters (measurement gpu).",
            [InfluxQLTarget("A", links, alias="GPU $tag_gpu $col")],
            "cps",
            span=THIRD_WIDTH,
            minimum=0,
        ))
        .with_panel(timeseries_panel(
            "Last Xid",
            "Code of the last Xid error each GPU reported, 0 for none (measurement gpu, DCGM_FI_DEV_XID_ERRORS).",
            [InfluxQLTarget("A", xid, alias="GPU $tag_gpu")],
            "none",
            span=THIRD_WIDTH,
        ))
    )


def _cooling(board: dashboard.Dashboard) -> dashboard.Dashboard:
    temperatures = select(
        'mean("SupplyTemperatureCelsius") AS "supply", mean("ReturnTemperatureCelsius") AS "return"',
        "cooling",
        RACK_FILTER,
        group_by=["cdu"],
    )
    flow_and_pressure = select(
        'mean("FlowLitersPerMinute") AS "flow", mean("SupplyPressurekPa") AS "supply pressure", mean("ReturnPressurekPa") AS "return pressure"',
        "cooling",
        RACK_FILTER,
        group_by=["cdu"],
    )
    health = select(
        'last("PumpHealth") AS "pump", last("LeakDetectorState") AS "leak detector"',
        "cooling",
        RACK_FILTER,
        group_by=["cdu"],
        fill="previous",
    )
    return (
        board.with_row(dashboard.Row("Cooling loop of the rack"))
        .with_panel(timeseries_panel(
            "Coolant temperature",
            "Supply and return temperature of the rack's CDU (measurement cooling).",
            [InfluxQLTarget("A", temperatures, alias="$tag_cdu $col")],
            "celsius",
            span=THIRD_WIDTH,
        ))
        .with_panel(timeseries_panel(
            "Coolant flow and pressure",
            "Flow in L/min and supply and return pressure in kPa of the rack's CDU (measurement cooling).",
            [InfluxQLTarget("A", flow_and_pressure, alias="$tag_cdu $col")],
            "short",
            span=THIRD_WIDTH,
            minimum=0,
        ))
        .with_panel(state_timeline_panel(
            "Pump and leak detector",
            "Redfish pump health and leak detector state of the rack's CDU (measurement cooling).",
            [InfluxQLTarget("A", health, alias="$tag_cdu $col")],
            health_states(),
            span=THIRD_WIDTH,
        ))
    )


def _network(board: dashboard.Dashboard) -> dashboard.Dashboard:
    throughput = select(
        f'{counter_rate("rx_bytes_phy", BITS_PER_BYTE)} AS "rx", {counter_rate("tx_bytes_phy", BITS_PER_BYTE)} AS "tx"',
        "dpu",
        NODE_FILTER,
        group_by=["dpu", "port"],
    )
    link = select('min("link_up")', "dpu", NODE_FILTER, group_by=["dpu", "port"], fill="previous")
    pause = select(
        f'{counter_rate("rx_prio3_pause_duration", US_PER_SECOND_TO_RATIO)} AS "rx pause", '
        f'{counter_rate("tx_prio3_pause_duration", US_PER_SECOND_TO_RATIO)} AS "tx pause"',
        "dpu",
        NODE_FILTER,
        group_by=["dpu", "port"],
    )
    errors = select(
        f'{counter_rate("rx_discards_phy")} AS "rx discards", {counter_rate("out_of_sequence")} AS "out of sequence", '
        f'{counter_rate("local_ack_timeout_err")} AS "ACK timeouts", {counter_rate("link_down_events_phy")} AS "link down events"',
        "dpu",
        NODE_FILTER,
        group_by=["dpu", "port"],
    )
    congestion = select(
        f'{counter_rate("np_ecn_marked_roce_packets")} AS "ECN marked", {counter_rate("np_cnp_sent")} AS "CNP sent", '
        f'{counter_rate("rp_cnp_handled")} AS "CNP handled", {counter_rate("tx_pause_storm_warning_events")} AS "pause storm warnings"',
        "dpu",
        NODE_FILTER,
        group_by=["dpu", "port"],
    )
    return (
        board.with_row(dashboard.Row("DPU and network"))
        .with_panel(timeseries_panel(
            "Port throughput",
            "Receive and transmit rate of each DPU port from the mlx5 byte counters (measurement dpu).",
            [InfluxQLTarget("A", throughput, alias="$tag_dpu port $tag_port $col")],
            "bps",
            minimum=0,
        ))
        .with_panel(state_timeline_panel(
            "Link state",
            "Whether each DPU port's link was up during the whole interval (measurement dpu, link_up).",
            [InfluxQLTarget("A", link, alias="$tag_dpu port $tag_port")],
            {"1": ("up", "green"), "0": ("down", "red")},
        ))
        .with_panel(timeseries_panel(
            "PFC pause",
            "Share of time each port was paused by priority flow control on priority 3 (measurement dpu).",
            [InfluxQLTarget("A", pause, alias="$tag_dpu port $tag_port $col")],
            "percentunit",
            span=THIRD_WIDTH,
            minimum=0,
        ))
        .with_panel(timeseries_panel(
            "Port errors",
            "Discards, RoCE out-of-sequence packets, ACK timeouts and link down events per second (measurement dpu).",
            [InfluxQLTarget("A", errors, alias="$tag_dpu port $tag_port $col")],
            "cps",
            span=THIRD_WIDTH,
            minimum=0,
        ))
        .with_panel(timeseries_panel(
            "Congestion",
            "ECN-marked packets, congestion notification packets and pause storm warnings per second (measurement dpu).",
            [InfluxQLTarget("A", congestion, alias="$tag_dpu port $tag_port $col")],
            "cps",
            span=THIRD_WIDTH,
            minimum=0,
        ))
    )


def _power(board: dashboard.Dashboard) -> dashboard.Dashboard:
    rack_power = select('mean("PowerWatts") AS "power", mean("PowerLimitWatts") AS "cap"', "power", RACK_FILTER, group_by=["pdu"])
    supplies = select('mean("PowerOutputWatts")', "power_supply", RACK_FILTER, group_by=["pdu", "psu"])
    supply_health = select('last("health")', "power_supply", RACK_FILTER, group_by=["pdu", "psu"], fill="previous")
    voltage = select('mean("InputVoltageVolts")', "power", RACK_FILTER, group_by=["pdu"])
    return (
        board.with_row(dashboard.Row("Power of the rack"))
        .with_panel(timeseries_panel(
            "Rack power against cap",
            "Power of the rack's PDU and the rack's power cap (measurement power).",
            [InfluxQLTarget("A", rack_power, alias="$tag_pdu $col")],
            "watt",
            minimum=0,
        ))
        .with_panel(timeseries_panel(
            "Power supply output",
            "Output power of each power supply of the rack (measurement power_supply).",
            [InfluxQLTarget("A", supplies, alias="$tag_pdu $tag_psu")],
            "watt",
            minimum=0,
        ))
        .with_panel(state_timeline_panel(
            "Power supply health",
            "Redfish health of each power supply of the rack (measurement power_supply).",
            [InfluxQLTarget("A", supply_health, alias="$tag_pdu $tag_psu")],
            health_states(),
        ))
        .with_panel(timeseries_panel(
            "PDU input voltage",
            "Input voltage of the rack's PDU (measurement power).",
            [InfluxQLTarget("A", voltage, alias="$tag_pdu")],
            "volt",
        ))
    )


def _events(board: dashboard.Dashboard) -> dashboard.Dashboard:
    events = select(
        '"kind", "severity", "gpu", "code", "message", "source", "event_id"',
        "hardware_event",
        NODE_FILTER,
        by_time=False,
        tail="ORDER BY time DESC LIMIT 200",
    )
    anomalies = select(
        '"detector", "severity", "fault_class", "signal", "gpu", "score", "threshold", "value", "message"',
        "anomaly",
        NODE_FILTER,
        by_time=False,
        tail="ORDER BY time DESC LIMIT 200",
    )
    return (
        board.with_row(dashboard.Row("Events of the node"))
        .with_panel(table_panel(
            "Hardware events",
            "Xid, ECC, NVLink, PCIe and link events of the node, newest first (measurement hardware_event).",
            [InfluxQLTarget("A", events, result_format="table")],
        ))
        .with_panel(table_panel(
            "Anomalies",
            "Anomalies that detectors reported on the node, newest first (measurement anomaly).",
            [InfluxQLTarget("A", anomalies, result_format="table")],
        ))
    )
