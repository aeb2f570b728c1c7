"""Kafka message schemas (pydantic v2), one model per input topic.

Every message carries ``schema_version`` and ``time``, the event time at its source in
UTC. GPU fields use DCGM field names (dcgm-exporter's ``DCGM_FI_*``), cooling and power
fields use DMTF Redfish property names, and DPU fields use mlx5 driver counter names, so
that each value can be looked up in its standard. ``None`` means that the source did not
report the field in this sample (a GPU that fell off the bus reports nothing).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any, Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from pipeline import topics

SCHEMA_VERSION: Final = 1

Celsius = Annotated[float, Field(ge=-60, le=200)]
Percent = Annotated[float, Field(ge=0, le=100)]
Ratio = Annotated[float, Field(ge=0, le=1)]
Watts = Annotated[float, Field(ge=0, le=1_000_000)]
Megahertz = Annotated[float, Field(ge=0, le=100_000)]
Mebibytes = Annotated[float, Field(ge=0)]
Counter = Annotated[int, Field(ge=0)]
Health = Literal["OK", "Warning", "Critical"]
EntityId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:/-]+$")]


class _Record(BaseModel):
    """Common configuration: immutable, strict about unknown fields, finite floats only."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class Envelope(_Record):
    """Fields that every message on an input topic carries."""

    schema_version: int
    time: AwareDatetime
    cluster: EntityId = "default"

    @field_validator("schema_version")
    @classmethod
    def _check_version(cls, value: int) -> int:
        if value != SCHEMA_VERSION:
            raise ValueError(f"unsupported schema_version {value}; this worker reads version {SCHEMA_VERSION}")
        return value

    @field_validator("time")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(timezone.utc)


class GpuSample(_Record):
    """One GPU's DCGM fields in one sample. Units follow DCGM."""

    gpu: int = Field(ge=0, le=63, description="GPU index within the node.")
    uuid: str | None = Field(default=None, max_length=64)
    DCGM_FI_DEV_GPU_TEMP: Celsius | None = None
    DCGM_FI_DEV_MEMORY_TEMP: Celsius | None = None
    DCGM_FI_DEV_POWER_USAGE: Watts | None = None
    DCGM_FI_DEV_ENFORCED_POWER_LIMIT: Watts | None = None
    DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION: Counter | None = Field(default=None, description="mJ since boot.")
    DCGM_FI_DEV_GPU_UTIL: Percent | None = None
    DCGM_FI_DEV_MEM_COPY_UTIL: Percent | None = None
    DCGM_FI_DEV_SM_CLOCK: Megahertz | None = None
    DCGM_FI_DEV_MEM_CLOCK: Megahertz | None = None
    DCGM_FI_DEV_FB_USED: Mebibytes | None = None
    DCGM_FI_DEV_FB_FREE: Mebibytes | None = None
    DCGM_FI_PROF_GR_ENGINE_ACTIVE: Ratio | None = None
    DCGM_FI_PROF_PIPE_TENSOR_ACTIVE: Ratio | None = None
    DCGM_FI_DEV_XID_ERRORS: Counter | None = Field(default=None, description="Code of the last Xid, 0 for none.")
    DCGM_FI_DEV_CLOCKS_EVENT_REASONS: Counter | None = Field(default=None, description="Clock event reason bitmask.")
    DCGM_FI_DEV_POWER_VIOLATION: Counter | None = Field(default=None, description="ns throttled by power.")
    DCGM_FI_DEV_THERMAL_VIOLATION: Counter | None = Field(default=None, description="ns throttled by temperature.")
    DCGM_FI_DEV_PCIE_REPLAY_COUNTER: Counter | None = None
    DCGM_FI_DEV_PCIE_LINK_GEN: Counter | None = None
    DCGM_FI_DEV_PCIE_LINK_WIDTH: Counter | None = None
    DCGM_FI_DEV_ECC_SBE_VOL_TOTAL: Counter | None = None
    DCGM_FI_DEV_ECC_DBE_VOL_TOTAL: Counter | None = None
    DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS: Counter | None = None
    DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS: Counter | None = None
    DCGM_FI_DEV_ROW_REMAP_FAILURE: Counter | None = None
    DCGM_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL: Counter | None = None
    DCGM_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL: Counter | None = None
    DCGM_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL: Counter | None = None
    DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL: Counter | None = None


