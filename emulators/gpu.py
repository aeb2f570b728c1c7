"""GPU model: power, temperature, clocks, throttling and DCGM counters of every GPU.

Power follows the work the job gives each node and the clocks. The die temperature
follows power, the coolant temperature at the cold plate and the coolant flow with a
first-order lag. Clocks throttle at the temperature thresholds and at the enforced power
limit, and set the matching ``DCGM_FI_DEV_CLOCKS_EVENT_REASONS`` bits. State lives in
arrays shaped (nodes, GPUs).

Constants are estimates for an H100 SXM class GPU on a cold plate. The temperature
thresholds are those that ``nvidia-smi -q`` reports for an A100-SXM4-80GB (maximum
operating 85 C, slowdown 89 C, shutdown 92 C).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from emulators.effects import Effects
from emulators.job import JobActivity
from emulators.topology import Topology

GPU_IDLE_WATTS: Final = 90.0
GPU_MAX_WATTS: Final = 700.0
GPU_MIN_POWER_LIMIT_WATTS: Final = 200.0
GPU_FRAMEBUFFER_MIB: Final = 81_559.0
# Degrees of die temperature above the coolant per watt at design flow (cold plate estimate).
GPU_THERMAL_RESISTANCE_C_PER_W: Final = 0.045
# Extra thermal resistance of the cold plate at zero flow, as a share of the design value.
LOW_FLOW_RESISTANCE_SHARE: Final = 0.6
GPU_THERMAL_TIME_CONSTANT_SECONDS: Final = 8.0
GPU_MAX_OPERATING_CELSIUS: Final = 85.0
GPU_SLOWDOWN_CELSIUS: Final = 89.0
GPU_SHUTDOWN_CELSIUS: Final = 92.0
# A GPU that shut down comes back once it has cooled below this temperature.
GPU_RECOVER_CELSIUS: Final = 70.0
MAX_SM_CLOCK_MHZ: Final = 1980.0
IDLE_SM_CLOCK_MHZ: Final = 345.0
SM_CLOCK_STEP_MHZ: Final = 15.0
MEM_CLOCK_MHZ: Final = 2619.0
# Boost clocks fall slowly with temperature above this point (estimate; gives the 1-2 %
# diurnal throughput swing reported for large training runs).
DVFS_START_CELSIUS: Final = 55.0
DVFS_SHARE_PER_CELSIUS: Final = 0.002
# Die temperature of a busy GPU at design conditions; its clocks are the job's nominal speed.
DESIGN_DIE_CELSIUS: Final = 60.0
REFERENCE_CLOCK_RATIO: Final = 1.0 - DVFS_SHARE_PER_CELSIUS * (DESIGN_DIE_CELSIUS - DVFS_START_CELSIUS)
# Per-second NVLink traffic of one GPU during a collective, in counter units.
NVLINK_UNITS_PER_SECOND: Final = 3e9
# Share of GPUs that emit background correctable ECC errors, and their burst process
# (about 2 errors per GPU-day, mostly less than an hour apart; estimates).
SBE_NOISY_SHARE: Final = 0.05
SBE_BURSTS_PER_SECOND: Final = 0.2 / 86_400
SBE_MEAN_BURST_SIZE: Final = 10.0
SBE_BURST_RATE_PER_SECOND: Final = 1.0 / 120

# DCGM_FI_DEV_CLOCKS_EVENT_REASONS bits.
CLOCK_EVENT_GPU_IDLE: Final = 0x1
CLOCK_EVENT_POWER_CAP: Final = 0x4
CLOCK_EVENT_HW_SLOWDOWN: Final = 0x8
CLOCK_EVENT_SW_THERMAL: Final = 0x20
CLOCK_EVENT_HW_THERMAL: Final = 0x40
CLOCK_EVENT_HW_POWER_BRAKE: Final = 0x80


@dataclass
class GpuReadings:
    """One sample of every GPU, shape (nodes, GPUs), before it becomes messages."""

    util: np.ndarray
    power: np.ndarray
    temp: np.ndarray
    sm_clock: np.ndarray
    clock_ratio: np.ndarray
    reasons: np.ndarray
    tensor_active: np.ndarray
    fb_used: np.ndarray


class GpuModel:
    """State and physics of every GPU in the cluster."""

    def __init__(self, topology: Topology, rng: np.random.Generator, coolant_celsius: float) -> None:
        self.topology = topology
        self.rng = rng
        shape = (topology.node_count, topology.gpus_per_node)

        self.temp = np.full(shape, coolant_celsius + GPU_IDLE_WATTS * GPU_THERMAL_RESISTANCE_C_PER_W)
        self.power = np.full(shape, GPU_IDLE_WATTS)
        self.clock_ratio = np.ones(shape)
        self.power_limit = np.full(shape, GPU_MAX_WATTS)
        self.shutdown = np.zeros(shape, dtype=bool)
        self.newly_shut_down = np.zeros(shape, dtype=bool)
        self.shutdowns = 0

        self.counters: dict[str, np.ndarray] = {
            name: np.zeros(shape, dtype=np.int64)
            for name in (
                "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",
                "DCGM_FI_DEV_XID_ERRORS",
                "DCGM_FI_DEV_POWER_VIOLATION",
                "DCGM_FI_DEV_THERMAL_VIOLATION",
                "DCGM_FI_DEV_PCIE_REPLAY_COUNTER",
                "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL",
                "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL",
                "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS",
                "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS",
                "DCGM_FI_DEV_ROW_REMAP_FAILURE",
                "DCGM_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL",
                "DCGM_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL",
                "DCGM_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL",
                "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL",
            )
        }

        self.sbe_noisy = rng.random(shape) < SBE_NOISY_SHARE
        self.sbe_burst_left = np.zeros(shape, dtype=np.int64)
        self.uuids = [
            [f"GPU-{node:08x}-{gpu:04x}-4000-8000-{node * 64 + gpu:012x}" for gpu in range(topology.gpus_per_node)]
            for node in range(topology.node_count)
        ]

    def speed(self) -> np.ndarray:
        """Return each node's compute speed from its slowest GPU's clocks, 1.0 at design conditions."""
        return self.clock_ratio.min(axis=1) / REFERENCE_CLOCK_RATIO

    def update(self, activity: JobActivity, elapsed: float, coolant_celsius: np.ndarray, flow_factor: np.ndarray, effects: Effects) -> GpuReadings:
        """Advance every GPU by ``elapsed`` seconds.

        Args:
            activity: seconds each node spent in each job phase during the interval.
            elapsed: length of the interval in seconds, positive.
            coolant_celsius: mean coolant temperature at each node's cold plates, shape (nodes,).
            flow_factor: coolant flow relative to design at each node, shape (nodes,).
            effects: the faults' changes to this sample.
        """
        shape = self.temp.shape
        compute = np.clip(activity.compute / elapsed, 0.0, 1.0)[:, None]
        spin = np.clip((activity.wait + activity.comm + activity.hung) / elapsed, 0.0, 1.0)[:, None]
        checkpoint = np.clip(activity.checkpoint / elapsed, 0.0, 1.0)[:, None]
        restart = np.clip(activity.restart / elapsed, 0.0, 1.0)[:, None]
        working = ~(effects.gpu_stalled | self.shutdown)
        compute = np.where(working, compute, 0.0)
        spin = np.where(working, spin, 0.0)

        thermal, brake, ratio = self._clock_ratio(effects)
        power, capped, ratio = self._power(compute, spin, 0.10 * checkpoint + 0.15 * restart, ratio)
        self._heat(power, elapsed, coolant_celsius, flow_factor, effects)

        reasons = self._reasons(thermal, capped, brake, compute + spin)
        self._count(elapsed, power, reasons, spin, effects)
        self._update_shutdown()
        self.power = power
        self.clock_ratio = np.where(working, ratio, 1.0)

        busy = np.clip(compute + spin + 0.3 * checkpoint + 0.5 * restart, 0.0, 1.0)
        util = np.clip(100.0 * busy + self.rng.normal(0.0, 1.0, shape) * (busy > 0), 0.0, 100.0)
        sm_clock = np.where(busy > 0.05, np.round(MAX_SM_CLOCK_MHZ * ratio / SM_CLOCK_STEP_MHZ) * SM_CLOCK_STEP_MHZ, IDLE_SM_CLOCK_MHZ)
        tensor = np.clip(0.55 * compute * ratio + self.rng.normal(0.0, 0.01, shape) * (compute > 0), 0.0, 1.0)
        fb_used = np.where(busy > 0, round(GPU_FRAMEBUFFER_MIB * 0.78), round(GPU_FRAMEBUFFER_MIB * 0.006))
        return GpuReadings(util, power, self.temp, sm_clock, ratio, reasons, tensor, fb_used)

    def _clock_ratio(self, effects: Effects) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return the thermal factor, the power-brake mask and the clock ratio from the temperature at the interval's start."""
        thermal = np.where(self.temp >= GPU_SLOWDOWN_CELSIUS, 0.5, np.clip(1.0 - 0.04 * (self.temp - GPU_MAX_OPERATING_CELSIUS), 0.6, 1.0))
        dvfs = 1.0 - DVFS_SHARE_PER_CELSIUS * np.clip(self.temp - DVFS_START_CELSIUS, 0.0, None)
        brake = np.repeat(effects.power_brake[:, None], self.temp.shape[1], axis=1)
        ratio = np.minimum(thermal * dvfs * np.where(brake, 0.5, 1.0), effects.clock_limit)
        return thermal, brake, ratio

    def _power(self, compute: np.ndarray, spin: np.ndarray, other_share: np.ndarray, ratio: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return power, the capped mask and the clock ratio after the enforced power limit.

        Compute power grows with the square of the clock ratio; NCCL spinning and the
        other phases (``other_share`` of the dynamic range) do not depend on it.
        """
        shape = self.temp.shape
        dynamic_range = GPU_MAX_WATTS - GPU_IDLE_WATTS
        noise = 1.0 + self.rng.normal(0.0, 0.012, shape)
        compute_watts = dynamic_range * 0.92 * compute * ratio**2 * noise
        other_watts = dynamic_range * (0.30 * spin + other_share) * noise
        demand = GPU_IDLE_WATTS + compute_watts + other_watts + self.rng.normal(0.0, 3.0, shape)

        # Above the limit, the clocks drop until the compute power fits the headroom.
        limit = self.power_limit
        capped = demand > limit
        headroom = np.clip(limit - GPU_IDLE_WATTS - other_watts, 1.0, None)
        cap_ratio = np.where(capped & (compute_watts > 0), np.sqrt(np.clip(headroom / np.maximum(compute_watts, 1e-9), 0.0, 1.0)), 1.0)
        # A capped GPU's power controller keeps it just under the limit with a few watts of
        # jitter; an exact constant would read as a frozen sensor.
        regulated = limit * (1.0 - np.abs(self.rng.normal(0.0, 0.006, shape)))
        power = np.clip(np.where(capped, np.minimum(demand, regulated), demand), 0.0, None)
        power = np.where(self.shutdown, 0.0, power)
        return power, capped, ratio * cap_ratio

    def _heat(self, power: np.ndarray, elapsed: float, coolant_celsius: np.ndarray, flow_factor: np.ndarray, effects: Effects) -> None:
        """Move the die temperature toward its steady state with a first-order lag."""
        resistance = GPU_THERMAL_RESISTANCE_C_PER_W * effects.thermal_resistance_factor
        resistance = resistance * (1.0 + LOW_FLOW_RESISTANCE_SHARE * np.clip(1.0 - flow_factor, 0.0, 1.0))[:, None]
        target = coolant_celsius[:, None] + power * resistance
        blend = 1.0 - math.exp(-elapsed / GPU_THERMAL_TIME_CONSTANT_SECONDS)
        self.temp = self.temp + (target - self.temp) * blend + self.rng.normal(0.0, 0.3, self.temp.shape)

    def _reasons(self, thermal: np.ndarray, capped: np.ndarray, brake: np.ndarray, busy: np.ndarray) -> np.ndarray:
        reasons = np.zeros(self.temp.shape, dtype=np.int64)
        reasons |= np.where(busy < 0.05, CLOCK_EVENT_GPU_IDLE, 0)
        reasons |= np.where(capped, CLOCK_EVENT_POWER_CAP, 0)
        reasons |= np.where(thermal < 1.0, CLOCK_EVENT_SW_THERMAL, 0)
        reasons |= np.where(thermal <= 0.5, CLOCK_EVENT_HW_THERMAL | CLOCK_EVENT_HW_SLOWDOWN, 0)
        reasons |= np.where(brake, CLOCK_EVENT_HW_POWER_BRAKE | CLOCK_EVENT_HW_SLOWDOWN, 0)
        return reasons

    def _count(self, elapsed: float, power: np.ndarray, reasons: np.ndarray, spin: np.ndarray, effects: Effects) -> None:
        counters = self.counters
        nanoseconds = int(elapsed * 1e9)
        counters["DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"] += (power * elapsed * 1000).astype(np.int64)
        power_events = CLOCK_EVENT_POWER_CAP | CLOCK_EVENT_HW_POWER_BRAKE
        thermal_events = CLOCK_EVENT_SW_THERMAL | CLOCK_EVENT_HW_THERMAL
        counters["DCGM_FI_DEV_POWER_VIOLATION"] += np.where(reasons & power_events, nanoseconds, 0)
        counters["DCGM_FI_DEV_THERMAL_VIOLATION"] += np.where(reasons & thermal_events, nanoseconds, 0)
        counters["DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL"] += (spin * NVLINK_UNITS_PER_SECOND * effects.nvlink_bandwidth_factor * elapsed).astype(np.int64)

        poisson = self.rng.poisson
        counters["DCGM_FI_DEV_PCIE_REPLAY_COUNTER"] += poisson(effects.pcie_replay_per_second * elapsed)
        counters["DCGM_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL"] += poisson(effects.nvlink_crc_per_second * elapsed)
        counters["DCGM_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL"] += poisson(effects.nvlink_replay_per_second * elapsed)
        counters["DCGM_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL"] += poisson(effects.nvlink_recovery_per_second * elapsed)
        counters["DCGM_FI_DEV_ECC_SBE_VOL_TOTAL"] += poisson(effects.sbe_per_second * elapsed) + self._background_sbe(elapsed)

    def _background_sbe(self, elapsed: float) -> np.ndarray:
        """Return this interval's background correctable errors: bursts on a few GPUs."""
        starts = self.sbe_noisy & (self.rng.random(self.temp.shape) < SBE_BURSTS_PER_SECOND * elapsed)
        self.sbe_burst_left += np.where(starts, self.rng.geometric(1.0 / SBE_MEAN_BURST_SIZE, self.temp.shape), 0)
        active = self.sbe_burst_left > 0
        errors = np.where(active, self.rng.poisson(SBE_BURST_RATE_PER_SECOND * elapsed, self.temp.shape), 0)
        errors = np.minimum(errors, self.sbe_burst_left)
        self.sbe_burst_left -= errors
        return errors

    def _update_shutdown(self) -> None:
        shutdown = np.where(self.shutdown, self.temp > GPU_RECOVER_CELSIUS, self.temp >= GPU_SHUTDOWN_CELSIUS)
        self.newly_shut_down = shutdown & ~self.shutdown
        self.shutdown = shutdown

    def set_power_limits(self, rack_limit_watts: np.ndarray, host_watts_per_node: float) -> None:
        """Set each GPU's enforced power limit from its rack's limit, shared evenly; NaN means uncapped.

        NOTE: a GPU limit never goes below 200 W, so a rack limit below its hosts' power plus
        that floor is exceeded, as a real rack would exceed it.
        """
        topology = self.topology
        per_gpu = (rack_limit_watts / topology.nodes_per_rack - host_watts_per_node) / topology.gpus_per_node
        per_gpu = np.where(np.isnan(per_gpu), GPU_MAX_WATTS, np.clip(per_gpu, GPU_MIN_POWER_LIMIT_WATTS, GPU_MAX_WATTS))
        self.power_limit = np.repeat(per_gpu[topology.rack_of_node][:, None], topology.gpus_per_node, axis=1)

    def node_values(self, readings: GpuReadings, effects: Effects) -> list[list[dict[str, Any]]]:
        """Return the ``gpus`` list of every node's GPU message."""
        columns = self._columns(readings, effects)
        names = list(columns)
        rows_by_field = [columns[name].tolist() for name in names]
        power = np.round(readings.power, 2).tolist()
        missing = (effects.gpu_missing | self.shutdown).tolist()
        frozen = effects.gpu_frozen.tolist()

        nodes = []
        for node in range(self.topology.node_count):
            gpus = []
            for gpu in range(self.topology.gpus_per_node):
                sample: dict[str, Any] = {"gpu": gpu, "uuid": self.uuids[node][gpu]}
                if frozen[node][gpu]:
                    sample["DCGM_FI_DEV_POWER_USAGE"] = power[node][gpu]
                elif not missing[node][gpu]:
                    sample.update(zip(names, (rows[node][gpu] for rows in rows_by_field)))
                gpus.append(sample)
            nodes.append(gpus)
        return nodes

    def _columns(self, readings: GpuReadings, effects: Effects) -> dict[str, np.ndarray]:
        counters = self.counters
        util = readings.util
        return {
            "DCGM_FI_DEV_GPU_TEMP": np.round(readings.temp, 1),
            "DCGM_FI_DEV_MEMORY_TEMP": np.round(readings.temp + 6.0, 1),
            "DCGM_FI_DEV_POWER_USAGE": np.round(readings.power, 2),
            "DCGM_FI_DEV_ENFORCED_POWER_LIMIT": np.round(self.power_limit, 1),
            "DCGM_FI_DEV_GPU_UTIL": np.round(util),
            "DCGM_FI_DEV_MEM_COPY_UTIL": np.round(util * 0.45),
            "DCGM_FI_DEV_SM_CLOCK": readings.sm_clock,
            "DCGM_FI_DEV_MEM_CLOCK": np.full(util.shape, MEM_CLOCK_MHZ),
            "DCGM_FI_DEV_FB_USED": readings.fb_used,
            "DCGM_FI_DEV_FB_FREE": GPU_FRAMEBUFFER_MIB - readings.fb_used,
            "DCGM_FI_PROF_GR_ENGINE_ACTIVE": np.round(util / 100.0, 3),
            "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE": np.round(readings.tensor_active, 3),
            "DCGM_FI_DEV_CLOCKS_EVENT_REASONS": readings.reasons,
            "DCGM_FI_DEV_PCIE_LINK_GEN": effects.pcie_link_gen,
            "DCGM_FI_DEV_PCIE_LINK_WIDTH": effects.pcie_link_width,
            **counters,
        }
