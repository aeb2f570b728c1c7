"""A seeded random fault process with per-category rates, lemon nodes, bursts and fail-slows.

Hardware and software interruptions arrive per node at the Llama 3 405B rates (16,384 H100,
54 days: 419 unexpected interruptions, 3.79 per 1,000 node-days), scaled to
``rate_per_1000_node_days``. The InfiniteHBD fault trace (400 servers, 348 days) gives
4.2 per 1,000 node-days, a log-normal repair time with median 22 h and sigma 2.5, and a
Weibull inter-arrival shape of 0.62 (see :mod:`emulators.faults.calibration`). The other
processes (fail-slows, link flaps, cooling events, lemon nodes) use published shares where
they exist and estimates elsewhere, each marked at its default.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from emulators.faults.base import Fault, ParamValue
from emulators.topology import Topology

SECONDS_PER_DAY: Final = 86_400.0

# Llama 3 405B interruptions per 1,000 node-days by simulator kind, with parameter choices.
# No public split of the "faulty GPU" row (1.34) exists, so it is split evenly between
# falling off the bus, NVLink and other Xids. Software bugs and NCCL hangs (0.57) split
# evenly between crash and hang, power supplies (0.027) between node loss and lost redundancy.
LLAMA3_RATES: Final[tuple[tuple[str, float, dict[str, ParamValue]], ...]] = (
    ("gpu_fell_off_bus", 1.34 / 3, {}),
    ("nvlink_fault", 1.34 / 3, {}),
    ("gpu_hard_fault", 1.34 / 3, {}),
    ("hbm_uncorrectable", 0.65, {}),
    ("gpu_sram_uncorrectable", 0.17, {}),
    ("gsp_hang", 0.15, {}),
    ("software_crash", 0.57 / 2, {}),
    ("software_hang", 0.57 / 2, {}),
    ("switch_failure", 0.32, {}),
    ("link_flap", 0.06, {}),
    ("host_fault", 0.39, {}),
    ("node_power_loss", 0.027 / 2, {}),
    ("psu_failure", 0.027 / 2, {}),
    ("gpu_thermal", 0.054, {}),
    ("silent_data_corruption", 0.054, {}),
)
LLAMA3_TOTAL: Final = sum(rate for _, rate, _ in LLAMA3_RATES)


class RandomFaultConfig(BaseModel):
    """Rates and shapes of the random fault process; every rate is multiplied by ``rate_multiplier``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rate_per_1000_node_days: float = Field(default=4.0, ge=0, description="Hardware and software interruptions.")
    rate_multiplier: float = Field(default=1.0, ge=0, description="Scales every rate, to see faults in a short run.")
    bursty: bool = Field(default=False, description="Weibull inter-arrival times instead of exponential ones.")
    weibull_shape: float = Field(default=0.62, gt=0, le=1, description="From the InfiniteHBD trace.")
    repair_median_hours: float = Field(default=22.0, gt=0, description="From the InfiniteHBD trace.")
    repair_log_sigma: float = Field(default=2.5, ge=0, description="From the InfiniteHBD trace.")
    # Estimate: 1-2 % of nodes are lemons with a 5-10 times higher rate.
    lemon_share: float = Field(default=0.015, ge=0, le=1)
    lemon_multiplier_range: tuple[float, float] = (5.0, 10.0)
    # Estimate from SuperBench: mean time between incidents falls from 719 h to 152 h over
    # 20 incidents, about 8.5 % more per incident.
    repeat_multiplier: float = Field(default=1.085, ge=1)
    max_repeat_incidents: int = Field(default=20, ge=0, description="Incidents after which a node's rate stops rising.")
    # MegaScale: about 0.5 % of machines run about 10 % slower.
    straggler_share: float = Field(default=0.005, ge=0, le=1)
    # Estimates after Greyhound: communication fail-slows last about 24 min, compute ones about 10 min.
    comm_fail_slows_per_day: float = Field(default=4.0, ge=0)
    comm_fail_slow_mean_seconds: float = Field(default=1440.0, gt=0)
    compute_fail_slows_per_day: float = Field(default=2.0, ge=0)
    compute_fail_slow_mean_seconds: float = Field(default=600.0, gt=0)
    # Estimate: short link flaps, 90 % of them back within 10 s.
    link_flaps_per_1000_node_days: float = Field(default=0.75, ge=0)
    flap_self_heal_share: float = Field(default=0.9, ge=0, le=1)
    # Synthetic estimate: public data on CDU failures is thin.
    cdu_events_per_rack_month: float = Field(default=0.03, ge=0)


