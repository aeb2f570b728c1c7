"""Job-level detection: stragglers from step times, and hangs from missing progress."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

import numpy as np

from detectors.anomaly import Anomaly
from detectors.job import StragglerDetector
from pipeline.schemas import JobProgress


@dataclass
class _JobState:
    ranks: dict[int, str] = field(default_factory=dict)
    step: int = -1
    step_times: dict[int, float] = field(default_factory=dict)
    last_progress: datetime | None = None
    median_step_seconds: float = 0.0
    detector: StragglerDetector | None = None
    flagged: set[int] = field(default_factory=set)
    hung: bool = False
    cluster: str = "default"


class JobStage:
    """Find stragglers with a CUSUM on each rank's share of the step, and hung jobs.

    A step is scored once every known rank reported it, or when a later step starts. A job
    is hung when no rank made progress for ``hang_steps`` median step times (and at least
    ``min_hang_seconds``) of event time, as seen from the newest message of any topic.
    """

    straggler_name: Final = "job.straggler"
    hang_name: Final = "job.hang"

    def __init__(self, *, straggler_threshold: float = 0.3, hang_steps: float = 10.0, min_hang_seconds: float = 30.0) -> None:
        self.straggler_threshold = straggler_threshold
        self.hang_steps = hang_steps
        self.min_hang_seconds = min_hang_seconds
        self._jobs: dict[str, _JobState] = {}

    def process(self, message: JobProgress) -> list[Anomaly]:
        """Record one rank's step and return straggler anomalies of any step it completed."""
        state = self._jobs.setdefault(message.job, _JobState())
        state.cluster = message.cluster
        state.ranks[message.rank] = message.node
        state.last_progress = message.time if state.last_progress is None else max(state.last_progress, message.time)
        state.hung = False

        anomalies: list[Anomaly] = []
        if message.step > state.step:
            if state.step_times:
                anomalies += self._score_step(message.job, state, message.time)
            state.step = message.step
            state.step_times = {}
        if message.step == state.step:
            state.step_times[message.rank] = message.step_time_seconds
        if len(state.step_times) == len(state.ranks):
            anomalies += self._score_step(message.job, state, message.time)
            state.step_times = {}
        return anomalies

    def check_hangs(self, now: datetime) -> list[Anomaly]:
        """Return an anomaly for each job that has made no progress for too long before ``now``."""
        anomalies = []
        for job, state in self._jobs.items():
            if state.hung or state.last_progress is None:
                continue
            limit = max(self.hang_steps * state.median_step_seconds, self.min_hang_seconds)
            silent = (now - state.last_progress).total_seconds()
            if silent >= limit:
                state.hung = True
                anomalies.append(
                    Anomaly(
                        time=now, cluster=state.cluster, entity=job, entity_kind="job", detector=self.hang_name,
                        score=silent / limit, threshold=1.0, severity="critical", fault_class="job_hang",
                        evidence={"seconds_without_progress": round(silent, 1), "last_step": state.step},
                        message=f"job {job} made no progress for {silent:.0f} s after step {state.step}",
                    )
                )
        return anomalies

    def _score_step(self, job: str, state: _JobState, now: datetime) -> list[Anomaly]:
        ranks = sorted(state.ranks)
        times = np.array([[state.step_times.get(rank, np.nan)] for rank in ranks])
        known = times[~np.isnan(times)]
        if known.size:
            state.median_step_seconds = float(np.median(known))
        if state.detector is None or state.detector.n_entities != len(ranks):
            state.detector = StragglerDetector()
            state.flagged = set()
        scores = state.detector.score_learn_many(times)

        anomalies = []
        for index, rank in enumerate(ranks):
            score = float(scores[index])
            if np.isnan(score) or score < self.straggler_threshold:
                state.flagged.discard(rank)
                continue
            if rank in state.flagged:
                continue
            state.flagged.add(rank)
            node = state.ranks[rank]
            anomalies.append(
                Anomaly(
                    time=now, cluster=state.cluster, entity=node, entity_kind="node", detector=self.straggler_name,
                    score=score, threshold=self.straggler_threshold, severity="warning", fault_class="straggler",
                    evidence={"job": job, "rank": rank, "step": state.step, "step_time_seconds": float(times[index, 0]),
                              "median_step_seconds": round(state.median_step_seconds, 4)},
                    message=f"node {node} (rank {rank}) is slower than its peers in job {job}",
                )
            )
        return anomalies


