"""A seeded, physics-lite model of a healthy GPU cluster running one training job.

Each call to :meth:`ClusterEmulator.sample` advances the model to an event time and
returns one message per node (GPU, DPU), per rack (cooling, power) and per finished
training step (job progress). The state lives in numpy arrays shaped (nodes, GPUs), so a
10,000-GPU cluster costs a few array operations per sample.

Model constants are estimates for an H100 SXM class GPU in a liquid-cooled rack.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from emulators.topology import Topology
from pipeline import topics
from pipeline.schemas import SCHEMA_VERSION

GPU_IDLE_WATTS = 90.0
GPU_MAX_WATTS = 700.0
GPU_FRAMEBUFFER_MIB = 81_559.0
# Degrees of GPU die temperature above the coolant supply per watt (cold plate estimate).
GPU_THERMAL_RESISTANCE_C_PER_W = 0.045
HOST_WATTS_PER_NODE = 1_800.0
COOLANT_SUPPLY_CELSIUS = 32.0
# Heat capacity of water, kJ per litre and kelvin.
WATER_KJ_PER_LITRE_KELVIN = 4.18
# Design flow: 1.5 L/min per kW of rack heat (OCP guidance, used here as an estimate).
FLOW_LITRES_PER_MINUTE_PER_KW = 1.5
DPU_PORT_BYTES_PER_SECOND = 50e9
BASE_STEP_SECONDS = 2.0
MIB = 1024 * 1024


@dataclass(frozen=True)
class Record:
    """One message to publish: topic (without prefix), key and JSON-ready value."""

    topic: str
    key: str
    value: dict[str, Any]


class ClusterEmulator:
    """Healthy telemetry for a cluster with every node in one synchronous training job."""

    def __init__(self, topology: Topology, seed: int = 0, job: str = "job-0001") -> None:
        self.topology = topology
        self.seed = seed
        self.job = job
        self.rng = np.random.default_rng(seed)

        shape = (topology.node_count, topology.gpus_per_node)
        self.energy_mj = np.zeros(shape, dtype=np.int64)
        self.sbe_total = np.zeros(shape, dtype=np.int64)
        self.nvlink_bandwidth = np.zeros(shape, dtype=np.int64)
        ports = (topology.node_count, topology.ports_per_dpu)
        self.rx_bytes = np.zeros(ports, dtype=np.int64)
        self.tx_bytes = np.zeros(ports, dtype=np.int64)
        self.ecn_marked = np.zeros(ports, dtype=np.int64)
        self.cnp_sent = np.zeros(ports, dtype=np.int64)
        # Each node's speed relative to the job's nominal speed; 1.0 is nominal.
        self.node_speed = 1.0 + rng_normal(self.rng, 0.005, topology.node_count)
        self.gpu_uuids = [
            [f"GPU-{seed:04x}{node:05x}-{gpu:04x}-4000-8000-{node * 64 + gpu:012x}" for gpu in range(topology.gpus_per_node)]
            for node in range(topology.node_count)
        ]

        self.step = 0
        self.last_time: datetime | None = None
        self.next_step_end: datetime | None = None

    def sample(self, now: datetime) -> list[Record]:
        """Advance the model to event time ``now`` and return the messages of this sample."""
        elapsed = 1.0 if self.last_time is None else max((now - self.last_time).total_seconds(), 0.0)
        self.last_time = now
        stamp = now.isoformat().replace("+00:00", "Z")

        util, power, temp = self._gpu_state()
        self.energy_mj += (power * elapsed * 1000).astype(np.int64)
        self.sbe_total += self.rng.poisson(1e-4 * elapsed, self.sbe_total.shape)
        self.nvlink_bandwidth += (util * 3e9 * elapsed).astype(np.int64)

        records = self._gpu_records(stamp, util, power, temp)
        records += self._dpu_records(stamp, util, elapsed)
        records += self._rack_records(stamp, power)
        records += self._job_records(now)
        return records

    def _gpu_state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        shape = self.energy_mj.shape
        util = np.clip(97.0 + self.rng.normal(0, 1.5, shape), 0, 100)
        power = GPU_IDLE_WATTS + (GPU_MAX_WATTS - GPU_IDLE_WATTS) * util / 100 * 0.92 + self.rng.normal(0, 8, shape)
        temp = COOLANT_SUPPLY_CELSIUS + power * GPU_THERMAL_RESISTANCE_C_PER_W + self.rng.normal(0, 0.6, shape)
        return util, power, temp

    def _gpu_records(self, stamp: str, util: np.ndarray, power: np.ndarray, temp: np.ndarray) -> list[Record]:
        topology = self.topology
        records = []
        fb_used = GPU_FRAMEBUFFER_MIB * 0.78
        for node_index, node in enumerate(topology.node_names):
            gpus = []
            for gpu in range(topology.gpus_per_node):
                gpus.append({
                    "gpu": gpu,
                    "uuid": self.gpu_uuids[node_index][gpu],
                    "DCGM_FI_DEV_GPU_TEMP": round(float(temp[node_index, gpu]), 1),
                    "DCGM_FI_DEV_MEMORY_TEMP": round(float(temp[node_index, gpu]) + 6.0, 1),
                    "DCGM_FI_DEV_POWER_USAGE": round(float(power[node_index, gpu]), 2),
                    "DCGM_FI_DEV_ENFORCED_POWER_LIMIT": GPU_MAX_WATTS,
                    "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION": int(self.energy_mj[node_index, gpu]),
                    "DCGM_FI_DEV_GPU_UTIL": round(float(util[node_index, gpu])),
                    "DCGM_FI_DEV_MEM_COPY_UTIL": round(float(util[node_index, gpu]) * 0.45),
                    "DCGM_FI_DEV_SM_CLOCK": 1980.0,
                    "DCGM_FI_DEV_MEM_CLOCK": 2619.0,
                    "DCGM_FI_DEV_FB_USED": fb_used,
                    "DCGM_FI_DEV_FB_FREE": GPU_FRAMEBUFFER_MIB - fb_used,
                    "DCGM_FI_PROF_GR_ENGINE_ACTIVE": round(float(util[node_index, gpu]) / 100, 3),
                    "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE": round(float(util[node_index, gpu]) / 100 * 0.55, 3),
                    "DCGM_FI_DEV_XID_ERRORS": 0,
                    "DCGM_FI_DEV_CLOCKS_EVENT_REASONS": 0,
                    "DCGM_FI_DEV_POWER_VIOLATION": 0,
                    "DCGM_FI_DEV_THERMAL_VIOLATION": 0,
                    "DCGM_FI_DEV_PCIE_REPLAY_COUNTER": 0,
                    "DCGM_FI_DEV_PCIE_LINK_GEN": 5,
                    "DCGM_FI_DEV_PCIE_LINK_WIDTH": 16,
                    "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL": int(self.sbe_total[node_index, gpu]),
                    "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL": 0,
                    "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS": 0,
                    "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS": 0,
                    "DCGM_FI_DEV_ROW_REMAP_FAILURE": 0,
                    "DCGM_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL": 0,
                    "DCGM_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL": 0,
                    "DCGM_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL": 0,
                    "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL": int(self.nvlink_bandwidth[node_index, gpu]),
                })
            value = self._envelope(stamp, rack=topology.rack_of(node_index), node=node, gpus=gpus)
            records.append(Record(topics.GPU, node, value))
        return records

    def _dpu_records(self, stamp: str, util: np.ndarray, elapsed: float) -> list[Record]:
        topology = self.topology
        # Collective traffic follows the node's mean GPU utilisation.
        load = util.mean(axis=1, keepdims=True) / 100
        rate = DPU_PORT_BYTES_PER_SECOND * load * (0.6 + rng_normal(self.rng, 0.02, self.rx_bytes.shape))
        self.rx_bytes += (np.clip(rate, 0, None) * elapsed).astype(np.int64)
        self.tx_bytes += (np.clip(rate, 0, None) * elapsed).astype(np.int64)
        self.ecn_marked += self.rng.poisson(20 * elapsed, self.ecn_marked.shape)
        self.cnp_sent += self.rng.poisson(5 * elapsed, self.cnp_sent.shape)

        records = []
        for node_index, node in enumerate(topology.node_names):
            ports = [
                {
                    "port": port,
                    "link_state": "up",
                    "rx_bytes_phy": int(self.rx_bytes[node_index, port]),
                    "tx_bytes_phy": int(self.tx_bytes[node_index, port]),
                    "rx_discards_phy": 0,
                    "link_down_events_phy": 0,
                    "rx_prio3_pause": 0,
                    "tx_prio3_pause": 0,
                    "rx_prio3_pause_duration": 0,
                    "tx_prio3_pause_duration": 0,
                    "tx_pause_storm_warning_events": 0,
                    "tx_pause_storm_error_events": 0,
                    "out_of_sequence": 0,
                    "local_ack_timeout_err": 0,
                    "np_ecn_marked_roce_packets": int(self.ecn_marked[node_index, port]),
                    "np_cnp_sent": int(self.cnp_sent[node_index, port]),
                    "rp_cnp_handled": int(self.cnp_sent[node_index, port]),
                }
                for port in range(topology.ports_per_dpu)
            ]
            value = self._envelope(stamp, rack=topology.rack_of(node_index), node=node, dpu=f"{node}-dpu0", ports=ports)
            records.append(Record(topics.DPU, node, value))
        return records

    def _rack_records(self, stamp: str, gpu_power: np.ndarray) -> list[Record]:
        topology = self.topology
        node_power = gpu_power.sum(axis=1) + HOST_WATTS_PER_NODE
        rack_power = node_power.reshape(topology.racks, topology.nodes_per_rack).sum(axis=1)
        design_kw = topology.nodes_per_rack * (topology.gpus_per_node * GPU_MAX_WATTS + HOST_WATTS_PER_NODE) / 1000
        flow = design_kw * FLOW_LITRES_PER_MINUTE_PER_KW

        records = []
        for rack_index, rack in enumerate(topology.rack_names):
            heat_kw = float(rack_power[rack_index]) / 1000
            supply = COOLANT_SUPPLY_CELSIUS + float(self.rng.normal(0, 0.1))
            rise = heat_kw / (flow / 60 * WATER_KJ_PER_LITRE_KELVIN)
            cooling = self._envelope(
                stamp,
                rack=rack,
                cdu=f"{rack}-cdu0",
                SupplyTemperatureCelsius=round(supply, 2),
                ReturnTemperatureCelsius=round(supply + rise, 2),
                FlowLitersPerMinute=round(flow + float(self.rng.normal(0, flow * 0.01)), 2),
                SupplyPressurekPa=round(300 + float(self.rng.normal(0, 2)), 1),
                ReturnPressurekPa=round(180 + float(self.rng.normal(0, 2)), 1),
                HeatRemovedkW=round(heat_kw, 2),
                PumpSpeedPercent=65.0,
                PumpHealth="OK",
                LeakDetectorState="OK",
            )
            records.append(Record(topics.COOLING, rack, cooling))

            watts = float(rack_power[rack_index])
            supplies = [
                {"psu": f"psu{index}", "health": "OK", "PowerOutputWatts": round(watts / topology.psus_per_rack, 1), "InputVoltageVolts": 415.0}
                for index in range(topology.psus_per_rack)
            ]
            power = self._envelope(
                stamp,
                rack=rack,
                pdu=f"{rack}-pdu0",
                PowerWatts=round(watts, 1),
                InputVoltageVolts=round(415 + float(self.rng.normal(0, 1.5)), 1),
                power_supplies=supplies,
            )
            records.append(Record(topics.POWER, rack, power))
        return records

    def _job_records(self, now: datetime) -> list[Record]:
        """Emit one progress message per node for every training step that ended by ``now``."""
        if self.next_step_end is None:
            self.next_step_end = now + timedelta(seconds=BASE_STEP_SECONDS)
            return []
        records = []
        while self.next_step_end <= now:
            compute = BASE_STEP_SECONDS / self.node_speed * (1 + rng_normal(self.rng, 0.004, self.topology.node_count))
            step_seconds = float(compute.max()) * 1.05
            self.step += 1
            stamp = self.next_step_end.isoformat().replace("+00:00", "Z")
            for rank, node in enumerate(self.topology.node_names):
                value = self._envelope(
                    stamp,
                    job=self.job,
                    node=node,
                    rank=rank,
                    step=self.step,
                    step_time_seconds=round(float(compute[rank]), 4),
                    samples_per_second=round(64 / step_seconds, 3),
                )
                records.append(Record(topics.JOB_PROGRESS, self.job, value))
            self.next_step_end += timedelta(seconds=step_seconds)
        return records

    def _envelope(self, stamp: str, **fields: Any) -> dict[str, Any]:
        return {"schema_version": SCHEMA_VERSION, "time": stamp, "cluster": self.topology.cluster, **fields}


def rng_normal(rng: np.random.Generator, scale: float, shape: int | tuple[int, ...]) -> np.ndarray:
    """Draw zero-mean normal noise with standard deviation ``scale``."""
    return rng.normal(0.0, scale, shape)
