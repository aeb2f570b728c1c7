"""Run a small emulated cluster with chosen faults and look up what it published."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from emulators.cluster import ClusterEmulator
from emulators.faults.base import Fault
from emulators.faults.injector import FaultInjector
from emulators.job import JobConfig
from emulators.records import Record
from emulators.topology import Topology
from pipeline import topics

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = PROJECT_ROOT / ".." / "shared" / "data"
START = datetime(2026, 1, 1, 12, tzinfo=timezone.utc)
# Two racks of two nodes with two GPUs, two nodes per leaf switch, the last node spare.
SMALL = Topology(racks=2, nodes_per_rack=2, gpus_per_node=2, nodes_per_leaf_switch=2, spare_nodes=1)
NO_OPERATOR = JobConfig(manual_recovery_seconds=None)


@dataclass
class Run:
    """The messages of every sample of one run, and the emulator at its end."""

    emulator: ClusterEmulator
    samples: list[list[Record]]

    def values(self, topic: str, second: int, key: str | None = None) -> list[dict[str, Any]]:
        """Return the values published on ``topic`` at sample ``second``, optionally for one key."""
        return [record.value for record in self.samples[second] if record.topic == topic and (key is None or record.key == key)]

    def all_values(self, topic: str) -> list[dict[str, Any]]:
        """Return every value published on ``topic`` during the run."""
        return [record.value for sample in self.samples for record in sample if record.topic == topic]

    def gpu(self, second: int, node: str, gpu: int) -> dict[str, Any] | None:
        """Return one GPU's sample at ``second``, None when its node sent no message."""
        messages = self.values(topics.GPU, second, node)
        return messages[0]["gpus"][gpu] if messages else None

    def port(self, second: int, node: str, port: int = 0) -> dict[str, Any] | None:
        """Return one DPU port at ``second``, None when its node sent no message."""
        messages = self.values(topics.DPU, second, node)
        return messages[0]["ports"][port] if messages else None

    def rack(self, topic: str, second: int, rack: str) -> dict[str, Any]:
        """Return one rack's cooling or power message at ``second``."""
        return self.values(topic, second, rack)[0]

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Return every hardware event of the run, optionally of one kind."""
        return [event for event in self.all_values(topics.HARDWARE_EVENTS) if kind is None or event["kind"] == kind]

    def xid_codes(self) -> list[int]:
        """Return the codes of every Xid event, in order."""
        return [event["code"] for event in self.events("xid")]

    def step_times(self, first: int, last: int, node: str | None = None) -> list[float]:
        """Return the step times of the job progress messages between two samples, optionally of one node."""
        times = []
        for sample in self.samples[first:last]:
            for record in sample:
                if record.topic == topics.JOB_PROGRESS and (node is None or record.value["node"] == node):
                    times.append(record.value["step_time_seconds"])
        return times


def run(
    faults: list[Fault] | None = None,
    seconds: int = 120,
    topology: Topology = SMALL,
    job: JobConfig = NO_OPERATOR,
    seed: int = 0,
) -> Run:
    """Run ``seconds`` one-second samples from :data:`START` with the given faults."""
    injector = FaultInjector(topology)
    for fault in faults or []:
        injector.add(fault)
    emulator = ClusterEmulator(topology, seed=seed, job=job, injector=injector)
    samples = [emulator.sample(START + timedelta(seconds=second)) for second in range(seconds)]
    return Run(emulator, samples)


def fault(kind: str, start_second: float = 30, duration_seconds: float | None = None, **place: Any) -> Fault:
    """Return a fault that starts ``start_second`` after :data:`START`."""
    return Fault(f"test-{kind}", kind, START + timedelta(seconds=start_second), duration_seconds, **place)