@dataclass
class _Stream:
    """One arrival process: its rate in events per second and its next arrival."""

    name: str
    rng: np.random.Generator
    next_seconds: float = math.inf


class RandomFaultProcess:
    """Hands out random faults as event time passes, the same ones for the same seed."""

    def __init__(self, topology: Topology, config: RandomFaultConfig, seed: int, job_nodes: list[int] | None = None) -> None:
        self.topology = topology
        self.config = config
        self.seed = seed
        self.job_nodes = job_nodes if job_nodes is not None else topology.job_node_indices
        setup = np.random.default_rng([seed, 20])
        self.lemon_multiplier = np.ones(topology.node_count)
        lemons = setup.random(topology.node_count) < config.lemon_share
        low, high = config.lemon_multiplier_range
        self.lemon_multiplier[lemons] = setup.uniform(low, high, int(lemons.sum()))
        self.incidents = np.zeros(topology.node_count, dtype=np.int64)
        self.stragglers = np.flatnonzero(setup.random(topology.node_count) < config.straggler_share)
        self.streams = {name: _Stream(name, np.random.default_rng([seed, 21 + index])) for index, name in enumerate(("interruption", "flap", "cdu", "comm", "compute"))}
        self.origin: datetime | None = None
        self.count = 0

    def due(self, now: datetime) -> list[Fault]:
        """Return the faults that start at or before ``now`` and were not returned before."""
        faults: list[Fault] = []
        if self.origin is None:
            self.origin = now
            faults += self._persistent_stragglers(now)
            for stream in self.streams.values():
                stream.next_seconds = self._gap(stream, 0.0)
        elapsed = (now - self.origin).total_seconds()
        for stream in self.streams.values():
            while stream.next_seconds <= elapsed:
                faults.append(self._draw(stream, self.origin + timedelta(seconds=stream.next_seconds)))
                stream.next_seconds = self._gap(stream, stream.next_seconds)
        return faults

    @property
    def node_multiplier(self) -> np.ndarray:
        """Each node's rate relative to the base rate: its lemon factor times its repeat growth."""
        repeats = np.minimum(self.incidents, self.config.max_repeat_incidents)
        return self.lemon_multiplier * self.config.repeat_multiplier**repeats

    # Rates

    def _rate(self, name: str) -> float:
        config = self.config
        topology = self.topology
        per_node_second = 1.0 / 1000 / SECONDS_PER_DAY
        if name == "interruption":
            rate = config.rate_per_1000_node_days * per_node_second * float(self.node_multiplier.sum())
        elif name == "flap":
            rate = config.link_flaps_per_1000_node_days * per_node_second * topology.node_count
        elif name == "cdu":
            rate = config.cdu_events_per_rack_month / (30 * SECONDS_PER_DAY) * topology.racks
        elif name == "comm":
            rate = config.comm_fail_slows_per_day / SECONDS_PER_DAY
        else:
            rate = config.compute_fail_slows_per_day / SECONDS_PER_DAY
        return rate * config.rate_multiplier

    def _gap(self, stream: _Stream, after_seconds: float) -> float:
        rate = self._rate(stream.name)
        if rate <= 0:
            return math.inf
        mean = 1.0 / rate
        if stream.name == "interruption" and self.config.bursty:
            shape = self.config.weibull_shape
            scale = mean / math.gamma(1.0 + 1.0 / shape)
            return after_seconds + float(scale * stream.rng.weibull(shape))
        return after_seconds + float(stream.rng.exponential(mean))

    # Drawing one fault

    def _draw(self, stream: _Stream, start: datetime) -> Fault:
        rng = stream.rng
        if stream.name == "interruption":
            return self._interruption(rng, start)
        if stream.name == "flap":
            node = int(rng.integers(self.topology.node_count))
            heals = rng.random() < self.config.flap_self_heal_share
            duration = float(rng.uniform(2.0, 10.0)) if heals else self._repair_seconds(rng)
            return self._fault("link_flap", start, duration, node=node, params={"port": int(rng.integers(self.topology.ports_per_dpu))})
        if stream.name == "cdu":
            kind = "cdu_pump_failure" if rng.random() < 0.7 else "coolant_leak"
            return self._fault(kind, start, self._repair_seconds(rng), rack=int(rng.integers(self.topology.racks)))
        if stream.name == "comm":
            duration = float(rng.exponential(self.config.comm_fail_slow_mean_seconds))
            if rng.random() < 0.5:
                return self._fault("network_congestion", start, duration, switch=int(rng.integers(len(self.topology.switch_names))))
            return self._fault("pfc_pause_storm", start, duration, node=int(rng.choice(self.job_nodes)))
        duration = float(rng.exponential(self.config.compute_fail_slow_mean_seconds))
        return self._fault("straggler", start, duration, node=int(rng.choice(self.job_nodes)))

    def _interruption(self, rng: np.random.Generator, start: datetime) -> Fault:
        weights = np.array([rate for _, rate, _ in LLAMA3_RATES])
        kind, _, params = LLAMA3_RATES[int(rng.choice(len(weights), p=weights / weights.sum()))]
        multiplier = self.node_multiplier
        node = int(rng.choice(self.topology.node_count, p=multiplier / multiplier.sum()))
        self.incidents[node] += 1
        place: dict[str, Any] = {"node": node}
        if kind in ("gpu_fell_off_bus", "nvlink_fault", "gpu_hard_fault", "hbm_uncorrectable", "gpu_sram_uncorrectable", "gsp_hang", "gpu_thermal"):
            place["gpu"] = int(rng.integers(self.topology.gpus_per_node))
        params = dict(params)
        if kind == "gpu_hard_fault":
            params["xid"] = int(rng.choice([46, 62, 109]))
        elif kind == "hbm_uncorrectable":
            # Assumption: about 10 % of HBM errors exhaust the spare rows.
            params["remap_failed"] = bool(rng.random() < 0.1)
        elif kind == "switch_failure":
            place = {"switch": node // self.topology.nodes_per_leaf_switch}
        elif kind == "psu_failure":
            place = {"rack": node // self.topology.nodes_per_rack}
        elif kind in ("software_crash", "software_hang"):
            place = {}
        duration = None if kind in ("software_crash", "software_hang", "silent_data_corruption") else self._repair_seconds(rng)
        return self._fault(kind, start, duration, params=params, **place)

    def _repair_seconds(self, rng: np.random.Generator) -> float:
        hours = self.config.repair_median_hours * math.exp(self.config.repair_log_sigma * float(rng.standard_normal()))
        return hours * 3600

    def _fault(self, kind: str, start: datetime, duration: float | None, params: dict[str, ParamValue] | None = None, **place: int) -> Fault:
        self.count += 1
        fault_id = f"random-{self.seed}-{self.count:05d}-{kind}"
        return Fault(fault_id, kind, start, duration, params=params or {}, **place)

    def _persistent_stragglers(self, now: datetime) -> list[Fault]:
        return [self._fault("straggler", now, None, node=int(node)) for node in self.stragglers]