class GpuTelemetry(Envelope):
    """Every GPU of one node in one sample, keyed by node on ``telemetry.gpu``."""

    rack: EntityId
    node: EntityId
    gpus: list[GpuSample] = Field(min_length=1, max_length=64)

    @model_validator(mode="after")
    def _check_unique_gpus(self) -> GpuTelemetry:
        indices = [sample.gpu for sample in self.gpus]
        if len(indices) != len(set(indices)):
            raise ValueError(f"duplicate GPU index in gpus: {sorted(indices)}")
        return self


class CoolingTelemetry(Envelope):
    """One rack's coolant distribution unit (Redfish CoolingUnit and CoolantConnector)."""

    rack: EntityId
    cdu: EntityId
    SupplyTemperatureCelsius: Celsius | None = None
    ReturnTemperatureCelsius: Celsius | None = None
    FlowLitersPerMinute: Annotated[float, Field(ge=0)] | None = None
    SupplyPressurekPa: Annotated[float, Field(ge=0)] | None = None
    ReturnPressurekPa: Annotated[float, Field(ge=0)] | None = None
    HeatRemovedkW: Annotated[float, Field(ge=0)] | None = None
    PumpSpeedPercent: Percent | None = None
    PumpHealth: Health | None = None
    LeakDetectorState: Health | None = Field(default=None, description="Redfish LeakDetector DetectorState.")


class DpuPort(_Record):
    """One DPU port: link state and cumulative mlx5 counters (ethtool -S and RDMA hw_counters)."""

    port: int = Field(ge=0, le=63)
    link_state: Literal["up", "down"]
    rx_bytes_phy: Counter | None = None
    tx_bytes_phy: Counter | None = None
    rx_discards_phy: Counter | None = None
    link_down_events_phy: Counter | None = None
    rx_prio3_pause: Counter | None = None
    tx_prio3_pause: Counter | None = None
    rx_prio3_pause_duration: Counter | None = Field(default=None, description="Microseconds paused.")
    tx_prio3_pause_duration: Counter | None = Field(default=None, description="Microseconds paused.")
    tx_pause_storm_warning_events: Counter | None = None
    tx_pause_storm_error_events: Counter | None = None
    out_of_sequence: Counter | None = None
    local_ack_timeout_err: Counter | None = None
    np_ecn_marked_roce_packets: Counter | None = None
    np_cnp_sent: Counter | None = None
    rp_cnp_handled: Counter | None = None


class DpuTelemetry(Envelope):
    """One node's DPU, keyed by node on ``telemetry.dpu``."""

    rack: EntityId
    node: EntityId
    dpu: EntityId
    ports: list[DpuPort] = Field(min_length=1, max_length=64)


class PowerSupply(_Record):
    """One power supply unit (Redfish PowerSupply)."""

    psu: EntityId
    health: Health
    PowerOutputWatts: Watts | None = None
    InputVoltageVolts: Annotated[float, Field(ge=0, le=1_000)] | None = None


class PowerTelemetry(Envelope):
    """One rack's PDU and its power supplies, keyed by rack on ``telemetry.power``."""

    rack: EntityId
    pdu: EntityId
    PowerWatts: Watts
    PowerLimitWatts: Watts | None = Field(default=None, description="Rack power cap, None when uncapped.")
    InputVoltageVolts: Annotated[float, Field(ge=0, le=1_000)] | None = None
    power_supplies: list[PowerSupply] = Field(default_factory=list, max_length=64)


HardwareEventKind = Literal[
    "xid",
    "ecc_sbe",
    "ecc_dbe",
    "row_remap_failure",
    "nvlink_error",
    "pcie_error",
    "link_down",
    "link_up",
    "leak",
    "pump_failure",
    "psu_fault",
    "gpu_missing",
    "host_fault",
]


class HardwareEvent(Envelope):
    """One discrete hardware event, keyed by node (or rack for rack-level events)."""

    event_id: EntityId | None = Field(default=None, description="Source id, used to drop repeats.")
    kind: HardwareEventKind
    severity: Literal["info", "warning", "critical"]
    rack: EntityId | None = None
    node: EntityId | None = None
    gpu: int | None = Field(default=None, ge=0, le=63)
    code: int | None = Field(default=None, ge=0, description="Xid code for kind 'xid'.")
    message: str = Field(default="", max_length=4096)
    source: str = Field(default="unknown", max_length=64)

    @model_validator(mode="after")
    def _check_place(self) -> HardwareEvent:
        if self.node is None and self.rack is None:
            raise ValueError("a hardware event needs a node or a rack")
        if self.kind == "xid" and self.code is None:
            raise ValueError("an event of kind 'xid' needs its Xid code in 'code'")
        return self


