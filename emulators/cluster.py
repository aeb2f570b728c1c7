"""A seeded, physics-lite model of a GPU cluster running one training job, with injected faults.

Each call to :meth:`ClusterEmulator.sample` advances the model to an event time. It
returns one message per node (GPU, DPU), per rack (cooling, power), per finished training
step and rank (job progress), per hardware event and per fault start or end (ground
truth), and, every few seconds, the job's goodput. The state lives in numpy arrays, so a
10,000-GPU cluster costs a few array operations per sample plus building the messages.

Within one sample the faults act first, then the job runs with the clocks of the previous
sample, then the GPUs, loops and ports follow the work the job did.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np

from emulators import environment
from emulators.cooling import CoolingModel
from emulators.dpu import DpuModel
from emulators.effects import JOB_OK, Effects
from emulators.faults.injector import FaultInjector
from emulators.gpu import GPU_MAX_WATTS, GPU_SHUTDOWN_CELSIUS, GpuModel, GpuReadings
from emulators.job import JobConditions, JobConfig, TrainingJob
from emulators.power import HOST_BUSY_WATTS, PowerModel, host_watts
from emulators.records import Record, format_time
from emulators.topology import Topology
from pipeline import topics
from pipeline.schemas import SCHEMA_VERSION

__all__ = ["ClusterEmulator", "Record"]

DEFAULT_INTERVAL_SECONDS = 1.0


class ClusterEmulator:
    """Telemetry, job progress and fault ground truth of an emulated cluster.

    Every random draw comes from a generator seeded with ``seed`` and the component's own
    stream number, so the same seed and the same event times give the same messages.
    """

    def __init__(
        self,
        topology: Topology,
        seed: int = 0,
        job: str | JobConfig = "job-0001",
        injector: FaultInjector | None = None,
    ) -> None:
        self.topology = topology
        self.seed = seed
        config = JobConfig(name=job) if isinstance(job, str) else job
        self.job = TrainingJob(config, topology.cluster, topology.node_names, topology.job_node_indices, topology.spare_node_indices, seed=seed)
        self.injector = injector or FaultInjector(topology)

        supply = environment.COOLANT_SUPPLY_CELSIUS
        design_kw = topology.nodes_per_rack * (topology.gpus_per_node * GPU_MAX_WATTS + HOST_BUSY_WATTS) / 1000
        self.gpus = GpuModel(topology, np.random.default_rng([seed, 1]), supply)
        self.cooling = CoolingModel(topology, np.random.default_rng([seed, 2]), design_kw, supply)
        self.dpus = DpuModel(topology, np.random.default_rng([seed, 4]), config.comm_seconds)
        self.power = PowerModel(topology, np.random.default_rng([seed, 5]))
        self.rack_power_cap_watts = np.full(topology.racks, np.nan)
        self.isolated_nodes = np.zeros(topology.node_count, dtype=bool)
        self.last_time: datetime | None = None
        self.last_effects = Effects(topology)

    @property
    def job_name(self) -> str:
        """Name of the emulated training job."""
        return self.job.config.name

    def sample(self, now: datetime) -> list[Record]:
        """Advance the model to event time ``now`` and return the messages of this sample."""
        if self.last_time is None:
            elapsed = DEFAULT_INTERVAL_SECONDS
            self.job.origin = now - timedelta(seconds=elapsed)
        else:
            elapsed = (now - self.last_time).total_seconds()
            if elapsed <= 0:
                raise ValueError(f"event time must increase between samples: {now.isoformat()} follows {self.last_time.isoformat()}")
        self.last_time = now

        effects, fault_records = self.injector.advance(now, self.topology.cluster, self.gpus.counters, self.job)
        self._power_off(effects, self.isolated_nodes)
        self.last_effects = effects
        job_records, activity = self.job.advance(now, self._job_conditions(effects))

        self.gpus.set_power_limits(np.fmin(self.rack_power_cap_watts, effects.facility_power_limit_watts), HOST_BUSY_WATTS)
        readings = self.gpus.update(activity, elapsed, self.cooling.coolant_at_nodes(), self.cooling.flow_factor_at_nodes(), effects)
        node_watts = np.where(effects.node_down, 0.0, readings.power.sum(axis=1) + host_watts(activity, elapsed, effects))
        rack_watts = node_watts.reshape(self.topology.racks, self.topology.nodes_per_rack).sum(axis=1)
        self.cooling.update(rack_watts / 1000, elapsed, environment.supply_celsius(now), effects)
        self.dpus.update(activity, elapsed, effects)

        stamp = format_time(now)
        records = self._node_records(stamp, readings, effects)
        records += self._rack_records(stamp, rack_watts, effects)
        return records + self._shutdown_events(stamp) + fault_records + job_records

    @staticmethod
    def _power_off(effects: Effects, nodes: np.ndarray) -> None:
        effects.node_down |= nodes
        effects.gpu_missing[nodes, :] = True
        effects.port_down[nodes, :] = True

    def _job_conditions(self, effects: Effects) -> JobConditions:
        missing = effects.gpu_missing | effects.gpu_frozen | effects.gpu_stalled | self.gpus.shutdown
        job_fault = np.where(self.gpus.shutdown.any(axis=1), np.maximum(effects.job_fault, 2), effects.job_fault)
        faulty = missing.any(axis=1) | effects.node_down | (job_fault != JOB_OK)
        return JobConditions(
            speed=self.gpus.speed() * effects.compute_factor,
            comm_factor=effects.comm_factor,
            job_fault=job_fault,
            faulty=faulty,
            job_comm_factor=effects.job_comm_factor,
            loss_factor=effects.loss_factor,
        )

    def _node_records(self, stamp: str, readings: GpuReadings, effects: Effects) -> list[Record]:
        topology = self.topology
        gpu_values = self.gpus.node_values(readings, effects)
        dpu_values = self.dpus.node_values()
        records = []
        for node, name in enumerate(topology.node_names):
            if effects.node_down[node]:
                continue
            rack = topology.rack_of(node)
            records.append(Record(topics.GPU, name, self._envelope(stamp, rack=rack, node=name, gpus=gpu_values[node])))
            records.append(Record(topics.DPU, name, self._envelope(stamp, rack=rack, node=name, dpu=f"{name}-dpu0", ports=dpu_values[node])))
        return records

    def _rack_records(self, stamp: str, rack_watts: np.ndarray, effects: Effects) -> list[Record]:
        topology = self.topology
        limits = np.fmin(self.rack_power_cap_watts, effects.facility_power_limit_watts)
        cooling = self.cooling.rack_values(effects)
        power = self.power.rack_values(rack_watts, limits, effects)
        records = []
        for index, rack in enumerate(topology.rack_names):
            records.append(Record(topics.COOLING, rack, self._envelope(stamp, rack=rack, cdu=f"{rack}-cdu0", **cooling[index])))
            records.append(Record(topics.POWER, rack, self._envelope(stamp, rack=rack, pdu=f"{rack}-pdu0", **power[index])))
        return records

    def _shutdown_events(self, stamp: str) -> list[Record]:
        """Return a hardware event for every GPU that shut down at its shutdown temperature in this sample."""
        records = []
        for node, gpu in zip(*np.nonzero(self.gpus.newly_shut_down)):
            self.gpus.shutdowns += 1
            name = self.topology.node_names[node]
            value = self._envelope(
                stamp,
                event_id=f"thermal-shutdown-{self.gpus.shutdowns}",
                kind="gpu_missing",
                severity="critical",
                rack=self.topology.rack_of(int(node)),
                node=name,
                gpu=int(gpu),
                message=f"GPU shut down above {GPU_SHUTDOWN_CELSIUS:.0f} C",
                source="emulator",
            )
            records.append(Record(topics.HARDWARE_EVENTS, name, value))
        return records

    def _envelope(self, stamp: str, **fields: Any) -> dict[str, Any]:
        return {"schema_version": SCHEMA_VERSION, "time": stamp, "cluster": self.topology.cluster, **fields}