class JobProgress(Envelope):
    """One node's progress in a training job, keyed by job on ``job.progress``."""

    job: EntityId
    node: EntityId
    rank: int = Field(ge=0)
    step: int = Field(ge=0)
    step_time_seconds: Annotated[float, Field(gt=0, le=86_400)]
    samples_per_second: Annotated[float, Field(ge=0)] | None = None
    loss: float | None = Field(default=None, description="Training loss of the step, where the job reports it.")


JobState = Literal["running", "checkpointing", "hung", "down", "isolating", "restarting", "paused"]
Seconds = Annotated[float, Field(ge=0)]


class JobGoodput(Envelope):
    """Cumulative time accounting of one training job, keyed by job on ``job.goodput``.

    Every second since the job started is in exactly one ``*_seconds`` field, so they sum
    to ``elapsed_seconds``; ``ettr`` is ``productive_seconds / elapsed_seconds``.
    """

    job: EntityId
    state: JobState
    step: int = Field(ge=0)
    checkpoint_step: int = Field(ge=0)
    nodes: int = Field(ge=0, description="Nodes in the job now.")
    interruptions: int = Field(ge=0, description="Crashes and hangs so far.")
    ettr: Ratio
    elapsed_seconds: Seconds
    productive_seconds: Seconds
    detection_seconds: Seconds
    isolation_seconds: Seconds
    restart_seconds: Seconds
    replayed_seconds: Seconds
    checkpoint_seconds: Seconds
    slow_step_seconds: Seconds
    paused_seconds: Seconds


class GenericTelemetry(Envelope):
    """Named numeric series of one entity from a replayed data set (SMD, NAB), keyed by entity."""

    source: EntityId = Field(description="Data set or adapter name, for example 'smd' or 'nab'.")
    entity: EntityId = Field(description="Machine or series the values belong to.")
    values: dict[Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")], float | None] = Field(
        min_length=1, max_length=512
    )


FaultScope = Literal["gpu", "node", "rack", "switch", "job", "cluster", "series"]


class FaultTruth(_Record):
    """Ground truth of one injected or labelled fault, keyed by fault id on ``faults.truth``.

    ``end`` is None while the fault lasts; a second record with the same ``fault_id``
    and an ``end`` closes it.
    """

    schema_version: int = SCHEMA_VERSION
    fault_id: EntityId
    kind: EntityId = Field(description="Fault kind from the fault taxonomy, for example 'xid_79' or 'cdu_pump_failure'.")
    scope: FaultScope
    entity: EntityId = Field(description="Name of the GPU's node, the node, rack, switch, job or series.")
    gpu: int | None = Field(default=None, ge=0, le=63)
    nodes: list[EntityId] | None = Field(
        default=None, max_length=100_000, description="Nodes a job or switch fault touches: the job's nodes when it started, the nodes under the switch."
    )
    start: AwareDatetime
    end: AwareDatetime | None = None
    onset: Literal["instant", "fast", "gradual"] = "instant"
    cluster: EntityId = "default"
    source: str = Field(default="emulator", max_length=64)


TelemetryMessage = GpuTelemetry | CoolingTelemetry | DpuTelemetry | PowerTelemetry | HardwareEvent | JobProgress | JobGoodput | GenericTelemetry

MODEL_BY_TOPIC: Final[dict[str, type[Envelope]]] = {
    topics.GPU: GpuTelemetry,
    topics.COOLING: CoolingTelemetry,
    topics.DPU: DpuTelemetry,
    topics.POWER: PowerTelemetry,
    topics.HARDWARE_EVENTS: HardwareEvent,
    topics.JOB_PROGRESS: JobProgress,
    topics.GENERIC: GenericTelemetry,
    topics.JOB_GOODPUT: JobGoodput,
}


def model_for_topic(topic: str) -> type[Envelope]:
    """Return the model of an input topic, given its name without the prefix."""
    try:
        return MODEL_BY_TOPIC[topic]
    except KeyError:
        raise KeyError(f"no schema for topic {topic!r}; known topics: {sorted(MODEL_BY_TOPIC)}") from None


def as_json_dict(message: BaseModel) -> dict[str, Any]:
    """Return a message as the JSON-ready dict that goes on the wire, without unset fields."""
    return message.model_dump(mode="json", exclude_none=True)
